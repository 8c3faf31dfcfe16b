// SSAM-F's top-k masks kernel against the rule (score ≥ the k-th largest of a float64 sort), and
// SSAM-D's refresh kernel (cpu and wasm: one pass over host memory) against an independent
// reference of the rule (a full sort by (|g|, index) and by (−u, index), float64), and against the
// tf.topk + scatter route the other backends take: the same masks bit for bit, with ties (many equal
// |g|, repeated draws) broken to the lower index, over several variables at once; one kernel call,
// no TopK, nothing left over.
import * as tf from '@tensorflow/tfjs-core';
import { onBackend } from '@flatmin/test-kit';
import { describe, expect, it } from 'vitest';
import { DROP_AND_GROW_KERNEL, dropAndGrow, dropAndGrowValues, TOP_MASKS_KERNEL, topMaskValues, useHostSelect } from '../src/host-select.js';
import { topMasks } from '../src/mask.js';
import { SeededRandom } from '@flatmin/core/kit';

/** The rule, from its statement: drop the `count` kept with the smallest |g|, grow the `count` free with the largest u; ties to the lower index. */
function reference(mask: number[], g: number[], u: number[], count: number): number[] {
  const kept = mask.map((m, i) => ({ m, i })).filter((e) => e.m > 0.5).map((e) => e.i);
  const free = mask.map((m, i) => ({ m, i })).filter((e) => e.m <= 0.5).map((e) => e.i);
  const drop = [...kept].sort((a, b) => Math.abs(g[a]!) - Math.abs(g[b]!) || a - b).slice(0, count);
  const grow = [...free].sort((a, b) => u[b]! - u[a]! || a - b).slice(0, count);
  const out = [...mask];
  for (const i of drop) out[i] = 0;
  for (const i of grow) out[i] = 1;
  return out;
}

/** A tie-heavy case: |g| from a few levels (with ±0 and sign flips), u repeated, a mask of exactly k ones. */
function inputs(size: number, k: number, seed: number): { mask: number[]; g: number[]; u: number[] } {
  const random = new SeededRandom(seed);
  const order = Array.from({ length: size }, (_, i) => ({ i, r: random.uniform() })).sort((a, b) => a.r - b.r);
  const mask = new Array<number>(size).fill(0);
  for (let j = 0; j < k; j += 1) mask[order[j]!.i] = 1;
  const levels = [0, -0, 0.5, -0.5, 1e-3, 2, -2, 7];
  const g = Array.from({ length: size }, () => levels[Math.floor(random.uniform() * levels.length)]!);
  const u = Array.from({ length: size }, () => Math.fround(Math.floor(random.uniform() * 16) / 16));
  return { mask, g, u };
}

const SHAPES = [[6, 5], [5], [3, 2, 2]] as const;
const sizeOf = (shape: readonly number[]) => shape.reduce((p, n) => p * n, 1);

function split(values: number[]): tf.Tensor[] {
  let offset = 0;
  return SHAPES.map((shape) => {
    const t = tf.tensor(values.slice(offset, offset + sizeOf(shape)), shape as unknown as number[], 'float32');
    offset += sizeOf(shape);
    return t;
  });
}

describe('dropAndGrowValues: the rule, from host values', () => {
  it.each([
    [47, 20, 5],
    [47, 20, 20],
    [47, 30, 17],
    [200, 100, 50],
    [200, 1, 1],
  ])('size %i, %i kept, count %i: equal to the sort-based reference, with ‖m‖₀ unchanged', (size, k, count) => {
    for (const seed of [1, 2, 3]) {
      const { mask, g, u } = inputs(size, k, seed);
      const got = Array.from(dropAndGrowValues([Float32Array.from(mask)], [Float32Array.from(g)], Float32Array.from(u), count));
      expect(got).toEqual(reference(mask, g, u, count));
      expect(got.reduce((s, x) => s + x, 0)).toBe(k);
    }
  });

  it('a count beyond the ones or the zeros takes all of them; count 0 is the mask itself', () => {
    const mask = [1, 0, 1, 0, 0];
    const g = [3, 1, 2, 5, 4];
    const u = [0.1, 0.9, 0.2, 0.3, 0.5];
    expect(Array.from(dropAndGrowValues([Float32Array.from(mask)], [Float32Array.from(g)], Float32Array.from(u), 0))).toEqual(mask);
    expect(Array.from(dropAndGrowValues([Float32Array.from(mask)], [Float32Array.from(g)], Float32Array.from(u), 9))).toEqual([0, 1, 0, 1, 1]);
  });

  it('several variables are ranked together, in their concatenated order', () => {
    const { mask, g, u } = inputs(47, 20, 9);
    const cut = (v: number[]) => [Float32Array.from(v.slice(0, 30)), Float32Array.from(v.slice(30))];
    expect(Array.from(dropAndGrowValues(cut(mask), cut(g), Float32Array.from(u), 8))).toEqual(reference(mask, g, u, 8));
  });
});

describe.each(['cpu', 'wasm'] as const)('dropAndGrow on %s', (backend) => {
  it('the host kernel and the tf.topk route give the reference masks; one kernel, no TopK, nothing left over', async () => {
    await onBackend(backend, async () => {
      const total = SHAPES.reduce((s, shape) => s + sizeOf(shape), 0);
      for (const [k, count] of [
        [20, 7],
        [30, 17],
      ] as const) {
        const { mask, g, u } = inputs(total, k, k);
        const expected = reference(mask, g, u, count);
        const masks = split(mask);
        const grads = split(g);
        const uniform = tf.tensor1d(u);
        const profile = await tf.profile(() => dropAndGrow(masks, grads, uniform, count));
        expect(profile.kernels.map((kernel) => kernel.name)).toEqual([DROP_AND_GROW_KERNEL]);
        tf.dispose(profile.result as tf.Tensor[]);
        const before = tf.memory().numTensors;
        const host = tf.tidy(() => dropAndGrow(masks, grads, uniform, count));
        expect(tf.memory().numTensors).toBe(before + SHAPES.length);
        expect(host.map((t) => t.shape)).toEqual(SHAPES.map((s) => [...s]));
        expect(host.flatMap((t) => Array.from(t.dataSync()))).toEqual(expected);
        const previous = useHostSelect(false);
        try {
          const routed = dropAndGrow(masks, grads, uniform, count);
          expect(routed.flatMap((t) => Array.from(t.dataSync()))).toEqual(expected);
          tf.dispose(routed);
        } finally {
          useHostSelect(previous);
        }
        tf.dispose([host, masks, grads, uniform]);
      }
    });
  });
});

/** score ≥ the k-th largest of all the scores (a float64 sort), per coordinate. */
function topReference(scores: number[], k: number): number[] {
  const t = [...scores].sort((a, b) => b - a)[k - 1]!;
  return scores.map((x) => (x >= t ? 1 : 0));
}

describe('topMaskValues: score ≥ the k-th largest over all the parts', () => {
  it('negative scores, ±0 (equal, as tf.greaterEqual has them), ties at the threshold, every k', () => {
    const scores = [3, -1, 0, -0, 2, -7.5, 2, 1e-30, -1e-30, 0, 5, -0];
    for (let k = 1; k < scores.length; k += 1) {
      const parts = [Float32Array.from(scores.slice(0, 5)), Float32Array.from(scores.slice(5))];
      expect(Array.from(topMaskValues(parts, k))).toEqual(topReference(scores, k));
    }
  });

  it.each([1, 2, 3])('random scores with repeats (seed %i), k over and under half', (seed) => {
    const random = new SeededRandom(seed);
    const scores = Array.from({ length: 300 }, () => Math.fround(Math.floor((random.uniform() - 0.3) * 40) / 8));
    for (const k of [1, 37, 150, 151, 299]) {
      expect(Array.from(topMaskValues([Float32Array.from(scores)], k))).toEqual(topReference(scores, k));
    }
  });
});

describe.each(['cpu', 'wasm'] as const)('topMasks on %s', (backend) => {
  it('one host kernel, the same masks as the device route (tf.topk threshold), nothing left over', async () => {
    await onBackend(backend, async () => {
      const random = new SeededRandom(5);
      const total = SHAPES.reduce((s, shape) => s + sizeOf(shape), 0);
      const values = Array.from({ length: total }, () => Math.fround(Math.floor(random.uniform() * 12) / 4));
      const scores = split(values);
      for (const k of [3, 20, 40]) {
        const profile = await tf.profile(() => topMasks(scores, k));
        expect(profile.kernels.map((kernel) => kernel.name)).toEqual([TOP_MASKS_KERNEL]);
        tf.dispose(profile.result as tf.Tensor[]);
        const before = tf.memory().numTensors;
        const host = topMasks(scores, k);
        expect(tf.memory().numTensors).toBe(before + SHAPES.length);
        expect(host.map((t) => t.shape)).toEqual(SHAPES.map((s) => [...s]));
        const expected = topReference(values, k);
        expect(host.flatMap((t) => Array.from(t.dataSync()))).toEqual(expected);
        const previous = useHostSelect(false);
        try {
          const routed = topMasks(scores, k);
          expect(routed.flatMap((t) => Array.from(t.dataSync()))).toEqual(expected);
          tf.dispose(routed);
        } finally {
          useHostSelect(previous);
        }
        tf.dispose(host);
      }
      tf.dispose(scores);
    });
  });
});
