/**
 * `@flatmin/perturb-adaptive`: perturbations whose ball adapts to the weights or the gradient —
 * ASAM (Kwon et al., ICML 2021, ε = ρ T_w²g/‖T_w g‖ with T_w = |w| + η element-wise or per filter)
 * and Fisher SAM (Kim et al., ICML 2022, ε ∝ g/(1 + η g²) from the diagonal Fisher of the batch).
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs';
 * import { sharpnessAware } from '@flatmin/core';
 * import { adaptive, fisher } from '@flatmin/perturb-adaptive';
 *
 * const asam = sharpnessAware({ base: tf.train.sgd(0.1), perturbation: adaptive({ rho: 0.5 }) });
 * const fsam = sharpnessAware({ base: tf.train.sgd(0.1), perturbation: fisher({ rho: 0.1 }) });
 * ```
 *
 * @packageDocumentation
 */
export { type AdaptiveOptions, type AdaptWhere, adaptive } from './adaptive.js';
export { type FisherOptions, fisher } from './fisher.js';
