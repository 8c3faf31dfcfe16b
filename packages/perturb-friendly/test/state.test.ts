// The running state: keyed by variable name, created lazily, advanced by the formula over three
// steps (float64 reference over several variables with one global norm), kept for variables that
// get no gradient, and left exactly as it was by a skipped non-finite step.
import * as tf from '@tensorflow/tfjs-core';
import { type ComponentState, FlatminError, type NamedTensors, type Perturbation, type PerturbationContext, sharpnessAware } from '@flatmin/core';
import { globalNorm, SeededRandom } from '@flatmin/core/kit';
import { makeLinearProblem, makeTfLinear, type TfLinear } from '@flatmin/test-kit';
import { afterEach, describe, expect, it } from 'vitest';
import { friendly, varianceSuppressed } from '../src/index.js';
import { NORM_EPSILON } from './reference.js';

const created: tf.Tensor[] = [];
afterEach(() => {
  tf.dispose(created.splice(0));
});

let counter = 0;
function variables(shapes: number[][]): tf.Variable[] {
  return shapes.map((shape) => {
    counter += 1;
    const v = tf.variable(tf.zeros(shape), true, `friendly-test/v${counter}`);
    created.push(v);
    return v;
  });
}

function context(vars: readonly tf.Variable[], grads: NamedTensors | null, rho: number): PerturbationContext {
  const r = tf.scalar(rho);
  created.push(r);
  return {
    step: 0,
    random: new SeededRandom(0),
    normEpsilon: NORM_EPSILON,
    learningRate: 0.1,
    variables: vars,
    grads,
    loss: null,
    objective: { perSample: null, parts: null },
    rho: r,
    gradientOf: () => {
      throw new Error('gradientOf not expected');
    },
    evaluate: () => {
      throw new Error('not used');
    },
    gradNorm: () => globalNorm(Object.values(grads ?? {})),
  };
}

/** Deterministic float32 values in ±[0.1, 2]. */
function values(count: number, seed: number): number[] {
  let s = seed;
  const next = () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296;
  };
  return Array.from({ length: count }, () => Math.fround((next() < 0.5 ? -1 : 1) * (0.1 + 1.9 * next())));
}

/** One optimizer-like compute: in a tidy, the old state's dropped tensors disposed; ε read on the host. */
function compute(perturbation: Perturbation, vars: readonly tf.Variable[], grads: NamedTensors, rho: number, state: ComponentState) {
  const out = tf.tidy(() => {
    const r = perturbation.compute(context(vars, grads, rho), state);
    return { epsilon: r.epsilon, state: r.state ?? state, epsilonNorm: r.epsilonNorm };
  });
  const kept = new Set(Object.values(out.state));
  for (const value of Object.values(state)) if (typeof value !== 'number' && !kept.has(value)) value.dispose();
  const epsilon = Object.fromEntries(Object.entries(out.epsilon).map(([name, t]) => [name, Array.from(t.dataSync())]));
  const epsilonNorm = out.epsilonNorm?.dataSync()[0];
  tf.dispose([Object.values(out.epsilon), out.epsilonNorm ?? []]);
  return { epsilon, state: out.state, epsilonNorm };
}

/** ρ d/(‖d‖ + 1e-12) in float64 over the concatenation of every variable's d. */
function normalize64(d: number[][], rho: number): number[][] {
  const norm = Math.sqrt(d.flat().reduce((s, x) => s + x * x, 0));
  return d.map((v) => v.map((x) => (rho * x) / (norm + NORM_EPSILON)));
}

function expectClose(actual: readonly number[], expected: readonly number[]) {
  expect(actual.length).toBe(expected.length);
  actual.forEach((a, i) => {
    expect(Math.abs(a - expected[i]!)).toBeLessThanOrEqual(1e-5 * Math.max(1e-3, Math.abs(expected[i]!)));
  });
}

const SHAPES = [[2, 3], [4], [], [2, 1, 2]];

describe('three steps of compute against float64, over four variables with one global norm', () => {
  type Update = (g: number[][], memory: number[][] | null) => { d: number[][]; memory: number[][] };
  const zip = (a: number[][], b: number[][], f: (x: number, y: number) => number) => a.map((v, i) => v.map((x, j) => f(x, b[i]![j]!)));
  const rows: [string, () => Perturbation, Update][] = [
    [
      "friendly 'seed' (σ 0.7, λ 0.6)",
      () => friendly({ sigma: 0.7, lambda: 0.6 }),
      (g, m) => {
        const next = m === null ? zip(g, g, (x) => 0.4 * x) : zip(m, g, (a, b) => 0.6 * a + 0.4 * b);
        return { d: zip(g, next, (x, y) => x - 0.7 * y), memory: next };
      },
    ],
    [
      "friendly 'official' (σ 0.7, λ 0.6)",
      () => friendly({ sigma: 0.7, lambda: 0.6, variant: 'official' }),
      (g, m) => (m === null ? { d: g, memory: g } : { d: zip(g, m, (x, y) => x - 0.7 * y), memory: zip(m, g, (a, b) => 0.6 * a + 0.4 * b) }),
    ],
    [
      'varianceSuppressed (θ 0.3)',
      () => varianceSuppressed({ theta: 0.3 }),
      (g, d) => {
        const next = d === null ? g : zip(d, g, (a, b) => 0.7 * a + 0.3 * b);
        return { d: next, memory: next };
      },
    ],
  ];
  it.each(rows)('%s', (_name, make, update) => {
    const vars = variables(SHAPES);
    const perturbation = make();
    let state: ComponentState = {};
    let memory: number[][] | null = null;
    for (let t = 0; t < 3; t += 1) {
      const g = vars.map((v, i) => values(v.size, 10 * t + i + 1));
      const grads: NamedTensors = Object.fromEntries(vars.map((v, i) => [v.name, tf.tensor(g[i]!, v.shape)]));
      created.push(...Object.values(grads));
      const out = compute(perturbation, vars, grads, 0.3, state);
      state = out.state;
      const step = update(g, memory);
      memory = step.memory;
      const expected = normalize64(step.d, 0.3);
      vars.forEach((v, i) => {
        expectClose(out.epsilon[v.name]!, expected[i]!);
      });
      expect(out.epsilonNorm).toBeCloseTo(0.3, 6);
    }
    created.push(...(Object.values(state) as tf.Tensor[]));
  });
});

describe('state keys and lifetime', () => {
  const rows: [string, () => Perturbation, string[]][] = [
    ["friendly 'seed'", () => friendly(), ['momentum']],
    ["friendly 'official'", () => friendly({ variant: 'official' }), ['momentum', 'started']],
    ['varianceSuppressed', () => varianceSuppressed(), ['average', 'started']],
  ];

  it.each(rows)('%s: created lazily, keyed <variable name>:<slot>, a variable without a gradient keeps its entries', (_name, make, slots) => {
    const [a, b] = variables([[3], [2, 2]]) as [tf.Variable, tf.Variable];
    const perturbation = make();
    const grads1: NamedTensors = { [a.name]: tf.tensor1d([1, -2, 0.5]), [b.name]: tf.tensor2d([[0.1, 0.2], [-0.3, 0.4]]) };
    const grads2: NamedTensors = { [a.name]: tf.tensor1d([0.5, 1, -1]) }; // b: no gradient this step
    created.push(...Object.values(grads1), ...Object.values(grads2));
    const first = compute(perturbation, [a, b], grads1, 0.1, {});
    const keys = [a, b].flatMap((v) => slots.map((slot) => `${v.name}:${slot}`)).sort();
    expect(Object.keys(first.state).sort()).toEqual(keys);
    for (const [key, value] of Object.entries(first.state)) {
      expect(value).toBeInstanceOf(tf.Tensor);
      if (key.endsWith(':started')) expect(Array.from((value as tf.Tensor).dataSync())).toEqual([1]);
      else expect((value as tf.Tensor).shape).toEqual(key.startsWith(a.name) ? a.shape : b.shape);
    }
    const bBefore = slots.map((slot) => Array.from((first.state[`${b.name}:${slot}`] as tf.Tensor).dataSync()));
    const second = compute(perturbation, [a, b], grads2, 0.1, first.state);
    expect(Object.keys(second.epsilon)).toEqual([a.name]);
    expect(Object.keys(second.state).sort()).toEqual(keys);
    expect(slots.map((slot) => Array.from((second.state[`${b.name}:${slot}`] as tf.Tensor).dataSync()))).toEqual(bBefore);
    created.push(...(Object.values(second.state) as tf.Tensor[]));
  });

  it.each(rows)('%s: a zero gradient gives ε exactly 0 and a finite state', (_name, make) => {
    const [a, b] = variables([[3], []]) as [tf.Variable, tf.Variable];
    const grads: NamedTensors = { [a.name]: tf.zeros([3]), [b.name]: tf.scalar(0) };
    created.push(...Object.values(grads));
    let state: ComponentState = {};
    for (let t = 0; t < 2; t += 1) {
      const out = compute(make(), [a, b], grads, 0.1, state);
      state = out.state;
      for (const e of Object.values(out.epsilon).flat()) expect(e === 0).toBe(true);
      expect(out.epsilonNorm).toBe(0);
    }
    for (const value of Object.values(state)) expect(Array.from((value as tf.Tensor).dataSync()).every(Number.isFinite)).toBe(true);
    created.push(...(Object.values(state) as tf.Tensor[]));
  });

  it.each(rows)('%s: no clean gradient (grads null) is a FlatminError naming the factory', (_name, make) => {
    const [a] = variables([[2]]);
    const perturbation = make();
    expect(() => perturbation.compute(context([a!], null, 0.1), {})).toThrow(FlatminError);
    expect(() => perturbation.compute(context([a!], null, 0.1), {})).toThrow(perturbation.name);
  });
});

describe("onNonFinite: 'skip' — a NaN batch does not advance the running mean", () => {
  const problem = makeLinearProblem({ seed: 5 });
  const A = [0, 1, 2, 3];
  const B = [4, 5, 6, 7];

  function run(make: () => Perturbation, batches: Array<number[] | null>) {
    const model = makeTfLinear(problem);
    const optimizer = sharpnessAware({ base: tf.train.momentum(0.05, 0.9), perturbation: make(), seed: 3 });
    for (const rows of batches) {
      const loss = rows === null ? () => tf.mul(model.loss()(), Number.NaN) as tf.Scalar : model.loss(rows);
      optimizer.minimize(loss, false, model.variables);
    }
    return { model, optimizer };
  }

  /** The parameters and every saved state tensor but the host counters (steps count skipped steps too). */
  async function snapshot({ model, optimizer }: { model: TfLinear; optimizer: tf.Optimizer }) {
    const state: Record<string, number[]> = {};
    for (const { name, tensor } of await optimizer.getWeights()) {
      if (name.includes('#/') || name.endsWith('iterations') || name.endsWith('/iter') || name.endsWith('/skipped') || tensor.dtype === 'string') continue;
      state[name.replace(/linear\d+\//g, 'linear/')] = Array.from(await tensor.data());
    }
    const telemetry = await (optimizer as ReturnType<typeof sharpnessAware>).telemetry();
    const result = { params: model.read(), state, skipped: telemetry.skippedSteps };
    optimizer.dispose();
    model.dispose();
    return result;
  }

  const rows: [string, () => Perturbation, string][] = [
    ["friendly 'seed'", () => friendly({ rho: 0.2 }), ':momentum'],
    ["friendly 'official'", () => friendly({ rho: 0.2, variant: 'official' }), ':started'],
    ['varianceSuppressed', () => varianceSuppressed({ rho: 0.2, theta: 0.4 }), ':started'],
  ];

  it.each(rows)('%s: NaN in the middle — the run ends bit-identical to the run without it', async (_name, make, slot) => {
    const clean = await snapshot(run(make, [A, B, A, B, A]));
    const withNaN = await snapshot(run(make, [A, B, A, null, B, A]));
    expect(Object.keys(clean.state).some((name) => name.startsWith('flatmin/perturbation/') && name.endsWith(slot))).toBe(true);
    expect(withNaN.params).toEqual(clean.params);
    expect(withNaN.state).toEqual(clean.state);
    expect(withNaN.skipped).toBe(1);
  });

  it.each(rows)('%s: NaN on the very first step — the start (m₁ = g₁, d₀ = g₀, m₋₁ = 0) is not lost', async (_name, make) => {
    const clean = await snapshot(run(make, [A, B, A]));
    const withNaN = await snapshot(run(make, [null, A, B, A]));
    expect(withNaN.params).toEqual(clean.params);
    expect(withNaN.state).toEqual(clean.state);
    expect(withNaN.skipped).toBe(1);
  });
});
