/**
 * One training run: build the MLP, compile it with an optimizer, `model.fit` with a
 * progress bar, then measure clean test accuracy and training loss.
 */
import type * as tf from '@tensorflow/tfjs-core';
import { buildMlp } from './model.js';
import { type Output, ProgressBar } from './progress.js';

export interface TensorData {
  readonly xs: tf.Tensor2D;
  readonly ys: tf.Tensor2D;
}

export interface RunSettings {
  readonly epochs: number;
  readonly batch: number;
  readonly seed: number;
}

export interface RunResult {
  readonly method: string;
  /** Accuracy on the test set with the final weights. */
  readonly testAccuracy: number;
  /** Mean loss over the whole training set with the final weights (not the running average of `fit`). */
  readonly trainLoss: number;
  /** Optimizer steps taken. */
  readonly steps: number;
  /** Wall-clock seconds of `model.fit`. */
  readonly seconds: number;
  /** `seconds / steps`. */
  readonly secondsPerStep: number;
}

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

    const stepsPerEpoch = Math.ceil(data.train.xs.shape[0] / settings.batch);
    const steps = stepsPerEpoch * settings.epochs;
    const progress = new ProgressBar(method, steps, output);
    let done = 0;
    const started = performance.now();
    await model.fit(data.train.xs, data.train.ys, {
      epochs: settings.epochs,
      batchSize: settings.batch,
      shuffle: false, // the data is already in a fixed shuffled order: both runs see the same batches
      verbose: 0,
      yieldEvery: 'never',
      callbacks: { onBatchEnd: (_batch, logs) => progress.update(++done, Number(logs?.['loss'])) },
    });
    const seconds = (performance.now() - started) / 1000;
    progress.finish();

    const [, testAccuracy] = await evaluate(model, data.test);
    const [trainLoss] = await evaluate(model, data.train);
    return { method, testAccuracy, trainLoss, steps, seconds, secondsPerStep: seconds / steps };
  } finally {
    model.dispose();
  }
}

/** `[loss, accuracy]` of the model on a dataset. */
async function evaluate(
  model: ReturnType<typeof buildMlp>,
  data: TensorData,
): Promise<[loss: number, accuracy: number]> {
  const scalars = model.evaluate(data.xs, data.ys, { batchSize: 1000 }) as tf.Scalar[];
  const [loss, accuracy] = await Promise.all(scalars.map(async (s) => (await s.data())[0]!));
  for (const s of scalars) s.dispose();
  return [loss!, accuracy!];
}
