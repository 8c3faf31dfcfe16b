// fisher().compute against the float64 reference (one global sum over variables of different
// shapes), η = 0 bit-identical to SAM's gradient(), degenerate inputs.
import * as tf from '@tensorflow/tfjs-core';
import { FlatminError, type NamedTensors } from '@flatmin/core';
import { gradient } from '@flatmin/perturb-gradient';
import { afterEach, describe, expect, it } from 'vitest';
import { type FisherOptions, fisher } from '../src/index.js';
import { expectClose, makeVariables, namedTensors, perturbationContext, readEpsilon, testValues } from './helpers.js';
import { fisherEpsilon64 } from './reference.js';

const SHAPES = [[2, 2, 3, 4], [3, 4], [4], []] as const;
const SIZES = SHAPES.map((shape) => shape.reduce((a: number, b: number) => a * b, 1));
const GRADS = SIZES.map((size, i) => testValues(size, 71 + i));

const created: tf.Variable[] = [];
afterEach(() => {
  for (const v of created.splice(0)) v.dispose();
});

function setup(grads: readonly (readonly number[])[]) {
  const variables = makeVariables(SHAPES, SIZES.map((n) => new Array<number>(n).fill(0.5)));
  created.push(...variables);
  return { variables, g: namedTensors(variables, grads) };
}

function compute(options: FisherOptions, contextRho: number, grads: readonly (readonly number[])[] = GRADS): number[][] {
  const { variables, g } = setup(grads);
  const rho = tf.scalar(contextRho);
  const epsilon = tf.tidy(() => fisher(options).compute(perturbationContext(variables, g, rho), {}).epsilon);
  const out = readEpsilon(epsilon, variables);
  tf.dispose([epsilon, g, rho]);
  return out;
}

describe('fisher(): ε against the float64 reference', () => {
  it.each([1, 0.5, 10, 1e-3])('η = %s over 4 variables of different shapes (one global sum)', (eta) => {
    const actual = compute({ rho: 0.1, eta }, 0.1);
    const expected = fisherEpsilon64(GRADS, 0.1, eta);
    actual.forEach((values, i) => {
      expectClose(values, expected[i]!);
    });
  });

  it('ε_i is exactly 0 where g_i is, as its vanishesWithGradient flag declares', () => {
    expect(fisher().vanishesWithGradient).toBe(true);
    const actual = compute({ rho: 0.1, eta: 1 }, 0.1, GRADS.map((g) => g.map((x, i) => (i % 3 === 0 ? 0 : x))));
    actual.forEach((values) => {
      values.forEach((e, i) => {
        if (i % 3 === 0) expect(e === 0).toBe(true);
        else expect(e).not.toBe(0);
      });
    });
  });

  it('defaults: ρ = 0.1 from the context, η = 1', () => {
    const actual = compute({}, 0.1);
    const expected = fisherEpsilon64(GRADS, 0.1, 1);
    actual.forEach((values, i) => {
      expectClose(values, expected[i]!);
    });
  });

  it('the radius comes from context.rho, not the factory rho', () => {
    const actual = compute({ rho: 0.1, eta: 2 }, 0.35);
    const expected = fisherEpsilon64(GRADS, 0.35, 2);
    actual.forEach((values, i) => {
      expectClose(values, expected[i]!);
    });
  });

  it('the Fisher norm of ε is ρ, its L2 norm less: high-gradient coordinates move less', () => {
    const rho = 0.2;
    const eta = 1;
    const epsilon = compute({ eta }, rho).flat();
    const g = GRADS.flat();
    const fisherNorm = Math.sqrt(epsilon.reduce((s, e, i) => s + e * e * (1 + eta * g[i]! * g[i]!), 0));
    expect(fisherNorm).toBeCloseTo(rho, 6);
    expect(Math.sqrt(epsilon.reduce((s, e) => s + e * e, 0))).toBeLessThan(rho);
  });
});

describe('fisher({ eta: 0 }) is SAM', () => {
  it("gives exactly gradient({ rho })'s ε (bit for bit) for the same context", () => {
    const { variables, g } = setup(GRADS);
    const rho = tf.scalar(0.05);
    const a = tf.tidy(() => fisher({ rho: 0.05, eta: 0 }).compute(perturbationContext(variables, g, rho), {}).epsilon);
    const b = tf.tidy(() => gradient({ rho: 0.05 }).compute(perturbationContext(variables, g, rho), {}).epsilon);
    expect(readEpsilon(a, variables)).toEqual(readEpsilon(b, variables));
    tf.dispose([a, b, g, rho]);
  });
});

describe('fisher(): degenerate inputs', () => {
  it.each([0, 1])('η = %s: a zero gradient gives ε exactly 0 (no NaN)', (eta) => {
    const actual = compute({ eta }, 0.1, SIZES.map((n) => new Array<number>(n).fill(0))).flat();
    for (const e of actual) expect(e === 0).toBe(true);
  });

  it('ρ = 0 gives ε exactly 0', () => {
    for (const e of compute({ rho: 0 }, 0).flat()) expect(e === 0).toBe(true);
  });

  it('a float32-overflowing g² (η g² = ∞) gives a finite ε', () => {
    const grads = GRADS.map((values, i) => (i === 1 ? values.map((x, j) => (j === 0 ? 1e30 : x)) : values));
    const actual = compute({ eta: 1 }, 0.1, grads).flat();
    for (const e of actual) expect(Number.isFinite(e)).toBe(true);
  });

  it('a variable with no gradient gets no entry; an out-of-scope gradient is ignored', () => {
    const variables = makeVariables([[2], [2], [3]], [[0, 0], [0, 0], [0, 0, 0]]);
    created.push(...variables);
    const [a, b, outside] = variables as [tf.Variable, tf.Variable, tf.Variable];
    const grads: NamedTensors = { [a.name]: tf.tensor1d([1, -2]), [outside.name]: tf.tensor1d([100, 100, 100]) };
    const rho = tf.scalar(0.1);
    const epsilon = tf.tidy(() => fisher().compute(perturbationContext([a, b], grads, rho), {}).epsilon);
    expect(Object.keys(epsilon)).toEqual([a.name]);
    expectClose(epsilon[a.name]!.dataSync(), fisherEpsilon64([[1, -2]], 0.1, 1)[0]!);
    tf.dispose([epsilon, grads, rho]);
  });

  it('no clean pass (grads null) throws a FlatminError', () => {
    const variables = makeVariables([[2]], [[1, 2]]);
    created.push(...variables);
    const rho = tf.scalar(0.1);
    expect(() => fisher().compute(perturbationContext(variables, null, rho), {})).toThrow(FlatminError);
    rho.dispose();
  });
});
