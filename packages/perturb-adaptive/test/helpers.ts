// Contexts like the optimizer builds them, deterministic test values, and read/compare utilities.
import * as tf from '@tensorflow/tfjs-core';
import type { NamedTensors, PerturbationContext } from '@flatmin/core';
import { globalNorm, SeededRandom } from '@flatmin/core/kit';
import { NORM_EPSILON } from './reference.js';

/** Deterministic values in ±[0.1, 2], rounded to float32 (what the device holds). */
export function testValues(count: number, seed: number): number[] {
  let s = seed >>> 0 || 1;
  const next = () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296;
  };
  return Array.from({ length: count }, () => {
    const magnitude = 0.1 + 1.9 * next();
    return Math.fround(next() < 0.5 ? -magnitude : magnitude);
  });
}

let counter = 0;

/** Fresh variables holding `values` (unique names: tfjs registers variable names globally). */
export function makeVariables(shapes: readonly (readonly number[])[], values: readonly (readonly number[])[], names?: readonly string[]): tf.Variable[] {
  return shapes.map((shape, i) => {
    counter += 1;
    const name = `pa-test${counter}/${names?.[i] ?? `v${i}`}`;
    return tf.variable(tf.tensor(values[i] as number[], shape as number[], 'float32'), true, name);
  });
}

/** Named tensors for `variables` from flat value lists. */
export function namedTensors(variables: readonly tf.Variable[], values: readonly (readonly number[])[]): NamedTensors {
  const out: NamedTensors = {};
  variables.forEach((variable, i) => {
    out[variable.name] = tf.tensor(values[i] as number[], variable.shape, 'float32');
  });
  return out;
}

/** A perturbation context as the optimizer builds it. */
export function perturbationContext(variables: readonly tf.Variable[], grads: NamedTensors | null, rho: tf.Scalar): PerturbationContext {
  return {
    step: 0,
    random: new SeededRandom(0),
    normEpsilon: NORM_EPSILON,
    learningRate: 0.1,
    variables,
    grads,
    loss: null,
    objective: { perSample: null, parts: null },
    rho,
    gradientOf: () => {
      throw new Error('gradientOf not expected');
    },
    evaluate: () => {
      throw new Error('not used');
    },
    gradNorm: () => globalNorm(variables.flatMap((v) => (grads?.[v.name] === undefined ? [] : [grads[v.name]!]))),
  };
}

/** Host values of ε for each variable (fails when an entry is missing or has the wrong shape). */
export function readEpsilon(epsilon: NamedTensors, variables: readonly tf.Variable[]): number[][] {
  return variables.map((variable) => {
    const t = epsilon[variable.name];
    if (t === undefined) throw new Error(`no epsilon for ${variable.name}`);
    if (t.shape.join(',') !== variable.shape.join(',')) throw new Error(`epsilon of ${variable.name} has shape ${t.shape}`);
    return Array.from(t.dataSync());
  });
}

/** Throw unless `actual` matches `expected` element-wise to `rtol` relative (exact for expected zeros). */
export function expectClose(actual: ArrayLike<number>, expected: readonly number[], rtol = 1e-5): void {
  if (actual.length !== expected.length) throw new Error(`length ${actual.length}, expected ${expected.length}`);
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i]!;
    const e = expected[i]!;
    if (!(Math.abs(a - e) <= rtol * Math.abs(e))) throw new Error(`element ${i}: got ${a}, expected ${e} (rtol ${rtol})`);
  }
}
