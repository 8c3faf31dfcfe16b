// Both perturbations through sharpnessAware: the common matrix of @flatmin/test-kit (float64
// reference over three steps — the running mean across steps matters —, convergence, 100-step
// leak, zero host reads, exact getWeights/setWeights round trip, named config errors).
import * as tf from '@tensorflow/tfjs-core';
import { sharpnessAware } from '@flatmin/core';
import { makeLinearProblem, maxRelativeError, runOptimizerSuite } from '@flatmin/test-kit';
import { describe, expect, it } from 'vitest';
import { friendly, varianceSuppressed } from '../src/index.js';
import { friendlyOfficial64, friendlySeed64, sam64, vasso64 } from './reference.js';

const lr = 0.05;
// σ ≠ 1: with σ = 1 the seed's d_t = λ(g_t − m_{t−1}) is parallel to the official d_t = g_t − m_{t−1},
// so the variants would differ only in how m starts (the defaults row below covers σ = 1).
const fsam = { rho: 0.2, sigma: 0.7, lambda: 0.6 };
const vasso = { rho: 0.2, theta: 0.4 };
const fsam64 = { ...fsam, lr };
const vasso64Options = { ...vasso, lr };

runOptimizerSuite('friendly() and varianceSuppressed() through sharpnessAware', [
  {
    name: "friendly (variant 'seed')",
    make: () => sharpnessAware({ base: tf.train.sgd(lr), perturbation: friendly(fsam) }),
    reference: { steps: 3, expected: (p) => friendlySeed64(p, 3, fsam64) },
    badConfigs: [
      { key: 'rho', make: () => friendly({ rho: -0.1 }) },
      { key: 'lambda', make: () => friendly({ lambda: 1 }) },
      { key: 'lambda', make: () => friendly({ lambda: -0.1 }) },
      { key: 'sigma', make: () => friendly({ sigma: Number.POSITIVE_INFINITY }) },
      { key: 'sigma', make: () => friendly({ sigma: Number.NaN }) },
      { key: 'variant', make: () => friendly({ variant: 'paper' as never }) },
    ],
  },
  {
    name: "friendly (variant 'official')",
    make: () => sharpnessAware({ base: tf.train.sgd(lr), perturbation: friendly({ ...fsam, variant: 'official' }) }),
    reference: { steps: 3, expected: (p) => friendlyOfficial64(p, 3, fsam64) },
  },
  {
    name: "friendly defaults (ρ 0.05, σ 1, λ 0.9, 'seed')",
    make: () => sharpnessAware({ base: tf.train.sgd(lr), perturbation: friendly() }),
    reference: { steps: 3, expected: (p) => friendlySeed64(p, 3, { rho: 0.05, sigma: 1, lambda: 0.9, lr }) },
  },
  {
    name: 'varianceSuppressed (VaSSO)',
    make: () => sharpnessAware({ base: tf.train.sgd(lr), perturbation: varianceSuppressed(vasso) }),
    reference: { steps: 3, expected: (p) => vasso64(p, 3, vasso64Options) },
    badConfigs: [
      { key: 'rho', make: () => varianceSuppressed({ rho: -1 }) },
      { key: 'theta', make: () => varianceSuppressed({ theta: 0 }) },
      { key: 'theta', make: () => varianceSuppressed({ theta: 1.5 }) },
    ],
  },
  {
    name: 'varianceSuppressed defaults (ρ 0.05, θ 0.9)',
    make: () => sharpnessAware({ base: tf.train.sgd(lr), perturbation: varianceSuppressed() }),
    reference: { steps: 3, expected: (p) => vasso64(p, 3, { rho: 0.05, theta: 0.9, lr }) },
  },
  {
    name: "friendly 'official' on momentum",
    make: () => sharpnessAware({ base: tf.train.momentum(lr, 0.9), perturbation: friendly({ ...fsam, variant: 'official' }) }),
  },
  {
    name: "friendly 'official', σ = 1 (the code's default)",
    make: () => sharpnessAware({ base: tf.train.sgd(lr), perturbation: friendly({ ...fsam, sigma: 1, variant: 'official' }) }),
    reference: { steps: 3, expected: (p) => friendlyOfficial64(p, 3, { ...fsam64, sigma: 1 }) },
  },
  {
    name: 'varianceSuppressed on Adam',
    make: () => sharpnessAware({ base: tf.train.adam(lr), perturbation: varianceSuppressed(vasso) }),
  },
]);

describe('the references discriminate', () => {
  // The 1e-5 checks above only mean something if the methods' trajectories are further apart than that.
  const problem = makeLinearProblem({ seed: 7 });
  it('after three steps seed, official, VaSSO and SAM are at least 1e-4 apart from each other', () => {
    const runs = [friendlySeed64(problem, 3, fsam64), friendlyOfficial64(problem, 3, fsam64), vasso64(problem, 3, vasso64Options), sam64(problem, 3, fsam64)];
    for (let i = 0; i < runs.length; i += 1) {
      for (let j = i + 1; j < runs.length; j += 1) expect(maxRelativeError(runs[i]!, runs[j]!)).toBeGreaterThan(1e-4);
    }
  });

  it('the third step matters: two-step references differ from three-step ones by more than the tolerance', () => {
    expect(maxRelativeError(friendlySeed64(problem, 2, fsam64), friendlySeed64(problem, 3, fsam64))).toBeGreaterThan(1e-4);
  });
});
