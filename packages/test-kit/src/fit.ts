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

/**
 * How many tensors tfjs-layers' `fit` itself leaves behind when its optimizer throws at the first
 * step (one in tfjs 4.22, with no flatmin involved): the baseline a refusal test compares with.
 * Runs one epoch of {@link bnClassifier} with an accuracy metric on `x`, `y`.
 */
export async function leftByThrowingFit(x: tf.Tensor, y: tf.Tensor, batchSize: number): Promise<number> {
  class Throwing extends tf.SGDOptimizer {
    override minimize(): null {
      throw new Error('refused');
    }
  }
  const model = bnClassifier();
  model.compile({ optimizer: new Throwing(0.1), loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
  const start = tf.memory().numTensors;
  await model.fit(x, y, { epochs: 1, batchSize, verbose: 0 }).then(
    () => {
      throw new Error('leftByThrowingFit: fit did not throw');
    },
    () => undefined,
  );
  const left = tf.memory().numTensors - start;
  model.dispose();
  return left;
}

/**
 * `model.save` into memory and `tf.loadLayersModel` back: the round trip a saved model makes, with
 * no file system. `includeOptimizer: true` saves the optimizer (its config and state) too.
 */
export async function reloaded(model: tfl.LayersModel, config?: tf.io.SaveConfig): Promise<tfl.LayersModel> {
  let artifacts: tf.io.ModelArtifacts | undefined;
  await model.save(
    tf.io.withSaveHandler(async (a) => {
      artifacts = a;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
    config,
  );
  return tfl.loadLayersModel(tf.io.fromMemory(artifacts!));
}
