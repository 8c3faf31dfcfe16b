/**
 * Average-case and worst-case flatness over random filter-normalized directions (seed 002,
 * "Describe Flat"; directions as in Li et al., NeurIPS 2018).
 *
 * @module
 */
import type * as tf from '@tensorflow/tfjs-core';
import { checkOptions } from '@flatmin/core/kit';
import { BIASES, type Biases, NORMALIZATIONS, type Normalization, randomDirection } from './directions.js';
import { checkCallback, checkChoice, checkCount, checkNumber, checkSeed, checkTarget, generator, given, type LossFn, type ProgressCallback, withWeights } from './common.js';

/** Options of {@link flatness}. */
export interface FlatnessOptions {
  /** M, the number of random directions (default 10; a whole number ≥ 1). */
  samples?: number;
  /** s, the step along each direction: w + s·V (default 0.05; > 0). With `'filter'` every filter moves by s·‖w_:,j‖. */
  radius?: number;
  /** How V is scaled against the weights (default `'filter'`). */
  normalization?: Normalization;
  /** What V does on biases and other rank-0/1 variables (default `'filter'`: one filter each). */
  biases?: Biases;
  /** Seed of the measurement's own generator (default 0; a whole number ≥ 0). */
  seed?: number;
  /** Called after each loss evaluation with (done, total). */
  onProgress?: ProgressCallback;
}

/** What {@link flatness} resolves to (plain JSON). */
export interface FlatnessResult {
  /** φ_avg = (1/M) Σᵢ [L(w + sVᵢ) − L(w)]. */
  average: number;
  /** φ_worst = maxᵢ [L(w + sVᵢ) − L(w)] over the same draws. */
  worst: number;
  /** L(w). */
  base: number;
  /** Each draw's increase L(w + sVᵢ) − L(w), in draw order. */
  increases: number[];
  /** The settings used: M. */
  samples: number;
  /** The radius s used. */
  radius: number;
  /** The normalization used. */
  normalization: Normalization;
  /** The bias handling used. */
  biases: Biases;
  /** The seed used. */
  seed: number;
}

const KEYS = ['samples', 'radius', 'normalization', 'biases', 'seed', 'onProgress'] as const;

/**
 * Average-case and worst-case flatness of the loss around the current weights:
 * φ_avg = E_V[L(w + sV) − L(w)] estimated over M draws of V ~ N(0, I), filter-normalized
 * (Li et al., "Visualizing the Loss Landscape of Neural Nets", NeurIPS 2018), and
 * φ_worst = the largest of the same M increases (the sampled stand-in for the sharpness of
 * Keskar et al., ICLR 2017). One forward pass per draw plus one at w; the variables are left
 * bit-identical.
 *
 * @param loss one forward pass on a fixed (held-out) batch, returning a scalar.
 * @param variables the weights to move (e.g. `model.trainableWeights.map((w) => w.read())`).
 * @param options {@link FlatnessOptions}.
 * @returns {@link FlatnessResult}.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs';
 * import { flatness } from '@flatmin/landscape';
 *
 * const w = tf.variable(tf.tensor1d([1, 2]));
 * const loss = () => tf.sum(tf.square(w));
 * const { average, worst } = await flatness(loss, [w], { samples: 8, radius: 0.1, seed: 1 });
 * ```
 */
export function flatness(loss: LossFn, variables: tf.Variable[], options?: FlatnessOptions): Promise<FlatnessResult> {
  const where = 'flatness';
  const checked = checkOptions(options, KEYS, where);
  const samples = checkCount(checked, 'samples', 10, 1, where);
  const radius = checkNumber('radius', given(checked, 'radius', 0.05), { min: 0, minExclusive: true }, where);
  const normalization = checkChoice('normalization', given(checked, 'normalization', 'filter'), NORMALIZATIONS, where);
  const biases = checkChoice('biases', given(checked, 'biases', 'filter'), BIASES, where);
  const seed = checkSeed(checked, where);
  const onProgress = checkCallback(checked, 'onProgress', where);
  const vars = checkTarget(loss, variables, where);
  const random = generator(seed);

  return withWeights(vars, async (weights) => {
    const base = await weights.loss(loss, where);
    onProgress?.(1, samples + 1);
    const increases: number[] = [];
    for (let i = 0; i < samples; i += 1) {
      const direction = randomDirection(weights.start, random, normalization, biases);
      try {
        weights.moveTo([[radius, direction]]);
        increases.push((await weights.loss(loss, where)) - base);
      } finally {
        for (const d of direction) d.dispose();
      }
      onProgress?.(i + 2, samples + 1);
    }
    const average = increases.reduce((a, b) => a + b, 0) / samples;
    const worst = Math.max(...increases);
    return { average, worst, base, increases, samples, radius, normalization, biases, seed };
  });
}
