/** The benchmark's backend, model and data. */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { useBestBackend } from '@flatmin/backend';
import type { BackendName } from './args.js';

export const BATCH = 128;
export const INPUT = 784;
export const LAYERS = [256, 256, 10] as const;

/** `useBestBackend()`'s choice, or exactly `override` (`--backend cpu|wasm`). Returns the backend's name. */
export async function selectBackend(override?: BackendName): Promise<string> {
  return (await useBestBackend(override === undefined ? {} : { order: [override] })).name;
}

/** MLP 784-256-256-10 (ReLU; the last layer gives logits), seeded Glorot-uniform kernels. */
export function buildMlp(seed: number): tfl.Sequential {
  const model = tfl.sequential();
  LAYERS.forEach((units, i) => {
    model.add(
      tfl.layers.dense({
        ...(i === 0 ? { inputShape: [INPUT] } : {}),
        units,
        activation: i < LAYERS.length - 1 ? 'relu' : 'linear',
        kernelInitializer: tfl.initializers.glorotUniform({ seed: seed + i }),
      }),
    );
  });
  return model;
}

/** One seeded synthetic batch: standard-normal inputs, one-hot labels from a random linear teacher. */
export function syntheticBatch(seed: number): { xs: tf.Tensor2D; ys: tf.Tensor2D } {
  return tf.tidy(() => {
    const xs = tf.randomNormal([BATCH, INPUT], 0, 1, 'float32', seed) as tf.Tensor2D;
    const teacher = tf.randomNormal([INPUT, 10], 0, 1, 'float32', seed + 1);
    const ys = tf.oneHot(tf.argMax(tf.matMul(xs, teacher), 1), 10);
    return { xs, ys: tf.cast(ys, 'float32') as tf.Tensor2D };
  });
}

/** The trainable variables of a model, as the `varList` `model.fit` passes to `minimize`. */
export function trainableVariables(model: tfl.LayersModel): tf.Variable[] {
  return model.trainableWeights.map((weight) => weight.read() as tf.Variable);
}

/** Number of scalar parameters. */
export function parameterCount(variables: readonly tf.Variable[]): number {
  return variables.reduce((sum, v) => sum + v.size, 0);
}
