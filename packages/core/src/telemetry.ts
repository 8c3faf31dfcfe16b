/**
 * Per-step telemetry kept on the device: ‖g‖, ‖ε‖, cos(g, g_adv), ρ and the skipped-steps count.
 * Nothing is read until {@link TelemetryRecorder.read} (called by `optimizer.telemetry()`).
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Counters } from './step/context.js';
import type { Verdict } from './step/scope.js';

/** One step's telemetry, read from the device by `SharpnessAwareOptimizer.telemetry()`. NaN where not computed. */
export interface Telemetry {
  /** ‖g‖₂ of the clean gradient of the updated variables (NaN when no clean pass was made). */
  gradNorm: number;
  /** ‖ε‖₂ (0 on a non-sharp step). */
  epsilonNorm: number;
  /** cos(g, g_adv) from the clean and the adversarial gradients themselves (NaN when a pass is missing). */
  cosine: number;
  /** The ρ used. */
  rho: number;
  /** Whether the last completed step was sharp (two passes). */
  sharp: boolean;
  /** Sharp steps / steps: both count every completed update, skipped ones included (≤ 1). */
  sharpFraction: number;
  /** Updates skipped by `onNonFinite: 'skip'` (a device counter, read here). */
  skippedSteps: number;
  /**
   * Completed updates, skipped ones included: the host cannot know which steps the device skipped
   * without a read. A step that throws is not counted. Micro-batches of an accumulation count once.
   */
  steps: number;
  /** Calls of the loss closure so far (clean, adversarial and forward-only evaluations). */
  lossEvaluations: number;
}

/** The device scalars behind {@link Telemetry} (owned by the optimizer: do not dispose). */
export interface TelemetryTensors {
  gradNorm: tf.Scalar | null;
  epsilonNorm: tf.Scalar | null;
  cosine: tf.Scalar | null;
  rho: tf.Scalar | null;
  skippedSteps: tf.Scalar | null;
}

/** What a step measured (tensors owned by the step; the recorder makes its own copies). */
export interface StepMeasurements {
  gradNorm: tf.Scalar | null;
  epsilonNorm: tf.Scalar | null;
  /** g·g_adv and Σg_adv² over the updated variables, for the cosine. */
  cosine: { dot: tf.Scalar; adversarialSquares: tf.Scalar } | null;
  rho: tf.Scalar;
}

const FIELDS = ['gradNorm', 'epsilonNorm', 'cosine', 'rho'] as const;

export class TelemetryRecorder {
  private current: Record<(typeof FIELDS)[number], tf.Scalar | null> = { gradNorm: null, epsilonNorm: null, cosine: null, rho: null };
  private skipped: tf.Scalar | null = null;

  constructor(readonly enabled: boolean) {}

  /**
   * Store this step's values (a skipped step keeps the previous ones, selected on the device) and
   * count the step as skipped when the verdict says so.
   */
  record(measured: StepMeasurements | null, verdict: Verdict | null): void {
    if (verdict !== null) {
      const previous = this.skipped;
      this.skipped = tf.keep(tf.tidy(() => tf.add(previous ?? tf.scalar(0), tf.sub(1, verdict.ok)) as tf.Scalar));
      previous?.dispose();
    }
    if (!this.enabled || measured === null) return;
    const next = tf.tidy(() => {
      const { gradNorm, epsilonNorm, cosine, rho } = measured;
      const values = {
        gradNorm: gradNorm === null ? tf.scalar(Number.NaN) : tf.clone(gradNorm),
        epsilonNorm: epsilonNorm === null ? tf.scalar(0) : tf.clone(epsilonNorm),
        cosine:
          cosine === null || gradNorm === null
            ? tf.scalar(Number.NaN)
            : (tf.div(cosine.dot, tf.add(tf.mul(gradNorm, tf.sqrt(cosine.adversarialSquares)), 1e-12)) as tf.Scalar),
        rho: tf.clone(rho),
      };
      if (verdict === null) return values;
      const keepOld = (key: (typeof FIELDS)[number]) => {
        const old = this.current[key];
        return old === null ? values[key] : (tf.where(tf.cast(verdict.ok, 'bool'), values[key], old) as tf.Scalar);
      };
      return { gradNorm: keepOld('gradNorm'), epsilonNorm: keepOld('epsilonNorm'), cosine: keepOld('cosine'), rho: keepOld('rho') };
    });
    for (const key of FIELDS) {
      this.current[key]?.dispose();
      this.current[key] = tf.keep(next[key]);
    }
  }

  /** Read the last step's values from the device. */
  async read(counters: Counters): Promise<Telemetry> {
    const read = async (t: tf.Scalar | null) => (t === null || t.isDisposed ? Number.NaN : (await t.data())[0]!);
    return {
      gradNorm: await read(this.current.gradNorm),
      epsilonNorm: await read(this.current.epsilonNorm),
      cosine: await read(this.current.cosine),
      rho: await read(this.current.rho),
      sharp: counters.lastSharp,
      sharpFraction: counters.steps === 0 ? 0 : counters.sharpSteps / counters.steps,
      skippedSteps: this.skipped === null ? 0 : await read(this.skipped),
      steps: counters.steps,
      lossEvaluations: counters.lossEvaluations,
    };
  }

  tensors(): TelemetryTensors {
    return { ...this.current, skippedSteps: this.skipped };
  }

  /** The skipped-steps counter, for getWeights. */
  get skippedCounter(): tf.Scalar | null {
    return this.skipped;
  }

  set skippedCounter(value: tf.Scalar | null) {
    this.skipped?.dispose();
    this.skipped = value;
  }

  dispose(): void {
    for (const key of FIELDS) this.current[key]?.dispose();
    this.skipped?.dispose();
    this.skipped = null;
  }
}
