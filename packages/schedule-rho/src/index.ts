/**
 * `@flatmin/schedule-rho`: schedules of the radius ρ. `rhoSchedule(rho, inner?)` takes ρ from a
 * host function of the step and the learning rate — `inverseSqrt` (ρ_t = c/√t), `cosineIncrease`
 * (LPF-SGD's cosine ramp, Bisla et al., AISTATS 2022), `proportionalToLearningRate` (GSAM, Zhuang
 * et al., ICLR 2022) — around any schedule that decides which steps are sharp; `learnedRho` learns
 * ρ from a validation batch (LETS, Wang, Jiang, Fu & Zhang, ECML PKDD 2024).
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs';
 * import { sharpnessAware } from '@flatmin/core';
 * import { gradient } from '@flatmin/perturb-gradient';
 * import { inverseSqrt, rhoSchedule } from '@flatmin/schedule-rho';
 *
 * const optimizer = sharpnessAware({ base: tf.train.sgd(0.1), perturbation: gradient(), schedule: rhoSchedule(inverseSqrt({ rho: 0.1 })) });
 * ```
 *
 * @packageDocumentation
 */
export { type LearnedRhoOptions, learnedRho } from './learned-rho.js';
export { rhoSchedule } from './rho-schedule.js';
export {
  type CosineIncreaseOptions,
  cosineIncrease,
  type InverseSqrtOptions,
  inverseSqrt,
  isRhoRule,
  lookupRhoRule,
  makeRhoRule,
  type ProportionalOptions,
  proportionalToLearningRate,
  type RhoFunction,
  type RhoRule,
  type RhoRuleFactory,
  registerRhoRule,
} from './rules.js';
