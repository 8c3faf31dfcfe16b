/**
 * What a step works with: the optimizer's settings and store (held across steps), and the
 * {@link Step} of one `minimize` call (its variables, its tensor scope, its closure calls).
 *
 * @module
 */
import type * as tf from '@tensorflow/tfjs-core';
import type { AveragerState } from '../averager-handle.js';
import type { Settings } from '../config.js';
import type { SeededRandom } from '../random.js';
import type { TelemetryRecorder } from '../telemetry.js';
import { globalNorm } from '../tensor-math.js';
import type { Averager, BaseContext, Combiner, NamedTensors, Objective, Perturbation, Schedule } from '../types.js';
import type { Requirement } from './objective.js';
import type { VisibleKeeps } from './sandbox.js';
import { type ComponentStates, StepScope } from './scope.js';

/** Clean gradients summed over the micro-batches seen so far (`accumulate`). */
export interface Accumulated {
  readonly sum: NamedTensors;
  readonly count: number;
  readonly lossSum: tf.Scalar;
}

/** Host counters (all advance only when a step completes; see `Telemetry` for what each counts). */
export interface Counters {
  steps: number;
  sharpSteps: number;
  lastSharp: boolean;
  microIndex: number;
  lossEvaluations: number;
}

/** Everything the optimizer holds across steps. */
export interface Store {
  readonly states: ComponentStates;
  readonly counters: Counters;
  readonly random: SeededRandom;
  readonly telemetry: TelemetryRecorder;
  accumulator: Accumulated | null;
  /** The gradient variables of the last step, in order (saved by getWeights to follow renames). */
  variables: tf.Variable[];
  /** ρ as a device scalar, made once per distinct value (owned by the store; a step that throws takes back the one it made). */
  rhoScalar(value: number, scope: StepScope): tf.Scalar;
}

/** The optimizer as the step sees it. */
export interface StepEnv {
  readonly base: tf.Optimizer;
  readonly settings: Settings;
  readonly perturbation: Perturbation;
  readonly schedule: Schedule;
  readonly combiner: Combiner;
  readonly averager: AveragerState | undefined;
  readonly averagerComponent: Averager | undefined;
  readonly store: Store;
  /** What the components (and `sharpOn`) need from the closure. */
  readonly requirements: readonly Requirement[];
}

/** The variables of one step. */
export interface StepVariables {
  /** What the base optimizer updates (trainable variables of `varList`). */
  readonly update: tf.Variable[];
  /** What ε perturbs (the scope). */
  readonly perturbed: tf.Variable[];
  /** Both, the update variables first: every gradient is taken with respect to these. */
  readonly gradient: tf.Variable[];
}

/** One `minimize` call in progress. */
export class Step {
  readonly scope: StepScope;
  readonly context: BaseContext;
  /** Closure calls made (loss evaluations), committed to the counters when the step completes. */
  evaluations = 0;
  /** The visible call's keeps (and which it pushed), per closure (see the sandbox). */
  readonly seen = new Map<Objective, { keeps: VisibleKeeps; pushed: Set<tf.Tensor> }>();
  /** The norms taken this step, by the tensors they are of. */
  private readonly norms: Array<{ readonly tensors: NamedTensors; readonly norm: tf.Scalar }> = [];

  constructor(
    readonly env: StepEnv,
    readonly variables: StepVariables,
  ) {
    this.scope = new StepScope(env.store.states);
    this.context = {
      step: env.store.counters.steps,
      random: env.store.random,
      normEpsilon: NORM_EPSILON,
      learningRate: learningRateOf(env.base),
    };
  }

  /**
   * ‖tensors‖ (all together), computed once per step for the same tensors under the same names: the
   * perturbation's ‖g‖, the telemetry's and a schedule's (LookSAM) are one reduction. Owned by the
   * step scope.
   */
  normOf(tensors: NamedTensors): tf.Scalar {
    const known = this.norms.find((entry) => !entry.norm.isDisposed && sameTensors(entry.tensors, tensors));
    if (known !== undefined) return known.norm;
    const norm = this.scope.tidy(() => globalNorm(tensors));
    this.norms.push({ tensors: { ...tensors }, norm });
    return norm;
  }
}

/** Whether two maps hold the same tensors under the same names. */
export function sameTensors(a: NamedTensors, b: NamedTensors): boolean {
  const names = Object.keys(a);
  return names.length === Object.keys(b).length && names.every((name) => a[name] === b[name]);
}

/** The small constant added to every norm (a zero vector gives ε = 0, never NaN). */
export const NORM_EPSILON = 1e-12;

/** The base optimizer's `learningRate` field, as a host number (NaN when it has none). */
export function learningRateOf(base: tf.Optimizer): number {
  const value = (base as unknown as { learningRate?: unknown }).learningRate;
  return typeof value === 'number' ? value : Number.NaN;
}
