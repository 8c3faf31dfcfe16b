// gaussian(): ε = Z ⊙ S against float64 references for every scale, the noise statistics, seeding,
// σ = 0, loss evaluations (1 alone, 2 with mix), RWP's two-batch variant, and the shared suites.
import * as tf from '@tensorflow/tfjs-core';
import { mix, type Perturbation, sharpnessAware } from '@flatmin/core';
import { SeededRandom } from '@flatmin/core/kit';
import {
  type LinearParams,
  type LinearProblem,
  flatten,
  linearGrad64,
  makeLinearProblem,
  makeTfLinear,
  maxRelativeError,
  runFactoryInputSuite,
  runOptimizerSuite,
  unflatten,
} from '@flatmin/test-kit';
import { afterEach, describe, expect, it } from 'vitest';
import { type GaussianOptions, gaussian } from '../src/index.js';
import {
  contextOf,
  countBackendReads,
  draws,
  expectClose,
  linearEpsilon,
  linearShapes,
  linearValues,
  type Scale,
  scale64,
  sgdAt64,
  spread,
  testValues,
  variableOf,
} from './helpers.js';

const SCALES: Scale[] = ['standard', 'matrix', 'element', 'filter'];
const SHAPES = [[4, 3], [5], [], [2, 2, 3]] as const;
const lr = 0.05;

const created: tf.Tensor[] = [];
afterEach(() => {
  tf.dispose(created.splice(0));
});

function variables(shapes: readonly (readonly number[])[] = SHAPES, seed = 11): { vars: tf.Variable[]; values: number[][] } {
  const values = shapes.map((shape, i) => testValues(shape.reduce((a: number, b: number) => a * b, 1), seed + i));
  const vars = shapes.map((shape, i) => variableOf(values[i]!, shape));
  created.push(...vars);
  return { vars, values };
}

function epsilonOf(perturbation: Perturbation, vars: tf.Variable[], seed: number, rho: number): number[][] {
  const rhoScalar = tf.scalar(rho);
  created.push(rhoScalar);
  const epsilon = tf.tidy(() => perturbation.compute(contextOf(vars, { seed, rho: rhoScalar }), {}).epsilon);
  const out = vars.map((v) => {
    expect(epsilon[v.name]!.shape).toEqual(v.shape);
    return Array.from(epsilon[v.name]!.dataSync());
  });
  tf.dispose(epsilon);
  return out;
}

describe('gaussian(): ε = Z ⊙ S against the float64 reference', () => {
  it.each(SCALES)('scale %s, four variables of ranks 2, 1, 0, 3', (scale) => {
    const { vars, values } = variables();
    const epsilon = epsilonOf(gaussian({ scale }), vars, 5, 0.3);
    const z = draws(new SeededRandom(5), SHAPES);
    epsilon.forEach((e, i) => {
      const s = scale64(values[i]!, SHAPES[i]!, scale, 0.3);
      expectClose(e, z[i]!.map((zi, j) => zi * s[j]!));
    });
  });

  it('filter is over the last axis: a [2, 3] kernel has three filters of two elements each', () => {
    const w = variableOf([3, 0, 1, 4, 0, 1], [2, 3]);
    created.push(w);
    const [epsilon] = epsilonOf(gaussian({ scale: 'filter' }), [w], 2, 1);
    const [z] = draws(new SeededRandom(2), [[2, 3]]);
    // columns: ‖(3, 4)‖ = 5, ‖(0, 0)‖ = 0, ‖(1, 1)‖ = √2
    expectClose(epsilon!, [5, 0, Math.SQRT2, 5, 0, Math.SQRT2].map((s, j) => s * z![j]!));
  });

  it.each(SCALES)('scale %s: ε/S over 4096 elements has mean ≈ 0 and spread ≈ 1 (within 3%%)', (scale) => {
    const shape = [64, 64];
    const { vars, values } = variables([shape], 3);
    const [epsilon] = epsilonOf(gaussian({ scale }), vars, 17, 0.01);
    const s = scale64(values[0]!, shape, scale, 0.01);
    const { mean, std } = spread(epsilon!.map((e, j) => e / s[j]!));
    expect(Math.abs(mean)).toBeLessThan(0.05);
    expect(Math.abs(std - 1)).toBeLessThan(0.03);
  });

  it('the same seed gives the same ε bit for bit; another seed another ε', () => {
    const { vars } = variables();
    for (const scale of SCALES) {
      const a = epsilonOf(gaussian({ scale }), vars, 9, 0.1);
      const b = epsilonOf(gaussian({ scale }), vars, 9, 0.1);
      const c = epsilonOf(gaussian({ scale }), vars, 10, 0.1);
      expect(b).toEqual(a);
      expect(c.flat().filter((v, i) => v !== a.flat()[i]).length).toBeGreaterThan(a.flat().length / 2);
    }
  });

  it('σ comes from the step (context.rho), so a schedule can change it', () => {
    const { vars } = variables();
    const small = epsilonOf(gaussian({ sigma: 0.01 }), vars, 4, 0.01).flat();
    const large = epsilonOf(gaussian({ sigma: 0.01 }), vars, 4, 0.5).flat();
    expectClose(large, small.map((v) => v * 50));
  });

  it.each(SCALES)('scale %s: σ = 0 gives ε exactly 0, and compute makes no device reads', (scale) => {
    const { vars } = variables();
    const zero = tf.scalar(0);
    created.push(zero);
    const { result, reads } = countBackendReads(() => tf.tidy(() => gaussian({ sigma: 0, scale }).compute(contextOf(vars, { rho: zero }), {}).epsilon));
    expect(reads).toBe(0);
    for (const t of Object.values(result)) for (const v of t.dataSync()) expect(v === 0).toBe(true);
    tf.dispose(result);
  });
});

describe('gaussian(): metadata', () => {
  it('defaults: σ = 0.01, standard scale, no clean pass', () => {
    const p = gaussian();
    expect(p).toMatchObject({ kind: 'perturbation', name: 'gaussian', rho: 0.01, needsGradient: false, config: { sigma: 0.01, scale: 'standard' } });
    expect(p.observe).toBeUndefined();
    expect(gaussian({ sigma: 0.2, scale: 'filter' }).config).toEqual({ sigma: 0.2, scale: 'filter' });
  });
});

runFactoryInputSuite({
  name: 'gaussian',
  factory: (options) => gaussian(options as GaussianOptions),
  keys: ['sigma', 'scale'],
  valid: { sigma: 0.02, scale: 'element' },
  invalid: [
    ['sigma', { sigma: -0.01 }],
    ['sigma', { sigma: null }],
    ['sigma', { sigma: Number.NaN }],
    ['sigma', { sigma: Number.POSITIVE_INFINITY }],
    ['sigma', { sigma: '0.01' }],
    ['scale', { scale: 'layer' }],
    ['scale', { scale: null }],
    ['scale', { scale: 'Filter' }],
  ],
  kind: 'perturbation',
});

/** `steps` steps of SGD at w + Z ⊙ S (Z from the optimizer's generator for `seed`), float64; `lambda` mixes in the clean gradient. */
function gaussian64(p: LinearProblem, steps: number, seed: number, sigma: number, scale: Scale, lambda = 1): LinearParams {
  const random = new SeededRandom(seed);
  let w = p.init;
  for (let t = 0; t < steps; t += 1) {
    const z = draws(random, linearShapes(p));
    const values = linearValues(p, w);
    const epsilon = linearEpsilon(p, z, values.map((v, i) => scale64(v, linearShapes(p)[i]!, scale, sigma)));
    const noisy = sgdAt64(p, w, epsilon, lr * lambda);
    w = lambda === 1 ? noisy : unflatten(p, flatten(noisy).map((v, i) => v - lr * (1 - lambda) * flatten(linearGrad64(p, w))[i]!));
  }
  return w;
}

runOptimizerSuite('gaussian() through sharpnessAware', [
  ...SCALES.map((scale) => ({
    name: `scale ${scale}`,
    make: () => sharpnessAware({ base: tf.train.sgd(lr), perturbation: gaussian({ sigma: 0.05, scale }), seed: 21 }),
    reference: { steps: 2, expected: (p: LinearProblem) => gaussian64(p, 2, 21, 0.05, scale) },
    badConfigs: [
      { key: 'sigma', make: () => gaussian({ sigma: -1 }) },
      { key: 'scale', make: () => gaussian({ scale: 'layer' as never }) },
    ],
  })),
  {
    name: 'RWP: filter noise + mix({ lambda: 0.5 }) on SGD',
    make: () => sharpnessAware({ base: tf.train.sgd(lr), perturbation: gaussian({ sigma: 0.05, scale: 'filter' }), combiner: mix({ lambda: 0.5 }), seed: 8 }),
    reference: { steps: 2, expected: (p: LinearProblem) => gaussian64(p, 2, 8, 0.05, 'filter', 0.5) },
  },
  {
    name: 'element noise on momentum',
    make: () => sharpnessAware({ base: tf.train.momentum(lr, 0.9), perturbation: gaussian({ sigma: 0.01, scale: 'element' }), seed: 3 }),
  },
]);

describe('gaussian(): degenerate σ and cost per step', () => {
  it.each(SCALES)('scale %s: σ = 0 reduces exactly to the base optimizer (momentum, 10 steps)', (scale) => {
    const problem = makeLinearProblem({ seed: 3 });
    const a = makeTfLinear(problem);
    const b = makeTfLinear(problem);
    const noisy = sharpnessAware({ base: tf.train.momentum(lr, 0.9), perturbation: gaussian({ sigma: 0, scale }), seed: 1 });
    const base = tf.train.momentum(lr, 0.9);
    for (let i = 0; i < 10; i += 1) {
      noisy.minimize(a.loss(), false, a.variables);
      base.minimize(b.loss(), false, b.variables);
    }
    expect(a.read()).toEqual(b.read());
    for (const d of [noisy, base, a, b]) d.dispose();
  });

  it('one loss evaluation per step alone, two with mix (RWP)', async () => {
    const problem = makeLinearProblem({ seed: 4 });
    for (const [combiner, perStep] of [[undefined, 1], [mix({ lambda: 0.5 }), 2]] as const) {
      const model = makeTfLinear(problem);
      const optimizer = sharpnessAware({ base: tf.train.sgd(lr), perturbation: gaussian(), ...(combiner ? { combiner } : {}) });
      for (let i = 0; i < 3; i += 1) optimizer.minimize(model.loss(), false, model.variables);
      expect((await optimizer.telemetry()).lossEvaluations).toBe(3 * perStep);
      optimizer.dispose();
      model.dispose();
    }
  });
});

describe("RWP's two-batch variant in a custom loop", () => {
  it('the clean gradient on batch A, the noisy one on batch B: λ ∇L_B(w + ε) + (1 − λ) ∇L_A(w), float64 reference', async () => {
    const problem = makeLinearProblem({ seed: 12, n: 8 });
    const batchA = [0, 1, 2, 3];
    const batchB = [4, 5, 6, 7];
    const model = makeTfLinear(problem);
    const lambda = 0.5;
    const optimizer = sharpnessAware({ base: tf.train.sgd(lr), perturbation: gaussian({ sigma: 0.05, scale: 'filter' }), combiner: mix({ lambda }), seed: 6 });
    const [lossA, lossB] = [model.loss(batchA), model.loss(batchB)];
    // The step calls the closure twice: first the clean pass (at w), then the noisy pass (at w + ε).
    for (let step = 0; step < 2; step += 1) {
      let call = 0;
      optimizer.minimize(() => (call++ === 0 ? lossA() : lossB()), false, model.variables);
      expect(call).toBe(2);
    }
    const random = new SeededRandom(6);
    let w = problem.init;
    for (let step = 0; step < 2; step += 1) {
      const z = draws(random, linearShapes(problem));
      const epsilon = linearEpsilon(problem, z, linearValues(problem, w).map((v, i) => scale64(v, linearShapes(problem)[i]!, 'filter', 0.05)));
      const gA = flatten(linearGrad64(problem, w, batchA));
      const at = unflatten(problem, flatten(w).map((v, i) => v + flatten(epsilon)[i]!));
      const gB = flatten(linearGrad64(problem, at, batchB));
      w = unflatten(problem, flatten(w).map((v, i) => v - lr * (lambda * gB[i]! + (1 - lambda) * gA[i]!)));
    }
    expect(maxRelativeError(model.read(), w)).toBeLessThan(1e-5);
    expect((await optimizer.telemetry()).lossEvaluations).toBe(4);
    optimizer.dispose();
    model.dispose();
  });
});
