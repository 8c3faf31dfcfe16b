/**
 * The losses `model.compile` knows by name, written with tfjs-core ops as tfjs-layers computes them
 * (per sample; the objective takes their mean), so this package needs no tfjs-layers import.
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';

/** The loss names {@link modelObjective} takes (tfjs-layers' names). */
export type LossName = 'meanSquaredError' | 'meanAbsoluteError' | 'categoricalCrossentropy' | 'sparseCategoricalCrossentropy' | 'binaryCrossentropy';

/** Every {@link LossName}. */
export const LOSS_NAMES: readonly LossName[] = ['meanSquaredError', 'meanAbsoluteError', 'categoricalCrossentropy', 'sparseCategoricalCrossentropy', 'binaryCrossentropy'];

/** tfjs-layers' fuzz factor (`epsilon()`, 1e-7). */
const EPSILON = 1e-7;

/** −Σ_c t_c log p_c with the probabilities renormalized and clipped to [ε, 1 − ε], per sample. */
function crossentropy(target: tf.Tensor, output: tf.Tensor): tf.Tensor {
  const last = output.rank - 1;
  const p = tf.clipByValue(tf.div(output, tf.sum(output, last, true)), EPSILON, 1 - EPSILON);
  return tf.neg(tf.sum(tf.mul(tf.cast(target, 'float32'), tf.log(p)), last));
}

/** The per-sample loss function of a name, as tfjs-layers defines it. */
export function namedLoss(name: LossName): (yTrue: tf.Tensor, yPred: tf.Tensor) => tf.Tensor {
  switch (name) {
    case 'meanSquaredError':
      return (t, p) => tf.mean(tf.square(tf.sub(p, t)), -1);
    case 'meanAbsoluteError':
      return (t, p) => tf.mean(tf.abs(tf.sub(p, t)), -1);
    case 'categoricalCrossentropy':
      return crossentropy;
    case 'sparseCategoricalCrossentropy':
      return (t, p) => {
        const classes = p.shape[p.rank - 1]!;
        const labels = tf.cast(tf.floor(tf.reshape(t, [-1])), 'int32');
        return tf.reshape(crossentropy(tf.oneHot(labels, classes), tf.reshape(p, [-1, classes])), p.shape.slice(0, -1));
      };
    case 'binaryCrossentropy':
      return (t, p) => {
        const clipped = tf.clipByValue(p, EPSILON, 1 - EPSILON);
        const logits = tf.log(tf.div(clipped, tf.sub(1, clipped)));
        // sigmoid cross-entropy with logits x and labels z: max(x, 0) − x z + log(1 + e^{−|x|})
        const z = tf.cast(t, 'float32');
        const perElement = tf.add(tf.sub(tf.relu(logits), tf.mul(logits, z)), tf.log1p(tf.exp(tf.neg(tf.abs(logits)))));
        return tf.mean(perElement, -1);
      };
  }
}
