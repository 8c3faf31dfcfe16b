/**
 * The demo's MNIST split — now part of `flatmin/cli` (the `flatmin demo` command); re-exported
 * here for the benchmarks and the LoRA example that import it from this package.
 */
export { type Dataset, IMAGE_SIZE, loadMnist, NUM_CLASSES, poolSizes, type SampleRef, splitPools, toTensors } from 'flatmin/cli';
