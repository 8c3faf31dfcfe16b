/**
 * The noise scales S of the Gaussian family: ε = Z ⊙ S with Z ~ N(0, 1).
 *
 * @module
 */

import type { NamedTensors, RandomSource } from '@flatmin/core';
import { elementwise, lastAxisVector } from '@flatmin/core/kit';
import * as tf from '@tensorflow/tfjs-core';
import { filterNorms } from './filters.js';
import { normalDraws } from './normal.js';

/** How the standard deviation of the noise follows the weights. */
export type NoiseScale = 'standard' | 'matrix' | 'element' | 'filter';

/**
 * Every {@link NoiseScale}, in the order the docs list them.
 *
 * @example
 * ```ts
 * const perturbations = NOISE_SCALES.map((scale) => gaussian({ sigma: 0.01, scale }));
 * ```
 */
export const NOISE_SCALES: readonly NoiseScale[] = ['standard', 'matrix', 'element', 'filter'];

/**
 * The noise scale S of one variable w for a standard deviation σ:
 * `standard` S = σ; `matrix` S = σ‖W‖_F; `element` S_ij = σ|W_ij|; `filter` S_ij = σ‖W_:,j‖
 * (filter j = an index of the last axis; a rank-0/1 variable is one filter).
 *
 * @param w the variable's current value.
 * @param scale which scale.
 * @param sigma σ, a device scalar (the step's ρ) or a number.
 * @returns S, broadcastable against `w` (a scalar for `standard` and `matrix`).
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs';
 * import { noiseScale } from '@flatmin/perturb-noise';
 *
 * const s = noiseScale(tf.tensor2d([[3, 0], [4, 1]]), 'filter', 0.01); // [[0.05, 0.01]]
 * ```
 */
export function noiseScale(w: tf.Tensor, scale: NoiseScale, sigma: tf.Scalar | number): tf.Tensor {
  switch (scale) {
    case 'standard':
      return typeof sigma === 'number' ? tf.scalar(sigma) : sigma;
    case 'matrix':
      return elementwise.mul(sigma, tf.norm(w));
    case 'element':
      return elementwise.mul(sigma, tf.abs(w));
    case 'filter':
      return elementwise.mul(sigma, filterNorms(w));
  }
}

/**
 * ε = Z ⊙ S for every variable, Z standard normal from one seed of `random` ({@link normalDraws}: one
 * host buffer for all the variables, in the order of
 * `variables`), S = `scaleOf(variable)`.
 *
 * @param variables the perturbed variables, in the optimizer's stable order.
 * @param random the optimizer's seeded random source.
 * @param scaleOf the noise scale of a variable, broadcastable against it.
 * @returns ε keyed by variable name.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs';
 * import { SeededRandom } from '@flatmin/core/kit';
 * import { scaledNoise } from '@flatmin/perturb-noise';
 *
 * const w = tf.variable(tf.ones([2, 3]));
 * const epsilon = scaledNoise([w], new SeededRandom(1), () => tf.scalar(0.01));
 * ```
 */
export function scaledNoise(variables: readonly tf.Variable[], random: RandomSource, scaleOf: (variable: tf.Variable) => tf.Tensor): NamedTensors {
  const epsilon: NamedTensors = {};
  const z = normalDraws(random.nextSeed(), variables.map((v) => v.shape));
  variables.forEach((variable, i) => {
    epsilon[variable.name] = elementwise.mul(z[i]!, lastAxisVector(scaleOf(variable)));
  });
  return epsilon;
}
