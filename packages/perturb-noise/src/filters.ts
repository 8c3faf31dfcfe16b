/**
 * Per-filter reductions in tfjs layout: a filter is an index of the **last axis** (a dense kernel
 * is [in, out], a conv kernel [h, w, in, out]), reduced over every other axis. A rank-0 or rank-1
 * variable (a bias, a norm scale) is one filter.
 *
 * @module
 */

import { filterNorms as kitFilterNorms, filterSums as kitFilterSums } from '@flatmin/core/kit';
import type * as tf from '@tensorflow/tfjs-core';

/**
 * Σ over each filter of `x`, kept broadcastable to `x` (shape [1, …, 1, out] for rank ≥ 2, a
 * scalar-like [1] / [] otherwise): F_j = Σ_i x_ij. On the cpu and wasm backends one matrix product
 * with a row of ones (their reductions over leading axes are 4–14× slower).
 *
 * @param x the per-element values (e.g. a Fisher estimate), in tfjs layout.
 * @returns the filter sums, broadcastable against `x`.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs';
 * import { filterSums } from '@flatmin/perturb-noise';
 *
 * const sums = filterSums(tf.tensor2d([[1, 2], [3, 4]])); // [[4, 6]]
 * ```
 */
export function filterSums(x: tf.Tensor): tf.Tensor {
  return kitFilterSums(x);
}

/**
 * ‖W_:,j‖₂ for every filter j of `w`, kept broadcastable to `w`: the square root of
 * {@link filterSums} of w².
 *
 * @param w a variable's value, in tfjs layout.
 * @returns the filter norms, broadcastable against `w`.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs';
 * import { filterNorms } from '@flatmin/perturb-noise';
 *
 * const norms = filterNorms(tf.tensor2d([[3, 0], [4, 1]])); // [[5, 1]]
 * const one = filterNorms(tf.tensor1d([3, 4]));             // [5]: a bias is one filter
 * ```
 */
export function filterNorms(w: tf.Tensor): tf.Tensor {
  return kitFilterNorms(w);
}

/**
 * The number of elements in each filter of a variable of `shape`: the product of every axis but
 * the last for rank ≥ 2 (the layer's input size: `in` for a dense kernel, h·w·in for a conv
 * kernel), the size itself for a rank-0/1 variable (one filter).
 *
 * @param shape a variable's shape.
 * @returns n, at least 1.
 *
 * @example
 * ```ts
 * import { filterSize } from '@flatmin/perturb-noise';
 *
 * filterSize([3, 3, 16, 32]); // 144
 * filterSize([32]);           // 32
 * ```
 */
export function filterSize(shape: readonly number[]): number {
  const axes = shape.length >= 2 ? shape.slice(0, -1) : shape;
  return Math.max(1, axes.reduce((a, b) => a * b, 1));
}
