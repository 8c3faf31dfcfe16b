// SAM through the optimizer: the common matrix of @flatmin/test-kit (float64 reference,
// convergence, 100-step leak, zero host reads, exact getWeights/setWeights round trip, named
// config errors) for every form of gradient(), plus the degenerate ρ = 0 and a wasm smoke run.
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import { sharpnessAware } from '@flatmin/core';
import {
  axpy,
  type LinearParams,
  type LinearProblem,
  flatten,
  linearGrad64,
  makeLinearProblem,
  makeTfLinear,
  maxRelativeError,
  runOptimizerSuite,
  unflatten,
} from '@flatmin/test-kit';
import { describe, expect, it } from 'vitest';
import { gradient } from '../src/index.js';

const lr = 0.05;

/** ε for the dual norm of p, float64, over the flattened parameters. */
function epsilon64(p: LinearProblem, g: LinearParams, rho: number, norm: number): LinearParams {
  const v = flatten(g);
  if (norm === Infinity) return unflatten(p, v.map((x) => rho * Math.sign(x)));
  if (norm === 2) {
    const n = Math.sqrt(v.reduce((s, x) => s + x * x, 0));
    return unflatten(p, v.map((x) => (rho * x) / (n + 1e-12)));
  }
  const q = norm / (norm - 1);
  const sumQ = v.reduce((s, x) => s + Math.abs(x) ** q, 0);
  return unflatten(p, v.map((x) => (rho * Math.sign(x) * Math.abs(x) ** (q - 1)) / sumQ ** (1 / norm)));
}

/** `steps` SAM SGD steps with ε from the current clean gradient. */
function sam64(p: LinearProblem, steps: number, rho: number, norm: number): LinearParams {
  let w = p.init;
  for (let i = 0; i < steps; i += 1) {
    const g = linearGrad64(p, w);
    w = axpy(-lr, linearGrad64(p, axpy(1, epsilon64(p, g, rho, norm), w)), w);
  }
  return w;
}

/** The one-backward variant: ε from the previous step's adversarial gradient (ε = 0 on the first step). */
function previous64(p: LinearProblem, steps: number, rho: number): LinearParams {
  let w = p.init;
  let previous: LinearParams | null = null;
  for (let i = 0; i < steps; i += 1) {
    const at = previous === null ? w : axpy(1, epsilon64(p, previous, rho, 2), w);
    const gAdv = linearGrad64(p, at);
    w = axpy(-lr, gAdv, w);
    previous = gAdv;
  }
  return w;
}

runOptimizerSuite('gradient() through sharpnessAware (SAM)', [
  {
    name: 'p = 2 (SAM)',
    make: () => sharpnessAware({ base: tf.train.sgd(lr), perturbation: gradient({ rho: 0.05 }) }),
    reference: { steps: 3, expected: (p) => sam64(p, 3, 0.05, 2) },
    badConfigs: [
      { key: 'rho', make: () => gradient({ rho: -0.1 }) },
      { key: 'p', make: () => gradient({ p: 0.5 }) },
      { key: 'from', make: () => gradient({ from: 'next' as never }) },
    ],
  },
  {
    name: 'p = ∞',
    make: () => sharpnessAware({ base: tf.train.sgd(lr), perturbation: gradient({ rho: 0.01, p: Infinity }) }),
    reference: { steps: 2, expected: (p) => sam64(p, 2, 0.01, Infinity) },
  },
  {
    name: 'p = 3 (general dual norm)',
    make: () => sharpnessAware({ base: tf.train.sgd(lr), perturbation: gradient({ rho: 0.05, p: 3 }) }),
    reference: { steps: 2, expected: (p) => sam64(p, 2, 0.05, 3) },
  },
  {
    name: "from: 'previous' (one backward per step) on momentum",
    make: () => sharpnessAware({ base: tf.train.momentum(lr, 0.9), perturbation: gradient({ rho: 0.05, from: 'previous' }) }),
  },
  {
    name: "from: 'previous' (float64 reference on SGD)",
    make: () => sharpnessAware({ base: tf.train.sgd(lr), perturbation: gradient({ rho: 0.05, from: 'previous' }) }),
    reference: { steps: 4, expected: (p) => previous64(p, 4, 0.05) },
  },
]);

describe('degenerate ρ', () => {
  it('gradient({ rho: 0 }) reduces exactly to the base optimizer', () => {
    const problem = makeLinearProblem({ seed: 3 });
    const a = makeTfLinear(problem);
    const b = makeTfLinear(problem);
    const sam = sharpnessAware({ base: tf.train.momentum(lr, 0.9), perturbation: gradient({ rho: 0 }) });
    const base = tf.train.momentum(lr, 0.9);
    for (let i = 0; i < 10; i += 1) {
      sam.minimize(a.loss(), false, a.variables);
      base.minimize(b.loss(), false, b.variables);
    }
    expect(a.read()).toEqual(b.read());
    sam.dispose();
    base.dispose();
    a.dispose();
    b.dispose();
  });
});

describe('telemetry with gradient()', () => {
  it('reports ‖g‖, ‖ε‖ = ρ and cos(g, g_adv) of the step (float64 reference)', async () => {
    const problem = makeLinearProblem({ seed: 9 });
    const rho = 0.2;
    const g = linearGrad64(problem, problem.init);
    const gAdv = linearGrad64(problem, axpy(1, epsilon64(problem, g, rho, 2), problem.init));
    const dot = (a: LinearParams, b: LinearParams) => flatten(a).reduce((s, v, i) => s + v * flatten(b)[i]!, 0);
    const model = makeTfLinear(problem);
    const optimizer = sharpnessAware({ base: tf.train.sgd(lr), perturbation: gradient({ rho }) });
    optimizer.minimize(model.loss(), false, model.variables);
    const t = await optimizer.telemetry();
    expect(t.gradNorm).toBeCloseTo(Math.sqrt(dot(g, g)), 5);
    expect(t.epsilonNorm).toBeCloseTo(rho, 6);
    expect(t.cosine).toBeCloseTo(dot(g, gAdv) / Math.sqrt(dot(g, g) * dot(gAdv, gAdv)), 4);
    optimizer.dispose();
    model.dispose();
  });
});

describe('on the wasm backend', () => {
  it('a SAM step matches the float64 reference and leaks nothing', async () => {
    await tf.setBackend('wasm');
    try {
      const problem = makeLinearProblem({ seed: 5 });
      const model = makeTfLinear(problem);
      const optimizer = sharpnessAware({ base: tf.train.sgd(lr), perturbation: gradient({ rho: 0.05 }) });
      optimizer.minimize(model.loss(), false, model.variables);
      expect(maxRelativeError(model.read(), sam64(problem, 1, 0.05, 2))).toBeLessThan(1e-5);
      const before = tf.memory().numTensors;
      for (let i = 0; i < 20; i += 1) optimizer.minimize(model.loss(), false, model.variables);
      expect(tf.memory().numTensors).toBe(before);
      optimizer.dispose();
      model.dispose();
    } finally {
      await tf.setBackend('cpu');
    }
  });
});
