// The degenerate settings reduce exactly (bit-identical weights after several steps): ρ = 0 → the
// base optimizer, σ = 0 → SAM, θ = 1 → SAM (d = g). The cost: two loss evaluations per step. No
// randomness: the seed does not change a run.
import * as tf from '@tensorflow/tfjs-core';
import { type Perturbation, sharpnessAware } from '@flatmin/core';
import { axpy, linearGrad64, makeLinearProblem, makeTfLinear, norm64, type TfLinear } from '@flatmin/test-kit';
import { describe, expect, it } from 'vitest';
// SAM itself, from its package's sources (as core's tests do): the reduction is to the real thing.
import { gradient } from '../../perturb-gradient/src/index.js';
import { friendly, varianceSuppressed } from '../src/index.js';
import { epsilon64 } from './reference.js';

const lr = 0.05;
const problem = makeLinearProblem({ seed: 11 });
// Two batches, so the running means and the batch gradients differ from step to step.
const batches = [
  [0, 1, 2, 3],
  [4, 5, 6, 7],
];

/** `steps` updates of `optimizer` on alternating batches; the parameters afterwards. */
function train(optimizer: tf.Optimizer, steps: number, model: TfLinear = makeTfLinear(problem)) {
  for (let t = 0; t < steps; t += 1) optimizer.minimize(model.loss(batches[t % 2]), false, model.variables);
  const params = model.read();
  model.dispose();
  optimizer.dispose();
  return params;
}

const momentum = () => tf.train.momentum(lr, 0.9);
const sharp = (perturbation: Perturbation) => sharpnessAware({ base: momentum(), perturbation });

describe('ρ = 0 reduces exactly to the base optimizer', () => {
  const rows: [string, () => Perturbation][] = [
    ["friendly 'seed'", () => friendly({ rho: 0 })],
    ["friendly 'official'", () => friendly({ rho: 0, variant: 'official' })],
    ['varianceSuppressed', () => varianceSuppressed({ rho: 0 })],
  ];
  it.each(rows)('%s: 10 steps on momentum equal plain momentum bit for bit', (_name, make) => {
    expect(train(sharp(make()), 10)).toEqual(train(momentum(), 10));
  });
});

describe('σ = 0 and θ = 1 reduce exactly to SAM', () => {
  const sam = () => train(sharp(gradient({ rho: 0.1 })), 10);
  const rows: [string, () => Perturbation][] = [
    ["friendly 'seed', σ = 0", () => friendly({ rho: 0.1, sigma: 0 })],
    ["friendly 'official', σ = 0", () => friendly({ rho: 0.1, sigma: 0, variant: 'official' })],
    ['varianceSuppressed, θ = 1', () => varianceSuppressed({ rho: 0.1, theta: 1 })],
  ];
  it.each(rows)('%s: 10 steps equal gradient({ rho }) bit for bit', (_name, make) => {
    expect(train(sharp(make()), 10)).toEqual(sam());
  });

  it('…and the default settings do not (the check is not vacuous)', () => {
    const reference = sam();
    expect(train(sharp(friendly({ rho: 0.1 })), 10)).not.toEqual(reference);
    expect(train(sharp(friendly({ rho: 0.1, variant: 'official' })), 10)).not.toEqual(reference);
    expect(train(sharp(varianceSuppressed({ rho: 0.1 })), 10)).not.toEqual(reference);
  });
});

describe('cost and telemetry', () => {
  const rows: [string, () => Perturbation][] = [
    ["friendly 'seed'", () => friendly({ rho: 0.2 })],
    ["friendly 'official'", () => friendly({ rho: 0.2, variant: 'official' })],
    ['varianceSuppressed', () => varianceSuppressed({ rho: 0.2 })],
  ];
  it.each(rows)('%s: two loss evaluations per step (clean + adversarial), ‖ε‖ = ρ, ‖g‖ of the batch', async (_name, make) => {
    const model = makeTfLinear(problem);
    const optimizer = sharp(make());
    for (let t = 0; t < 5; t += 1) optimizer.minimize(model.loss(batches[t % 2]), false, model.variables);
    const before = model.read();
    optimizer.minimize(model.loss(batches[1]), false, model.variables);
    const telemetry = await optimizer.telemetry();
    expect(telemetry.lossEvaluations).toBe(12);
    expect(optimizer.lossEvaluations).toBe(12);
    expect(telemetry.epsilonNorm).toBeCloseTo(0.2, 6);
    expect(telemetry.gradNorm).toBeCloseTo(norm64(linearGrad64(problem, before, batches[1])), 4);
    optimizer.dispose();
    model.dispose();
  });

  it('a zero gradient from the start gives ε = 0 (never NaN): the weights do not move and ‖ε‖ = 0', async () => {
    // L = Σ (w·0)²: every gradient is exactly zero.
    for (const perturbation of [friendly(), friendly({ variant: 'official' }), varianceSuppressed()]) {
      const w = tf.variable(tf.tensor1d([1, -2, 3]));
      const optimizer = sharp(perturbation);
      for (let t = 0; t < 3; t += 1) optimizer.minimize(() => tf.sum(tf.square(tf.mul(w, 0))) as tf.Scalar, false, [w]);
      expect(Array.from(w.dataSync())).toEqual([1, -2, 3]);
      const telemetry = await optimizer.telemetry();
      expect(telemetry.epsilonNorm).toBe(0);
      expect(telemetry.skippedSteps).toBe(0);
      optimizer.dispose();
      w.dispose();
    }
  });
});

describe('no randomness', () => {
  it.each([
    ['friendly', () => friendly({ rho: 0.2 })],
    ['varianceSuppressed', () => varianceSuppressed({ rho: 0.2 })],
  ] as const)('%s: runs with different seeds are bit-identical (ε draws nothing from the generator)', (_name, make) => {
    const a = train(sharpnessAware({ base: momentum(), perturbation: make(), seed: 1 }), 6);
    const b = train(sharpnessAware({ base: momentum(), perturbation: make(), seed: 2 }), 6);
    expect(b).toEqual(a);
  });
});

describe('the first step', () => {
  // Both official starts (m₁ = g₁ with d₁ = g₁; d₀ = g₀) and the seed's (d₀ = (1 − σ(1−λ)) g₀) point ε
  // along g on the first step, so one step of each equals one SAM step (float64 reference).
  it.each([
    ["friendly 'seed'", () => friendly({ rho: 0.2, lambda: 0.6 })],
    ["friendly 'official'", () => friendly({ rho: 0.2, lambda: 0.6, variant: 'official' })],
    ['varianceSuppressed', () => varianceSuppressed({ rho: 0.2, theta: 0.4 })],
  ] as const)('%s: one step is one SAM step', (_name, make) => {
    // train() takes its first step on batches[0].
    const g = linearGrad64(problem, problem.init, batches[0]);
    const expected = axpy(-lr, linearGrad64(problem, axpy(1, epsilon64(g, 0.2), problem.init), batches[0]), problem.init);
    const actual = train(sharpnessAware({ base: tf.train.sgd(lr), perturbation: make() }), 1, makeTfLinear(problem));
    const flat = (p: typeof expected) => [...p.w.flat(), ...p.b];
    flat(actual).forEach((v, i) => {
      expect(Math.abs(v - flat(expected)[i]!)).toBeLessThan(1e-6);
    });
  });
});
