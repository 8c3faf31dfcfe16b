/**
 * Where the CLI writes, and the error a bad command line becomes.
 *
 * @module
 */

/** A text stream: `process.stdout`, `process.stderr`, or anything with `write` (a test collects a string). */
export interface Output {
  /** Write text. */
  write(text: string): unknown;
  /** Whether it is a terminal: progress bars redraw in place there, and print one line per update elsewhere. */
  readonly isTTY?: boolean;
}

/** The streams of one CLI run: results on `stdout` (JSON with `--json`), progress and messages on `stderr`. */
export interface CliIo {
  /** Results: the tables, or one JSON document with `--json`. */
  readonly stdout: Output;
  /** Progress bars, the backend line, warnings and error messages. */
  readonly stderr: Output;
}

/** A bad command line (a flag, a value or a method): the message names it; the CLI exits with code 2. */
export class UsageError extends Error {
  /** @param message what is wrong, naming the flag, the value or the method. */
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** An output that drops everything (for library use of the training helpers). */
export const SILENT: Output = { write: () => true };
