/**
 * `describeBackend()`: a cheap summary of the active backend.
 *
 * @module
 */

import * as tf from '@tensorflow/tfjs-core';
import { isNode } from './environment.js';

/**
 * What {@link describeBackend} returns.
 *
 * @example
 * ```ts
 * const { name, isNode, threads } = describeBackend();
 * ```
 */
export interface BackendDescription {
  /** `tf.getBackend()`, or `null` when no backend has been set yet. */
  name: string | null;
  /** Whether this runs in Node.js. */
  isNode: boolean;
  /**
   * Threads the backend computes with, when known: `1` for `cpu` (JavaScript is single-threaded),
   * the XNNPACK thread-pool size for `wasm` (always `1` in Node.js, where tfjs-backend-wasm does
   * not use threads). Absent for the other backends (libtensorflow sizes its own pools).
   */
  threads?: number;
}

/**
 * Describe the active backend without initializing anything or reading from the device.
 *
 * @example
 * ```ts
 * import { describeBackend, useBestBackend } from '@flatmin/backend';
 *
 * await useBestBackend({ log: false });
 * console.log(describeBackend()); // { name: 'wasm', isNode: true, threads: 1 }
 * ```
 */
export function describeBackend(): BackendDescription {
  const engine = tf.engine();
  const name = (engine.backendName as string | null) ?? null;
  const description: BackendDescription = { name, isNode: isNode() };
  const threads = name === null ? undefined : threadsOf(name, engine.registry[name]);
  if (threads !== undefined) description.threads = threads;
  return description;
}

function threadsOf(name: string, instance: unknown): number | undefined {
  if (instance == null) return undefined; // set but not (yet) initialized
  if (name === 'cpu') return 1;
  if (name === 'wasm') {
    // BackendWasm keeps its Emscripten module as `wasm`, with the cwrapped `tfjs.getThreadsCount`.
    const getThreadsCount = (instance as { wasm?: { tfjs?: { getThreadsCount?: unknown } } }).wasm?.tfjs?.getThreadsCount;
    if (typeof getThreadsCount === 'function') {
      const count: unknown = getThreadsCount();
      if (typeof count === 'number' && count > 0) return count;
    }
  }
  return undefined;
}
