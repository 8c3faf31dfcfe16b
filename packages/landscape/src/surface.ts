/**
 * The 2-D loss landscape L(w + aV₁ + bV₂) over a grid, with two filter-normalized, orthogonal
 * directions (Li et al., NeurIPS 2018).
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
  generator,
  given,
  type LossFn,
  linspace,
  type ProgressCallback,
  withWeights,
} from './common.js';
import { BIASES, type Biases, cosine, NORMALIZATIONS, type Normalization, normalizeDirection, orthogonalize, randomPlane, toArrays } from './directions.js';

/** Options of {@link surfaceLandscape}. */
export interface SurfaceOptions {
  /** Grid points along each axis (default 21; a whole number ≥ 2): steps² forward passes. */
  steps?: number;
  /** [min, max] of both a and b (default [−1, 1]). */
  range?: [number, number];
  /** How the directions are scaled against the weights (default `'filter'`). */
  normalization?: Normalization;
  /** What the directions do on rank-0/1 variables (default `'filter'`). */
  biases?: Biases;
  /** Make V₂ orthogonal to V₁ inside every filter (so globally too), keeping its filter norms (default true). */
  orthogonalize?: boolean;
  /** Two directions of your own, [V₁, V₂] (each one tensor per variable), normalized by `normalization` (and orthogonalized if asked); default Gaussian draws from the seed. */
  directions?: [tf.Tensor[], tf.Tensor[]];
  /** Seed of the random directions (default 0). */
  seed?: number;
  /** Include V₁ and V₂ (`vectors`, one flat array per variable each) in the result (default false). */
  keepDirections?: boolean;
  /** Called after each loss evaluation with (done, total): a 51 × 51 grid is 2,601 forward passes. */
  onProgress?: ProgressCallback;
}

/** What {@link surfaceLandscape} resolves to (plain JSON). */
export interface SurfaceResult {
  /** Always `'surface'`. */
  kind: 'surface';
  /** The grid's positions along V₁. */
  a: number[];
  /** The grid's positions along V₂. */
  b: number[];
  /** loss[j][i] = L(w + a[i]·V₁ + b[j]·V₂): one row per b. */
  loss: number[][];
  /** L(w). */
  base: number;
  /** cos(V₁, V₂) over every variable (≈ 0 with `orthogonalize`, unless some filter has a single element). */
  cosine: number;
  /** The normalization used. */
  normalization: Normalization;
  /** The bias handling used. */
  biases: Biases;
  /** Whether V₂ was orthogonalized against V₁. */
  orthogonal: boolean;
  /** The seed used. */
  seed: number;
  /** [V₁, V₂], each one flat (row-major) array per variable, with `keepDirections`. */
  vectors?: [number[][], number[][]];
}

const KEYS = ['steps', 'range', 'normalization', 'biases', 'orthogonalize', 'directions', 'seed', 'keepDirections', 'onProgress'] as const;

function checkDirections(options: object, variables: readonly tf.Variable[], where: string): [tf.Tensor[], tf.Tensor[]] | undefined {
  const value = (options as Record<string, unknown>)['directions'];
  if (value === undefined) return undefined;
  const ok =
    Array.isArray(value) &&
    value.length === 2 &&
    value.every((list) => Array.isArray(list) && list.length === variables.length && list.every((t, i) => t instanceof tf.Tensor && !t.isDisposed && tf.util.arraysEqual(t.shape, variables[i]!.shape)));
  if (!ok) throw new FlatminConfigError('directions', value, `a pair [V₁, V₂], each an array of ${variables.length} tensors with the variables' shapes`, where);
  return value as [tf.Tensor[], tf.Tensor[]];
}

/**
 * The loss over a plane through the weights, L(w + aV₁ + bV₂) on a steps × steps grid (Li, Xu,
 * Taylor, Studer & Goldstein, "Visualizing the Loss Landscape of Neural Nets", NeurIPS 2018):
 * V₁, V₂ Gaussian, filter-normalized (every filter — an index of the last axis in tfjs layout —
 * gets the norm of the weights' filter) and, unlike the official code (which relies on two random
 * directions being nearly orthogonal in high dimension), V₂ is made orthogonal to V₁ inside each
 * filter and rescaled to its filter norm, so the directions are exactly orthogonal and still
 * filter-normalized. One forward pass per grid point, on the batch the loss closes over (use
 * held-out data); `onProgress` reports long grids. The variables are left bit-identical.
 *
 * @param loss one forward pass on a fixed batch, returning a scalar.
 * @param variables the weights to move.
 * @param options {@link SurfaceOptions}.
 * @returns {@link SurfaceResult}, ready for {@link plotSurface}.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs';
 * import { surfaceLandscape } from '@flatmin/landscape';
 *
 * const w = tf.variable(tf.tensor2d([[1, -1], [2, 0.5]]));
 * const surface = await surfaceLandscape(() => tf.sum(tf.square(w)), [w], { steps: 11, seed: 1 });
 * console.log(surface.loss.length, surface.loss[0].length); // 11 11
 * ```
 */
export function surfaceLandscape(loss: LossFn, variables: tf.Variable[], options?: SurfaceOptions): Promise<SurfaceResult> {
  const where = 'surfaceLandscape';
  const checked = checkOptions(options, KEYS, where);
  const vars = checkTarget(loss, variables, where);
  const own = checkDirections(checked, vars, where);
  const steps = checkCount(checked, 'steps', 21, 2, where);
  const range = checkRange(checked, 'range', [-1, 1], where);
  const normalization = checkChoice('normalization', given(checked, 'normalization', 'filter'), NORMALIZATIONS, where);
  const biases = checkChoice('biases', given(checked, 'biases', 'filter'), BIASES, where);
  const orthogonal = checkBoolean(checked, 'orthogonalize', true, where);
  const seed = checkSeed(checked, where);
  const keepDirections = checkBoolean(checked, 'keepDirections', false, where);
  const onProgress = checkCallback(checked, 'onProgress', where);

  return withWeights(vars, async (weights) => {
    let planes: [tf.Tensor[], tf.Tensor[]];
    if (own === undefined) planes = randomPlane(weights.start, generator(seed), normalization, biases, orthogonal);
    else {
      planes = tf.tidy(() => {
        const v1 = normalizeDirection(own[0], weights.start, normalization);
        const v2 = normalizeDirection(own[1], weights.start, normalization);
        return [v1, orthogonal ? orthogonalize(v1, v2, normalization) : v2] as [tf.Tensor[], tf.Tensor[]];
      });
    }
    const [v1, v2] = planes;
    try {
      const a = linspace(range, steps);
      const b = linspace(range, steps);
      const total = steps * steps + 1;
      const grid: number[][] = [];
      let done = 0;
      for (const bj of b) {
        const row: number[] = [];
        for (const ai of a) {
          weights.moveTo([
            [ai, v1],
            [bj, v2],
          ]);
          row.push(await weights.loss(loss, where));
          done += 1;
          onProgress?.(done, total);
        }
        grid.push(row);
      }
      weights.moveTo([]);
      const base = await weights.loss(loss, where);
      onProgress?.(total, total);
      const result: SurfaceResult = { kind: 'surface', a, b, loss: grid, base, cosine: await cosine(v1, v2), normalization, biases, orthogonal, seed };
      if (keepDirections) result.vectors = [await toArrays(v1), await toArrays(v2)];
      return result;
    } finally {
      tf.dispose([...v1, ...v2]);
    }
  });
}
