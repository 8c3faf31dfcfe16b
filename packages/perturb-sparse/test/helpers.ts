// Test helpers: float64 references written from METHODS.md (independent of src/), and the
// random inputs the optimizer's seeded generator hands the masks, reproduced in the same order.
import * as tf from '@tensorflow/tfjs-core';
import type { ComponentState, NamedTensors } from '@flatmin/core';
import { SeededRandom } from '@flatmin/core/kit';
import { axpy, flatten, type LinearParams, type LinearProblem, linearGrad64, unflatten } from '@flatmin/test-kit';
import type { Mask, MaskContext } from '../src/index.js';

export const LR = 0.05;
export const NORM_EPSILON = 1e-12;

/** ‖v‖₂ in float64. */
export function norm(v: readonly number[]): number {
  return Math.sqrt(v.reduce((s, x) => s + x * x, 0));
}

/** Indices of the k largest entries of `scores` (ties: lower index first), float64. */
export function topIndices(scores: readonly number[], k: number): number[] {
  return scores
    .map((value, index) => ({ value, index }))
    .sort((a, b) => b.value - a.value || a.index - b.index)
    .slice(0, k)
    .map((e) => e.index);
}

/** A 0/1 vector of `size` with ones at `indices`. */
export function ones(indices: readonly number[], size: number): number[] {
  const out = new Array<number>(size).fill(0);
  for (const i of indices) out[i] = 1;
  return out;
}

/**
 * SAM's ε restricted by m (float64, over the flattened parameters), from METHODS.md:
 * 'masked': ε = s·ρ (m⊙g)/(‖m⊙g‖ + 1e-12); 'full': ε = s·m⊙ρ g/(‖g‖ + 1e-12); s the mask's scale.
 */
export function sparseSamEpsilon(g: readonly number[], m: readonly number[], rho: number, normalize: 'masked' | 'full', scale = 1): number[] {
  const masked = g.map((x, i) => x * m[i]!);
  const n = normalize === 'masked' ? norm(masked) : norm(g);
  return masked.map((x) => (scale * rho * x) / (n + NORM_EPSILON));
}

/** One SGD step of SAM with ε from `epsilon(g)` (float64). */
export function samStep(p: LinearProblem, w: LinearParams, epsilon: (g: number[]) => number[]): LinearParams {
  const g = flatten(linearGrad64(p, w));
  const gAdv = linearGrad64(p, axpy(1, unflatten(p, epsilon(g)), w));
  return axpy(-LR, gAdv, w);
}

/** The host uniforms `new SeededRandom(seed)` draws, and its device draws read back (what the masks get). */
export class ReplayRandom {
  private readonly random: SeededRandom;
  constructor(seed: number) {
    this.random = new SeededRandom(seed);
  }
  uniform(): number {
    return this.random.uniform();
  }
  uniformTensor(size: number): number[] {
    const t = this.random.uniformTensor([size]);
    const values = Array.from(t.dataSync());
    t.dispose();
    return values;
  }
}

/**
 * SSAM-D in float64 (METHODS.md): init m = top k of uniforms; at every refresh drop the n kept
 * coordinates with the smallest |g| and grow n at random among the ones m did not keep.
 */
export function dynamicRefresh64(m: readonly number[], g: readonly number[], count: number, uniforms: readonly number[]): number[] {
  const keptIdx = m.flatMap((v, i) => (v === 1 ? [i] : []));
  const drop = keptIdx
    .map((index) => ({ index, a: Math.abs(g[index]!) }))
    .sort((x, y) => x.a - y.a || x.index - y.index)
    .slice(0, count)
    .map((e) => e.index);
  const free = m.flatMap((v, i) => (v === 0 ? [i] : []));
  const grow = topIndices(
    free.map((i) => uniforms[i]!),
    count,
  ).map((j) => free[j]!);
  const next = [...m];
  for (const i of drop) next[i] = 0;
  for (const i of grow) next[i] = 1;
  return next;
}

let counter = 0;

/** Fresh variables of `shapes` (unique names). */
export function makeVariables(shapes: readonly (readonly number[])[]): tf.Variable[] {
  return shapes.map((shape) => {
    counter += 1;
    return tf.variable(tf.zeros(shape as number[]), true, `sparse-test/v${counter}`);
  });
}

/** Deterministic distinct values in ±[0.1, 2.1) (no ties in |g|), rounded to float32. */
export function testValues(count: number, seed: number): number[] {
  let s = seed >>> 0 || 1;
  const next = () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296;
  };
  return Array.from({ length: count }, () => Math.fround((next() < 0.5 ? -1 : 1) * (0.1 + 2 * next())));
}

/** Named tensors for `variables` from flat values (in order). */
export function named(variables: readonly tf.Variable[], flat: readonly number[]): NamedTensors {
  const out: NamedTensors = {};
  let offset = 0;
  for (const v of variables) {
    out[v.name] = tf.tensor(flat.slice(offset, offset + v.size) as number[], v.shape, 'float32');
    offset += v.size;
  }
  return out;
}

/** A mask context as `sparse` builds it. */
export function maskContext(variables: readonly tf.Variable[], grads: NamedTensors | null, step: number, random: SeededRandom): MaskContext {
  return { step, random, normEpsilon: NORM_EPSILON, learningRate: 0.1, variables, grads };
}

/** Run `mask.select` like the optimizer does (in a tidy; the old state's replaced tensors disposed). */
export function selectStep(
  mask: Mask,
  variables: readonly tf.Variable[],
  grads: NamedTensors,
  step: number,
  random: SeededRandom,
  state: ComponentState,
): { flat: number[]; state: ComponentState } {
  const out = tf.tidy(() => {
    const selection = mask.select(maskContext(variables, grads, step, random), state);
    const masks = variables.map((v) => {
      const m = selection.masks[v.name];
      if (m === undefined || m === true) return tf.ones(v.shape);
      if (m === false) return tf.zeros(v.shape);
      return tf.clone(m);
    });
    return { masks, state: selection.state ?? state };
  });
  const kept = new Set(Object.values(out.state));
  for (const value of Object.values(state)) if (typeof value !== 'number' && !kept.has(value)) value.dispose();
  const flat = out.masks.flatMap((m) => Array.from(m.dataSync()));
  tf.dispose(out.masks);
  return { flat, state: out.state };
}

/** Dispose a state's tensors. */
export function disposeState(state: ComponentState): void {
  for (const value of Object.values(state)) if (typeof value !== 'number') value.dispose();
}
