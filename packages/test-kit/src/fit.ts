/**
 * The small `model.fit` fixture the component packages share: a seeded two-class problem and a
 * dense → BatchNormalization → ReLU → softmax classifier whose BatchNorm statistics a test can
 * compare (only the clean pass of a step may move them).
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';

/** `n` seeded samples of 4 features, labelled by the sign of their sum, one-hot over 2 classes (kept: dispose them). */
export function fitData(n: number): { x: tf.Tensor2D; y: tf.Tensor2D } {
  return tf.tidy(() => {
    const x = tf.randomNormal([n, 4], 0, 1, 'float32', 1);
    const labels = tf.cast(tf.greater(tf.sum(x, 1), 0), 'int32');
    return { x: tf.keep(x) as tf.Tensor2D, y: tf.keep(tf.cast(tf.oneHot(labels, 2), 'float32')) as tf.Tensor2D };
  });
}

/** dense(6, seeded) → BatchNormalization → ReLU → dense(2, softmax, seeded), for {@link fitData}. */
export function bnClassifier(): tfl.Sequential {
  const m = tfl.sequential();
  m.add(tfl.layers.dense({ units: 6, inputShape: [4], kernelInitializer: tfl.initializers.glorotUniform({ seed: 1 }) }));
  m.add(tfl.layers.batchNormalization());
  m.add(tfl.layers.activation({ activation: 'relu' }));
  m.add(tfl.layers.dense({ units: 2, activation: 'softmax', kernelInitializer: tfl.initializers.glorotUniform({ seed: 2 }) }));
  return m;
}

/** moving_mean and moving_variance of {@link bnClassifier}'s BatchNormalization layer. */
export const movingStatistics = (m: tfl.LayersModel) => m.layers[1]!.getWeights().slice(2).map((t) => t.arraySync());
