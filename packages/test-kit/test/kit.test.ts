// The harness checks itself: the analytic float64 gradient against finite differences, and
// each assertion helper fails when it should.
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import {
  countHostReads,
  expectConfigError,
  expectNoTensorGrowth,
  flatten,
  linearGrad64,
  linearLoss64,
  makeLinearProblem,
  makeTfLinear,
  unflatten,
} from '../src/index.js';

describe('float64 linear reference', () => {
  const problem = makeLinearProblem({ n: 6, d: 3, k: 2, seed: 3 });

  it('its analytic gradient matches central finite differences', () => {
    const w = flatten(problem.init);
    const analytic = flatten(linearGrad64(problem, problem.init, [0, 2, 5]));
    const h = 1e-6;
    w.forEach((_, i) => {
      const plus = w.map((v, j) => (j === i ? v + h : v));
      const minus = w.map((v, j) => (j === i ? v - h : v));
      const numeric = (linearLoss64(problem, unflatten(problem, plus), [0, 2, 5]) - linearLoss64(problem, unflatten(problem, minus), [0, 2, 5])) / (2 * h);
      expect(analytic[i]).toBeCloseTo(numeric, 6);
    });
  });

  it('the tfjs loss closure computes the same loss', () => {
    const model = makeTfLinear(problem);
    const loss = model.loss([1, 3])();
    expect(loss.arraySync()).toBeCloseTo(linearLoss64(problem, problem.init, [1, 3]), 5);
    loss.dispose();
    model.dispose();
  });
});

describe('assertion helpers fail when they should', () => {
  it('countHostReads counts dataSync and data()', async () => {
    const t = tf.tensor1d([1, 2]);
    expect(countHostReads(() => t.dataSync()).reads).toBe(1);
    const { result, reads } = countHostReads(() => t.data());
    expect(reads).toBe(1);
    expect(Array.from(await result)).toEqual([1, 2]);
    expect(countHostReads(() => t.arraySync()).reads).toBe(1);
    expect(countHostReads(() => tf.tidy(() => tf.add(t, 1))).reads).toBe(0);
    t.dispose();
  });

  it('expectNoTensorGrowth catches a leak', async () => {
    const leaked: tf.Tensor[] = [];
    await expect(expectNoTensorGrowth(() => leaked.push(tf.scalar(1)), { steps: 5, warmup: 0 })).rejects.toThrow();
    for (const t of leaked) t.dispose();
  });

  it('expectConfigError rejects a wrong key and a plain Error', () => {
    const error = Object.assign(new Error("invalid config 'rho'"), { name: 'FlatminConfigError', key: 'rho' });
    expect(() => expectConfigError(() => {
      throw error;
    }, 'p')).toThrow();
    expect(() => expectConfigError(() => {
      throw new Error('rho');
    }, 'rho')).toThrow();
    expectConfigError(() => {
      throw error;
    }, 'rho');
  });
});
