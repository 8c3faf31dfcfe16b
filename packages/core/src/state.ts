/**
 * Bookkeeping for component state: replacing a state disposes the tensors the new one
 * no longer holds; numbers are saved exactly as their float64 bits.
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import type { ComponentState } from './types.js';

/**
 * The state key of a per-variable entry: `` `${variableName}:${slot}` ``. The optimizer follows
 * these keys when variables are renamed (a model reloaded in the same process) and drops them when
 * their variable no longer exists; global keys have no `:`.
 *
 * @example
 * ```ts
 * const key = variableKey(variable.name, 'momentum'); // 'dense_Dense1/kernel:momentum'
 * ```
 */
export function variableKey(variableName: string, slot: string): string {
  if (slot.includes(':')) throw new Error(`flatmin: a state slot name has no ':' (got '${slot}')`);
  return `${variableName}:${slot}`;
}

/**
 * The tensors of a state.
 *
 * @example
 * ```ts
 * const held = stateTensors({ count: 3, [variableKey('dense/kernel', 'm')]: tf.zeros([2, 2]) }); // [the zeros]
 * ```
 */
export function stateTensors(state: ComponentState): tf.Tensor[] {
  return Object.values(state).filter((value): value is tf.Tensor => typeof value !== 'number');
}

/**
 * Keep every tensor of `next`, then dispose the tensors of `previous` that `next` does not hold.
 *
 * @example
 * ```ts
 * // A component keeps its state across steps: keep the new tensors, free the old ones it replaced.
 * state = replaceState(state, { ...state, [variableKey(v.name, 'm')]: nextMomentum });
 * ```
 */
export function replaceState(previous: ComponentState, next: ComponentState): ComponentState {
  const keep = new Set(stateTensors(next));
  for (const tensor of keep) tf.keep(tensor);
  for (const tensor of stateTensors(previous)) if (!keep.has(tensor) && !tensor.isDisposed) tensor.dispose();
  return next;
}

/**
 * Dispose every tensor of a state.
 *
 * @example
 * ```ts
 * disposeState(state); // frees every tensor the state holds; numbers need nothing
 * ```
 */
export function disposeState(state: ComponentState): void {
  for (const tensor of stateTensors(state)) if (!tensor.isDisposed) tensor.dispose();
}

/**
 * A number as an int32 tensor of its two float64 words: round-trips any double exactly.
 *
 * @example
 * ```ts
 * const bits = encodeNumber(0.1); // int32 [2]: 0.1's float64 words
 * const back = await decodeNumber(bits); // 0.1, exactly
 * ```
 */
export function encodeNumber(value: number): tf.Tensor {
  const words = new Int32Array(new Float64Array([value]).buffer);
  return tf.tensor1d(words, 'int32');
}

/**
 * The inverse of {@link encodeNumber} (reads the tensor: only for `setWeights`).
 *
 * @example
 * ```ts
 * const back = await decodeNumber(encodeNumber(Math.PI)); // Math.PI, exactly
 * ```
 */
export async function decodeNumber(tensor: tf.Tensor): Promise<number> {
  const data = await tensor.data();
  if (data.length !== 2) throw new Error(`flatmin: a saved number has 2 int32 words, got ${data.length}`);
  return new Float64Array(Int32Array.from(data as ArrayLike<number>).buffer)[0]!;
}
