/**
 * A one-line progress bar: `SAM  [########········]  120/630  loss 0.3412  12.3s`.
 * On a terminal it redraws in place (at most every 100 ms); elsewhere (a pipe, a log
 * file, a test) it prints one line when the run finishes.
 */

/** Where output goes: `process.stdout` or anything with `write` (tests collect a string). */
export interface Output {
  write(text: string): unknown;
  readonly isTTY?: boolean;
}

export class ProgressBar {
  private readonly started = performance.now();
  private lastDraw = 0;
  private done = 0;
  private loss = Number.NaN;

  constructor(
    private readonly label: string,
    private readonly total: number,
    private readonly output: Output,
    private readonly width = 24,
  ) {}

  /** Record progress: `done` steps out of `total`, the latest training loss. */
  update(done: number, loss: number): void {
    this.done = done;
    this.loss = loss;
    const now = performance.now();
    if (this.output.isTTY && (now - this.lastDraw >= 100 || done === this.total)) {
      this.lastDraw = now;
      this.output.write(`\r${this.render()}`);
    }
  }

  /** Draw the final state and end the line. */
  finish(): void {
    this.output.write(`${this.output.isTTY ? '\r' : ''}${this.render()}\n`);
  }

  /** The bar as text (no control characters). */
  render(): string {
    const fraction = this.total > 0 ? Math.min(1, this.done / this.total) : 1;
    const filled = Math.round(fraction * this.width);
    const bar = '#'.repeat(filled) + '·'.repeat(this.width - filled);
    const steps = `${String(this.done).padStart(String(this.total).length)}/${this.total}`;
    const loss = Number.isFinite(this.loss) ? this.loss.toFixed(4) : '  -   ';
    const seconds = ((performance.now() - this.started) / 1000).toFixed(1);
    return `${this.label.padEnd(4)} [${bar}] ${steps}  loss ${loss}  ${seconds}s`;
  }
}
