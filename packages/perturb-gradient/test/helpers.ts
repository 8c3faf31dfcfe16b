// Test helpers: float64 references written from the published formulas (independent of
// src/), contexts like the optimizer builds them, and comparison/leak/read utilities.
import * as tf from '@tensorflow/tfjs-core';
import type { ComponentState, NamedTensors, ObserveContext, PerturbationContext } from '@flatmin/core';
import { globalNorm, SeededRandom } from '@flatmin/core/kit';
import { expect } from 'vitest';

export const NORM_EPSILON = 1e-12;

/**
 * ε̂ = argmax_{‖ε‖_p ≤ ρ} εᵀg over the concatenation of `grads` (one global norm), in float64,
 * straight from the paper (1/p + 1/q = 1):
 *   p = 2: ε = ρ g/(‖g‖₂ + 1e-12)
 *   1 < p < ∞: ε_i = ρ sign(g_i)|g_i|^{q−1} / (‖g‖_q^q)^{1/p}
 *   p = ∞: ε = ρ sign(g)
 *   p = 1: ρ sign(g_i)/count on the coordinates where |g_i| = max|g| (0 elsewhere).
 */
export function referenceEpsilon(grads: readonly (readonly number[])[], p: number, rho: number): number[][] {
  const all = grads.flat();
  let f: (g: number) => number;
  if (p === 2) {
    const norm = Math.sqrt(all.reduce((s, g) => s + g * g, 0));
    f = (g) => (rho * g) / (norm + NORM_EPSILON);
  } else if (p === Number.POSITIVE_INFINITY) {
    f = (g) => rho * Math.sign(g);
  } else if (p === 1) {
    const max = Math.max(...all.map(Math.abs));
    const count = all.filter((g) => Math.abs(g) === max).length;
    f = (g) => (Math.abs(g) === max ? (rho * Math.sign(g)) / count : 0);
  } else {
    const q = p / (p - 1);
    const sumQ = all.reduce((s, g) => s + Math.abs(g) ** q, 0);
    const denominator = sumQ ** (1 / p);
    f = (g) => (denominator === 0 ? 0 : (rho * Math.sign(g) * Math.abs(g) ** (q - 1)) / denominator);
  }
  return grads.map((values) => values.map(f));
}

/** ‖x‖_p of the concatenation, float64. */
export function pNorm(values: readonly number[], p: number): number {
  if (p === Number.POSITIVE_INFINITY) return Math.max(...values.map(Math.abs));
  return values.reduce((s, x) => s + Math.abs(x) ** p, 0) ** (1 / p);
}

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

let variableCounter = 0;

/** Fresh variables (unique names: tfjs registers variable names globally). */
export function makeVariables(shapes: readonly (readonly number[])[], prefix = 'v'): tf.Variable[] {
  return shapes.map((shape) => {
    variableCounter += 1;
    return tf.variable(tf.zeros(shape as number[]), true, `pg-test/${prefix}${variableCounter}`);
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
export function perturbationContext(
  variables: readonly tf.Variable[],
  grads: NamedTensors | null,
  rho: tf.Scalar,
  step = 0,
): PerturbationContext {
  // gradNorm as the optimizer provides it: the global norm of `grads`, computed on demand.
  return {
    step,
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
      throw new Error('not used by gradient()');
    },
    gradNorm: () => globalNorm(variables.flatMap((v) => (grads?.[v.name] === undefined ? [] : [grads[v.name]!]))),
  };
}

/** An observe context as the optimizer builds it after the adversarial pass. */
export function observeContext(
  variables: readonly tf.Variable[],
  gradsAdv: NamedTensors,
  rho: tf.Scalar,
  grads: NamedTensors | null = null,
  step = 0,
): ObserveContext {
  return { step, random: new SeededRandom(0), normEpsilon: NORM_EPSILON, learningRate: 0.1, variables, grads, gradsAdv, rho };
}

/** Expect `actual` to match `expected` element-wise to `rtol` relative (exact for expected zeros). */
export function expectClose(actual: ArrayLike<number>, expected: readonly number[], rtol = 1e-5): void {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i]!;
    const e = expected[i]!;
    if (!(Math.abs(a - e) <= rtol * Math.abs(e))) {
      throw new Error(`element ${i}: got ${a}, expected ${e} (rtol ${rtol})`);
    }
  }
}

/** Host values of ε for each variable (fails when an entry is missing). */
export function readEpsilon(epsilon: NamedTensors, variables: readonly tf.Variable[]): number[][] {
  return variables.map((variable) => {
    const t = epsilon[variable.name];
    if (t === undefined) throw new Error(`no epsilon for ${variable.name}`);
    expect(t.shape).toEqual(variable.shape);
    return Array.from(t.dataSync());
  });
}

/** Dispose the tensors of `previous` that `next` no longer holds (what the optimizer does with component state). */
export function disposeReplaced(previous: ComponentState, next: ComponentState): void {
  const kept = new Set(Object.values(next));
  for (const value of Object.values(previous)) {
    if (typeof value !== 'number' && !kept.has(value)) value.dispose();
  }
}

/**
 * Run `fn` while counting reads from the device. Stricter than counting host reads only: it
 * wraps `readSync`, `read` and `readToGPU` both on the engine (what `dataSync`/`data`/`array`
 * go through) and on the backend (which also sees the cpu kernels' own reads), so a real
 * read counts more than once — tests only assert zero, or more than zero.
 */
export function countBackendReads<T>(fn: () => T): { result: T; reads: number } {
  const targets = [tf.engine(), tf.backend()] as unknown as Record<string, unknown>[];
  const restore: (() => void)[] = [];
  let reads = 0;
  for (const target of targets) {
    for (const name of ['readSync', 'read', 'readToGPU']) {
      const original = target[name];
      if (typeof original !== 'function') continue;
      const hadOwn = Object.hasOwn(target, name);
      target[name] = (...args: unknown[]) => {
        reads += 1;
        return (original as (...a: unknown[]) => unknown).apply(target, args);
      };
      restore.push(() => {
        if (hadOwn) target[name] = original;
        else delete target[name];
      });
    }
  }
  try {
    return { result: fn(), reads };
  } finally {
    for (const undo of restore.reverse()) undo();
  }
}
