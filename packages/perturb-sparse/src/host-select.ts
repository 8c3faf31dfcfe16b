/**
 * The masks' global selections as kernels over host memory on the backends that keep their tensors
 * there (cpu, wasm): SSAM-D's refresh (m − drop + grow) and SSAM-F's top-k masks, each a radix
 * select over all the variables at once (no sort, no concatenated copy on the device, nothing read
 * back); `tf.topk` over the concatenation elsewhere. Both routes give the same masks.
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { elementwise, type HostMemory, hostMemory } from '@flatmin/core/kit';
import { concatFlat, indicator, splitFlat } from './mask.js';

/** The refresh kernel's name in tfjs' registry. */
export const DROP_AND_GROW_KERNEL = 'FlatminDropAndGrow';
/** The top-k masks kernel's name. */
export const TOP_MASKS_KERNEL = 'FlatminTopMasks';

/** Whether the host-memory kernels may be used (tests turn them off to run the `tf.topk` route on cpu and wasm). */
let hostKernel = true;

/**
 * Turn the host-memory kernels off (`false`) or on again; returns the previous setting. For tests of
 * the route the GPU backends take.
 *
 * @internal
 */
export function useHostSelect(on: boolean): boolean {
  const previous = hostKernel;
  hostKernel = on;
  return previous;
}

/** The named inputs `${prefix}0`, `${prefix}1`, ... of a kernel with `parts` of them. */
function listed(inputs: tf.NamedTensorInfoMap, prefix: string, parts: number): tf.TensorInfo[] {
  return Array.from({ length: parts }, (_, i) => inputs[`${prefix}${i}`]!);
}

/** One float32 output per shape of `like`, copied from consecutive pieces of `values`. */
function outputs(host: HostMemory, backend: unknown, like: readonly tf.TensorInfo[], values: Float32Array): tf.TensorInfo[] {
  let offset = 0;
  return like.map((t) => {
    const size = t.shape.reduce((p, n) => p * n, 1);
    const piece = values.subarray(offset, offset + size);
    offset += size;
    return host.output(backend, t.shape, piece);
  });
}

/** Register the two kernels for a host-memory backend; false where there is none (or the kernels are off). */
function ensureKernels(backendName: string): boolean {
  const host = hostMemory(backendName);
  if (host === undefined || !hostKernel) return false;
  if (tf.getKernel(DROP_AND_GROW_KERNEL, backendName) !== undefined) return true;
  tf.registerKernel({
    kernelName: DROP_AND_GROW_KERNEL,
    backendName,
    kernelFunc: ({ inputs, backend, attrs }) => {
      const { count, parts } = attrs as unknown as { count: number; parts: number };
      const masks = listed(inputs, 'm', parts);
      const grads = listed(inputs, 'g', parts);
      const values = (ts: tf.TensorInfo[]) => ts.map((t) => host.values(backend, t));
      return outputs(host, backend, masks, dropAndGrowValues(values(masks), values(grads), host.values(backend, inputs.u!), count));
    },
  });
  tf.registerKernel({
    kernelName: TOP_MASKS_KERNEL,
    backendName,
    kernelFunc: ({ inputs, backend, attrs }) => {
      const { k, parts } = attrs as unknown as { k: number; parts: number };
      const scores = listed(inputs, 's', parts);
      return outputs(host, backend, scores, topMaskValues(scores.map((t) => host.values(backend, t)), k));
    },
  });
  return true;
}

/** Counts per 16-bit key half, reused across refreshes. */
const histogram = new Int32Array(65536);

/** Work buffers of the refresh (a bit and a key per coordinate), reused across refreshes: fresh ones cost more than the pass. */
let work: { on: Uint8Array; keys: Int32Array } = { on: new Uint8Array(0), keys: new Int32Array(0) };

function scratch(size: number): { on: Uint8Array; keys: Int32Array } {
  if (work.keys.length < size) work = { on: new Uint8Array(size), keys: new Int32Array(size) };
  return { on: work.on.subarray(0, size), keys: work.keys.subarray(0, size) };
}

/**
 * The keys' selection threshold: the `count`-th smallest key among the members, as
 * `{ threshold, equal }` where every member with a key below `threshold` is chosen, and the first
 * `equal` members (in index order) whose key equals it. A member is a coordinate whose `on` bit
 * differs from `flip` (`on` null: every one is). Keys are int32 in their signed order, so every value
 * the loops touch is a small integer. A two-pass radix select on the keys' upper and lower 16 bits:
 * no sort, no copy, no data-dependent branch in the counting. 1 ≤ `count` ≤ the number of members.
 *
 * @internal
 */
export function threshold(keys: Int32Array, on: Uint8Array | null, flip: 0 | 1, count: number): { threshold: number; equal: number } {
  const size = keys.length;
  // Bin = the upper 16 bits with the sign flipped: bins in the keys' signed order.
  histogram.fill(0);
  if (on === null) {
    for (let i = 0; i < size; i += 1) histogram[(keys[i]! >>> 16) ^ 0x8000]! += 1;
  } else {
    for (let i = 0; i < size; i += 1) histogram[(keys[i]! >>> 16) ^ 0x8000]! += on[i]! ^ flip;
  }
  let high = 0;
  let below = 0;
  while (below + histogram[high]! < count) below += histogram[high++]!;
  histogram.fill(0);
  const upper = high ^ 0x8000;
  for (let i = 0; i < size; i += 1) {
    const key = keys[i]!;
    if (key >>> 16 === upper) histogram[key & 0xffff]! += on === null ? 1 : on[i]! ^ flip;
  }
  let low = 0;
  while (below + histogram[low]! < count) below += histogram[low++]!;
  return { threshold: (upper << 16) | low, equal: count - below };
}

/**
 * Move the `count` members (`on` bit ≠ `flip`) with the smallest keys, ties to the lower index, by
 * `delta` in `out` (−1: a kept 1 becomes 0; +1: a free 0 becomes 1). Keys are non-negative here, so
 * key − t never overflows and its sign bit is "key < t", without a branch.
 */
function chooseSmallest(keys: Int32Array, on: Uint8Array, flip: 0 | 1, count: number, out: Float32Array, delta: number): void {
  const { threshold: t, equal } = threshold(keys, on, flip, count);
  let ties = equal;
  const size = keys.length;
  for (let i = 0; i < size; i += 1) {
    const key = keys[i]!;
    const member = on[i]! ^ flip;
    out[i]! += delta * (((key - t) >>> 31) & member);
    if (key === t && member === 1 && ties > 0) {
      out[i]! += delta;
      ties -= 1;
    }
  }
}

/**
 * SSAM-D's refresh on host values, over the concatenation of `masks` (float32 0/1, one per variable)
 * and of `grads` (the same shapes): a copy of the masks in which the `count` kept coordinates with
 * the smallest |g| are set to 0 and the `count` coordinates the masks did not keep with the largest
 * `uniform` draw (one per coordinate) are set to 1; ties go to the lower index, as `tf.topk` breaks
 * them. A `count` beyond the ones (or the zeros) takes all of them. |g| is ordered by its float32 bit
 * pattern, which for non-negative values is their order (where a NaN ranks is unspecified: a step
 * with one is skipped by the guard, which keeps the old mask).
 *
 * @internal exported for tests
 */
export function dropAndGrowValues(masks: readonly Float32Array[], grads: readonly Float32Array[], uniform: Float32Array, count: number): Float32Array {
  const size = uniform.length;
  const next = new Float32Array(size);
  const { on, keys } = scratch(size);
  // |g| by its bits (sign cleared), in the masks' concatenated order; on = the mask as bits
  // ((m + 0.5) | 0 is 1 for m = 1 and 0 for m = 0, without a branch).
  let ones = 0;
  let offset = 0;
  for (let part = 0; part < masks.length; part += 1) {
    const mask = masks[part]!;
    const bits = new Int32Array(grads[part]!.buffer, grads[part]!.byteOffset, mask.length);
    const length = mask.length;
    for (let j = 0, i = offset; j < length; j += 1, i += 1) {
      const bit = (mask[j]! + 0.5) | 0;
      on[i] = bit;
      next[i] = bit;
      ones += bit;
      keys[i] = bits[j]! & 0x7fffffff;
    }
    offset += length;
  }
  if (offset !== size) throw new Error(`dropAndGrow: ${offset} mask entries against ${size} draws`);
  if (count <= 0) return next;
  if (Math.min(count, ones) > 0) chooseSmallest(keys, on, 0, Math.min(count, ones), next, -1);
  // The largest uniform first = the smallest complemented bits (u ≥ 0).
  const draws = new Int32Array(uniform.buffer, uniform.byteOffset, size);
  for (let i = 0; i < size; i += 1) keys[i] = 0x7fffffff - (draws[i]! & 0x7fffffff);
  if (Math.min(count, size - ones) > 0) chooseSmallest(keys, on, 1, Math.min(count, size - ones), next, 1);
  return next;
}

/**
 * Per variable, m − (the `count` kept entries with the smallest |g|, over all the variables
 * together) + (`count` entries among m = 0 with the largest `uniform`), ties to the lower index.
 * One kernel over host memory on cpu and wasm (nothing is read back: the backend keeps the values
 * where the kernel reads them, and no concatenated copy is made on the device); `tf.topk` + scatter
 * over the concatenation elsewhere. `uniform` has one draw per coordinate of all the variables
 * (only the free ones' draws count), so both routes use the generator alike.
 *
 * @internal
 */
export function dropAndGrow(masks: readonly tf.Tensor[], grads: readonly tf.Tensor[], uniform: tf.Tensor1D, count: number): tf.Tensor[] {
  if (ensureKernels(tf.getBackend())) {
    const inputs: Record<string, tf.Tensor> = { u: uniform };
    masks.forEach((m, i) => {
      inputs[`m${i}`] = m;
      inputs[`g${i}`] = grads[i]!;
    });
    return tf.engine().runKernel(DROP_AND_GROW_KERNEL, inputs, { count, parts: masks.length } as unknown as tf.NamedAttrMap) as unknown as tf.Tensor[];
  }
  // One tidy: only the new masks outlive the refresh (the scores, the top-k outputs and the two indicators are freed at once).
  return tf.tidy(() => {
    const mask = concatFlat(masks);
    const gradient = concatFlat(grads);
    const size = mask.shape[0];
    const isKept = tf.greater(mask, 0.5);
    // Largest −|g| among the kept ones = smallest |g|; the others are never chosen (−∞).
    const dropScore = tf.where(isKept, tf.neg(tf.abs(gradient)), tf.fill([size], Number.NEGATIVE_INFINITY)) as tf.Tensor1D;
    const dropped = indicator(tf.topk(dropScore, count, false).indices as tf.Tensor1D, size);
    // Uniforms in [0, 1) on the free coordinates, −1 on the kept ones: the top `count` are free ones (count ≤ d − k).
    const growScore = tf.where(isKept, tf.fill([size], -1), uniform) as tf.Tensor1D;
    const grown = indicator(tf.topk(growScore, count, false).indices as tf.Tensor1D, size);
    return splitFlat(elementwise.add(elementwise.sub(mask, dropped), grown) as tf.Tensor1D, masks.map((m) => m.shape));
  });
}

/**
 * The top-k masks on host values: per part, 1 where the score is ≥ t, t the k-th largest score over
 * all the parts together (ties at t all kept, so more than k ones then), 0 elsewhere; 0 < k < the
 * total size. −0 counts as +0 (as `tf.greaterEqual` compares them); where a NaN ranks is unspecified
 * (a step with one is skipped by the guard, which keeps the old mask).
 *
 * @internal exported for tests
 */
export function topMaskValues(scores: readonly Float32Array[], k: number): Float32Array {
  const size = scores.reduce((s, t) => s + t.length, 0);
  // A key per score, an int32 that is smaller for a larger score, so the k-th largest score is the
  // k-th smallest key.
  const { keys } = scratch(size);
  let offset = 0;
  for (const part of scores) {
    const bits = new Int32Array(part.buffer, part.byteOffset, part.length);
    const length = part.length;
    for (let j = 0, i = offset; j < length; j += 1, i += 1) {
      const b = bits[j]!;
      // In float order: a non-negative float's bits as they are, a negative one's magnitude bits
      // reversed (b >> 31 is all ones for a negative b); then ~ reverses the order. −0 (the one
      // value that maps to −1) is taken as +0.
      const ordered = b ^ ((b >> 31) & 0x7fffffff);
      keys[i] = ~(ordered === -1 ? 0 : ordered);
    }
    offset += length;
  }
  const t = threshold(keys, null, 0, k).threshold;
  const out = new Float32Array(size);
  for (let i = 0; i < size; i += 1) out[i] = +(keys[i]! <= t);
  return out;
}

/**
 * Per tensor of `scores`, the 0/1 mask of score ≥ the k-th largest of all of them together: one
 * host kernel on cpu and wasm, else null (the caller takes the device route).
 *
 * @internal
 */
export function hostTopMasks(scores: readonly tf.Tensor[], k: number): tf.Tensor[] | null {
  if (!ensureKernels(tf.getBackend())) return null;
  const inputs: Record<string, tf.Tensor> = {};
  scores.forEach((t, i) => {
    inputs[`s${i}`] = t;
  });
  return tf.engine().runKernel(TOP_MASKS_KERNEL, inputs, { k, parts: scores.length } as unknown as tf.NamedAttrMap) as unknown as tf.Tensor[];
}
