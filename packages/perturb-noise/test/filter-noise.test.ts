// filterNoise(): LPF-SGD's S = γ_t‖W_:,j‖ with the cosine-increasing γ_t, and Flat-LoRA's
// S = f_t γ/√n ‖W_:,j‖ (perInput) — float64 references at several t, statistics, seeding,
// degenerate settings, cost, and the shared suites.
import * as tf from '@tensorflow/tfjs-core';
import { sharpnessAware } from '@flatmin/core';
import { SeededRandom } from '@flatmin/core/kit';
import { flatten, type LinearParams, type LinearProblem, linearGrad64, makeLinearProblem, makeTfLinear, maxRelativeError, runFactoryInputSuite, runOptimizerSuite, unflatten } from '@flatmin/test-kit';
import { afterEach, describe, expect, it } from 'vitest';
import { type FilterNoiseOptions, filterNoise } from '../src/index.js';
import {
  contextOf,
  countBackendReads,
  draws,
  expectClose,
  filterNorm64,
  filterSize64,
  linearEpsilon,
  linearShapes,
  linearValues,
  sgdAt64,
  spread,
  testValues,
  variableOf,
} from './helpers.js';

const SHAPES = [[4, 3], [5], [], [2, 2, 3]] as const;
const lr = 0.05;

const created: tf.Tensor[] = [];
afterEach(() => {
  tf.dispose(created.splice(0));
});

/** LPF-SGD's γ_t = γ (1 + (inc − 1)(1 − cos(π t/T))/2), γ without T (METHODS.md); t past T held at T. */
function gamma64(gamma: number, increase: number, t: number, totalSteps?: number): number {
  if (totalSteps === undefined) return gamma;
  return gamma * (1 + ((increase - 1) * (1 - Math.cos((Math.PI * Math.min(t, totalSteps)) / totalSteps))) / 2);
}

/** Flat-LoRA's f_t = (1 − cos(π t/T))/2, 1 without T. */
function ramp64(t: number, totalSteps?: number): number {
  if (totalSteps === undefined) return 1;
  return (1 - Math.cos((Math.PI * Math.min(t, totalSteps)) / totalSteps)) / 2;
}

/** S of every element of one variable, float64. */
function filterScale64(w: number[], shape: readonly number[], gamma: number, increase: number, t: number, perInput: boolean, totalSteps?: number): number[] {
  const norms = filterNorm64(w, shape);
  if (perInput) return norms.map((n) => (ramp64(t, totalSteps) * gamma * n) / Math.sqrt(filterSize64(shape)));
  return norms.map((n) => gamma64(gamma, increase, t, totalSteps) * n);
}

function setup(shapes: readonly (readonly number[])[] = SHAPES, seed = 31) {
  const values = shapes.map((shape, i) => testValues(shape.reduce((a: number, b: number) => a * b, 1), seed + i));
  const vars = shapes.map((shape, i) => variableOf(values[i]!, shape));
  created.push(...vars);
  return { vars, values };
}

function epsilonAt(options: FilterNoiseOptions, vars: tf.Variable[], t: number, seed: number, rho = options.gamma ?? 0.002): number[][] {
  const rhoScalar = tf.scalar(rho);
  created.push(rhoScalar);
  const epsilon = tf.tidy(() => filterNoise(options).compute(contextOf(vars, { seed, rho: rhoScalar, step: t }), {}).epsilon);
  const out = vars.map((v) => Array.from(epsilon[v.name]!.dataSync()));
  tf.dispose(epsilon);
  return out;
}

describe('filterNoise(): the γ_t schedule against float64 (LPF-SGD)', () => {
  const T = 100;
  it.each([0, 1, 25, 50, 99, 100, 250])('t = %i of T = 100, increase 7', (t) => {
    const { vars, values } = setup();
    const epsilon = epsilonAt({ gamma: 0.02, increase: 7, totalSteps: T }, vars, t, 3);
    const z = draws(new SeededRandom(3), SHAPES);
    epsilon.forEach((e, i) => {
      const s = filterScale64(values[i]!, SHAPES[i]!, 0.02, 7, t, false, T);
      expectClose(e, z[i]!.map((zi, j) => zi * s[j]!));
    });
  });

  it('spot values of γ_t: γ at t = 0, (1 + inc)/2 · γ at T/2, inc · γ at T', () => {
    expect(gamma64(0.002, 7, 0, 10)).toBe(0.002);
    expect(gamma64(0.002, 7, 5, 10)).toBeCloseTo(0.008, 15);
    expect(gamma64(0.002, 7, 10, 10)).toBeCloseTo(0.014, 15);
    // ...and the code agrees at T/2 on a one-element variable with w = 1: ε = z · 4γ.
    const w = variableOf([1], [1]);
    created.push(w);
    const [[e]] = epsilonAt({ gamma: 0.002, increase: 7, totalSteps: 10 }, [w], 5, 8) as [[number]];
    const [[z]] = draws(new SeededRandom(8), [[1]]) as [[number]];
    expectClose([e], [z * 0.008]);
  });

  it('without totalSteps γ_t = γ at every t', () => {
    const { vars, values } = setup();
    for (const t of [0, 7, 10_000]) {
      const epsilon = epsilonAt({ gamma: 0.05 }, vars, t, 4);
      const z = draws(new SeededRandom(4), SHAPES);
      epsilon.forEach((e, i) => {
        expectClose(e, z[i]!.map((zi, j) => zi * filterScale64(values[i]!, SHAPES[i]!, 0.05, 7, t, false)[j]!));
      });
    }
  });

  it('increase: 1 is the constant γ, bit for bit', () => {
    const { vars } = setup();
    expect(epsilonAt({ gamma: 0.05, increase: 1, totalSteps: 10 }, vars, 6, 2)).toEqual(epsilonAt({ gamma: 0.05 }, vars, 6, 2));
  });
});

describe('filterNoise({ perInput: true }): Flat-LoRA against float64', () => {
  it.each([0, 10, 50, 100, 140])('t = %i of T = 100: S = f_t γ/√n ‖W_:,j‖', (t) => {
    const { vars, values } = setup();
    const epsilon = epsilonAt({ gamma: 0.05, perInput: true, totalSteps: 100 }, vars, t, 6);
    const z = draws(new SeededRandom(6), SHAPES);
    epsilon.forEach((e, i) => {
      const s = filterScale64(values[i]!, SHAPES[i]!, 0.05, 7, t, true, 100);
      expectClose(e, z[i]!.map((zi, j) => zi * s[j]!));
    });
  });

  it('n is the elements per filter: 4 for [4, 3], 12 for a [2, 2, 3, 5] conv kernel, the size for a bias', () => {
    for (const [shape, n] of [[[4, 3], 4], [[2, 2, 3, 5], 12], [[5], 5], [[], 1]] as const) {
      const values = testValues(shape.reduce((a: number, b: number) => a * b, 1), 2);
      const v = variableOf(values, shape);
      created.push(v);
      const [e] = epsilonAt({ gamma: 0.1, perInput: true }, [v], 3, 5);
      const [z] = draws(new SeededRandom(5), [shape]);
      expectClose(e!, filterNorm64(values, shape).map((norm, j) => (z![j]! * 0.1 * norm) / Math.sqrt(n)));
    }
  });

  it('at t = 0 with totalSteps the noise is exactly 0 (f_0 = 0)', () => {
    const { vars } = setup();
    for (const e of epsilonAt({ gamma: 0.05, perInput: true, totalSteps: 10 }, vars, 0, 1).flat()) expect(e === 0).toBe(true);
  });
});

describe('filterNoise(): statistics, seeding, reads', () => {
  it.each([false, true])('perInput %s: ε/S over 4096 elements has mean ≈ 0 and spread ≈ 1 (within 3%%)', (perInput) => {
    const shape = [64, 64];
    const { vars, values } = setup([shape], 5);
    const [epsilon] = epsilonAt({ gamma: 0.01, perInput, totalSteps: 10 }, vars, 5, 12);
    const s = filterScale64(values[0]!, shape, 0.01, 7, 5, perInput, 10);
    const { mean, std } = spread(epsilon!.map((e, j) => e / s[j]!));
    expect(Math.abs(mean)).toBeLessThan(0.05);
    expect(Math.abs(std - 1)).toBeLessThan(0.03);
  });

  it('the same seed gives the same ε; another seed another', () => {
    const { vars } = setup();
    const a = epsilonAt({ gamma: 0.01 }, vars, 2, 7).flat();
    expect(epsilonAt({ gamma: 0.01 }, vars, 2, 7).flat()).toEqual(a);
    expect(epsilonAt({ gamma: 0.01 }, vars, 2, 8).flat().filter((v, i) => v !== a[i]).length).toBeGreaterThan(a.length / 2);
  });

  it('compute makes no device reads', () => {
    const { vars } = setup();
    const rho = tf.scalar(0.01);
    created.push(rho);
    for (const perInput of [false, true]) {
      const { result, reads } = countBackendReads(() => tf.tidy(() => filterNoise({ perInput, totalSteps: 5 }).compute(contextOf(vars, { rho, step: 2 }), {}).epsilon));
      expect(reads).toBe(0);
      tf.dispose(result);
    }
  });

  it('metadata: defaults, no clean pass, totalSteps left out of config when absent', () => {
    const p = filterNoise();
    expect(p).toMatchObject({ kind: 'perturbation', name: 'filterNoise', rho: 0.002, needsGradient: false });
    expect(p.config).toEqual({ gamma: 0.002, increase: 7, samples: 1, perInput: false });
    expect(filterNoise({ totalSteps: 50, perInput: true }).config).toEqual({ gamma: 0.002, increase: 7, samples: 1, perInput: true, totalSteps: 50 });
  });

});

describe('filterNoise({ samples: M }): LPF-SGD\'s mean over M draws on M batch chunks', () => {
  const p = makeLinearProblem({ seed: 19, n: 10 });
  const perSampleClosure = (model: ReturnType<typeof makeTfLinear>) => {
    const x = tf.keep(tf.tensor2d(p.x));
    const y = tf.keep(tf.tensor2d(p.y));
    created.push(x, y);
    return () => {
      const perSample = tf.sum(tf.square(tf.sub(tf.add(tf.matMul(x, model.w), model.b), y)), 1) as tf.Tensor1D;
      return { loss: tf.mean(perSample) as tf.Scalar, perSample };
    };
  };

  /** Two SGD steps with g = (1/M) Σ_j ∇L_chunk_j(w + Z_j ⊙ S), chunk j = rows ⌊jn/M⌋..⌊(j+1)n/M⌋, float64. */
  function chunked64(chunks: number, gamma: number, seed: number, steps: number): LinearParams {
    const random = new SeededRandom(seed);
    let w = p.init;
    for (let t = 0; t < steps; t += 1) {
      const s = linearValues(p, w).map((v, i) => filterScale64(v, linearShapes(p)[i]!, gamma, 7, t, false));
      const grads = Array.from({ length: chunks }, (_, j) => {
        const epsilon = linearEpsilon(p, draws(random, linearShapes(p)), s);
        const rows = Array.from({ length: Math.floor(((j + 1) * p.n) / chunks) - Math.floor((j * p.n) / chunks) }, (_, r) => Math.floor((j * p.n) / chunks) + r);
        const at = unflatten(p, flatten(w).map((v, i) => v + flatten(epsilon)[i]!));
        return flatten(linearGrad64(p, at, rows));
      });
      const mean = grads[0]!.map((_, i) => grads.reduce((sum, g) => sum + g[i]!, 0) / chunks);
      w = unflatten(p, flatten(w).map((v, i) => v - lr * mean[i]!));
    }
    return w;
  }

  it.each([2, 3])('M = %s: two steps equal the float64 chunked estimate; M loss evaluations per step', async (chunks) => {
    const model = makeTfLinear(p);
    const optimizer = sharpnessAware({ base: tf.train.sgd(lr), perturbation: filterNoise({ gamma: 0.3, samples: chunks }), seed: 9 });
    const f = perSampleClosure(model);
    optimizer.minimize(f, false, model.variables);
    optimizer.minimize(f, false, model.variables);
    expect(maxRelativeError(model.read(), chunked64(chunks, 0.3, 9, 2))).toBeLessThan(1e-5);
    expect((await optimizer.telemetry()).lossEvaluations).toBe(2 * chunks);
    optimizer.dispose();
    model.dispose();
  });

  it('no host read and no leak over 100 steps; under model.fit it names the per-sample requirement', async () => {
    const model = makeTfLinear(p);
    const optimizer = sharpnessAware({ base: tf.train.sgd(0.001), perturbation: filterNoise({ gamma: 0.01, samples: 2 }), seed: 9 });
    const f = perSampleClosure(model);
    optimizer.minimize(f, false, model.variables);
    expect(countBackendReads(() => optimizer.minimize(f, false, model.variables)).reads).toBe(0);
    const before = tf.memory().numTensors;
    for (let i = 0; i < 100; i += 1) optimizer.minimize(f, false, model.variables);
    expect(tf.memory().numTensors).toBe(before);
    expect(() => optimizer.minimize(model.loss(), false, model.variables)).toThrow(/filterNoise' needs per-sample losses.*custom loop/);
    optimizer.dispose();
    model.dispose();
  });

  it('state round trip: 3 steps + getWeights → a fresh optimizer setWeights + 3 steps equals 6 steps, exactly', async () => {
    const make = () => sharpnessAware({ base: tf.train.momentum(lr, 0.9), perturbation: filterNoise({ gamma: 0.1, samples: 2 }), seed: 13 });
    const straight = makeTfLinear(p, { names: ['fn-rt/w', 'fn-rt/b'] });
    const whole = make();
    const f = perSampleClosure(straight);
    for (let i = 0; i < 6; i += 1) whole.minimize(f, false, straight.variables);
    const expected = flatten(straight.read());
    whole.dispose();
    straight.dispose();

    const resumed = makeTfLinear(p, { names: ['fn-rt/w', 'fn-rt/b'] });
    const first = make();
    const g = perSampleClosure(resumed);
    for (let i = 0; i < 3; i += 1) first.minimize(g, false, resumed.variables);
    const saved = await first.getWeights();
    const second = make();
    await second.setWeights(saved.map(({ name, tensor }) => ({ name, tensor: tf.clone(tensor) })));
    first.dispose();
    for (let i = 0; i < 3; i += 1) second.minimize(g, false, resumed.variables);
    expect(flatten(resumed.read())).toEqual(expected);
    second.dispose();
    resumed.dispose();
  });

  it('a batch smaller than M is refused with the numbers', () => {
    const small = makeLinearProblem({ seed: 2, n: 2 });
    const model = makeTfLinear(small);
    const x = tf.tensor2d(small.x);
    const y = tf.tensor2d(small.y);
    created.push(x, y);
    const optimizer = sharpnessAware({ base: tf.train.sgd(lr), perturbation: filterNoise({ samples: 3 }), seed: 1 });
    const f = () => {
      const perSample = tf.sum(tf.square(tf.sub(tf.add(tf.matMul(x, model.w), model.b), y)), 1) as tf.Tensor1D;
      return { loss: tf.mean(perSample) as tf.Scalar, perSample };
    };
    expect(() => optimizer.minimize(f, false, model.variables)).toThrow(/a batch of 2 samples cannot be split in samples = 3 chunks/);
    optimizer.dispose();
    model.dispose();
  });
});

runFactoryInputSuite({
  name: 'filterNoise',
  factory: (options) => filterNoise(options as FilterNoiseOptions),
  keys: ['gamma', 'increase', 'samples', 'totalSteps', 'perInput'],
  valid: { gamma: 0.01, increase: 3, samples: 1, totalSteps: 100, perInput: true },
  invalid: [
    ['gamma', { gamma: -0.001 }],
    ['gamma', { gamma: null }],
    ['gamma', { gamma: Number.NaN }],
    ['increase', { increase: 0.5 }],
    ['increase', { increase: 0 }],
    ['increase', { increase: null }],
    ['samples', { samples: 0 }],
    ['samples', { samples: 1.5 }],
    ['samples', { samples: null }],
    ['totalSteps', { totalSteps: 0 }],
    ['totalSteps', { totalSteps: 2.5 }],
    ['totalSteps', { totalSteps: -10 }],
    ['totalSteps', { totalSteps: null }],
    ['perInput', { perInput: 'yes' }],
    ['perInput', { perInput: null }],
  ],
  kind: 'perturbation',
});

/** `steps` SGD steps at w + Z ⊙ S_t (the optimizer's draws for `seed`), float64. */
function filterNoise64(p: LinearProblem, steps: number, seed: number, options: { gamma: number; increase: number; perInput: boolean; totalSteps?: number }): LinearParams {
  const random = new SeededRandom(seed);
  let w = p.init;
  for (let t = 0; t < steps; t += 1) {
    const z = draws(random, linearShapes(p));
    const s = linearValues(p, w).map((v, i) => filterScale64(v, linearShapes(p)[i]!, options.gamma, options.increase, t, options.perInput, options.totalSteps));
    w = sgdAt64(p, w, linearEpsilon(p, z, s), lr);
  }
  return w;
}

runOptimizerSuite('filterNoise() through sharpnessAware', [
  {
    name: 'LPF-SGD, γ rising over T = 4 steps',
    make: () => sharpnessAware({ base: tf.train.sgd(lr), perturbation: filterNoise({ gamma: 0.02, increase: 7, totalSteps: 4 }), seed: 5 }),
    reference: { steps: 3, expected: (p) => filterNoise64(p, 3, 5, { gamma: 0.02, increase: 7, perInput: false, totalSteps: 4 }) },
    badConfigs: [
      { key: 'gamma', make: () => filterNoise({ gamma: -1 }) },
      { key: 'increase', make: () => filterNoise({ increase: 0.9 }) },
      { key: 'samples', make: () => filterNoise({ samples: 0 }) },
      { key: 'totalSteps', make: () => filterNoise({ totalSteps: 0 }) },
    ],
  },
  {
    name: 'Flat-LoRA (perInput), T = 4',
    make: () => sharpnessAware({ base: tf.train.sgd(lr), perturbation: filterNoise({ gamma: 0.1, perInput: true, totalSteps: 4 }), seed: 9 }),
    reference: { steps: 3, expected: (p) => filterNoise64(p, 3, 9, { gamma: 0.1, increase: 7, perInput: true, totalSteps: 4 }) },
  },
  {
    name: 'constant γ on momentum',
    make: () => sharpnessAware({ base: tf.train.momentum(lr, 0.9), perturbation: filterNoise({ gamma: 0.01 }), seed: 2 }),
  },
]);

describe('filterNoise(): degenerate γ and cost', () => {
  it('γ = 0 reduces exactly to the base optimizer (momentum, 10 steps), in both modes', () => {
    for (const perInput of [false, true]) {
      const problem = makeLinearProblem({ seed: 3 });
      const a = makeTfLinear(problem);
      const b = makeTfLinear(problem);
      const noisy = sharpnessAware({ base: tf.train.momentum(lr, 0.9), perturbation: filterNoise({ gamma: 0, perInput, totalSteps: 5 }), seed: 1 });
      const base = tf.train.momentum(lr, 0.9);
      for (let i = 0; i < 10; i += 1) {
        noisy.minimize(a.loss(), false, a.variables);
        base.minimize(b.loss(), false, b.variables);
      }
      expect(a.read()).toEqual(b.read());
      for (const d of [noisy, base, a, b]) d.dispose();
    }
  });

  it('one loss evaluation per step', async () => {
    const problem = makeLinearProblem({ seed: 4 });
    const model = makeTfLinear(problem);
    const optimizer = sharpnessAware({ base: tf.train.sgd(lr), perturbation: filterNoise({ totalSteps: 10 }) });
    for (let i = 0; i < 4; i += 1) optimizer.minimize(model.loss(), false, model.variables);
    expect((await optimizer.telemetry()).lossEvaluations).toBe(4);
    optimizer.dispose();
    model.dispose();
  });
});
