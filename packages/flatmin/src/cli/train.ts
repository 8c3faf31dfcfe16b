/**
 * One training run of the demo's MLP: build it, compile it with an optimizer, `model.fit` with a
 * progress bar, then measure clean test accuracy and training loss.
 *
 * @module
 */

import type { SharpnessAwareOptimizer } from '@flatmin/core';
import type * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import type { Output } from './io.js';
import { buildMlp } from './model.js';
import { Progress, type ProgressOptions } from './progress.js';

/** Images and one-hot labels as tensors. */
export interface TensorData {
  /** `[n, 784]` pixels. */
  readonly xs: tf.Tensor2D;
  /** `[n, 10]` one-hot labels. */
  readonly ys: tf.Tensor2D;
}

/** The settings of one run. */
export interface RunSettings {
  /** Passes over the training set. */
  readonly epochs: number;
  /** Mini-batch size. */
  readonly batch: number;
  /** Seed of the initial weights. */
  readonly seed: number;
  /** Keep the model (`RunResult.model`) instead of disposing it; the caller disposes it. */
  readonly keepModel?: boolean;
  /** How often the bar prints a line off a terminal. */
  readonly progress?: ProgressOptions;
}

/** What {@link trainAndEvaluate} measured. */
export interface RunResult {
  /** The run's label, e.g. `'SGD'` or `'sam'`. */
  readonly method: string;
  /** Accuracy on the test set with the final weights (the averaged ones for an averager preset). */
  readonly testAccuracy: number;
  /** Mean loss over the whole training set with the final weights (not the running average of `fit`). */
  readonly trainLoss: number;
  /** Optimizer steps taken. */
  readonly steps: number;
  /** Wall-clock seconds of `model.fit`. */
  readonly seconds: number;
  /** `seconds / steps`. */
  readonly secondsPerStep: number;
  /** The trained model, with `keepModel`. */
  readonly model?: tfl.Sequential;
}

/**
 * Train a fresh {@link buildMlp} (seeded: every run starts from the same weights) with `optimizer`
 * under `model.fit` — no shuffling, the pools are already in a fixed order, so every run sees the
 * same batches — with a progress bar on `output`, then evaluate it. An averager preset's
 * `averager.callback()` is passed to `fit`, so the model ends with the averaged weights.
 *
 * @example
 * ```ts
 * const raw = loadMnist(1000, 500);
 * const data = { train: toTensors(raw.train), test: toTensors(raw.test) };
 * const run = await trainAndEvaluate('SGD', tf.train.sgd(0.1), data, { epochs: 1, batch: 64, seed: 1 }, process.stderr);
 * console.log(run.testAccuracy);
 * ```
 */
export async function trainAndEvaluate(
  method: string,
  optimizer: tf.Optimizer,
  data: { train: TensorData; test: TensorData },
  settings: RunSettings,
  output: Output,
): Promise<RunResult> {
  const model = buildMlp(settings.seed);
  try {
    model.compile({ optimizer, loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
    const steps = Math.ceil(data.train.xs.shape[0] / settings.batch) * settings.epochs;
    const progress = new Progress(method, steps, output, settings.progress);
    const averager = (optimizer as Partial<SharpnessAwareOptimizer>).averager;
    let done = 0;
    const started = performance.now();
    await model.fit(data.train.xs, data.train.ys, {
      epochs: settings.epochs,
      batchSize: settings.batch,
      shuffle: false,
      verbose: 0,
      yieldEvery: 'never',
      callbacks: [
        { onBatchEnd: async (_batch: number, logs?: Record<string, unknown>) => progress.update(++done, `loss ${Number(logs?.['loss']).toFixed(4)}`) },
        ...(averager ? [averager.callback()] : []),
      ] as unknown as tfl.CustomCallbackArgs[],
    });
    const seconds = (performance.now() - started) / 1000;
    progress.stop();

    const [, testAccuracy] = await evaluate(model, data.test);
    const [trainLoss] = await evaluate(model, data.train);
    const result: RunResult = { method, testAccuracy, trainLoss, steps, seconds, secondsPerStep: seconds / steps };
    return settings.keepModel ? { ...result, model } : result;
  } finally {
    if (!settings.keepModel) model.dispose();
  }
}

/** `[loss, accuracy]` of the model on a dataset. */
async function evaluate(model: tfl.Sequential, data: TensorData): Promise<[loss: number, accuracy: number]> {
  const scalars = model.evaluate(data.xs, data.ys, { batchSize: 1000 }) as tf.Scalar[];
  const [loss, accuracy] = await Promise.all(scalars.map(async (s) => (await s.data())[0]!));
  for (const s of scalars) s.dispose();
  return [loss!, accuracy!];
}
