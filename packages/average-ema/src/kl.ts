/**
 * The trajectory loss shared by `mesa` and `saf`: λτ² · KL(softmax(f_T/τ) ‖ softmax(f/τ)), summed
 * over classes, over the batch — no gradient into the teacher's (or the past) logits.
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';

/** The identity whose gradient is zero. */
export const stopGradient = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const x = args[0] as tf.Tensor;
  return { value: tf.clone(x), gradFunc: (dy: tf.Tensor | tf.Tensor[]) => tf.zerosLike(dy as tf.Tensor) };
}) as (x: tf.Tensor) => tf.Tensor;

/**
 * λτ² · (1/B) Σ_b m_b Σ_k p_bk (log p_bk − log q_bk), p = softmax(teacher/τ) (no gradient),
 * q = softmax(student/τ), B the batch size; `mask` (B values in {0, 1}) drops rows (default: all 1).
 */
export function trajectoryKL(student: tf.Tensor, teacher: tf.Tensor, lambda: number, tau: number, mask?: tf.Tensor): tf.Scalar {
  return tf.tidy(() => {
    const logQ = tf.logSoftmax(tf.div(student, tau));
    const logP = tf.logSoftmax(tf.div(stopGradient(teacher), tau));
    const kl = tf.sum(tf.mul(tf.exp(logP), tf.sub(logP, logQ)), -1);
    const kept = mask === undefined ? kl : tf.mul(kl, mask);
    return tf.mul(tf.mean(kept), lambda * tau * tau) as tf.Scalar;
  });
}
