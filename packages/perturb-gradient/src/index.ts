/**
 * `@flatmin/perturb-gradient`: the perturbation of SAM (Foret et al., ICLR 2021,
 * "Sharpness-Aware Minimization for Efficiently Improving Generalization"),
 * ε = ρ·g/‖g‖ for any p-norm, and its one-backward lookahead variant built from the
 * previous adversarial gradient (Yu, Zhang & Kwok, ICML 2024).
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs';
 * import { sharpnessAware } from '@flatmin/core';
 * import { gradient } from '@flatmin/perturb-gradient';
 *
 * const optimizer = sharpnessAware({ base: tf.train.sgd(0.1), perturbation: gradient({ rho: 0.05 }) });
 * ```
 *
 * @packageDocumentation
 */
export { dualNormPerturbation } from './dual-norm.js';
export { type GradientOptions, gradient } from './gradient.js';
