/**
 * `@flatmin/perturb-friendly`: two perturbations that build SAM's ε from a running mean of the
 * clean gradients — FriendlySAM (Li, Zhou, He, Cheng & Huang, CVPR 2024, "Friendly
 * Sharpness-Aware Minimization"), which removes the mean from the batch gradient, and VaSSO
 * (Li & Giannakis, NeurIPS 2023, "Enhancing Sharpness-Aware Optimization Through Variance
 * Suppression"), which perturbs along the mean.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs';
 * import { sharpnessAware } from '@flatmin/core';
 * import { friendly, varianceSuppressed } from '@flatmin/perturb-friendly';
 *
 * const fsam = sharpnessAware({ base: tf.train.sgd(0.1), perturbation: friendly({ rho: 0.05 }) });
 * const vasso = sharpnessAware({ base: tf.train.sgd(0.1), perturbation: varianceSuppressed({ rho: 0.05 }) });
 * ```
 *
 * @packageDocumentation
 */
export { type FriendlyOptions, friendly } from './friendly.js';
export { type VarianceSuppressedOptions, varianceSuppressed } from './variance-suppressed.js';
