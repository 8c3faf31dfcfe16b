/**
 * Seeded standard-normal draws for components (the noise perturbations): a fast generator (sfc32
 * bits, Marsaglia and Tsang's ziggurat) that fills a host buffer, and tensors of draws for all the
 * variables of a step — on the wasm backend filled in place on its heap by flatmin's WebAssembly
 * module (the same values), elsewhere one host buffer uploaded once per variable as a view of it.
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { NORMAL_BLOCK, wasmKernels } from './wasm-kernels.js';

// Ziggurat tables for the standard normal, 256 layers (Marsaglia & Tsang, "The Ziggurat Method for
// Generating Random Variables", J. Stat. Software 5(8), 2000), for a 23-bit signed magnitude: the
// layer index and the magnitude come from disjoint bits of one 32-bit draw (so they are independent,
// the fix of Doornik, "An Improved Ziggurat Method", 2005).
const LAYERS = 256;
const SCALE = 2 ** 23;
const R = 3.6541528853610088;
/** The ziggurat's tables: K (fast-path bounds), W (scales), F (densities), one entry per layer. */
interface Tables {
  readonly K: Int32Array;
  readonly W: Float64Array;
  readonly F: Float64Array;
}

let cached: Tables | null = null;

/** The tables, computed on the first draw (nothing runs at import time, so bundlers may drop the module). */
function tables(): Tables {
  if (cached !== null) return cached;
  const K = new Int32Array(LAYERS);
  const W = new Float64Array(LAYERS);
  const F = new Float64Array(LAYERS);
  const v = 4.92867323399e-3;
  let d = R;
  let t = d;
  const q = v / Math.exp(-0.5 * d * d);
  K[0] = Math.floor((d / q) * SCALE);
  K[1] = 0;
  W[0] = q / SCALE;
  W[LAYERS - 1] = d / SCALE;
  F[0] = 1;
  F[LAYERS - 1] = Math.exp(-0.5 * d * d);
  for (let i = LAYERS - 2; i >= 1; i -= 1) {
    d = Math.sqrt(-2 * Math.log(v / d + Math.exp(-0.5 * d * d)));
    K[i + 1] = Math.floor((d / t) * SCALE);
    t = d;
    F[i] = Math.exp(-0.5 * d * d);
    W[i] = d / SCALE;
  }
  cached = { K, W, F };
  return cached;
}

/** The draws of one block are made in a row, then the block's rare ones are finished (a fixed list suffices). */
const BLOCK = NORMAL_BLOCK;
/** The seed's salt of the second sfc32 stream, the one the slow path draws from. */
const AUX = 0x5bd1e995;
/** The indices (in their block) of the draws the fast path left to the slow one; reused across calls. */
let pending: Int32Array | null = null;

/** The four sfc32 words for `seed`, through splitmix32 (`offset` starts the second generator's stream). */
function seeded(seed: number, offset: number): Int32Array {
  let s = ((seed >>> 0) + offset) >>> 0;
  const state = new Int32Array(4);
  for (let w = 0; w < 4; w += 1) {
    s = (s + 0x9e3779b9) >>> 0;
    let z = Math.imul(s ^ (s >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    state[w] = z ^ (z >>> 16);
  }
  return state;
}

/**
 * Fill `out` with independent standard-normal draws determined by `seed` (a 32-bit integer): the
 * same seed gives the same values on every platform, and a shorter buffer gets a prefix of a
 * longer one's values. sfc32 (seeded through splitmix32) supplies 32 random bits per draw: 8 pick
 * one of the ziggurat's 256 layers, 24 the signed magnitude; 98.5 % of draws take the fast path (one
 * compare and one multiply). The others are finished block by block, in index order, by the exact
 * wedge or tail test with words from a second sfc32 stream of the same seed, so the hot loop calls
 * nothing and keeps the generator in registers (0.84 × the time of the 128-layer generator with
 * the slow path inline, measured side by side on 269,322 values).
 *
 * @param out the buffer to fill (every element is written).
 * @param seed the seed (any number; it is taken modulo 2³²).
 *
 * @example
 * ```ts
 * import { fillNormal } from '@flatmin/core/kit';
 *
 * const z = new Float32Array(1000);
 * fillNormal(z, 42); // 1000 N(0, 1) values, the same for seed 42 every time
 * ```
 */
export function fillNormal(out: Float32Array, seed: number): void {
  const { K, W } = tables();
  const state = seeded(seed, 0);
  const aux = seeded(seed, AUX);
  pending ??= new Int32Array(BLOCK);
  const list = pending;
  // The hot loop keeps the generator in locals and calls nothing: a draw that misses the fast path
  // is remembered by its index, its 32 bits kept in the value's place until the block is done.
  const bits = new Int32Array(out.buffer, out.byteOffset, out.length);
  let a = state[0]!;
  let b = state[1]!;
  let c = state[2]!;
  let d = state[3]!;
  const length = out.length;
  for (let start = 0; start < length; start += BLOCK) {
    const end = Math.min(length, start + BLOCK);
    let slow = 0;
    for (let n = start; n < end; n += 1) {
      // sfc32, inlined.
      const t = (((a + b) | 0) + d) | 0;
      d = (d + 1) | 0;
      a = b ^ (b >>> 9);
      b = (c + (c << 3)) | 0;
      c = (((c << 21) | (c >>> 11)) + t) | 0;
      const i = t & (LAYERS - 1);
      const j = t >> 8; // signed, in [−2²³, 2²³)
      if (Math.abs(j) < K[i]!) {
        // Math.abs, not a sign test: the sign is random, so a branch on it is mispredicted half the time.
        out[n] = j * W[i]!;
      } else {
        list[slow] = n;
        slow += 1;
        bits[n] = t;
      }
    }
    for (let s = 0; s < slow; s += 1) {
      const n = list[s]!;
      const t = bits[n]!;
      out[n] = slowPath(t >> 8, t & (LAYERS - 1), aux);
    }
  }
}

/** The next sfc32 word of `state` (advanced in place). */
function nextWord(state: Int32Array): number {
  const a = state[0]!;
  const b = state[1]!;
  const c = state[2]!;
  const d = state[3]!;
  const t = (((a + b) | 0) + d) | 0;
  state[3] = (d + 1) | 0;
  state[0] = b ^ (b >>> 9);
  state[1] = (c + (c << 3)) | 0;
  state[2] = (((c << 21) | (c >>> 11)) + t) | 0;
  return t;
}

/** A uniform in (0, 1) from the next word of `state`. */
function uniform(state: Int32Array): number {
  return ((nextWord(state) >>> 0) + 0.5) / 4294967296;
}

/** The ziggurat's rare draws: the wedge test, the tail beyond R, and fresh draws when one is rejected. */
function slowPath(first: number, layer: number, state: Int32Array): number {
  const { K, W, F } = tables();
  let j = first;
  let i = layer;
  for (;;) {
    if ((j < 0 ? -j : j) < K[i]!) return j * W[i]!;
    const x = j * W[i]!;
    if (i === 0) {
      // The tail beyond R (Marsaglia's exponential rejection).
      let tx: number;
      let ty: number;
      do {
        tx = -Math.log(uniform(state)) / R;
        ty = -Math.log(uniform(state));
      } while (ty + ty < tx * tx);
      return j > 0 ? R + tx : -R - tx;
    }
    if (F[i]! + uniform(state) * (F[i - 1]! - F[i]!) < Math.exp(-0.5 * x * x)) return x;
    const u = nextWord(state);
    i = u & (LAYERS - 1);
    j = u >> 8;
  }
}

/** The wasm backend's normal-draws kernel's name in tfjs' registry (no inputs; attributes `seed`, `shapes`). */
export const NORMAL_KERNEL = 'FlatminNormalDraws';

/** Register the normal-draws kernel on wasm when flatmin's WebAssembly module runs there; whether it can be used. */
function wasmNormalKernel(): boolean {
  if (tf.getBackend() !== 'wasm' || wasmKernels(tf.backend()) === undefined) return false;
  if (tf.getKernel(NORMAL_KERNEL, 'wasm') === undefined) {
    tf.registerKernel({
      kernelName: NORMAL_KERNEL,
      backendName: 'wasm',
      kernelFunc: ({ backend, attrs }) => {
        const { seed, shapes } = attrs as unknown as { seed: number; shapes: number[][] };
        const heap = backend as { makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo; typedArrayFromHeap(t: tf.TensorInfo): Float32Array };
        const kernels = wasmKernels(backend)!;
        const { K, W } = tables();
        // Every output first: an allocation may grow the heap and detach the views taken before it.
        const outputs = shapes.map((shape) => heap.makeOutput(shape, 'float32'));
        const state = seeded(seed, 0);
        const aux = seeded(seed, AUX);
        pending ??= new Int32Array(BLOCK);
        const list = pending;
        for (const out of outputs) {
          const length = out.shape.reduce((p, n) => p * n, 1);
          for (let start = 0; start < length; start += BLOCK) {
            const slow = kernels.normalFast(out, start, Math.min(BLOCK, length - start), state, K, W, list);
            if (slow === 0) continue;
            const values = heap.typedArrayFromHeap(out);
            const bits = new Int32Array(values.buffer, values.byteOffset, values.length);
            for (let s = 0; s < slow; s += 1) {
              const n = start + list[s]!;
              const t = bits[n]!;
              values[n] = slowPath(t >> 8, t & (LAYERS - 1), aux);
            }
          }
        }
        return outputs;
      },
    });
  }
  return true;
}

/**
 * One tensor of independent standard-normal draws per shape, all from one seed: the tensors hold
 * consecutive pieces of {@link fillNormal}`(seed)`'s values, in order, on every backend. On the
 * wasm backend one kernel fills them in place on its heap (the ziggurat's fast path in flatmin's
 * WebAssembly module, the rare draws in JavaScript: about 0.6 × the time of the host buffer, and no
 * upload); elsewhere one host buffer for all of them, filled by {@link fillNormal}, each tensor made
 * from its own view of the buffer (no copy on the host, one upload per tensor, no device op).
 *
 * @param seed the seed (one `context.random.nextSeed()` per step).
 * @param shapes the shapes, in order.
 * @returns float32 tensors of `shapes` (the caller disposes them, e.g. by a `tf.tidy`).
 *
 * @example
 * ```ts
 * import { normalDraws } from '@flatmin/core/kit';
 *
 * const [kernel, bias] = normalDraws(7, [[784, 256], [256]]);
 * ```
 */
export function normalDraws(seed: number, shapes: readonly (readonly number[])[]): tf.Tensor[] {
  const sizes = shapes.map((shape) => shape.reduce((p, n) => p * n, 1));
  if (shapes.length > 0 && sizes.every((n) => n > 0) && wasmNormalKernel()) {
    const made = tf.engine().runKernel(NORMAL_KERNEL, {}, { seed: seed >>> 0, shapes: shapes.map((shape) => [...shape]) }) as tf.Tensor | tf.Tensor[];
    return Array.isArray(made) ? made : [made];
  }
  const buffer = new Float32Array(sizes.reduce((p, n) => p + n, 0));
  fillNormal(buffer, seed);
  let offset = 0;
  return shapes.map((shape, k) => {
    const view = buffer.subarray(offset, offset + sizes[k]!);
    offset += sizes[k]!;
    return tf.tensor(view, shape as number[], 'float32');
  });
}
