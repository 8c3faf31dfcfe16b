// Test helpers: float64 references written from METHODS.md's formulas (independent of src/), the
// seeded draws the optimizer makes, contexts as the optimizer builds them, and read counting.
import * as tf from '@tensorflow/tfjs-core';
import type { NamedTensors, PerturbationContext } from '@flatmin/core';
import { SeededRandom } from '@flatmin/core/kit';
import { type LinearParams, type LinearProblem, flatten, linearGrad64, linearLoss64, unflatten } from '@flatmin/test-kit';
import { expect } from 'vitest';
import { fillNormal } from '../src/normal.js';

export type Scale = 'standard' | 'matrix' | 'element' | 'filter';

/**
 * The standard-normal draws one noise draw of the optimizer makes: one seed from its generator, then
 * the package's one-buffer generator over all the shapes, in order (host values).
 */
export function draws(random: SeededRandom, shapes: readonly (readonly number[])[]): number[][] {
  const sizes = shapes.map((shape) => shape.reduce((a: number, b: number) => a * b, 1));
  const buffer = new Float32Array(sizes.reduce((a, b) => a + b, 0));
  fillNormal(buffer, random.nextSeed());
  let offset = 0;
  return sizes.map((size) => {
    offset += size;
    return Array.from(buffer.subarray(offset - size, offset));
  });
}

/** Row-major flat values of a tfjs-layout tensor → the filter index (last axis) of each element. */
function filterOf(index: number, shape: readonly number[]): number {
  if (shape.length < 2) return 0;
  return index % shape[shape.length - 1]!;
}

/** Σ over each filter (last axis; rank < 2: one filter) of `x`, expanded back to every element, float64. */
export function filterSum64(x: readonly number[], shape: readonly number[]): number[] {
  const sums = new Map<number, number>();
  x.forEach((v, i) => {
    sums.set(filterOf(i, shape), (sums.get(filterOf(i, shape)) ?? 0) + v);
  });
  return x.map((_, i) => sums.get(filterOf(i, shape))!);
}

/** ‖W_:,j‖ for the filter of every element, float64. */
export function filterNorm64(w: readonly number[], shape: readonly number[]): number[] {
  return filterSum64(w.map((v) => v * v), shape).map(Math.sqrt);
}

/** Elements per filter n (the layer's input size for rank ≥ 2; the size for rank < 2). */
export function filterSize64(shape: readonly number[]): number {
  return (shape.length >= 2 ? shape.slice(0, -1) : shape).reduce((a, b) => a * b, 1) || 1;
}

/** The noise scale S of every element, float64 (METHODS.md: Gaussian noise). */
export function scale64(w: readonly number[], shape: readonly number[], scale: Scale, sigma: number): number[] {
  switch (scale) {
    case 'standard':
      return w.map(() => sigma);
    case 'matrix': {
      const frobenius = Math.sqrt(w.reduce((s, v) => s + v * v, 0));
      return w.map(() => sigma * frobenius);
    }
    case 'element':
      return w.map((v) => sigma * Math.abs(v));
    case 'filter':
      return filterNorm64(w, shape).map((n) => sigma * n);
  }
}

/** The linear model's shapes, in the order the optimizer perturbs them: W [d, k], b [k]. */
export function linearShapes(p: LinearProblem): number[][] {
  return [[p.d, p.k], [p.k]];
}

/** ε of the linear model from per-variable scales S and draws Z, as LinearParams. */
export function linearEpsilon(p: LinearProblem, z: number[][], s: number[][]): LinearParams {
  return unflatten(p, [...z[0]!.map((v, i) => v * s[0]![i]!), ...z[1]!.map((v, i) => v * s[1]![i]!)]);
}

/** The flat values of W and b. */
export function linearValues(p: LinearProblem, params: LinearParams): number[][] {
  const flat = flatten(params);
  return [flat.slice(0, p.d * p.k), flat.slice(p.d * p.k)];
}

/** One SGD step w ← w − η ∇L(w + ε) in float64. */
export function sgdAt64(p: LinearProblem, w: LinearParams, epsilon: LinearParams, lr: number, rows?: number[]): LinearParams {
  const at = unflatten(p, flatten(w).map((v, i) => v + flatten(epsilon)[i]!));
  const g = linearGrad64(p, at, rows);
  return unflatten(p, flatten(w).map((v, i) => v - lr * flatten(g)[i]!));
}

/** L(w + ε) in float64. */
export function lossAt64(p: LinearProblem, w: LinearParams, epsilon: LinearParams): number {
  return linearLoss64(p, unflatten(p, flatten(w).map((v, i) => v + flatten(epsilon)[i]!)));
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

let counter = 0;

/** A fresh variable holding `values` (unique name). */
export function variableOf(values: readonly number[], shape: readonly number[]): tf.Variable {
  counter += 1;
  return tf.variable(tf.tensor(values as number[], shape as number[], 'float32'), true, `pn-test/v${counter}`);
}

/** A perturbation context as the optimizer builds it (no clean pass unless `grads` is given). */
export function contextOf(
  variables: readonly tf.Variable[],
  options: { seed?: number; rho: tf.Scalar; step?: number; grads?: NamedTensors | null; evaluate?: (offsets: NamedTensors) => tf.Scalar },
): PerturbationContext {
  return {
    step: options.step ?? 0,
    random: new SeededRandom(options.seed ?? 0),
    normEpsilon: 1e-12,
    learningRate: 0.1,
    variables,
    grads: options.grads ?? null,
    loss: null,
    objective: { perSample: null, parts: null },
    rho: options.rho,
    gradNorm: () => {
      throw new Error('noise perturbations do not use ‖g‖');
    },
    gradientOf: () => {
      throw new Error('gradientOf not expected');
    },
    evaluate:
      options.evaluate ??
      (() => {
        throw new Error('evaluate not expected');
      }),
  };
}

/** Expect `actual` to match `expected` element-wise to `rtol` relative (absolute `atol` near 0). */
export function expectClose(actual: ArrayLike<number>, expected: readonly number[], rtol = 1e-5, atol = 1e-12): void {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i]!;
    const e = expected[i]!;
    if (!(Math.abs(a - e) <= rtol * Math.abs(e) + atol)) throw new Error(`element ${i}: got ${a}, expected ${e} (rtol ${rtol})`);
  }
}

/** Mean and standard deviation of a sample. */
export function spread(values: readonly number[]): { mean: number; std: number } {
  const mean = values.reduce((s, v) => s + v, 0) / values.length;
  const variance = values.reduce((s, v) => s + (v - mean) ** 2, 0) / values.length;
  return { mean, std: Math.sqrt(variance) };
}

/**
 * Run `fn` while counting reads from the device (engine and backend `readSync`/`read`/`readToGPU`):
 * stricter than host reads only, so tests assert zero or more than zero.
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
