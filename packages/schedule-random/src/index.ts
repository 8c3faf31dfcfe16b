/**
 * `@flatmin/schedule-random`: RST's schedule (Zhao, Zhang & Hu, 2022, "Randomized Sharpness-Aware
 * Training for Boosting Computational Efficiency in Deep Learning") — each step is sharp with
 * probability p(t), a Bernoulli draw from the optimizer's seeded generator — and the constant,
 * linear and step p(t) helpers.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs';
 * import { sharpnessAware } from '@flatmin/core';
 * import { gradient } from '@flatmin/perturb-gradient';
 * import { randomly, stepP } from '@flatmin/schedule-random';
 *
 * const rst = sharpnessAware({ base: tf.train.sgd(0.1), perturbation: gradient(), schedule: randomly({ p: 0.5 }), seed: 7 });
 * const later = randomly({ p: stepP({ values: [0.2, 0.8], boundaries: [1000] }) });
 * ```
 *
 * @packageDocumentation
 */
export {
  constantP,
  type LinearPOptions,
  linearP,
  type ProbabilityConfig,
  type ProbabilitySchedule,
  probabilityFromConfig,
  type StepPOptions,
  stepP,
} from './probability.js';
export { type RandomlyOptions, randomly } from './randomly.js';
