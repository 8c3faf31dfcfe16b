/**
 * `@flatmin/schedule-adaptive`: AE-SAM's adaptive policy (Jiang, Yang, Zhang & Kwok, "An
 * Adaptive Policy to Employ Sharpness-Aware Minimization", ICLR 2023) — a sharp two-pass step
 * only when the squared norm of the clean gradient is high against its running mean and
 * standard deviation, a plain one-pass step otherwise.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs';
 * import { sharpnessAware } from '@flatmin/core';
 * import { gradient } from '@flatmin/perturb-gradient';
 * import { adaptivePolicy } from '@flatmin/schedule-adaptive';
 *
 * const optimizer = sharpnessAware({ base: tf.train.sgd(0.1), perturbation: gradient({ rho: 0.05 }), schedule: adaptivePolicy({ totalSteps: 10_000 }) });
 * ```
 *
 * @packageDocumentation
 */
export { type AdaptivePolicyOptions, adaptivePolicy } from './adaptive-policy.js';
