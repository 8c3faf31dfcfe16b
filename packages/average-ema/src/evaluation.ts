/**
 * Evaluate with the averaged weights at each epoch end of a `model.fit`.
 *
 * @module
 */
import type * as tf from '@tensorflow/tfjs-core';
import type { AveragerHandle, FitCallbackHooks } from '@flatmin/core';

/**
 * The part of a tfjs-layers model {@link averagedEvaluation} uses (any `tf.LayersModel` has it).
 *
 * @example
 * ```ts
 * const evaluating: EvaluatingModel = model; // a compiled tf.LayersModel
 * ```
 */
export interface EvaluatingModel {
  /** `LayersModel.evaluate`: the loss and the metrics on `x`, `y`. */
  evaluate(x: tf.Tensor | tf.Tensor[], y: tf.Tensor | tf.Tensor[], args?: { batchSize?: number; verbose?: number }): tf.Scalar | tf.Scalar[];
  /** The names of what `evaluate` returns, in order (`'loss'` first). */
  readonly metricsNames: readonly string[];
}

/** Options of {@link averagedEvaluation}. */
export interface AveragedEvaluationOptions {
  /** The evaluation inputs. */
  x: tf.Tensor | tf.Tensor[];
  /** The evaluation targets. */
  y: tf.Tensor | tf.Tensor[];
  /** The batch size of `model.evaluate` (its default when absent). */
  batchSize?: number;
  /** Prefix of the keys written into the epoch's logs (default `'averaged_'`: `averaged_loss`, `averaged_acc`, ...). */
  prefix?: string;
}

/**
 * A `model.fit` callback that, at each epoch end, swaps the averaged weights in (`apply()`),
 * runs `model.evaluate(x, y)`, writes the results into the epoch's logs under `prefix` (so
 * `history.history['averaged_loss']` has one entry per epoch when this callback is listed), and
 * swaps the training weights back (`restore()`). Works with `optimizer.averager` and with a
 * standalone handle; list it after the averager's own callback. It reads the results on the host,
 * once per epoch (not in the step).
 *
 * @example
 * ```ts
 * const handle = ema({ decay: 0.99 }).attach(model);
 * await model.fit(x, y, { epochs: 3, callbacks: [handle.callback(), averagedEvaluation(handle, model, { x: xVal, y: yVal })] });
 * ```
 */
export function averagedEvaluation(handle: AveragerHandle, model: EvaluatingModel, options: AveragedEvaluationOptions): FitCallbackHooks {
  const prefix = options.prefix ?? 'averaged_';
  return {
    onEpochEnd: async (_epoch, logs) => {
      const wasApplied = handle.applied;
      handle.apply();
      try {
        const result = model.evaluate(options.x, options.y, { verbose: 0, ...(options.batchSize === undefined ? {} : { batchSize: options.batchSize }) });
        const scalars = Array.isArray(result) ? result : [result];
        const values = await Promise.all(scalars.map(async (s) => (await s.data())[0]!));
        for (const s of scalars) s.dispose();
        if (logs !== undefined) {
          for (const [i, value] of values.entries()) logs[`${prefix}${model.metricsNames[i] ?? i}`] = value;
        }
      } finally {
        if (!wasApplied) handle.restore();
      }
    },
  };
}
