/**
 * The 1-D loss landscape L(w + sV) along a filter-normalized random direction (Li et al., NeurIPS
 * 2018), or along the segment to a second solution (Goodfellow, Vinyals & Saxe, ICLR 2015).
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { FlatminConfigError } from '@flatmin/core';
import { checkOptions } from '@flatmin/core/kit';
import {
  checkBoolean,
  checkCallback,
  checkChoice,
  checkCount,
  checkRange,
  checkSeed,
  checkTarget,
  checkTensors,
  generator,
  given,
  type LossFn,
  linspace,
  type ProgressCallback,
  withWeights,
} from './common.js';
import { BIASES, type Biases, NORMALIZATIONS, type Normalization, normalizeDirection, randomDirection, toArrays } from './directions.js';

/** Options of {@link lineLandscape}. */
export interface LineOptions {
  /** Points on the line (default 51; a whole number ≥ 2). */
  steps?: number;
  /** [min, max] of s (default [−1, 1]; with `to`, [−0.5, 1.5]). */
  range?: [number, number];
  /** How the direction is scaled against the weights (default `'filter'`; only `'none'` with `to`). */
  normalization?: Normalization;
  /** What the direction does on rank-0/1 variables (default `'filter'`). */
  biases?: Biases;
  /** A direction of your own (one tensor per variable, same shapes), normalized by `normalization`; default a Gaussian draw from the seed. */
  direction?: tf.Tensor[];
  /** A second solution w₂ (one tensor per variable): the line is w + s(w₂ − w), so s = 0 is w and s = 1 is w₂. */
  to?: tf.Tensor[];
  /** Seed of the random direction (default 0). */
  seed?: number;
  /** Include the direction used (`direction`, one flat array per variable) in the result (default false). */
  keepDirection?: boolean;
  /** Called after each loss evaluation with (done, total). */
  onProgress?: ProgressCallback;
}

/** What {@link lineLandscape} resolves to (plain JSON; `JSON.stringify` keeps all of it). */
export interface LineResult {
  /** Always `'line'`. */
  kind: 'line';
  /** The positions s along the direction. */
  s: number[];
  /** L(w + s·V) at each s. */
  loss: number[];
  /** L(w), at s = 0. */
  base: number;
  /** `'random'`, `'given'` or `'interpolation'` (with `to`). */
  direction: 'random' | 'given' | 'interpolation';
  /** The normalization used. */
  normalization: Normalization;
  /** The bias handling used. */
  biases: Biases;
  /** The seed used. */
  seed: number;
  /** The direction V, one flat (row-major) array per variable, with `keepDirection`. */
  vector?: number[][];
}

const KEYS = ['steps', 'range', 'normalization', 'biases', 'direction', 'to', 'seed', 'keepDirection', 'onProgress'] as const;

/**
 * The loss along a line through the weights, L(w + sV) for s on a grid: V a Gaussian direction,
 * filter-normalized (Li, Xu, Taylor, Studer & Goldstein, "Visualizing the Loss Landscape of Neural
 * Nets", NeurIPS 2018: every filter of V has the norm of the weights' filter, in tfjs layout the
 * last axis), or your own direction, or — with `to` — the segment from w (s = 0) to a second
 * solution w₂ (s = 1), V = w₂ − w (Goodfellow et al., ICLR 2015). One forward pass per point, on
 * the batch the loss closes over (use held-out data). The variables are left bit-identical.
 *
 * @param loss one forward pass on a fixed batch, returning a scalar.
 * @param variables the weights to move.
 * @param options {@link LineOptions}.
 * @returns {@link LineResult}: `{ s, loss, ... }`, ready for {@link plotLine}.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs';
 * import { lineLandscape } from '@flatmin/landscape';
 *
 * const w = tf.variable(tf.tensor2d([[1, -1], [2, 0.5]]));
 * const line = await lineLandscape(() => tf.sum(tf.square(w)), [w], { seed: 1, steps: 21 });
 * console.log(line.s.length, line.loss.length); // 21 21
 * ```
 */
export function lineLandscape(loss: LossFn, variables: tf.Variable[], options?: LineOptions): Promise<LineResult> {
  const where = 'lineLandscape';
  const checked = checkOptions(options, KEYS, where);
  const vars = checkTarget(loss, variables, where);
  const to = checkTensors(checked, 'to', vars, where);
  const own = checkTensors(checked, 'direction', vars, where);
  if (to !== undefined && own !== undefined) throw new FlatminConfigError('direction', 'a direction', 'either `direction` or `to`, not both', where);
  const steps = checkCount(checked, 'steps', 51, 2, where);
  const range = checkRange(checked, 'range', to === undefined ? [-1, 1] : [-0.5, 1.5], where);
  const normalization = checkChoice('normalization', given(checked, 'normalization', to === undefined ? 'filter' : 'none'), NORMALIZATIONS, where);
  if (to !== undefined && normalization !== 'none') throw new FlatminConfigError('normalization', normalization, "'none' with `to` (the line is w + s(w₂ − w))", where);
  const biases = checkChoice('biases', given(checked, 'biases', 'filter'), BIASES, where);
  const seed = checkSeed(checked, where);
  const keepDirection = checkBoolean(checked, 'keepDirection', false, where);
  const onProgress = checkCallback(checked, 'onProgress', where);

  return withWeights(vars, async (weights) => {
    const vector = tf.tidy(() => {
      if (to !== undefined) return to.map((t, i) => tf.sub(t, weights.start[i]!));
      if (own !== undefined) return normalizeDirection(own, weights.start, normalization);
      return randomDirection(weights.start, generator(seed), normalization, biases);
    });
    try {
      const s = linspace(range, steps);
      const values: number[] = [];
      for (const [i, si] of s.entries()) {
        weights.moveTo([[si, vector]]);
        values.push(await weights.loss(loss, where));
        onProgress?.(i + 1, steps + 1);
      }
      weights.moveTo([]);
      const base = await weights.loss(loss, where);
      onProgress?.(steps + 1, steps + 1);
      const result: LineResult = {
        kind: 'line',
        s,
        loss: values,
        base,
        direction: to !== undefined ? 'interpolation' : own !== undefined ? 'given' : 'random',
        normalization,
        biases,
        seed,
      };
      if (keepDirection) result.vector = await toArrays(vector);
      return result;
    } finally {
      tf.dispose(vector);
    }
  });
}
