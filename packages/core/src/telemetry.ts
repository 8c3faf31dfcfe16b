/**
 * Per-step telemetry kept on the device: ‖g‖, ‖ε‖, cos(g, g_adv), ρ and the skipped-steps count.
 * Nothing is read until {@link TelemetryRecorder.read} (called by `optimizer.telemetry()`).
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Counters } from './step/context.js';
import { pick } from './step/pick.js';
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
  /** See {@link Telemetry.gradNorm} (`null` before the first step or with telemetry off). */
  gradNorm: tf.Scalar | null;
  /** See {@link Telemetry.epsilonNorm}. */
  epsilonNorm: tf.Scalar | null;
  /** See {@link Telemetry.cosine}. */
  cosine: tf.Scalar | null;
  /** See {@link Telemetry.rho}. */
  rho: tf.Scalar | null;
  /** See {@link Telemetry.skippedSteps}. */
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

/** The public scalars, derived from the packed vector when asked for. */
interface Derived {
  readonly gradNorm: tf.Scalar;
  readonly epsilonNorm: tf.Scalar;
  readonly cosine: tf.Scalar;
  readonly rho: tf.Scalar;
}

/** cos(g, g_adv) from its parts, as the device formula has it (NaN when a part is missing). */
function cosineOf(gradNorm: number, dot: number, adversarialSquares: number): number {
  return dot / (gradNorm * Math.sqrt(adversarialSquares) + 1e-12);
}

export class TelemetryRecorder {
  /**
   * The last recorded step's [‖g‖, ‖ε‖, g·g_adv, Σg_adv², ρ] as one device vector: one stack and
   * one select per step (a skipped step keeps the previous vector), where one scalar per field
   * would cost a clone and a select each. The cosine is formed when read.
   */
  private packed: tf.Tensor1D | null = null;
  private derived: Derived | null = null;
  private skipped: tf.Scalar | null = null;

  constructor(readonly enabled: boolean) {}

  /**
   * Store this step's values (a skipped step keeps the previous ones, selected on the device) and
   * count the step as skipped when the verdict says so.
   */
  record(measured: StepMeasurements | null, verdict: Verdict | null): void {
    if (verdict !== null) {
      const previous = this.skipped;
      this.skipped = tf.keep(tf.tidy(() => (previous === null ? tf.sub(1, verdict.ok) : tf.sub(tf.add(previous, 1), verdict.ok)) as tf.Scalar));
      previous?.dispose();
    }
    if (!this.enabled || measured === null) return;
    const previous = this.packed;
    const next = tf.tidy(() => {
      const { gradNorm, epsilonNorm, cosine, rho } = measured;
      const withCosine = cosine !== null && gradNorm !== null;
      const values = tf.stack([
        gradNorm ?? tf.scalar(Number.NaN),
        epsilonNorm ?? tf.scalar(0),
        withCosine ? cosine.dot : tf.scalar(Number.NaN),
        withCosine ? cosine.adversarialSquares : tf.scalar(Number.NaN),
        rho,
      ]) as tf.Tensor1D;
      if (verdict === null || previous === null) return values;
      return pick(verdict.ok, values, previous) as tf.Tensor1D;
    });
    this.dropDerived();
    previous?.dispose();
    this.packed = tf.keep(next);
  }

  /** Read the last step's values from the device (one read for the fields, one for the skipped count). */
  async read(counters: Counters): Promise<Telemetry> {
    const packed = this.packed === null || this.packed.isDisposed ? null : await this.packed.data();
    const field = (i: number) => (packed === null ? Number.NaN : packed[i]!);
    const skipped = this.skipped === null || this.skipped.isDisposed ? null : await this.skipped.data();
    return {
      gradNorm: field(0),
      epsilonNorm: field(1),
      cosine: packed === null ? Number.NaN : cosineOf(field(0), field(2), field(3)),
      rho: field(4),
      sharp: counters.lastSharp,
      sharpFraction: counters.steps === 0 ? 0 : counters.sharpSteps / counters.steps,
      skippedSteps: skipped === null ? 0 : skipped[0]!,
      steps: counters.steps,
      lossEvaluations: counters.lossEvaluations,
    };
  }

  /** The device scalars of the last recorded step (made from the packed vector on the first call after a step). */
  tensors(): TelemetryTensors {
    if (this.derived === null && this.packed !== null) {
      const packed = this.packed;
      const derived = tf.tidy(() => {
        const [gradNorm, epsilonNorm, dot, squares, rho] = tf.unstack(packed) as tf.Scalar[];
        const cosine = tf.div(dot!, tf.add(tf.mul(gradNorm!, tf.sqrt(squares!)), 1e-12)) as tf.Scalar;
        return { gradNorm: gradNorm!, epsilonNorm: epsilonNorm!, cosine, rho: rho! };
      });
      for (const t of Object.values(derived)) tf.keep(t);
      this.derived = derived;
    }
    const d = this.derived;
    return { gradNorm: d?.gradNorm ?? null, epsilonNorm: d?.epsilonNorm ?? null, cosine: d?.cosine ?? null, rho: d?.rho ?? null, skippedSteps: this.skipped };
  }

  private dropDerived(): void {
    if (this.derived !== null) for (const t of Object.values(this.derived)) t.dispose();
    this.derived = null;
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
    this.dropDerived();
    this.packed?.dispose();
    this.packed = null;
    this.skipped?.dispose();
    this.skipped = null;
  }
}
