// randomly through sharpnessAware: the common matrix of @flatmin/test-kit (float64 reference over
// six steps with the decisions drawn by hand from the seeded generator, convergence, 100-step leak,
// zero host reads, exact getWeights/setWeights round trip — the generator's state comes back —,
// named config errors).
import * as tf from '@tensorflow/tfjs-core';
import { sharpnessAware } from '@flatmin/core';
import { gradient } from '@flatmin/perturb-gradient';
import { makeLinearProblem, maxRelativeError, runOptimizerSuite } from '@flatmin/test-kit';
import { describe, expect, it } from 'vitest';
import { linearP, randomly, stepP } from '../src/index.js';
import { decisions, rst64 } from './reference.js';

const lr = 0.05;
const rho = 0.3;
const seed = 11;
const steps = 6;
const make = (schedule: ReturnType<typeof randomly>, base: () => tf.Optimizer = () => tf.train.sgd(lr)) => () =>
  sharpnessAware({ base: base(), perturbation: gradient({ rho }), schedule, seed });

const ramp = (t: number) => Math.min(t, 4) / 4; // linearP({ from: 0, to: 1, totalSteps: 4 }) by hand
const stairs = (t: number) => (t < 2 ? 1 : t < 4 ? 0 : 0.5); // stepP({ values: [1, 0, 0.5], boundaries: [2, 4] }) by hand

runOptimizerSuite('randomly() through sharpnessAware', [
  {
    name: 'p 0.5',
    make: make(randomly({ p: 0.5 })),
    reference: { steps, expected: (p) => rst64(p, decisions(seed, steps, () => 0.5), { rho, lr }) },
    badConfigs: [
      { key: 'p', make: () => randomly({ p: -0.1 }) },
      { key: 'p', make: () => randomly({ p: 1.5 }) },
      { key: 'p', make: () => randomly({ p: Number.NaN }) },
      { key: 'from', make: () => randomly({ p: linearP({ from: 2, to: 1, totalSteps: 10 }) }) },
      { key: 'values', make: () => randomly({ p: stepP({ values: [0.5], boundaries: [10] }) }) },
    ],
  },
  {
    name: 'defaults (p 0.5)',
    make: make(randomly()),
    reference: { steps, expected: (p) => rst64(p, decisions(seed, steps, () => 0.5), { rho, lr }) },
  },
  {
    name: 'linearP 0 → 1 over 4 steps',
    make: make(randomly({ p: linearP({ from: 0, to: 1, totalSteps: 4 }) })),
    reference: { steps, expected: (p) => rst64(p, decisions(seed, steps, ramp), { rho, lr }) },
  },
  {
    name: 'stepP [1, 0, 0.5] at [2, 4]',
    make: make(randomly({ p: stepP({ values: [1, 0, 0.5], boundaries: [2, 4] }) })),
    reference: { steps, expected: (p) => rst64(p, decisions(seed, steps, stairs), { rho, lr }) },
  },
  {
    name: 'p 1: SAM',
    make: make(randomly({ p: 1 })),
    reference: { steps: 3, expected: (p) => rst64(p, [true, true, true], { rho, lr }) },
  },
  {
    name: 'p 0: the base optimizer',
    make: make(randomly({ p: 0 })),
    reference: { steps: 3, expected: (p) => rst64(p, [false, false, false], { rho, lr }) },
  },
  {
    name: 'a custom p(t) on momentum',
    make: make(randomly({ p: (t) => 0.2 + 0.6 * ((t % 10) / 10) }), () => tf.train.momentum(lr, 0.9)),
  },
]);

describe('the references discriminate', () => {
  const problem = makeLinearProblem({ seed: 7 });
  it('the drawn decisions mix sharp and plain steps, and a different draw gives a different trajectory', () => {
    const drawn = decisions(seed, steps, () => 0.5);
    expect(drawn).toContain(true);
    expect(drawn).toContain(false);
    const flipped = drawn.map((d, t) => (t === drawn.lastIndexOf(false) ? true : d));
    expect(maxRelativeError(rst64(problem, drawn, { rho, lr }), rst64(problem, flipped, { rho, lr }))).toBeGreaterThan(1e-4);
    expect(decisions(seed, steps, ramp)).not.toEqual(drawn);
    expect(decisions(seed, steps, stairs).slice(0, 4)).toEqual([true, true, false, false]);
  });
});
