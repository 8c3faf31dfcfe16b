/**
 * The first-order solution of SAM's inner maximization over a p-norm ball, computed on
 * the device over every perturbed variable together (one global norm).
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import type { NamedTensors } from '@flatmin/core';
import { mapNamed, normalizeGlobal } from '@flatmin/core/kit';

/**
 * ε̂ = argmax_{‖ε‖_p ≤ ρ} εᵀg, the perturbation of SAM (Foret et al., ICLR 2021,
 * "Sharpness-Aware Minimization for Efficiently Improving Generalization", eq. 2), for
 * every tensor of `grads` with **one global norm** over all of them (1/p + 1/q = 1):
 *
 * - p = 2: ε = ρ g / (‖g‖₂ + normEpsilon), as the PyTorch SAM implementation computes it.
 * - 1 < p < ∞: ε_i = ρ sign(g_i) |g_i|^{q−1} / (‖g‖_q^q)^{1/p}. The formula is scale
 *   invariant, so g is first divided by the global max |g| (then max |u| = 1 and
 *   Σ|u|^q ≥ 1): no float32 overflow or underflow of |g|^q for any p; `normEpsilon`
 *   is still added to the denominator.
 * - p = ∞: ε = ρ sign(g).
 * - p = 1 (dual norm ∞): all of ρ goes to the coordinate(s) with the largest |g_i| over
 *   every variable, ε = ρ sign(g) ⊙ [|g| = max|g|] / count. Exact ties share ρ equally,
 *   so ‖ε‖₁ = ρ.
 *
 * A zero gradient gives ε = 0 (never NaN) for every p; ρ = 0 gives ε = 0. Runs entirely
 * on the device (no host reads): call it inside a `tf.tidy`.
 *
 * @param grads the direction to normalize, keyed by variable name (usually the clean gradient).
 * @param p the norm of the ball, a number ≥ 1 or `Infinity`.
 * @param rho the radius, a device scalar or a number.
 * @param normEpsilon the small constant added to the norms (flatmin uses 1e-12).
 * @param norm2 optional: ‖grads‖₂ when already computed (used for p = 2 only).
 * @returns ε for every entry of `grads`, with the same names and shapes.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs';
 * import { dualNormPerturbation } from '@flatmin/perturb-gradient';
 *
 * const epsilon = tf.tidy(() =>
 *   dualNormPerturbation({ w: tf.tensor1d([3, -4]) }, 2, 0.05, 1e-12),
 * ); // { w: [0.03, -0.04] }
 * ```
 */
export function dualNormPerturbation(
  grads: NamedTensors,
  p: number,
  rho: tf.Scalar | number,
  normEpsilon: number,
  norm2?: tf.Scalar,
): NamedTensors {
  const tensors = Object.values(grads);
  if (tensors.length === 0) return {};
  if (p === 2) return normalizeGlobal(grads, rho, normEpsilon, norm2);
  if (p === Number.POSITIVE_INFINITY) return mapNamed(grads, (g) => tf.mul(tf.sign(g), rho));

  const nonEmpty = tensors.filter((g) => g.size > 0);
  if (nonEmpty.length === 0) return mapNamed(grads, (g) => tf.zerosLike(g));
  const maxAbs = globalMaxAbs(nonEmpty);

  if (p === 1) {
    const masks = mapNamed(grads, (g) => tf.cast(tf.equal(tf.abs(g), maxAbs), 'float32'));
    // count ≥ 1: the maximum is attained somewhere (for a zero gradient every entry ties, and sign(0) = 0).
    const count = tf.addN(Object.values(masks).map((m) => tf.sum(m)));
    const scale = tf.div(rho, count);
    return mapNamed(grads, (g, name) => tf.mul(tf.mul(tf.sign(g), masks[name]!), scale));
  }

  const q = p / (p - 1);
  // u = g / max|g| (0 when g = 0): max |u| = 1, so Σ|u|^q ∈ [1, size] for any q.
  const scaled = mapNamed(grads, (g) => tf.abs(tf.divNoNan(g, maxAbs)));
  const powers = mapNamed(scaled, (u) => tf.pow(u, q - 1)); // |u|^{q−1}, exponent > 0
  const sumQ = tf.addN(Object.keys(grads).map((name) => tf.sum(tf.mul(powers[name]!, scaled[name]!))));
  const scale = tf.div(rho, tf.add(tf.pow(sumQ, 1 / p), normEpsilon));
  return mapNamed(grads, (g, name) => tf.mul(tf.mul(tf.sign(g), powers[name]!), scale));
}

/** max over every tensor of max |x|, as one device scalar (tensors must be non-empty). */
function globalMaxAbs(tensors: readonly tf.Tensor[]): tf.Scalar {
  const maxima = tensors.map((t) => tf.max(tf.abs(t)));
  if (maxima.length === 1) return maxima[0] as tf.Scalar;
  return tf.max(tf.stack(maxima));
}
