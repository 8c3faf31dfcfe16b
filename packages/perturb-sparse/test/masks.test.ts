// The masks' own rules: exact degenerate reductions, the dynamic mask's constant density and its
// drop/grow rule against float64, the refresh period, seeding, and zero host reads.
import * as tf from '@tensorflow/tfjs-core';
import { type ComponentState, sharpnessAware } from '@flatmin/core';
import { SeededRandom } from '@flatmin/core/kit';
import { gradient } from '@flatmin/perturb-gradient';
import { countHostReads, makeLinearProblem, makeTfLinear } from '@flatmin/test-kit';
import { describe, expect, it } from 'vitest';
import { dynamicMask, fisherMask, type Mask, randomMask, sparse } from '../src/index.js';
import { kthLargest, topMasks } from '../src/mask.js';
import { disposeState, dynamicRefresh64, LR, makeVariables, named, ones, selectStep, testValues, topIndices } from './helpers.js';

const SHAPES = [[4, 3], [3], [2, 2, 2]] as const; // d = 23

/** Weights after `steps` momentum steps of `perturbation` (or the plain inner one) on the linear problem. */
function train(perturbation: Parameters<typeof sharpnessAware>[0]['perturbation'], steps: number, seed = 1) {
  const model = makeTfLinear(makeLinearProblem({ seed: 3 }));
  const optimizer = sharpnessAware({ base: tf.train.momentum(LR, 0.9), perturbation, seed });
  for (let i = 0; i < steps; i += 1) optimizer.minimize(model.loss(), false, model.variables);
  const weights = model.read();
  optimizer.dispose();
  model.dispose();
  return weights;
}

describe('degenerate settings reduce exactly to the inner perturbation (bit for bit)', () => {
  const inner = train(gradient({ rho: 0.1 }), 12);
  it.each([
    ['fisherMask({ sparsity: 0 })', () => fisherMask({ sparsity: 0, updateEvery: 1 })],
    ['dynamicMask({ sparsity: 0 })', () => dynamicMask({ sparsity: 0, updateEvery: 1 })],
    ['randomMask({ keep: 1 })', () => randomMask({ keep: 1 })],
  ] as [string, () => Mask][])('%s, both normalize modes', (_name, mask) => {
    for (const normalize of ['masked', 'full'] as const) {
      expect(train(sparse(gradient({ rho: 0.1 }), mask(), { normalize }), 12)).toEqual(inner);
    }
  });

  it('the reduction is not vacuous: sparsity 0.5 / keep 0.5 do differ from the inner perturbation', () => {
    for (const mask of [fisherMask(), dynamicMask(), randomMask()]) expect(train(sparse(gradient({ rho: 0.1 }), mask), 12)).not.toEqual(inner);
  });
});

describe('dynamicMask: ‖m‖₀ constant, drop = smallest |g| among the kept, grow among the others', () => {
  it.each([0.1, 0.5, 0.8])('sparsity %s: exactly round((1 − s)·d) ones over 60 refreshes, each refresh the float64 rule', (sparsity) => {
    const variables = makeVariables(SHAPES);
    const d = 23;
    const k = Math.round((1 - sparsity) * d);
    const mask = dynamicMask({ sparsity, dropRate: 0.5, updateEvery: 1 });
    const random = new SeededRandom(5);
    const replay = new SeededRandom(5); // the same draws, read back for the float64 rule
    let state: ComponentState = {};
    let previous: number[] | null = null;
    for (let t = 0; t < 60; t += 1) {
      const g = testValues(d, 100 + t);
      const grads = named(variables, g);
      const out = selectStep(mask, variables, grads, t, random, state);
      state = out.state;
      expect(out.flat.filter((v) => v === 1)).toHaveLength(k);
      expect(out.flat.every((v) => v === 0 || v === 1)).toBe(true);
      const u = replay.uniformTensor([d]);
      const uniforms = Array.from(u.dataSync());
      u.dispose();
      if (previous === null) expect(out.flat).toEqual(ones(topIndices(uniforms, k), d));
      else {
        const n = Math.min(Math.round(0.5 * k), d - k);
        expect(out.flat).toEqual(dynamicRefresh64(previous, g, n, uniforms));
        // Something moved (n > 0), and nothing just dropped came straight back.
        expect(out.flat).not.toEqual(previous);
      }
      previous = out.flat;
      tf.dispose(Object.values(grads));
    }
    disposeState(state);
    tf.dispose(variables);
  });

  it('the drop rate is cosine-annealed over totalSteps: no change at and after T', () => {
    const variables = makeVariables(SHAPES);
    const mask = dynamicMask({ sparsity: 0.5, dropRate: 1, updateEvery: 1, totalSteps: 10 });
    const random = new SeededRandom(2);
    let state: ComponentState = {};
    const moved: number[] = [];
    let previous: number[] | null = null;
    for (let t = 0; t < 14; t += 1) {
      const grads = named(variables, testValues(23, 7 + t));
      const out = selectStep(mask, variables, grads, t, random, state);
      state = out.state;
      if (previous !== null) moved.push(out.flat.reduce((s, v, i) => s + (v === 1 && previous![i] === 0 ? 1 : 0), 0));
      previous = out.flat;
      tf.dispose(Object.values(grads));
    }
    // k = 12 (rounded), d − k = 11: n_t = min(round(12·(1 + cos(πt/10))/2), 11) for t = 1..13.
    const expected = Array.from({ length: 13 }, (_, i) => Math.min(Math.round((12 * (1 + Math.cos((Math.PI * Math.min(i + 1, 10)) / 10))) / 2), 11));
    expect(moved).toEqual(expected);
    expect(moved.slice(-4)).toEqual([0, 0, 0, 0]);
    disposeState(state);
    tf.dispose(variables);
  });
});

describe('refresh period', () => {
  it.each([
    ['fisherMask', (k: number) => fisherMask({ sparsity: 0.5, updateEvery: k, samples: 1 })],
    ['dynamicMask', (k: number) => dynamicMask({ sparsity: 0.5, updateEvery: k })],
  ] as [string, (k: number) => Mask][])('%s with updateEvery 3 changes the mask only at steps 0, 3, 6, ...', (_name, make) => {
    const variables = makeVariables(SHAPES);
    const random = new SeededRandom(3);
    const mask = make(3);
    let state: ComponentState = {};
    const masks: number[][] = [];
    for (let t = 0; t < 10; t += 1) {
      const grads = named(variables, testValues(23, 50 + 13 * t));
      const out = selectStep(mask, variables, grads, t, random, state);
      state = out.state;
      masks.push(out.flat);
      expect(state['refreshedAt']).toBe(t - (t % 3));
      tf.dispose(Object.values(grads));
    }
    for (let t = 1; t < 10; t += 1) {
      if (t % 3 !== 0) expect(masks[t]).toEqual(masks[t - 1]);
      else expect(masks[t]).not.toEqual(masks[t - 1]); // these gradients do reorder the scores
    }
    disposeState(state);
    tf.dispose(variables);
  });

  it('fisherMask with samples: 1 ranks the current g² alone; samples > 1 averages (the EMA changes the ranking)', () => {
    const variables = makeVariables([[4]]);
    const random = new SeededRandom(0);
    const run = (samples: number) => {
      const mask = fisherMask({ sparsity: 0.5, updateEvery: 1, samples });
      let state: ComponentState = {};
      let flat: number[] = [];
      for (const [t, g] of [[0, [3, 2, 0.1, 0.2]], [1, [0.1, 0.2, 1, 1.5]]] as [number, number[]][]) {
        const grads = named(variables, g);
        ({ flat, state } = selectStep(mask, variables, grads, t, random, state));
        tf.dispose(Object.values(grads));
      }
      disposeState(state);
      return flat;
    };
    expect(run(1)).toEqual([0, 0, 1, 1]); // g₁² only
    // λ = 0.75: F = 0.75·g₀² + 0.25·g₁² = [6.7525, 3.01, 0.2575, 0.5925]
    expect(run(4)).toEqual([1, 1, 0, 0]);
    tf.dispose(variables);
  });
});

describe('seeded randomness', () => {
  it.each([
    ['dynamicMask', () => dynamicMask({ updateEvery: 2 })],
    ['randomMask', () => randomMask({ keep: 0.5 })],
  ] as [string, () => Mask][])('%s: same seed → the same run, another seed → another', (_name, mask) => {
    const a = train(sparse(gradient({ rho: 0.1 }), mask()), 8, 21);
    const b = train(sparse(gradient({ rho: 0.1 }), mask()), 8, 21);
    const c = train(sparse(gradient({ rho: 0.1 }), mask()), 8, 22);
    expect(b).toEqual(a);
    expect(c).not.toEqual(a);
  });
});

describe('zero host reads in select (also on refresh steps)', () => {
  it.each([
    ['fisherMask', fisherMask({ updateEvery: 2 })],
    ['dynamicMask', dynamicMask({ updateEvery: 2, totalSteps: 50 })],
    ['randomMask', randomMask()],
  ] as [string, Mask][])('%s', (_name, mask) => {
    const variables = makeVariables(SHAPES);
    const grads = named(variables, testValues(23, 4));
    const random = new SeededRandom(1);
    let state: ComponentState = {};
    const { reads } = countHostReads(() => {
      for (let t = 0; t < 6; t += 1) {
        const next = tf.tidy(() => mask.select({ step: t, random, normEpsilon: 1e-12, learningRate: 0.1, variables, grads }, state).state ?? state);
        for (const value of Object.values(state)) if (typeof value !== 'number' && !Object.values(next).includes(value)) value.dispose();
        state = next;
      }
    });
    expect(reads).toBe(0);
    disposeState(state);
    tf.dispose([variables, Object.values(grads)]);
  });
});

describe('the mask refresh: a device-side threshold equals the old sorted tf.topk + scatter', () => {
  /** The previous implementation (sorted top-k of the concatenation, a scatter, a split), kept here as the reference. */
  const oldTopk = (scores: tf.Tensor[], k: number): number[] =>
    tf.tidy(() => {
      const flat = tf.concat(scores.map((s) => tf.reshape(s, [-1])));
      const indices = tf.topk(flat, k).indices;
      return Array.from(tf.scatterND(tf.expandDims(indices, 1), tf.ones([k]), [flat.size]).dataSync());
    });
  const shapes = [[7, 5], [5], [3, 2, 4], [1]] as const; // d = 65

  it.each([0, 0.1, 0.5, 0.8, 0.98])('sparsity %s on distinct random scores: topMasks = old top-k = float64 top-k (both kthLargest branches)', (sparsity) => {
    for (const seed of [1, 2, 3]) {
      const values = testValues(65, seed).map(Math.abs);
      expect(new Set(values).size).toBe(65); // no ties
      const scores = named(makeVariables(shapes), values);
      const list = Object.values(scores);
      const k = Math.round((1 - sparsity) * 65);
      const masks = topMasks(list, k);
      const flat = masks.flatMap((m, i) => {
        expect(m.shape).toEqual(list[i]!.shape);
        return Array.from(m.dataSync());
      });
      expect(flat).toEqual(ones(topIndices(values, k), 65));
      if (k > 0 && k < 65) expect(flat).toEqual(oldTopk(list, k));
      tf.dispose([...masks, ...list]);
    }
  });

  it('kthLargest: the k-th largest for every k (k ≤ half and k > half take different paths)', () => {
    const values = testValues(9, 4);
    const sorted = [...values].sort((a, b) => b - a);
    const scores = tf.tensor1d(values);
    for (let k = 1; k <= 9; k += 1) {
      const t = kthLargest(scores, k);
      expect(t.dataSync()[0]).toBe(sorted[k - 1]);
      t.dispose();
    }
    scores.dispose();
  });

  it('ties at the threshold: every coordinate equal to the k-th largest score is kept (documented)', () => {
    const scores = [tf.tensor1d([3, 1, 0]), tf.tensor2d([[1, 1], [0.5, 2]])];
    const masks = topMasks(scores, 3); // k-th largest = 1, held by three coordinates
    expect(masks.map((m) => Array.from(m.dataSync()))).toEqual([[1, 1, 0], [1, 1, 0, 1]]);
    tf.dispose([...masks, ...scores]);
  });

  it('no tensor is left behind by a refresh', () => {
    const scores = Object.values(named(makeVariables(shapes), testValues(65, 9)));
    const before = tf.memory().numTensors;
    const masks = topMasks(scores, 30);
    expect(tf.memory().numTensors).toBe(before + masks.length);
    tf.dispose([...masks, ...scores]);
  });
});
