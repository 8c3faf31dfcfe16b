/**
 * `@flatmin/perturb-noise`: random weight perturbations for flatmin — Gaussian noise (RWP, Li et
 * al., 2023), LPF-SGD's and Flat-LoRA's filter noise (Bisla et al., AISTATS 2022; Li et al., 2024),
 * mARWP's Fisher-scaled noise, and the worst of k random perturbations. None needs the clean
 * gradient except the Fisher noise, so a step costs one pass with the default combiner.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs';
 * import { mix, sharpnessAware } from '@flatmin/core';
 * import { gaussian } from '@flatmin/perturb-noise';
 *
 * const optimizer = sharpnessAware({ base: tf.train.sgd(0.1), perturbation: gaussian({ sigma: 0.01, scale: 'filter' }), combiner: mix({ lambda: 0.5 }) });
 * ```
 *
 * @packageDocumentation
 */
export { filterNorms, filterSize, filterSums } from './filters.js';
export { type GaussianOptions, gaussian } from './gaussian.js';
export { fillNormal, normalDraws } from './normal.js';
export { NOISE_SCALES, type NoiseScale, noiseScale, scaledNoise } from './scale.js';
export { type FilterNoiseOptions, filterNoise } from './filter-noise.js';
export { type FisherNoiseOptions, fisherNoise } from './fisher-noise.js';
export { type WorstOfKOptions, worstOfK } from './worst-of-k.js';
