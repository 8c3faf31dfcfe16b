/**
 * Progress bars (`cli-progress`) on stderr: redrawn in place on a terminal; elsewhere (a pipe, a
 * log, a test) one line per update, at most one every `interval` ms, and the final state.
 *
 * @module
 */
import { SingleBar } from 'cli-progress';
import type { Output } from './io.js';

/** Options of {@link Progress}. */
export interface ProgressOptions {
  /** Least time between two lines when the output is not a terminal (default 2000 ms; 0: a line per update). */
  readonly interval?: number;
}

/**
 * One bar: `SAM      [████████░░░░░░░░] 120/630 | loss 0.3412 | 12s`. The training loops block the
 * event loop, so the redraws are driven by the updates, not by cli-progress' timer.
 */
export class Progress {
  readonly #bar: SingleBar;
  readonly #tty: boolean;
  readonly #interval: number;
  #last = 0;
  #total: number;

  /**
   * @param label the run's name, shown first.
   * @param total the number of steps.
   * @param output where to draw (stderr).
   */
  constructor(label: string, total: number, output: Output, options: ProgressOptions = {}) {
    this.#tty = output.isTTY === true;
    this.#interval = options.interval ?? 2000;
    this.#total = total;
    this.#bar = new SingleBar({
      stream: output as unknown as NodeJS.WritableStream,
      format: `${label.padEnd(9)} [{bar}] {value}/{total} | {info} | {duration}s`,
      barsize: 24,
      hideCursor: false,
      noTTYOutput: true,
      // Redraws come from update(); the timer only backs them up on a terminal.
      notTTYSchedule: 2 ** 31 - 1,
      fps: 10,
      synchronousUpdate: true,
      linewrap: null,
      gracefulExit: true,
      barCompleteChar: '█',
      barIncompleteChar: '░',
    });
    this.#bar.start(total, 0, { info: '' });
    this.#last = Date.now();
  }

  /** `done` steps out of the total, with a short note (e.g. `loss 0.3412`). */
  update(done: number, info = ''): void {
    this.#bar.update(Math.min(done, this.#total), { info });
    if (!this.#tty && done < this.#total && Date.now() - this.#last >= this.#interval) {
      this.#last = Date.now();
      this.#bar.render();
    }
  }

  /** Draw the final state and end the line. */
  stop(): void {
    this.#bar.stop();
  }
}
