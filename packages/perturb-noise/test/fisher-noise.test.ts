// fisherNoise(): the Fisher EMA over three steps and S = σ‖W_:,j‖/√(1 + ηF_j) against float64,
// statistics, η = 0 and σ = 0, state bookkeeping, cost (two passes), and the shared suites.
import * as tf from '@tensorflow/tfjs-core';
import { type ComponentState, FlatminError, mix, sharpnessAware } from '@flatmin/core';
import { SeededRandom, variableKey } from '@flatmin/core/kit';
import {
  type LinearParams,
  type LinearProblem,
  flatten,
  linearGrad64,
  makeLinearProblem,
  makeTfLinear,
  runFactoryInputSuite,
  runOptimizerSuite,
  unflatten,
} from '@flatmin/test-kit';
import { afterEach, describe, expect, it } from 'vitest';
import { type FisherNoiseOptions, fisherNoise, gaussian } from '../src/index.js';
import {
  contextOf,
  countBackendReads,
  draws,
  expectClose,
  filterNorm64,
  filterSum64,
  linearEpsilon,
  linearShapes,
  linearValues,
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

function setup(shapes: readonly (readonly number[])[] = SHAPES, seed = 41) {
  const values = shapes.map((shape, i) => testValues(shape.reduce((a: number, b: number) => a * b, 1), seed + i));
  const vars = shapes.map((shape, i) => variableOf(values[i]!, shape));
  created.push(...vars);
  return { vars, values };
}

/** S_ij = σ‖W_:,j‖/√(1 + η F_j), F_j = Σ_i Fisher_ij (float64). */
function fisherScale64(w: number[], shape: readonly number[], fisher: number[], sigma: number, eta: number): number[] {
  const norms = filterNorm64(w, shape);
  const sums = filterSum64(fisher, shape);
  return norms.map((n, j) => (sigma * n) / Math.sqrt(1 + eta * sums[j]!));
}

/** One compute with gradients `g` (per variable): ε and the new state, read back; old state's replaced tensors disposed. */
function step(options: FisherNoiseOptions, vars: tf.Variable[], g: number[][] | null, state: ComponentState, seed: number, rho: number) {
  const rhoScalar = tf.scalar(rho);
  const grads = g === null ? null : Object.fromEntries(vars.flatMap((v, i) => (g[i]!.length === 0 && v.size > 0 ? [] : [[v.name, tf.tensor(g[i]!, v.shape)]])));
  const out = tf.tidy(() => {
    const r = fisherNoise(options).compute(contextOf(vars, { seed, rho: rhoScalar, grads }), state);
    return { epsilon: r.epsilon, state: r.state ?? {} };
  });
  const kept = new Set(Object.values(out.state));
  for (const value of Object.values(state)) if (typeof value !== 'number' && !kept.has(value)) value.dispose();
  const epsilon = vars.map((v) => Array.from(out.epsilon[v.name]!.dataSync()));
  tf.dispose([rhoScalar, out.epsilon, grads ? Object.values(grads) : []]);
  return { epsilon, state: out.state };
}

function disposeState(state: ComponentState): void {
  for (const value of Object.values(state)) if (typeof value !== 'number') value.dispose();
}

describe('fisherNoise(): the Fisher EMA and the scale against float64, three steps', () => {
  it.each([
    [0.9, 1],
    [0.5, 3],
    [0, 1],
  ])('decay %s, eta %s', (decay, eta) => {
    const { vars, values } = setup();
    let state: ComponentState = {};
    let fisher = values.map((v) => v.map(() => 0));
    for (let t = 0; t < 3; t += 1) {
      const g = values.map((v, i) => testValues(v.length, 100 * t + i + 1).map((x) => x * (t + 1)));
      const out = step({ decay, eta }, vars, g, state, 50 + t, 0.2);
      state = out.state;
      fisher = fisher.map((f, i) => f.map((fij, j) => decay * fij + g[i]![j]! ** 2));
      const z = draws(new SeededRandom(50 + t), SHAPES);
      vars.forEach((v, i) => {
        expectClose((state[variableKey(v.name, 'fisher')] as tf.Tensor).dataSync(), fisher[i]!);
        const s = fisherScale64(values[i]!, SHAPES[i]!, fisher[i]!, 0.2, eta);
        expectClose(out.epsilon[i]!, z[i]!.map((zi, j) => zi * s[j]!));
      });
    }
    disposeState(state);
  });

  it('ε/S over 4096 elements has mean ≈ 0 and spread ≈ 1 (within 3%)', () => {
    const shape = [64, 64];
    const { vars, values } = setup([shape], 2);
    const g = [testValues(4096, 9).map((x) => x * 0.1)];
    const { epsilon, state } = step({}, vars, g, {}, 13, 0.01);
    const s = fisherScale64(values[0]!, shape, g[0]!.map((x) => x * x), 0.01, 1);
    const { mean, std } = spread(epsilon[0]!.map((e, j) => e / s[j]!));
    expect(Math.abs(mean)).toBeLessThan(0.05);
    expect(Math.abs(std - 1)).toBeLessThan(0.03);
    disposeState(state);
  });

  it("η = 0 gives gaussian({ scale: 'filter' })'s ε bit for bit", () => {
    const { vars } = setup();
    const g = vars.map((v, i) => testValues(v.size, 70 + i));
    const { epsilon, state } = step({ eta: 0, sigma: 0.3 }, vars, g, {}, 4, 0.3);
    const rho = tf.scalar(0.3);
    created.push(rho);
    const reference = tf.tidy(() => gaussian({ scale: 'filter' }).compute(contextOf(vars, { seed: 4, rho }), {}).epsilon);
    expect(epsilon).toEqual(vars.map((v) => Array.from(reference[v.name]!.dataSync())));
    tf.dispose(reference);
    disposeState(state);
  });

  it('a variable the loss does not reach: its Fisher decays without g² (zeros on the first step)', () => {
    const { vars, values } = setup([[2, 2]]);
    let { state } = step({ decay: 0.5 }, vars, [[1, 2, 3, 4]], {}, 1, 0.1);
    const out = step({ decay: 0.5 }, vars, [[]], state, 2, 0.1);
    state = out.state;
    const fisher = [0.5, 2, 4.5, 8];
    expectClose((state[variableKey(vars[0]!.name, 'fisher')] as tf.Tensor).dataSync(), fisher);
    const z = draws(new SeededRandom(2), [[2, 2]]);
    expectClose(out.epsilon[0]!, z[0]!.map((zi, j) => zi * fisherScale64(values[0]!, [2, 2], fisher, 0.1, 1)[j]!));
    disposeState(state);
  });

  it("keeps the state of variables outside this step's scope", () => {
    const { vars } = setup([[3], [2]]);
    const { state } = step({}, vars, [[1, 2, 3], [4, 5]], {}, 1, 0.1);
    const out = step({}, [vars[0]!], [[1, 1, 1]], state, 2, 0.1);
    expect(Array.from((out.state[variableKey(vars[1]!.name, 'fisher')] as tf.Tensor).dataSync())).toEqual([16, 25]);
    disposeState(out.state);
  });

  it('no clean gradient → a FlatminError naming fisherNoise', () => {
    const { vars } = setup([[2]]);
    const rho = tf.scalar(0.1);
    created.push(rho);
    expect(() => fisherNoise().compute(contextOf(vars, { rho }), {})).toThrow(FlatminError);
    expect(() => fisherNoise().compute(contextOf(vars, { rho }), {})).toThrow(/fisherNoise/);
  });

  it('compute makes no device reads', () => {
    const { vars } = setup();
    const rho = tf.scalar(0.1);
    const grads = Object.fromEntries(vars.map((v, i) => [v.name, tf.tensor(testValues(v.size, i + 3), v.shape)]));
    created.push(rho, ...Object.values(grads));
    const { result, reads } = countBackendReads(() => tf.tidy(() => fisherNoise().compute(contextOf(vars, { rho, grads }), {})));
    expect(reads).toBe(0);
    tf.dispose([Object.values(result.epsilon), Object.values(result.state ?? {}) as tf.Tensor[]]);
  });

  it('metadata: defaults, needs the clean gradient', () => {
    const p = fisherNoise();
    expect(p).toMatchObject({ kind: 'perturbation', name: 'fisherNoise', rho: 0.01, needsGradient: true, config: { sigma: 0.01, eta: 1, decay: 0.9 } });
  });
});

runFactoryInputSuite({
  name: 'fisherNoise',
  factory: (options) => fisherNoise(options as FisherNoiseOptions),
  keys: ['sigma', 'eta', 'decay'],
  valid: { sigma: 0.02, eta: 2, decay: 0 },
  invalid: [
    ['sigma', { sigma: -0.1 }],
    ['sigma', { sigma: null }],
    ['eta', { eta: -1 }],
    ['eta', { eta: null }],
    ['decay', { decay: 1 }],
    ['decay', { decay: -0.1 }],
    ['decay', { decay: 1.5 }],
    ['decay', { decay: null }],
  ],
  kind: 'perturbation',
});

/** `steps` mARWP steps in float64: Fisher ← λFisher + g², ε = Z ⊙ S, update λ_mix g_adv + (1 − λ_mix) g (λ_mix = 1: g_adv). */
function fisher64(p: LinearProblem, steps: number, seed: number, sigma: number, eta: number, decay: number, lambda = 1): LinearParams {
  const random = new SeededRandom(seed);
  const shapes = linearShapes(p);
  let w = p.init;
  let fisher = shapes.map((shape) => new Array<number>(shape.reduce((a, b) => a * b, 1)).fill(0));
  for (let t = 0; t < steps; t += 1) {
    const g = flatten(linearGrad64(p, w));
    const gParts = [g.slice(0, p.d * p.k), g.slice(p.d * p.k)];
    fisher = fisher.map((f, i) => f.map((fij, j) => decay * fij + gParts[i]![j]! ** 2));
    const z = draws(random, shapes);
    const s = linearValues(p, w).map((v, i) => fisherScale64(v, shapes[i]!, fisher[i]!, sigma, eta));
    const epsilon = flatten(linearEpsilon(p, z, s));
    const gAdv = flatten(linearGrad64(p, unflatten(p, flatten(w).map((v, i) => v + epsilon[i]!))));
    w = unflatten(p, flatten(w).map((v, i) => v - lr * (lambda * gAdv[i]! + (1 - lambda) * g[i]!)));
  }
  return w;
}

runOptimizerSuite('fisherNoise() through sharpnessAware', [
  {
    name: 'adversarial combiner',
    make: () => sharpnessAware({ base: tf.train.sgd(lr), perturbation: fisherNoise({ sigma: 0.1, eta: 2, decay: 0.9 }), seed: 14 }),
    reference: { steps: 3, expected: (p) => fisher64(p, 3, 14, 0.1, 2, 0.9) },
    badConfigs: [
      { key: 'sigma', make: () => fisherNoise({ sigma: -1 }) },
      { key: 'eta', make: () => fisherNoise({ eta: -1 }) },
      { key: 'decay', make: () => fisherNoise({ decay: 1 }) },
    ],
  },
  {
    name: 'm-ARWP: with mix({ lambda: 0.5 })',
    make: () => sharpnessAware({ base: tf.train.sgd(lr), perturbation: fisherNoise({ sigma: 0.1 }), combiner: mix({ lambda: 0.5 }), seed: 15 }),
    reference: { steps: 3, expected: (p) => fisher64(p, 3, 15, 0.1, 1, 0.9, 0.5) },
  },
  {
    name: 'on momentum',
    make: () => sharpnessAware({ base: tf.train.momentum(lr, 0.9), perturbation: fisherNoise({ sigma: 0.05 }), seed: 16 }),
  },
]);

describe('fisherNoise(): degenerate σ and cost', () => {
  it('σ = 0 reduces exactly to the base optimizer (momentum, 10 steps)', () => {
    const problem = makeLinearProblem({ seed: 3 });
    const a = makeTfLinear(problem);
    const b = makeTfLinear(problem);
    const noisy = sharpnessAware({ base: tf.train.momentum(lr, 0.9), perturbation: fisherNoise({ sigma: 0 }), seed: 1 });
    const base = tf.train.momentum(lr, 0.9);
    for (let i = 0; i < 10; i += 1) {
      noisy.minimize(a.loss(), false, a.variables);
      base.minimize(b.loss(), false, b.variables);
    }
    expect(a.read()).toEqual(b.read());
    for (const d of [noisy, base, a, b]) d.dispose();
  });

  it('two loss evaluations per step (clean + noisy), with or without mix', async () => {
    const problem = makeLinearProblem({ seed: 4 });
    for (const combiner of [undefined, mix({ lambda: 0.5 })]) {
      const model = makeTfLinear(problem);
      const optimizer = sharpnessAware({ base: tf.train.sgd(lr), perturbation: fisherNoise(), ...(combiner ? { combiner } : {}) });
      for (let i = 0; i < 3; i += 1) optimizer.minimize(model.loss(), false, model.variables);
      expect((await optimizer.telemetry()).lossEvaluations).toBe(6);
      optimizer.dispose();
      model.dispose();
    }
  });
});
