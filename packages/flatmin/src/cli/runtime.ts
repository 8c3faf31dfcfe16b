/**
 * The TensorFlow.js runtime of a command: `@tensorflow/tfjs` (the CLI's peer: it brings the cpu
 * backend) and the fastest installed backend (`useBestBackend`: tfjs-node-gpu, tfjs-node, wasm, cpu).
 *
 * @module
 */
import { useBestBackend } from '@flatmin/backend';
import type { CliBackend } from './args.js';
import type { Output } from './io.js';

/** The install line the CLI prints when `@tensorflow/tfjs` is missing. */
export const INSTALL_HINT = 'npm i flatmin @tensorflow/tfjs (add @tensorflow/tfjs-backend-wasm or @tensorflow/tfjs-node for speed)';

/** A failure that is not the command line's: the CLI prints the message and exits with code 1. */
export class CliError extends Error {
  /** @param message what went wrong and what to do. */
  constructor(message: string) {
    super(message);
    this.name = 'CliError';
  }
}

/**
 * Load `@tensorflow/tfjs` (which registers the cpu backend), then make the best installed backend
 * (or exactly `backend`) the active one; one line about it on `log`. Returns its name.
 */
export async function selectBackend(backend: CliBackend | undefined, log: Output): Promise<string> {
  try {
    await import('@tensorflow/tfjs');
  } catch (error) {
    throw new CliError(`flatmin: the CLI needs @tensorflow/tfjs next to flatmin (${error instanceof Error ? error.message.split('\n')[0] : String(error)}): ${INSTALL_HINT}`);
  }
  try {
    const choice = await useBestBackend({ ...(backend === undefined ? {} : { order: [backend] }), log: false });
    const failed = choice.tried.filter((attempt) => !attempt.ok && attempt.reason !== 'not installed');
    log.write(`backend ${choice.name}${failed.length > 0 ? ` (${failed.map((a) => `${a.module} ${a.reason}`).join('; ')})` : ''}\n`);
    return choice.name;
  } catch (error) {
    throw new CliError(`flatmin: --backend ${backend ?? '(best)'}: ${error instanceof Error ? error.message : String(error)}`);
  }
}
