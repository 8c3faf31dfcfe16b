/**
 * The demo's model: an MLP 784-256-256-10 (ReLU, softmax output). Every kernel has a
 * seeded Glorot-uniform initializer, so the same seed gives the same initial weights
 * for the SGD run and the SAM run.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { IMAGE_SIZE, NUM_CLASSES } from './data.js';

/** The demo MLP's hidden layers: 784-256-256-10. */
export const HIDDEN_UNITS = [256, 256] as const;

/**
 * The demo's MLP, 784-256-256-10 (ReLU, softmax), with seeded Glorot-uniform kernels; `hidden`
 * sets the width of both hidden layers (`flatmin bench --hidden N`: 784-N-N-10).
 *
 * @param seed the seed of the first kernel (the next layers take seed + 1, seed + 2).
 * @param hidden the units of each of the two hidden layers (default 256).
 * @returns an uncompiled `tf.Sequential`.
 *
 * @example
 * ```ts
 * import { buildMlp } from 'flatmin/cli';
 *
 * const model = buildMlp(1); // 269,322 parameters
 * const wide = buildMlp(1, 1024); // 784-1024-1024-10: 1,863,690 parameters
 * ```
 */
export function buildMlp(seed: number, hidden: number = HIDDEN_UNITS[0]): tfl.Sequential {
  const model = tfl.sequential();
  HIDDEN_UNITS.forEach((_, i) => {
    const units = hidden;
    model.add(
      tfl.layers.dense({
        ...(i === 0 ? { inputShape: [IMAGE_SIZE] } : {}),
        units,
        activation: 'relu',
        kernelInitializer: tfl.initializers.glorotUniform({ seed: seed + i }),
      }),
    );
  });
  model.add(
    tfl.layers.dense({
      units: NUM_CLASSES,
      activation: 'softmax',
      kernelInitializer: tfl.initializers.glorotUniform({ seed: seed + HIDDEN_UNITS.length }),
    }),
  );
  return model;
}

/**
 * Categorical cross-entropy per sample of softmax outputs `probabilities` against one-hot `labels`,
 * clipped to [1e-7, 1 − 1e-7] as tfjs-layers' `categoricalCrossentropy` does: the loss the demo's
 * `model.compile` uses, for the loops that need it per sample.
 */
export function perSampleCrossEntropy(labels: tf.Tensor, probabilities: tf.Tensor): tf.Tensor1D {
  return tf.neg(tf.sum(tf.mul(labels, tf.log(tf.clipByValue(probabilities, 1e-7, 1 - 1e-7))), -1)) as tf.Tensor1D;
}
