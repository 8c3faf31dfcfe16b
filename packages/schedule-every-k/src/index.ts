/**
 * `@flatmin/schedule-every-k`: LookSAM's schedule (Liu, Mai, Chen, Hsieh & You, CVPR 2022,
 * "Towards Efficient and Scalable Sharpness-Aware Minimization") — a sharp two-pass step every k
 * steps, and one pass in between that reuses the sharpness component of the last sharp step.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs';
 * import { sharpnessAware } from '@flatmin/core';
 * import { gradient } from '@flatmin/perturb-gradient';
 * import { everyK } from '@flatmin/schedule-every-k';
 *
 * const optimizer = sharpnessAware({ base: tf.train.sgd(0.1), perturbation: gradient({ rho: 0.05 }), schedule: everyK({ k: 5 }) });
 * ```
 *
 * @packageDocumentation
 */
export { type EveryKOptions, everyK } from './every-k.js';
