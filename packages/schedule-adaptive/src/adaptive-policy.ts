/**
 * AE-SAM's adaptive policy: a sharp (two-pass) step only where the squared norm of the clean
 * gradient is high against its running mean and standard deviation.
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { type ComponentState, FlatminConfigError, FlatminError, type Schedule, type ScheduleContext } from '@flatmin/core';
import { checkNumber, checkOptions, pickNamed, registerComponent, sumOfSquares } from '@flatmin/core/kit';

/**
 * Options of {@link adaptivePolicy} (AE-SAM: Jiang, Yang, Zhang & Kwok, "An Adaptive Policy to
 * Employ Sharpness-Aware Minimization", ICLR 2023).
 *
 * @example
 * ```ts
 * const options: AdaptivePolicyOptions = { delta: 0.9, lambda1: -1, lambda2: 1, totalSteps: 10_000 };
 * const schedule = adaptivePolicy(options);
 * ```
 */
export interface AdaptivePolicyOptions {
  /** δ, the decay of the running mean μ and variance σ² of ‖g‖², in the open interval (0, 1) (default 0.9). */
  delta?: number;
  /** λ₁, the threshold coefficient c_t reached at t = T (and held after it), any finite number (default −1). */
  lambda1?: number;
  /** λ₂, the threshold coefficient c_t at t = 0, any finite number (default 1). */
  lambda2?: number;
  /** T, the number of training steps c_t runs over: an integer ≥ 1. Required (there is no sensible default). */
  totalSteps: number;
}

const WHERE = 'adaptivePolicy';
const KNOWN_KEYS = ['delta', 'lambda1', 'lambda2', 'totalSteps'] as const;
/** The state keys (global: no `:`). */
const MEAN = 'mean';
const VARIANCE = 'variance';

/**
 * AE-SAM's schedule (Weisen Jiang, Hansi Yang, Yu Zhang & James Kwok, "An Adaptive Policy to
 * Employ Sharpness-Aware Minimization", ICLR 2023): SAM's second pass is paid for only where the
 * loss landscape looks sharp, judged by the squared norm of the step's clean gradient against
 * its running statistics. With ‖g_t‖² over the updated variables (one global sum of squares):
 *
 * - μ_t = δ μ_{t−1} + (1−δ) ‖g_t‖²,
 * - σ²_t = δ σ²_{t−1} + (1−δ) (‖g_t‖² − μ_t)² (the new μ_t), with μ₋₁ = σ²₋₁ = 0,
 * - the step is sharp iff ‖g_t‖² ≥ μ_t + c_t σ_t, where σ_t = √σ²_t and
 *   c_t = (t/T) λ₁ + (1 − t/T) λ₂ (t = completed steps, from 0; T = `totalSteps`; for t > T,
 *   c_t is held at λ₁).
 *
 * `needsGradient` is true, so the optimizer makes the clean pass before `decide`; a plain step
 * then updates with that clean gradient (one forward-backward), a sharp step adds the adversarial
 * pass. μ and σ² are float32 scalars kept on the device (state keys `mean`, `variance`), so
 * `getWeights`/`setWeights` round-trip them bit for bit and a step skipped by
 * `onNonFinite: 'skip'` leaves them unchanged. The comparison runs on the device too; its boolean
 * is the one scalar read on the host per step — the only host read any flatmin component makes,
 * because whether to run a second pass is host control flow.
 *
 * @param options - see {@link AdaptivePolicyOptions}; `totalSteps` is required.
 * @returns a schedule for `sharpnessAware({ schedule })`.
 * @throws FlatminConfigError naming the key: `delta` outside (0, 1), `lambda1`/`lambda2` not
 * finite, `totalSteps` missing, not an integer or < 1, an unknown key, or a non-object argument.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs';
 * import { sharpnessAware } from '@flatmin/core';
 * import { gradient } from '@flatmin/perturb-gradient';
 * import { adaptivePolicy } from '@flatmin/schedule-adaptive';
 *
 * const optimizer = sharpnessAware({
 *   base: tf.train.sgd(0.1),
 *   perturbation: gradient({ rho: 0.05 }),
 *   schedule: adaptivePolicy({ totalSteps: 200 * 50 }), // epochs × batches per epoch
 * });
 * ```
 */
export function adaptivePolicy(options: AdaptivePolicyOptions): Schedule {
  const given = checkOptions(options as AdaptivePolicyOptions | undefined, KNOWN_KEYS, WHERE) as Partial<AdaptivePolicyOptions>;
  const delta = checkNumber('delta', given.delta === undefined ? 0.9 : given.delta, { min: 0, max: 1, minExclusive: true, maxExclusive: true }, WHERE);
  const lambda1 = checkNumber('lambda1', given.lambda1 === undefined ? -1 : given.lambda1, {}, WHERE);
  const lambda2 = checkNumber('lambda2', given.lambda2 === undefined ? 1 : given.lambda2, {}, WHERE);
  if (given.totalSteps === undefined) {
    throw new FlatminConfigError('totalSteps', undefined, 'an integer >= 1, and it is required: T, the number of training steps c_t runs over (e.g. epochs × batches per epoch)', WHERE);
  }
  const totalSteps = checkNumber('totalSteps', given.totalSteps, { min: 1, integer: true }, WHERE);
  const coefficient = (step: number): number => {
    const progress = Math.min(step, totalSteps) / totalSteps;
    return progress * lambda1 + (1 - progress) * lambda2;
  };
  return {
    kind: 'schedule',
    name: WHERE,
    config: { delta, lambda1, lambda2, totalSteps },
    needsGradient: true,
    decide: (context: ScheduleContext, state: ComponentState) => {
      if (context.grads === null) {
        throw new FlatminError('adaptivePolicy: decide() got no clean gradient; it needs the clean pass first (needsGradient: true).');
      }
      const squared = sumOfSquares(Object.values(pickNamed(context.grads, context.variables)));
      const mean = tf.add(tf.mul(delta, scalarOf(state, MEAN)), tf.mul(1 - delta, squared)) as tf.Scalar;
      const variance = tf.add(tf.mul(delta, scalarOf(state, VARIANCE)), tf.mul(1 - delta, tf.square(tf.sub(squared, mean)))) as tf.Scalar;
      const threshold = tf.add(mean, tf.mul(coefficient(context.step), tf.sqrt(variance)));
      // The one host read of the step: the branch itself. A NaN ‖g‖² compares false (a plain step).
      const sharp = tf.greaterEqual(squared, threshold).dataSync()[0] === 1;
      return { decision: { sharp }, state: { [MEAN]: mean, [VARIANCE]: variance } };
    },
  };
}

/** A device scalar of the state, or 0 when missing (μ₋₁ = σ²₋₁ = 0). */
function scalarOf(state: ComponentState, key: string): tf.Scalar {
  const value = state[key];
  if (value === undefined) return tf.scalar(0);
  if (typeof value === 'number') return tf.scalar(value);
  return value as tf.Scalar;
}

registerComponent('schedule', WHERE, (config) => adaptivePolicy(config as unknown as AdaptivePolicyOptions));
