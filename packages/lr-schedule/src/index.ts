/**
 * `@flatmin/lr-schedule`: the learning-rate schedules tfjs lacks — {@link cosineWithWarmup},
 * {@link stepDecay}, {@link linearDecay} (pure functions of the step with a JSON description) —
 * and {@link learningRateSchedule}, which applies any `(step) => rate` to any tfjs optimizer or
 * flatmin `SharpnessAwareOptimizer`: `step()` in custom loops, `callback()` for `model.fit`.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs';
 * import { cosineWithWarmup, learningRateSchedule } from '@flatmin/lr-schedule';
 *
 * const optimizer = tf.train.adam(1e-3);
 * const scheduler = learningRateSchedule(optimizer, cosineWithWarmup({ peak: 1e-3, warmupSteps: 5, totalSteps: 50 }));
 * model.compile({ optimizer, loss: 'meanSquaredError' });
 * await model.fit(xs, ys, { epochs: 5, batchSize: 8, callbacks: [scheduler.callback()] });
 * ```
 *
 * @packageDocumentation
 */
export { type CosineWithWarmupOptions, cosineWithWarmup } from './cosine-with-warmup.js';
export { scheduleFromDescription } from './from-description.js';
export {
  type LearningRateCallback,
  type LearningRateScheduleOptions,
  type LearningRateScheduler,
  learningRateSchedule,
  type ModelLike,
  type ScheduleUnit,
} from './learning-rate-schedule.js';
export { type LinearDecayOptions, linearDecay } from './linear-decay.js';
export type { CosineWithWarmupConfig, DescribedSchedule, LinearDecayConfig, ScheduleDescription, ScheduleFunction, StepDecayConfig } from './schedule.js';
export { type StepDecayOptions, stepDecay } from './step-decay.js';
