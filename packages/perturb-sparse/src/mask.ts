/**
 * What a mask is to {@link sparse}: a small component that says, each step, which coordinates of
 * ε are kept; plus the device-side top-k every element mask uses and the registry `fromConfig`
 * finds masks in.
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import type { BaseContext, ComponentState, JsonValue, NamedTensors, ObjectiveExtras, PerturbationContext } from '@flatmin/core';
import { variableKey } from '@flatmin/core/kit';
import { hostTopMasks } from './host-select.js';

/** What {@link Mask.select} receives: the step's context, the perturbed variables and their clean gradients. */
export interface MaskContext extends BaseContext {
  /** The variables to perturb, in a stable order. */
  readonly variables: readonly tf.Variable[];
  /** Clean gradients of those variables (a variable the loss does not reach has no entry), or null without a clean pass. */
  readonly grads: NamedTensors | null;
  /** Per-sample losses and named parts of the clean pass, when the closure returned them (a custom loop). */
  readonly objective?: ObjectiveExtras;
  /** The perturbation context's `gradientOf`: one more gradient of a scalar built from the closure's outputs (counted). */
  readonly gradientOf?: PerturbationContext['gradientOf'];
}

/** A mask's verdict for one step. */
export interface MaskSelection {
  /**
   * Per variable name: a float32 0/1 tensor of the variable's shape (element mask), or `true` /
   * `false` for the whole variable. A missing entry keeps the whole variable.
   */
  readonly masks: Readonly<Record<string, tf.Tensor | boolean>>;
  /** A factor applied to the kept ε (ESAM's 1/β); default 1. */
  readonly scale?: number;
  /** The mask's new state, when it keeps any (omitted: unchanged). */
  readonly state?: ComponentState;
}

/**
 * A sparsity mask for {@link sparse}: SSAM-F's {@link fisherMask}, SSAM-D's {@link dynamicMask},
 * ESAM's {@link randomMask}. Like every flatmin component it keeps no hidden state: `sparse`
 * stores the mask's state inside its own (saved by `getWeights`) and passes it in. `select` runs
 * inside the optimizer's `tf.tidy`, reads nothing on the host, and draws randomness from
 * `context.random` only. Per-variable state is keyed `variableKey(name, slot)`.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs';
 * import { type Mask, sparse } from '@flatmin/perturb-sparse';
 * import { gradient } from '@flatmin/perturb-gradient';
 *
 * // Perturb only the rank ≥ 2 variables (kernels), never biases.
 * const kernelsOnly: Mask = {
 *   kind: 'mask', name: 'kernelsOnly', config: {}, needsGradient: false,
 *   select: ({ variables }) => ({ masks: Object.fromEntries(variables.map((v) => [v.name, v.rank >= 2])) }),
 * };
 * const perturbation = sparse(gradient({ rho: 0.05 }), kernelsOnly);
 * ```
 */
export interface Mask {
  /** Always `'mask'`. */
  readonly kind: 'mask';
  /** The factory name (`'fisherMask'`, ...): how `fromConfig` finds it again. */
  readonly name: string;
  /** The factory options, as JSON. */
  readonly config: Readonly<Record<string, JsonValue>>;
  /** Whether `select` needs the clean gradient. */
  readonly needsGradient: boolean;
  /** The masks for this step (and the new state). */
  select(context: MaskContext, state: ComponentState): MaskSelection;
}

/** Builds a mask from its JSON config (what {@link registerMask} stores). */
export type MaskFactory = (config: Record<string, JsonValue>) => Mask;

const masks = new Map<string, MaskFactory>();

/**
 * Register a mask factory under its name, so that `sparse`'s `fromConfig` (and `model.save` /
 * `tf.loadLayersModel`) can rebuild a sparse perturbation that uses it. The masks of this package
 * register themselves; call it for a mask of your own.
 *
 * @example
 * ```ts
 * import { randomMask, registerMask } from '@flatmin/perturb-sparse';
 *
 * registerMask('halfOfTheTime', () => ({ ...randomMask({ keep: 0.5 }), name: 'halfOfTheTime' }));
 * ```
 */
export function registerMask(name: string, factory: MaskFactory): void {
  masks.set(name, factory);
}

/**
 * The mask factory registered under `name`, if any.
 *
 * @example
 * ```ts
 * const mask = lookupMask('fisherMask')?.({ sparsity: 0.5 }); // what fromConfig does for a saved sparse()
 * ```
 */
export function lookupMask(name: string): MaskFactory | undefined {
  return masks.get(name);
}

/** Whether `value` looks like a {@link Mask}. */
export function isMask(value: unknown): value is Mask {
  if (value === null || typeof value !== 'object') return false;
  const m = value as Partial<Mask>;
  return m.kind === 'mask' && typeof m.name === 'string' && typeof m.select === 'function' && typeof m.config === 'object';
}

/**
 * The number of coordinates kept at sparsity `s` out of `total`: round((1 − s)·total), so that
 * s = 0 keeps all of them.
 */
export function keptCount(sparsity: number, total: number): number {
  return Math.min(total, Math.max(0, Math.round((1 - sparsity) * total)));
}

/** Flatten per-variable tensors (in `variables` order) into one vector. */
export function concatFlat(tensors: readonly tf.Tensor[]): tf.Tensor1D {
  const flat = tensors.map((t) => tf.reshape(t, [-1]));
  return (flat.length === 1 ? flat[0]! : tf.concat(flat)) as tf.Tensor1D;
}

/** Split a flat vector back into tensors of `shapes`. */
export function splitFlat(vector: tf.Tensor1D, shapes: readonly (readonly number[])[]): tf.Tensor[] {
  const sizes = shapes.map((shape) => shape.reduce((a, b) => a * b, 1));
  const parts = sizes.length === 1 ? [vector] : tf.split(vector, sizes);
  return parts.map((part, i) => tf.reshape(part, shapes[i] as number[]));
}

/**
 * A float32 0/1 vector of `size` with ones at `indices` (int32 [n]): a scatter, so exactly n ones
 * (no threshold, no ties), on the device.
 */
export function indicator(indices: tf.Tensor1D, size: number): tf.Tensor1D {
  const n = indices.shape[0];
  if (n === 0) return tf.zeros([size]) as tf.Tensor1D;
  return tf.tidy(() => tf.scatterND(tf.expandDims(indices, 1), tf.ones([n]), [size]) as tf.Tensor1D);
}

/**
 * The 0/1 indicator of the `k` largest entries of `scores` (exactly k ones; ties by lower index).
 * An unsorted `tf.topk` (the set is what counts, not its order: 3–4× cheaper than a sorted one) and
 * a scatter of its indices.
 */
export function topIndicator(scores: tf.Tensor1D, k: number): tf.Tensor1D {
  const size = scores.shape[0];
  if (k >= size) return tf.ones([size]) as tf.Tensor1D;
  if (k <= 0) return tf.zeros([size]) as tf.Tensor1D;
  return tf.tidy(() => indicator(tf.topk(scores, k, false).indices as tf.Tensor1D, size));
}

/**
 * The k-th largest entry of `scores` (1 ≤ k ≤ its size), a scalar on the device: the smallest of an
 * unsorted top k, or, when k is over half the size, the largest of the n − k + 1 smallest (a top-k
 * of −scores), so the top-k output is at most half the size. Only the scalar outlives the call.
 */
export function kthLargest(scores: tf.Tensor1D, k: number): tf.Scalar {
  const size = scores.shape[0];
  return tf.tidy(() =>
    2 * k <= size + 1
      ? (tf.min(tf.topk(scores, k, false).values) as tf.Scalar)
      : (tf.neg(tf.min(tf.topk(tf.neg(scores), size - k + 1, false).values)) as tf.Scalar),
  );
}

/**
 * Per tensor of `scores`, the float32 0/1 mask of the coordinates among the global top `k` of all
 * of them together: score ≥ t, t the k-th largest of all the scores (on cpu and wasm one kernel over
 * host memory, a radix select; elsewhere {@link kthLargest} over their concatenation on the device,
 * freed at once). Without ties at t that is
 * exactly k ones, the same set as a top-k; coordinates tied with the k-th score are all kept, so
 * there are then more than k. k ≥ the total size keeps everything; k ≤ 0 nothing.
 */
export function topMasks(scores: readonly tf.Tensor[], k: number): tf.Tensor[] {
  const total = scores.reduce((sum, t) => sum + t.size, 0);
  if (k >= total) return scores.map((t) => tf.onesLike(t));
  if (k <= 0) return scores.map((t) => tf.zerosLike(t));
  const host = scores.every((t) => t.dtype === 'float32') ? hostTopMasks(scores, k) : null;
  if (host !== null) return host;
  const threshold = tf.tidy(() => kthLargest(concatFlat(scores), k));
  const masks = scores.map((t) => tf.tidy(() => tf.cast(tf.greaterEqual(t, threshold), 'float32')));
  threshold.dispose();
  return masks;
}

/** `value` when it is a tensor of `shape`, else null (a missing or stale state entry). */
export function tensorOfShape(value: tf.Tensor | number | undefined, shape: readonly number[]): tf.Tensor | null {
  if (value === undefined || typeof value === 'number') return null;
  return value.shape.length === shape.length && value.shape.every((d, i) => d === shape[i]) ? value : null;
}

/** The stored `slot` tensors of every variable, or null when one is missing or of another shape. */
export function storedPerVariable(state: ComponentState, variables: readonly tf.Variable[], slot: string): tf.Tensor[] | null {
  const out: tf.Tensor[] = [];
  for (const variable of variables) {
    const stored = tensorOfShape(state[variableKey(variable.name, slot)], variable.shape);
    if (stored === null) return null;
    out.push(stored);
  }
  return out;
}

/** The variables that have a clean gradient entry (the ones a mask ranks). */
export function withGradient(variables: readonly tf.Variable[], grads: NamedTensors): tf.Variable[] {
  return variables.filter((variable) => grads[variable.name] !== undefined);
}

/** The state key of the step a mask was last refreshed at (a global key: no ':'). */
export const REFRESHED_AT = 'refreshedAt';
