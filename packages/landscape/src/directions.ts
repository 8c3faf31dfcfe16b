/**
 * Random directions in weight space, scaled like the weights (Li, Xu, Taylor, Studer & Goldstein,
 * "Visualizing the Loss Landscape of Neural Nets", NeurIPS 2018), in tfjs layout: a filter is an
 * index of the **last axis** (dense kernel [in, out], conv kernel [h, w, in, out]) and its norm is
 * taken over every other axis; a rank-0/1 variable (a bias, a norm scale) is one filter.
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import type { SeededRandom } from '@flatmin/core/kit';

/**
 * How a random direction is scaled against the weights w:
 * - `'filter'` (Li et al. 2018, the default): each filter j of the direction gets the norm of the
 *   weights' filter, d_:,j ← d_:,j · ‖w_:,j‖ / ‖d_:,j‖;
 * - `'layer'`: each variable's direction gets that variable's norm, d ← d · ‖w‖ / ‖d‖;
 * - `'global'`: the whole direction gets the whole weights' norm (seed 002's global normalization);
 * - `'none'`: d ~ N(0, 1) as drawn (the step is then the noise's standard deviation).
 */
export type Normalization = 'filter' | 'layer' | 'global' | 'none';

/** Every {@link Normalization}, in the order the docs list them. */
export const NORMALIZATIONS: readonly Normalization[] = ['filter', 'layer', 'global', 'none'];

/**
 * What a direction does on a rank-0/1 variable (a bias, a norm scale):
 * - `'filter'` (the default, METHODS.md): it is one filter and is normalized like every other one;
 * - `'zero'`: the direction is 0 there (the official code's `--xignore biasbn`);
 * - `'weights'`: the direction is the variable's own value (the official code without `biasbn`).
 */
export type Biases = 'filter' | 'zero' | 'weights';

/** Every {@link Biases} choice. */
export const BIASES: readonly Biases[] = ['filter', 'zero', 'weights'];

/** The official code's guard against a zero filter (‖d_:,j‖ + 1e-10). */
const NORM_GUARD = 1e-10;

/** The axes a filter reduction runs over: all but the last for rank ≥ 2, all of them below. */
function filterAxes(rank: number): number[] {
  return Array.from({ length: rank >= 2 ? rank - 1 : rank }, (_, i) => i);
}

/** The elements in one filter of a variable of `shape`. */
export function filterSize(shape: readonly number[]): number {
  const axes = shape.length >= 2 ? shape.slice(0, -1) : shape;
  return axes.reduce((a, b) => a * b, 1);
}

/** Σ over each group of a ⊙ b, broadcastable against a: per filter, per variable, or over every variable. */
function groupDot(a: readonly tf.Tensor[], b: readonly tf.Tensor[], normalization: Normalization): tf.Tensor[] {
  if (normalization === 'filter') return a.map((x, i) => (x.rank === 0 ? tf.mul(x, b[i]!) : tf.sum(tf.mul(x, b[i]!), filterAxes(x.rank), true)));
  if (normalization === 'layer') return a.map((x, i) => tf.sum(tf.mul(x, b[i]!)));
  const total = tf.addN(a.map((x, i) => tf.sum(tf.mul(x, b[i]!))));
  return a.map(() => total);
}

/** Scale `d` so each group's norm is the weights' group norm ({@link Normalization}). */
export function normalizeDirection(d: readonly tf.Tensor[], w: readonly tf.Tensor[], normalization: Normalization): tf.Tensor[] {
  if (normalization === 'none') return d.map((x) => tf.clone(x));
  const dNorms = groupDot(d, d, normalization).map(tf.sqrt);
  const wNorms = groupDot(w, w, normalization).map(tf.sqrt);
  return d.map((x, i) => tf.mul(x, tf.div(wNorms[i]!, tf.add(dNorms[i]!, NORM_GUARD))));
}

/**
 * Remove from `d2` its projection on `d1` inside every group (filter, variable or all), then give
 * each group back its norm: ⟨d1, d2⟩ = 0 and the normalization is kept. A filter of one element
 * cannot hold two orthogonal directions: there d2 is left as it is (see `cosine` in the results).
 */
export function orthogonalize(d1: readonly tf.Tensor[], d2: readonly tf.Tensor[], normalization: Normalization): tf.Tensor[] {
  const dots = groupDot(d1, d2, normalization);
  const own = groupDot(d1, d1, normalization);
  const before = groupDot(d2, d2, normalization).map(tf.sqrt);
  const projected = d2.map((x, i) => tf.sub(x, tf.mul(tf.div(dots[i]!, tf.add(own[i]!, 1e-30)), d1[i]!)));
  const after = groupDot(projected, projected, normalization).map(tf.sqrt);
  return projected.map((x, i) => {
    if (normalization === 'filter' && filterSize(x.shape) === 1) return tf.clone(d2[i]!);
    return tf.mul(x, tf.div(before[i]!, tf.add(after[i]!, NORM_GUARD)));
  });
}

/** The rank-0/1 rule ({@link Biases}) applied to a drawn direction. */
function applyBiases(d: tf.Tensor, w: tf.Tensor, biases: Biases): tf.Tensor {
  if (w.rank >= 2 || biases === 'filter') return d;
  return biases === 'zero' ? tf.zerosLike(d) : tf.clone(w);
}

/** One Gaussian direction from the generator, shaped like `w`, normalized. Returned tensors are kept (the caller disposes them). */
export function randomDirection(w: readonly tf.Tensor[], random: SeededRandom, normalization: Normalization, biases: Biases): tf.Tensor[] {
  return tf.tidy(() => {
    const drawn = w.map((x) => random.normal(x.shape));
    const normalized = normalizeDirection(drawn, w, normalization);
    return normalized.map((d, i) => (w[i]!.rank >= 2 || biases === 'filter' ? d : applyBiases(d, w[i]!, biases)));
  });
}

/** Two directions for a surface: both normalized; the second orthogonalized against the first when asked. */
export function randomPlane(w: readonly tf.Tensor[], random: SeededRandom, normalization: Normalization, biases: Biases, orthogonal: boolean): [tf.Tensor[], tf.Tensor[]] {
  const first = randomDirection(w, random, normalization, biases);
  const second = randomDirection(w, random, normalization, biases);
  if (!orthogonal) return [first, second];
  const made = tf.tidy(() => orthogonalize(first, second, normalization).map((d, i) => (w[i]!.rank >= 2 || biases === 'filter' ? d : tf.clone(second[i]!))));
  tf.dispose(second);
  return [first, made];
}

/** cos(d1, d2) over every variable together, read to the host. */
export async function cosine(d1: readonly tf.Tensor[], d2: readonly tf.Tensor[]): Promise<number> {
  const value = tf.tidy(() => {
    const dot = tf.addN(d1.map((x, i) => tf.sum(tf.mul(x, d2[i]!))));
    const n1 = tf.sqrt(tf.addN(d1.map((x) => tf.sum(tf.square(x)))));
    const n2 = tf.sqrt(tf.addN(d2.map((x) => tf.sum(tf.square(x)))));
    return tf.div(dot, tf.add(tf.mul(n1, n2), 1e-30));
  });
  const [c] = await value.data();
  value.dispose();
  return c!;
}

/** A list of tensors as plain nested-free arrays (row-major), for JSON results. */
export async function toArrays(list: readonly tf.Tensor[]): Promise<number[][]> {
  return Promise.all(list.map(async (t) => Array.from(await t.data())));
}
