// ASAM and Fisher SAM through the optimizer: the common matrix of @flatmin/test-kit (float64
// reference, convergence, 100-step leak, zero host reads, exact getWeights/setWeights round trip,
// named config errors), the degenerate settings, and the cost per step.
import * as tf from '@tensorflow/tfjs-core';
import { sharpnessAware } from '@flatmin/core';
import { gradient } from '@flatmin/perturb-gradient';
import { makeLinearProblem, makeTfLinear, runOptimizerSuite } from '@flatmin/test-kit';
import { describe, expect, it } from 'vitest';
import { adaptive, fisher } from '../src/index.js';
import { asamSgd64, fisherSgd64, samSgd64 } from './reference.js';

const lr = 0.05;

runOptimizerSuite('adaptive() through sharpnessAware (ASAM)', [
  {
    name: "granularity 'element' (kernel adapted, bias T = 1)",
    make: () => sharpnessAware({ base: tf.train.sgd(lr), perturbation: adaptive({ rho: 0.5, eta: 0.01 }) }),
    reference: { steps: 3, expected: (p) => asamSgd64(p, { steps: 3, lr, rho: 0.5, eta: 0.01, granularity: 'element' }) },
    badConfigs: [
      { key: 'rho', make: () => adaptive({ rho: -0.1 }) },
      { key: 'eta', make: () => adaptive({ eta: -0.01 }) },
      { key: 'granularity', make: () => adaptive({ granularity: 'row' as never }) },
      { key: 'adaptWhere', make: () => adaptive({ adaptWhere: 42 as never }) },
    ],
  },
  {
    name: "granularity 'filter' (per column of the kernel, bias T = 1)",
    make: () => sharpnessAware({ base: tf.train.sgd(lr), perturbation: adaptive({ rho: 0.5, eta: 0.01, granularity: 'filter' }) }),
    reference: { steps: 3, expected: (p) => asamSgd64(p, { steps: 3, lr, rho: 0.5, eta: 0.01, granularity: 'filter' }) },
  },
  {
    name: "adaptWhere 'all' (the bias adapted too), filter-wise, η = 0.1",
    make: () => sharpnessAware({ base: tf.train.sgd(lr), perturbation: adaptive({ rho: 0.3, eta: 0.1, granularity: 'filter', adaptWhere: 'all' }) }),
    reference: { steps: 3, expected: (p) => asamSgd64(p, { steps: 3, lr, rho: 0.3, eta: 0.1, granularity: 'filter', adaptBias: true }) },
  },
  {
    name: 'on momentum (the base slots round-trip too)',
    make: () => sharpnessAware({ base: tf.train.momentum(lr, 0.9), perturbation: adaptive({ granularity: 'filter' }) }),
  },
]);

runOptimizerSuite('fisher() through sharpnessAware (Fisher SAM)', [
  {
    name: 'η = 1 (default)',
    make: () => sharpnessAware({ base: tf.train.sgd(lr), perturbation: fisher({ rho: 0.1 }) }),
    reference: { steps: 3, expected: (p) => fisherSgd64(p, { steps: 3, lr, rho: 0.1, eta: 1 }) },
    badConfigs: [
      { key: 'rho', make: () => fisher({ rho: -0.1 }) },
      { key: 'eta', make: () => fisher({ eta: -1 }) },
    ],
  },
  {
    name: 'η = 5, ρ = 0.3',
    make: () => sharpnessAware({ base: tf.train.sgd(lr), perturbation: fisher({ rho: 0.3, eta: 5 }) }),
    reference: { steps: 3, expected: (p) => fisherSgd64(p, { steps: 3, lr, rho: 0.3, eta: 5 }) },
  },
  {
    name: 'η = 0 against the float64 SAM reference',
    make: () => sharpnessAware({ base: tf.train.sgd(lr), perturbation: fisher({ rho: 0.1, eta: 0 }) }),
    reference: { steps: 3, expected: (p) => samSgd64(p, { steps: 3, lr, rho: 0.1 }) },
  },
  {
    name: 'on Adam',
    make: () => sharpnessAware({ base: tf.train.adam(0.05), perturbation: fisher() }),
  },
]);

/** `steps` updates of `a` (through minimize) and of a fresh linear model per optimizer; returns both final parameters. */
function trainPair(makeA: () => tf.Optimizer, makeB: () => tf.Optimizer, steps: number) {
  const problem = makeLinearProblem({ seed: 3 });
  const a = makeTfLinear(problem);
  const b = makeTfLinear(problem);
  const optimizerA = makeA();
  const optimizerB = makeB();
  for (let i = 0; i < steps; i += 1) {
    optimizerA.minimize(a.loss(), false, a.variables);
    optimizerB.minimize(b.loss(), false, b.variables);
  }
  const result = { a: a.read(), b: b.read() };
  for (const d of [optimizerA, optimizerB, a, b]) d.dispose();
  return result;
}

describe('degenerate settings reduce exactly', () => {
  it.each([
    ['adaptive', () => adaptive({ rho: 0 })],
    ["adaptive 'filter', 'all'", () => adaptive({ rho: 0, granularity: 'filter', adaptWhere: 'all' })],
    ['fisher', () => fisher({ rho: 0 })],
  ] as const)('%s({ rho: 0 }) is the base optimizer (momentum), bit for bit', (_name, perturbation) => {
    const { a, b } = trainPair(() => sharpnessAware({ base: tf.train.momentum(lr, 0.9), perturbation: perturbation() }), () => tf.train.momentum(lr, 0.9), 10);
    expect(a).toEqual(b);
  });

  it('fisher({ eta: 0 }) is gradient({ rho }) of @flatmin/perturb-gradient (SAM), bit for bit over 5 steps', () => {
    const { a, b } = trainPair(
      () => sharpnessAware({ base: tf.train.momentum(lr, 0.9), perturbation: fisher({ rho: 0.1, eta: 0 }) }),
      () => sharpnessAware({ base: tf.train.momentum(lr, 0.9), perturbation: gradient({ rho: 0.1 }) }),
      5,
    );
    expect(a).toEqual(b);
  });
});

describe('cost and determinism', () => {
  it.each([
    ['adaptive', () => adaptive()],
    ['fisher', () => fisher()],
  ] as const)('%s: 2 loss evaluations per step (clean + adversarial pass)', async (_name, perturbation) => {
    const problem = makeLinearProblem({ seed: 4 });
    const model = makeTfLinear(problem);
    const optimizer = sharpnessAware({ base: tf.train.sgd(lr), perturbation: perturbation() });
    for (let i = 0; i < 3; i += 1) optimizer.minimize(model.loss(), false, model.variables);
    expect((await optimizer.telemetry()).lossEvaluations).toBe(6);
    expect(optimizer.lossEvaluations).toBe(6);
    optimizer.dispose();
    model.dispose();
  });

  it.each([
    ['adaptive', () => adaptive({ granularity: 'filter' })],
    ['fisher', () => fisher()],
  ] as const)('%s draws no random numbers: different seeds give the same weights', (_name, perturbation) => {
    const { a, b } = trainPair(
      () => sharpnessAware({ base: tf.train.sgd(lr), perturbation: perturbation(), seed: 1 }),
      () => sharpnessAware({ base: tf.train.sgd(lr), perturbation: perturbation(), seed: 2 }),
      3,
    );
    expect(a).toEqual(b);
  });
});
