// adaptive().compute against the float64 reference: element-wise and filter-wise T on a conv
// kernel [h, w, in, out], a dense kernel [in, out], a bias and a scalar, one global norm; which
// variables are adapted; degenerate inputs.
import * as tf from '@tensorflow/tfjs-core';
import { FlatminError, type NamedTensors } from '@flatmin/core';
import { afterEach, describe, expect, it } from 'vitest';
import { type AdaptiveOptions, adaptive } from '../src/index.js';
import { expectClose, makeVariables, namedTensors, perturbationContext, readEpsilon, testValues } from './helpers.js';
import { asamEpsilon64, type Entry } from './reference.js';

const SHAPES = [[2, 2, 3, 4], [3, 4], [4], []] as const;
const NAMES = ['conv/kernel', 'dense/kernel', 'dense/bias', 'scale'] as const;
const SIZES = SHAPES.map((shape) => shape.reduce((a: number, b: number) => a * b, 1));
const WEIGHTS = SIZES.map((size, i) => testValues(size, 11 + i));
const GRADS = SIZES.map((size, i) => testValues(size, 41 + i));

const created: tf.Variable[] = [];
afterEach(() => {
  for (const v of created.splice(0)) v.dispose();
});

/** ε of `adaptive(options)` for these weights and gradients, with `contextRho` from the context. */
function compute(
  options: AdaptiveOptions,
  contextRho: number,
  { shapes = SHAPES, weights = WEIGHTS, grads = GRADS }: { shapes?: readonly (readonly number[])[]; weights?: readonly (readonly number[])[]; grads?: readonly (readonly number[])[] } = {},
): number[][] {
  const variables = makeVariables(shapes, weights, shapes === SHAPES ? NAMES : undefined);
  created.push(...variables);
  const g = namedTensors(variables, grads);
  const rho = tf.scalar(contextRho);
  const epsilon = tf.tidy(() => adaptive(options).compute(perturbationContext(variables, g, rho), {}).epsilon);
  const out = readEpsilon(epsilon, variables);
  tf.dispose([epsilon, g, rho]);
  return out;
}

function entries(adapted: readonly boolean[], shapes: readonly (readonly number[])[] = SHAPES, weights = WEIGHTS, grads = GRADS): Entry[] {
  return shapes.map((shape, i) => ({ shape, w: weights[i]!, g: grads[i]!, adapted: adapted[i]! }));
}

function expectAll(actual: number[][], expected: number[][]): void {
  expect(actual.length).toBe(expected.length);
  actual.forEach((values, i) => {
    expectClose(values, expected[i]!);
  });
}

describe('adaptive(): ε against the float64 reference', () => {
  const DEFAULT_ADAPTED = [true, true, false, false]; // rank ≥ 2 only

  it.each(['element', 'filter'] as const)("granularity '%s', default adaptWhere (rank ≥ 2; bias and scalar T = 1)", (granularity) => {
    const actual = compute({ rho: 0.5, eta: 0.01, granularity }, 0.5);
    expectAll(actual, asamEpsilon64(entries(DEFAULT_ADAPTED), 0.5, 0.01, granularity));
  });

  it.each(['element', 'filter'] as const)("granularity '%s', adaptWhere 'all' (bias one filter, scalar |w|)", (granularity) => {
    const actual = compute({ eta: 0.1, granularity, adaptWhere: 'all' }, 0.3);
    expectAll(actual, asamEpsilon64(entries([true, true, true, true]), 0.3, 0.1, granularity));
  });

  it('the radius comes from context.rho, not the factory rho', () => {
    const actual = compute({ rho: 0.5, granularity: 'filter' }, 0.07);
    expectAll(actual, asamEpsilon64(entries(DEFAULT_ADAPTED), 0.07, 0.01, 'filter'));
  });

  it('the default granularity is element-wise and the default η is 0.01', () => {
    const actual = compute({}, 0.5);
    expectAll(actual, asamEpsilon64(entries(DEFAULT_ADAPTED), 0.5, 0.01, 'element'));
  });

  it('a filter is a column of a dense kernel [in, out]: its norm is over the input axis', () => {
    // W = [[3, 1], [4, 0]]: filter 0 = (3, 4), ‖·‖ = 5; filter 1 = (1, 0), ‖·‖ = 1. η = 0, g = 1:
    // T = [[5, 1], [5, 1]], Tg = T, ‖Tg‖ = √52, ε = ρ T²/√52.
    const [epsilon] = compute({ eta: 0, granularity: 'filter' }, 1, { shapes: [[2, 2]], weights: [[3, 1, 4, 0]], grads: [[1, 1, 1, 1]] });
    const n = Math.sqrt(52);
    expectClose(epsilon!, [25 / n, 1 / n, 25 / n, 1 / n]);
  });

  it('a filter of a conv kernel [h, w, in, out] is its last index: the norm is over h, w and in', () => {
    // [1, 2, 1, 2]: filter 0 = entries 0 and 2 (3, 4 → 5), filter 1 = entries 1 and 3 (0, 0 → 0).
    const [epsilon] = compute({ eta: 0, granularity: 'filter' }, 1, { shapes: [[1, 2, 1, 2]], weights: [[3, 0, 4, 0]], grads: [[1, 1, 1, 1]] });
    const n = Math.sqrt(50);
    expectClose(epsilon!, [25 / n, 0, 25 / n, 0]);
  });

  it('element-wise with η = 0 is scale invariant: w → c·w, g → g/c gives ε → c·ε (the paper\'s point)', () => {
    const c = 4;
    const base = compute({ eta: 0, adaptWhere: 'all' }, 0.2);
    const scaled = compute({ eta: 0, adaptWhere: 'all' }, 0.2, {
      weights: WEIGHTS.map((w) => w.map((x) => x * c)),
      grads: GRADS.map((g) => g.map((x) => x / c)),
    });
    scaled.forEach((values, i) => {
      expectClose(values, base[i]!.map((x) => x * c));
    });
  });
});

describe('adaptive(): which variables are adapted', () => {
  it('by default the bias gets T = 1: its ε does not depend on its value, the kernel\'s does', () => {
    const a = compute({}, 0.5);
    const b = compute({}, 0.5, { weights: WEIGHTS.map((w, i) => (i === 1 ? w : w.map((x) => x * 3))) });
    // Only the dense kernel kept its weights; the conv kernel, the bias and the scalar were tripled.
    // The dense kernel's T is unchanged, so its ε moved only by the global factor 1/‖Tg‖:
    const global = b[1]![0]! / a[1]![0]!;
    expect(global).not.toBeCloseTo(1, 2);
    for (const [i, x] of b[1]!.entries()) expect(x / a[1]![i]!).toBeCloseTo(global, 5);
    // the bias (T = 1) by the same factor only — an adapted bias would have moved by about 9×:
    for (const [i, x] of b[2]!.entries()) expect(x / a[2]![i]!).toBeCloseTo(global, 5);
    // and the conv kernel (T tripled, ε ∝ T²) by (3|w| + η)²/(|w| + η)² ≥ 7.9 (|w| ≥ 0.1) times that factor.
    for (const [i, x] of b[0]!.entries()) expect(x / a[0]![i]! / global).toBeGreaterThan(7.5);
  });

  it('a predicate picks the adapted variables (here the bias only), and sees each variable', () => {
    const seen: string[] = [];
    const actual = compute(
      {
        granularity: 'element',
        adaptWhere: (v) => {
          seen.push(v.name);
          expect(v).toBeInstanceOf(tf.Variable);
          return v.name.endsWith('/bias');
        },
      },
      0.5,
    );
    expectAll(actual, asamEpsilon64(entries([false, false, true, false]), 0.5, 0.01, 'element'));
    expect(seen.map((name) => name.split('/').slice(1).join('/'))).toEqual([...NAMES]);
  });

  it('a predicate that returns a non-boolean throws a FlatminError naming adaptWhere', () => {
    const variables = makeVariables([[2, 2]], [[1, 2, 3, 4]]);
    created.push(...variables);
    const g = namedTensors(variables, [[1, 1, 1, 1]]);
    const rho = tf.scalar(0.5);
    const perturbation = adaptive({ adaptWhere: (() => 1) as never });
    expect(() => tf.tidy(() => perturbation.compute(perturbationContext(variables, g, rho), {}))).toThrow(FlatminError);
    expect(() => tf.tidy(() => perturbation.compute(perturbationContext(variables, g, rho), {}))).toThrow(/adaptWhere/);
    tf.dispose([g, rho]);
  });
});

describe('adaptive(): degenerate inputs', () => {
  it.each(['element', 'filter'] as const)("'%s': ε_i is exactly 0 where g_i is, as its vanishesWithGradient flag declares", (granularity) => {
    expect(adaptive({ granularity }).vanishesWithGradient).toBe(true);
    const grads = GRADS.map((g) => g.map((x, i) => (i % 3 === 0 ? 0 : x)));
    const actual = compute({ granularity, adaptWhere: 'all' }, 0.5, { grads });
    actual.forEach((values, v) => {
      values.forEach((e, i) => {
        if (grads[v]![i] === 0) expect(e === 0).toBe(true);
        else expect(e).not.toBe(0);
      });
    });
  });

  it.each(['element', 'filter'] as const)("'%s': a zero gradient gives ε exactly 0 (no NaN)", (granularity) => {
    const actual = compute({ granularity }, 0.5, { grads: SIZES.map((n) => new Array<number>(n).fill(0)) }).flat();
    for (const e of actual) expect(e === 0).toBe(true);
  });

  it.each(['element', 'filter'] as const)("'%s': ρ = 0 gives ε exactly 0", (granularity) => {
    const actual = compute({ rho: 0, granularity }, 0).flat();
    for (const e of actual) expect(e === 0).toBe(true);
  });

  it.each(['element', 'filter'] as const)("'%s': zero weights with η = 0 give T = 0 there and a finite ε", (granularity) => {
    const weights = SIZES.map((n) => new Array<number>(n).fill(0));
    const actual = compute({ eta: 0, granularity, adaptWhere: 'all' }, 0.5, { weights }).flat();
    for (const e of actual) expect(e === 0).toBe(true);
    const mixed = compute({ eta: 0, granularity }, 0.5, { weights: [weights[0]!, WEIGHTS[1]!, WEIGHTS[2]!, WEIGHTS[3]!] });
    expectAll(mixed, asamEpsilon64(entries([true, true, false, false], SHAPES, [weights[0]!, WEIGHTS[1]!, WEIGHTS[2]!, WEIGHTS[3]!]), 0.5, 0, granularity));
  });

  it('a variable with no gradient gets no entry; an out-of-scope gradient is ignored', () => {
    const variables = makeVariables([[2, 2], [2], [3]], [[1, -2, 3, 0.5], [1, 1], [1, 1, 1]]);
    created.push(...variables);
    const [a, b, outside] = variables as [tf.Variable, tf.Variable, tf.Variable];
    const grads: NamedTensors = { [a.name]: tf.tensor2d([1, 2, -1, 0.5], [2, 2]), [outside.name]: tf.tensor1d([100, 100, 100]) };
    const rho = tf.scalar(0.5);
    const epsilon = tf.tidy(() => adaptive().compute(perturbationContext([a, b], grads, rho), {}).epsilon);
    expect(Object.keys(epsilon)).toEqual([a.name]);
    expectClose(epsilon[a.name]!.dataSync(), asamEpsilon64([{ shape: [2, 2], w: [1, -2, 3, 0.5], g: [1, 2, -1, 0.5], adapted: true }], 0.5, 0.01, 'element')[0]!);
    tf.dispose([epsilon, grads, rho]);
  });

  it('no clean pass (grads null) throws a FlatminError', () => {
    const variables = makeVariables([[2]], [[1, 2]]);
    created.push(...variables);
    const rho = tf.scalar(0.5);
    expect(() => adaptive().compute(perturbationContext(variables, null, rho), {})).toThrow(FlatminError);
    rho.dispose();
  });

  it('100 computes in tf.tidy leak nothing, for every granularity and adaptWhere', () => {
    const variables = makeVariables(SHAPES, WEIGHTS);
    created.push(...variables);
    const g = namedTensors(variables, GRADS);
    const rho = tf.scalar(0.5);
    for (const options of [{ granularity: 'element' }, { granularity: 'filter' }, { granularity: 'filter', adaptWhere: 'all' }] as AdaptiveOptions[]) {
      const perturbation = adaptive(options);
      tf.dispose(tf.tidy(() => perturbation.compute(perturbationContext(variables, g, rho), {}).epsilon));
      const before = tf.memory();
      for (let i = 0; i < 100; i += 1) tf.dispose(tf.tidy(() => perturbation.compute(perturbationContext(variables, g, rho), {}).epsilon));
      expect(tf.memory().numTensors).toBe(before.numTensors);
      expect(tf.memory().numBytes).toBe(before.numBytes);
    }
    tf.dispose([g, rho]);
  });
});
