import * as tf from '@tensorflow/tfjs-core';
import { FlatminError, type NamedTensors } from '@flatmin/core';
import { afterEach, describe, expect, it } from 'vitest';
import { dualNormPerturbation, gradient } from '../src/index.js';
import {
  expectClose,
  makeVariables,
  namedTensors,
  perturbationContext,
  pNorm,
  readEpsilon,
  referenceEpsilon,
  testValues,
} from './helpers.js';

// Several variables of different shapes (a scalar included): the norm is global over them.
const SHAPES = [[2, 3], [4], [], [2, 2, 2]] as const;
const SIZES = SHAPES.map((shape) => shape.reduce((a: number, b: number) => a * b, 1));
const P_VALUES = [2, 3, 1.5, 1.2, 10, Number.POSITIVE_INFINITY, 1] as const;

const created: tf.Variable[] = [];
afterEach(() => {
  for (const v of created.splice(0)) v.dispose();
});

function setup(values: readonly (readonly number[])[], shapes: readonly (readonly number[])[] = SHAPES) {
  const variables = makeVariables(shapes);
  created.push(...variables);
  return { variables, grads: namedTensors(variables, values) };
}

/** ε from `gradient(options).compute` for these gradients, with `contextRho` passed through the context. */
function compute(
  options: Parameters<typeof gradient>[0],
  values: readonly (readonly number[])[],
  contextRho: number,
  shapes: readonly (readonly number[])[] = SHAPES,
): number[][] {
  const { variables, grads } = setup(values, shapes);
  const rho = tf.scalar(contextRho);
  const perturbation = gradient(options);
  const epsilon = tf.tidy(() => perturbation.compute(perturbationContext(variables, grads, rho), {}).epsilon);
  const out = readEpsilon(epsilon, variables);
  tf.dispose([epsilon, grads, rho]);
  return out;
}

describe('gradient(): ε against the float64 reference', () => {
  const values = SIZES.map((size, i) => testValues(size, 17 + i));

  it.each(P_VALUES)('p = %s, global norm over 4 variables of different shapes', (p) => {
    const epsilon = compute({ rho: 0.05, p }, values, 0.05);
    const expected = referenceEpsilon(values, p, 0.05);
    epsilon.forEach((e, i) => {
      expectClose(e, expected[i]!);
    });
  });

  it.each(P_VALUES)('p = %s: the radius comes from context.rho, not the factory rho', (p) => {
    const epsilon = compute({ rho: 0.05, p }, values, 0.3);
    const expected = referenceEpsilon(values, p, 0.3);
    epsilon.forEach((e, i) => {
      expectClose(e, expected[i]!);
    });
  });

  it.each(P_VALUES)('p = %s: ‖ε‖_p = ρ and εᵀg = ρ‖g‖_q over all variables together', (p) => {
    const rho = 0.2;
    const epsilon = compute({ p }, values, rho).flat();
    const g = values.flat();
    const q = p === 1 ? Number.POSITIVE_INFINITY : p === Number.POSITIVE_INFINITY ? 1 : p / (p - 1);
    expect(Math.abs(pNorm(epsilon, p) - rho)).toBeLessThanOrEqual(1e-5 * rho);
    const dot = epsilon.reduce((s, e, i) => s + e * g[i]!, 0);
    const dual = rho * pNorm(g, q);
    expect(Math.abs(dot - dual)).toBeLessThanOrEqual(1e-5 * dual);
  });

  it('p = 2 uses one global norm, not one norm per variable', () => {
    const twoVars = [
      [3, 0],
      [0, 4],
    ];
    const epsilon = compute({ rho: 1 }, twoVars, 1, [[2], [2]]);
    expectClose(epsilon[0]!, [0.6, 0]);
    expectClose(epsilon[1]!, [0, 0.8]);
  });

  it('p = 1: all of ρ on the largest |g_i| (across variables)', () => {
    const vals = [
      [0.5, -1.5, 0.25],
      [-2.5, 1],
    ];
    const epsilon = compute({ p: 1 }, vals, 0.1, [[3], [2]]);
    expectClose(epsilon[0]!, [0, 0, 0]);
    expectClose(epsilon[1]!, [-0.1, 0]);
    expectClose(epsilon.flat(), referenceEpsilon(vals, 1, 0.1).flat());
  });

  it('p = 1: exact ties share ρ so that ‖ε‖₁ = ρ', () => {
    const vals = [
      [3, -1, -3],
      [0.5, -3],
    ];
    const epsilon = compute({ p: 1 }, vals, 0.3, [[3], [2]]);
    expectClose(epsilon[0]!, [0.1, 0, -0.1]);
    expectClose(epsilon[1]!, [0, -0.1]);
    expectClose(epsilon.flat(), referenceEpsilon(vals, 1, 0.3).flat());
    expect(Math.abs(pNorm(epsilon.flat(), 1) - 0.3)).toBeLessThanOrEqual(1e-6);
  });

  it.each([3, 1.5, 1.2, 1, Number.POSITIVE_INFINITY])('p = %s is stable in float32 for huge and tiny gradients (scale invariant)', (p) => {
    const expected = referenceEpsilon(values, p, 0.05);
    for (const scale of [1e30, 1e-30]) {
      const scaled = values.map((v) => v.map((x) => Math.fround(x * scale)));
      const epsilon = compute({ p }, scaled, 0.05);
      epsilon.forEach((e, i) => {
      expectClose(e, expected[i]!);
    });
    }
  });

  it('perturbs only context.variables: a missing gradient gives no entry, an out-of-scope gradient is ignored', () => {
    const variables = makeVariables([[2], [2], [3]]);
    created.push(...variables);
    const [a, b, outside] = variables as [tf.Variable, tf.Variable, tf.Variable];
    const grads: NamedTensors = {
      [a.name]: tf.tensor1d([1, -2]),
      [outside.name]: tf.tensor1d([100, 100, 100]),
    };
    const rho = tf.scalar(0.05);
    for (const p of P_VALUES) {
      const epsilon = tf.tidy(() => gradient({ p }).compute(perturbationContext([a, b], grads, rho), {}).epsilon);
      expect(Object.keys(epsilon)).toEqual([a.name]);
      expectClose(epsilon[a.name]!.dataSync(), referenceEpsilon([[1, -2]], p, 0.05)[0]!);
      tf.dispose(epsilon);
    }
    tf.dispose([grads, rho]);
  });

  it('returns float32 tensors of the variables shapes', () => {
    const { variables, grads } = setup(values);
    const rho = tf.scalar(0.05);
    for (const p of P_VALUES) {
      const epsilon = tf.tidy(() => gradient({ p }).compute(perturbationContext(variables, grads, rho), {}).epsilon);
      for (const v of variables) {
        expect(epsilon[v.name]!.shape).toEqual(v.shape);
        expect(epsilon[v.name]!.dtype).toBe('float32');
      }
      tf.dispose(epsilon);
    }
    tf.dispose([grads, rho]);
  });
});

describe('gradient(): degenerate inputs', () => {
  it.each(P_VALUES)('p = %s: a zero gradient gives ε exactly 0 (finite, no NaN)', (p) => {
    const zeros = SIZES.map((size) => new Array<number>(size).fill(0));
    const epsilon = compute({ p }, zeros, 0.05).flat();
    for (const e of epsilon) {
      expect(Number.isFinite(e)).toBe(true);
      expect(e === 0).toBe(true);
    }
  });

  it.each(P_VALUES)('p = %s: one all-zero variable among others gets ε = 0 there, the formula elsewhere', (p) => {
    const vals = [testValues(6, 5), [0, 0, 0, 0]];
    const epsilon = compute({ p }, vals, 0.05, [[2, 3], [4]]);
    const expected = referenceEpsilon(vals, p, 0.05);
    expectClose(epsilon[0]!, expected[0]!);
    for (const e of epsilon[1]!) expect(e === 0).toBe(true);
  });

  it.each(P_VALUES)('p = %s: ρ = 0 gives ε exactly 0 (reduces to the base optimizer)', (p) => {
    const values = SIZES.map((size, i) => testValues(size, 101 + i));
    const epsilon = compute({ rho: 0, p }, values, 0).flat();
    for (const e of epsilon) expect(e === 0).toBe(true);
  });

  it('an empty variable list gives an empty ε', () => {
    const rho = tf.scalar(0.05);
    for (const p of P_VALUES) {
      const epsilon = gradient({ p }).compute(perturbationContext([], {}, rho), {}).epsilon;
      expect(epsilon).toEqual({});
    }
    rho.dispose();
  });

  it("from: 'current' with no clean pass (grads null) throws a FlatminError", () => {
    const rho = tf.scalar(0.05);
    const variables = makeVariables([[2]]);
    created.push(...variables);
    expect(() => gradient().compute(perturbationContext(variables, null, rho), {})).toThrow(FlatminError);
    rho.dispose();
  });
});

describe('gradient(): component metadata', () => {
  it('defaults: SAM with rho 0.05, p = 2, from current', () => {
    const perturbation = gradient();
    expect(perturbation.kind).toBe('perturbation');
    expect(perturbation.name).toBe('gradient');
    expect(perturbation.rho).toBe(0.05);
    expect(perturbation.needsGradient).toBe(true);
    expect(perturbation.observe).toBeUndefined();
    expect(perturbation.config).toEqual({ rho: 0.05, p: 2, from: 'current' });
  });

  it('config holds the resolved options', () => {
    expect(gradient({ rho: 0.1, p: 3 }).config).toEqual({ rho: 0.1, p: 3, from: 'current' });
    expect(gradient({ p: Number.POSITIVE_INFINITY }).config).toEqual({ rho: 0.05, p: 'inf', from: 'current' });
    expect(gradient({ p: 'inf' }).config).toEqual({ rho: 0.05, p: 'inf', from: 'current' });
    expect(gradient({ rho: 0, from: 'previous' }).config).toEqual({ rho: 0, p: 2, from: 'previous' });
    expect(gradient({ rho: 0.2 }).rho).toBe(0.2);
  });
});

describe('dualNormPerturbation()', () => {
  it('accepts a number ρ and matches the reference', () => {
    const vals = [testValues(5, 9)];
    for (const p of P_VALUES) {
      const epsilon = tf.tidy(() => dualNormPerturbation({ w: tf.tensor1d(vals[0]!) }, p, 0.07, 1e-12));
      expectClose(epsilon['w']!.dataSync(), referenceEpsilon(vals, p, 0.07)[0]!);
      tf.dispose(epsilon);
    }
  });

  it('handles an empty map and zero-size tensors', () => {
    expect(dualNormPerturbation({}, 3, 0.05, 1e-12)).toEqual({});
    for (const p of P_VALUES) {
      const epsilon = tf.tidy(() =>
        dualNormPerturbation({ empty: tf.zeros([0, 3]), w: tf.tensor1d([1, -2]) }, p, 0.05, 1e-12),
      );
      expect(epsilon['empty']!.shape).toEqual([0, 3]);
      expectClose(epsilon['w']!.dataSync(), referenceEpsilon([[1, -2]], p, 0.05)[0]!);
      tf.dispose(epsilon);
    }
  });
});
