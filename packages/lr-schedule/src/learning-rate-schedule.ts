/**
 * `learningRateSchedule(optimizer, schedule)`: apply a schedule to any tfjs optimizer (or a
 * flatmin `SharpnessAwareOptimizer`, or a model compiled with either), by hand in a custom loop
 * (`step()`) or as a `model.fit` callback (`callback()`).
 *
 * The position — which step's rate the next update gets — is the optimizer's own update counter
 * `optimizer.iterations`, which every tfjs optimizer saves as the `iter` weight of
 * `getWeights()` (and a `SharpnessAwareOptimizer` as `base/iter`), so a run restored with
 * `setWeights` (or a model saved with its optimizer) continues the schedule exactly, with nothing
 * else to save. Per epoch, the position is the epoch index `model.fit` passes (it counts from
 * `initialEpoch`), as Keras' `LearningRateScheduler` does.
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { FlatminConfigError, FlatminError, type FitCallbackHooks } from '@flatmin/core';
import { checkChoice, checkOptions } from '@flatmin/core/kit';
import { rateOf, setRate } from './rate.js';
import type { ScheduleFunction } from './schedule.js';

/**
 * When the rate changes: before every update (`'batch'`, the default) or at the start of every epoch (`'epoch'`).
 *
 * @example
 * ```ts
 * const every: ScheduleUnit = 'epoch';
 * learningRateSchedule(optimizer, stepDecay({ initial: 0.1, every: 30 }), { every });
 * ```
 */
export type ScheduleUnit = 'batch' | 'epoch';

/**
 * Options of {@link learningRateSchedule}.
 *
 * @example
 * ```ts
 * const options: LearningRateScheduleOptions = { every: 'epoch' };
 * ```
 */
export interface LearningRateScheduleOptions {
  /**
   * `'batch'` (default): the schedule's step is the update index `optimizer.iterations`, and the
   * rate is set before every update. `'epoch'`: the schedule's step is the epoch index (the one
   * `model.fit` passes, from `initialEpoch`; `step(epoch)` in a custom loop), set once per epoch.
   */
  every?: ScheduleUnit;
}

/**
 * Anything with an `optimizer` property, such as a tfjs-layers `LayersModel` (looked up at every use, so it may be compiled later).
 *
 * @example
 * ```ts
 * const scheduler = learningRateSchedule(model, linearDecay({ initial: 0.1, totalSteps: 100 }));
 * model.compile({ optimizer: 'adam', loss: 'meanSquaredError' }); // before the first fit is enough
 * ```
 */
export interface ModelLike {
  /** The model's optimizer (`undefined` until `model.compile`). */
  readonly optimizer?: unknown;
}

/**
 * The `model.fit` / `model.fitDataset` callback of {@link LearningRateScheduler.callback}: a plain
 * object of the shape of tfjs-layers' `CustomCallbackArgs` (no tfjs-layers import needed).
 * `onBatchBegin` with `every: 'batch'`, `onEpochBegin` with `every: 'epoch'`.
 *
 * @example
 * ```ts
 * const callback: LearningRateCallback = scheduler.callback();
 * await model.fit(xs, ys, { epochs: 5, callbacks: [callback] });
 * ```
 */
export interface LearningRateCallback extends FitCallbackHooks {
  /** With `every: 'batch'`: sets the rate of the step about to run. */
  onBatchBegin?: (batch: number, logs?: Record<string, unknown>) => Promise<void>;
  /** With `every: 'epoch'`: sets the rate of the epoch about to run. */
  onEpochBegin?: (epoch: number, logs?: Record<string, unknown>) => Promise<void>;
}

/**
 * What {@link learningRateSchedule} returns.
 *
 * @example
 * ```ts
 * const scheduler: LearningRateScheduler = learningRateSchedule(tf.train.sgd(0.1), linearDecay({ initial: 0.1, totalSteps: 100 }));
 * scheduler.step(); // 0.1 (optimizer.iterations is 0)
 * scheduler.rate;   // 0.1
 * ```
 */
export interface LearningRateScheduler {
  /** The schedule applied. */
  readonly schedule: ScheduleFunction;
  /** The unit of its step (see {@link LearningRateScheduleOptions.every}). */
  readonly every: ScheduleUnit;
  /**
   * Set the rate of the next update and return it: `schedule(optimizer.iterations)` with
   * `every: 'batch'` — call it before each `optimizer.minimize` — or `schedule(position)` (the
   * epoch index, required) with `every: 'epoch'`. An explicit `position` overrides the counter
   * in either mode. No device read; on SGD / momentum one scalar is replaced only when the rate
   * changes.
   */
  step(position?: number): number;
  /**
   * A `model.fit` callback that calls {@link step} before every batch (`every: 'batch'`) or
   * at the beginning of every epoch with its index (`every: 'epoch'`). With tfjs-layers callback
   * objects in the same list, wrap it: `new tf.CustomCallback(scheduler.callback())`.
   */
  callback(): LearningRateCallback;
  /** The optimizer's current learning rate (its `learningRate` field: no device read). */
  readonly rate: number;
}

const WHERE = 'learningRateSchedule';

/**
 * Apply a learning-rate schedule to an optimizer: `step()` in custom loops, `callback()` for
 * `model.fit`. Works with every tfjs-core optimizer (`tf.train.sgd`, `momentum`, `adam`,
 * `adamax`, `adagrad`, `adadelta`, `rmsprop`; SGD's and momentum's cached rate tensor is
 * replaced through `setLearningRate`, the others' `learningRate` field is set), with a flatmin
 * `SharpnessAwareOptimizer` (it forwards the rate to its base, so a ρ schedule proportional to
 * the rate sees this step's rate in `context.learningRate`), and with a model compiled with one.
 *
 * The position is `optimizer.iterations` (per batch), saved and restored with the optimizer's
 * weights: restore the optimizer and the schedule continues where it stopped. A skipped
 * (non-finite) step of a `SharpnessAwareOptimizer` counts, as it does for `iterations`;
 * the micro-batches of an accumulation share one rate.
 *
 * @example
 * ```ts
 * const optimizer = tf.train.momentum(0.1, 0.9);
 * const scheduler = learningRateSchedule(optimizer, cosineWithWarmup({ peak: 0.1, warmupSteps: 10, totalSteps: 100 }));
 * for (let t = 0; t < 100; t++) {
 *   scheduler.step();
 *   optimizer.minimize(() => loss());
 * }
 * // or: await model.fit(xs, ys, { epochs: 10, callbacks: [scheduler.callback()] });
 * ```
 */
export function learningRateSchedule(optimizer: tf.Optimizer | ModelLike, schedule: ScheduleFunction, options?: LearningRateScheduleOptions): LearningRateScheduler {
  const given = checkOptions(options, ['every'], WHERE);
  const every = checkChoice('every', given.every === undefined ? 'batch' : given.every, ['batch', 'epoch'], WHERE);
  if (typeof schedule !== 'function') throw new FlatminConfigError('schedule', schedule, 'a function (step) => learning rate, such as cosineWithWarmup({ ... })', WHERE);
  const resolve = resolverOf(optimizer);
  // Fail at once for an optimizer (a model may be compiled later).
  if (isOptimizer(optimizer)) rateOf(optimizer, WHERE);
  let lastOptimizer: tf.Optimizer | null = null;
  let lastRate = Number.NaN;
  const step = (position?: number): number => {
    const target = resolve();
    const at = positionOf(position, every, target);
    const rate = schedule(at);
    if (typeof rate !== 'number' || !Number.isFinite(rate) || rate < 0) {
      throw new FlatminError(`${WHERE}: the schedule returned ${String(rate)} for step ${at}; a learning rate must be a finite number ≥ 0.`);
    }
    rateOf(target, WHERE);
    setRate(target, rate, target === lastOptimizer && rate === lastRate);
    lastOptimizer = target;
    lastRate = rate;
    return rate;
  };
  return {
    schedule,
    every,
    step,
    callback: () =>
      every === 'batch'
        ? {
            onBatchBegin: async () => {
              step();
            },
          }
        : {
            onEpochBegin: async (epoch: number) => {
              step(epoch);
            },
          },
    get rate() {
      return rateOf(resolve(), WHERE);
    },
  };
}

function positionOf(position: number | undefined, every: ScheduleUnit, optimizer: tf.Optimizer): number {
  if (position === undefined) {
    if (every === 'epoch') {
      throw new FlatminError(`${WHERE}: with every: 'epoch', step(epoch) needs the epoch index (model.fit's callback passes it).`);
    }
    return optimizer.iterations;
  }
  if (typeof position !== 'number' || !Number.isFinite(position) || position < 0) {
    throw new FlatminError(`${WHERE}: step(position) needs a finite number ≥ 0 (an update or epoch index), got ${String(position)}.`);
  }
  return position;
}

function resolverOf(target: unknown): () => tf.Optimizer {
  if (isOptimizer(target)) return () => target;
  if (typeof target === 'object' && target !== null && 'optimizer' in target) {
    return () => {
      const found = (target as ModelLike).optimizer;
      if (isOptimizer(found)) return found;
      throw new FlatminError(`${WHERE}: the model has no optimizer yet (model.optimizer is ${found === undefined || found === null ? String(found) : typeof found}): call model.compile({ optimizer, loss }) first.`);
    };
  }
  throw new FlatminConfigError('optimizer', target, 'a tfjs optimizer (tf.train.sgd(...), a SharpnessAwareOptimizer, ...) or a model compiled with one', WHERE);
}

/** tfjs' own duck-typed check (`minimize`, `computeGradients`, `applyGradients`), safe for null. */
function isOptimizer(value: unknown): value is tf.Optimizer {
  return typeof value === 'object' && value !== null && value instanceof tf.Optimizer;
}
