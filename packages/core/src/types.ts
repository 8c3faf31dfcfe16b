/**
 * The small core interface every flatmin component implements.
 *
 * A component (perturbation, schedule, combiner, averager) is a plain object made by a
 * factory. Like an optax transform it keeps no hidden state: the optimizer holds each
 * component's {@link ComponentState}, passes it in, and stores what the component
 * returns. That is what lets `getWeights`/`setWeights` save and restore everything.
 *
 * Rules for implementers:
 * - Methods run inside a `tf.tidy` opened by the optimizer: return every tensor you want
 *   to keep (in the result or the new state); everything else is disposed for you.
 * - Never read a tensor on the host (`dataSync`, `arraySync`, `data`) in a step: keep
 *   decisions on the device, or as JS numbers in the state.
 * - Key per-variable state by `variableKey(variable.name, slot)` from `@flatmin/core/kit`
 *   (`` `${name}:${slot}` ``; a slot name has no `:`), never by position, and keep global keys
 *   free of `:`. A key that is missing means "no state yet": create it lazily. The optimizer
 *   renames per-variable keys when a reloaded model's variables get new names, and drops the
 *   keys of variables that no longer exist.
 * - Draw every random number from `context.random` so a seed reproduces a run.
 *
 * @module
 */
import type * as tf from '@tensorflow/tfjs-core';

/** Tensors keyed by `Variable.name`. */
export type NamedTensors = Record<string, tf.Tensor>;

/** A JSON value, for component configs that `getConfig` serializes. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

/**
 * A component's explicit state: tensors (kept on the device) and host numbers
 * (counters, running scalars decided on the host), keyed by name. Numbers round-trip
 * exactly through `getWeights`/`setWeights` (stored as their float64 bits).
 */
export type ComponentState = Readonly<Record<string, tf.Tensor | number>>;

/**
 * The seeded random source every random draw in a step comes from. Host draws use a
 * small counter-free PRNG (sfc32); device draws get their seed from it, so one `seed`
 * reproduces a run bit for bit on the same backend. Its state is saved by `getWeights`.
 */
export interface RandomSource {
  /** A float in [0, 1) drawn on the host. */
  uniform(): number;
  /** A fresh 32-bit integer seed for a tfjs random op (`tf.randomNormal(shape, 0, 1, 'float32', seed)`). */
  nextSeed(): number;
  /** Standard-normal noise of `shape`, drawn on the device with a seed from this source. */
  normal(shape: readonly number[]): tf.Tensor;
  /** Uniform noise in [min, max) of `shape`, from one seed of this source (the same seed, the same values). */
  uniformTensor(shape: readonly number[], min?: number, max?: number): tf.Tensor;
}

/** What every component method receives. */
export interface BaseContext {
  /** Completed optimizer updates before this one (0 on the first step). */
  readonly step: number;
  /** The seeded random source. */
  readonly random: RandomSource;
  /** Small constant added to norms so that a zero vector gives ε = 0, never NaN (1e-12). */
  readonly normEpsilon: number;
  /**
   * The base optimizer's learning rate η at this step, read from its `learningRate` field
   * (a host number: no device read). NaN when the base optimizer has none.
   */
  readonly learningRate: number;
}

/** What a loss closure may return besides the scalar loss (see {@link ObjectiveValue}). */
export interface ObjectiveExtras {
  /** Per-sample losses of the batch, when the closure returned them. */
  readonly perSample: tf.Tensor1D | null;
  /** Named parts of the loss, when the closure returned them. */
  readonly parts: Readonly<Record<string, tf.Scalar>> | null;
}

/**
 * What a loss closure passed to `minimize` may return instead of a plain scalar, from one
 * forward pass: `loss` is the sum of `parts` when both are given and the mean of
 * `perSample`; either may stand in for a missing `loss`.
 */
export interface ObjectiveValue {
  /** The scalar loss to minimize (optional when `perSample` or `parts` is given). */
  loss?: tf.Scalar;
  /** The batch's per-sample losses, one per example (ESAM, ImbSAM's `classSplit`, a Fisher perturbation read them). */
  perSample?: tf.Tensor1D;
  /** Named parts of the loss (ImbSAM's `head`/`tail`), summing to `loss`. */
  parts?: Record<string, tf.Scalar>;
}

/** What one call of the loss closure returned, as a component sees it (`null` for what it did not return). */
export interface ObjectiveOutputs {
  /** The scalar loss (the mean of `perSample`, or the sum of `parts`, when not returned). */
  readonly loss: tf.Scalar;
  /** The per-sample losses, or `null` when the closure did not return them. */
  readonly perSample: tf.Tensor1D | null;
  /** The named parts of the loss, or `null` when the closure did not return them. */
  readonly parts: Readonly<Record<string, tf.Scalar>> | null;
}

/** Context of {@link Perturbation.weighSamples}. */
export interface WeighSamplesContext extends BaseContext {
  /** Per-sample losses at w + ε, of the adversarial pass being differentiated. */
  readonly perSample: tf.Tensor1D;
  /** Per-sample losses at w, of the clean pass (null when no clean pass was made). */
  readonly cleanPerSample: tf.Tensor1D | null;
}

/** A loss closure: `() => loss` (what `model.fit` passes) or `() => ({ loss, perSample?, parts? })`. */
export type Objective = () => tf.Scalar | ObjectiveValue;

/** The parts of an objective a component can require (see {@link ComponentBase.requires}). */
export type ObjectiveField = 'perSample' | 'parts';

/** Members every component has. */
export interface ComponentBase {
  /** The factory name (`'gradient'`, `'adaptive'`, ...): how `getConfig` finds it again. */
  readonly name: string;
  /** The factory options, as JSON, for `getConfig`/`fromConfig`. */
  readonly config: Readonly<Record<string, JsonValue>>;
  /**
   * What the component needs from the loss closure beyond the scalar loss. A step whose
   * closure does not return it (under `model.fit` it never does) throws a `FlatminError`
   * naming the component. A component with a fallback leaves the field out and reads
   * `context.objective` when it is there.
   */
  readonly requires?: readonly ObjectiveField[];
}

/** Context of {@link Perturbation.compute}. */
export interface PerturbationContext extends BaseContext {
  /** The variables to perturb (the optimizer's `scope`), in a stable order. */
  readonly variables: readonly tf.Variable[];
  /**
   * Clean gradients ∇L(w) of the perturbed variables, or `null` when no clean pass
   * was made (`needsGradient: false` and no combiner/schedule asked for one).
   * A variable the loss does not reach has no entry.
   */
  readonly grads: NamedTensors | null;
  /** The clean loss, or `null` when no clean pass was made. */
  readonly loss: tf.Scalar | null;
  /** Per-sample losses and named parts of the clean pass, when the closure returned them. */
  readonly objective: ObjectiveExtras;
  /** The radius for this step: the schedule's ρ(t) or the perturbation's own `rho`. */
  readonly rho: tf.Scalar;
  /**
   * ‖grads‖₂, the global norm of the clean gradients above (0 when `grads` is null), computed
   * once per step on first call and shared with the optimizer's telemetry. Owned by the optimizer.
   */
  gradNorm(): tf.Scalar;
  /**
   * The loss at w + δ, forward only (no gradient), for offsets δ keyed by variable name (a
   * missing entry is δ = 0). The weights are restored exactly afterwards and nothing the closure
   * produces for `model.fit` (metrics, BatchNorm statistics, RNN state) is disturbed. Each call
   * counts as one loss evaluation. The returned scalar is owned by the optimizer.
   */
  evaluate(offsets: NamedTensors): tf.Scalar;
  /**
   * The gradient of a scalar built from the closure's outputs at w + δ (δ = 0 when omitted), with
   * respect to the updated and the perturbed variables (keyed by name), and the closure's loss
   * there: one more forward-backward, counted as a loss evaluation, with the weights restored
   * exactly; as for every pass, only the step's first call of the closure is visible to
   * `model.fit`. E.g. one sample's gradient for an empirical Fisher:
   * `context.gradientOf(({ perSample }) => tf.sum(tf.slice(perSample!, [n], [1]))).grads`.
   * The returned tensors are owned by the optimizer.
   */
  gradientOf(
    build: (outputs: ObjectiveOutputs) => tf.Scalar,
    offsets?: NamedTensors,
  ): {
    /** ∇ of the built scalar at w + δ, keyed by variable name. */
    grads: NamedTensors;
    /** The closure's loss at w + δ. */
    loss: tf.Scalar;
  };
}

/** Context of the `observe` hooks, called after a sharp step's adversarial pass. */
export interface ObserveContext extends BaseContext {
  /** The perturbed variables, in the same order as in `compute`. */
  readonly variables: readonly tf.Variable[];
  /** Clean gradients (null when no clean pass was made). */
  readonly grads: NamedTensors | null;
  /** Gradients at the perturbed point, ∇L(w + ε), of the updated and the perturbed variables. */
  readonly gradsAdv: NamedTensors;
  /** The radius used at this step. */
  readonly rho: tf.Scalar;
}

/** What {@link Perturbation.compute} returns. */
export type PerturbationResult = {
  /** ε per perturbed variable (a missing entry is ε = 0). */
  epsilon: NamedTensors;
  /** The component's new state, when it keeps any. */
  state?: ComponentState;
  /** ‖ε‖₂ when known without a reduction (otherwise the telemetry computes it). */
  epsilonNorm?: tf.Scalar;
  /**
   * The adversarial gradient, when the perturbation took it itself (LPF-SGD's mean over noise
   * draws on batch chunks, each through `context.gradientOf`): of the updated and the perturbed
   * variables, with the loss `minimize` reports. The step then makes no adversarial pass of its
   * own; `epsilon` is still what the telemetry reports.
   */
  adversarial?: {
    /** ∇L(w + ε) of the updated and the perturbed variables, keyed by name. */
    grads: NamedTensors;
    /** The loss `minimize` reports for this step. */
    loss: tf.Scalar;
  };
};

/** Where to look for the worst case: builds ε. */
export interface Perturbation extends ComponentBase {
  /** Always `'perturbation'`. */
  readonly kind: 'perturbation';
  /** The default radius ρ (a schedule may override it per step). */
  readonly rho: number;
  /** Whether `compute` needs the clean gradient. `false` saves the clean pass (pure-noise methods). */
  readonly needsGradient: boolean;
  /**
   * Optional: `true` when ε_i is 0 wherever the clean gradient it is given has g_i = 0, for every
   * input (each ε_i is g_i times a finite factor, or sign(g_i) times one: SAM for any p, ASAM,
   * Fisher SAM). A wrapper that hands it a masked gradient (`sparse` of `@flatmin/perturb-sparse`)
   * then need not mask ε again, and keeps its `epsilonNorm`. Leave it unset when ε has a part that
   * does not come from g (a running mean, noise, a stored gradient).
   */
  readonly vanishesWithGradient?: boolean;
  /**
   * Build ε for every perturbed variable (a missing entry means ε = 0 for that variable).
   * Return the new state too when the component keeps any, and ‖ε‖₂ when it is known without
   * a reduction (SAM: ρ‖g‖/(‖g‖ + ε)); otherwise the telemetry computes it.
   */
  compute(context: PerturbationContext, state: ComponentState): PerturbationResult;
  /** Optional: see the adversarial gradient after a sharp step (e.g. to build the next step's ε from it). */
  observe?(context: ObserveContext, state: ComponentState): ComponentState;
  /**
   * Optional: weigh the samples of the adversarial pass (ESAM's sharpness-sensitive data
   * selection). Called inside the adversarial forward pass with its per-sample losses at w + ε and
   * the clean ones at w; the adversarial gradient is then that of Σ wₙ ℓₙ(w + ε) / Σ wₙ, the
   * weights held constant (no gradient flows through them, so top-k and comparisons are fine).
   * Needs `requires: ['perSample']`; refused with `sharpOn` or several adversarial closures.
   */
  weighSamples?(context: WeighSamplesContext): tf.Tensor1D;
}

/** A schedule's verdict for one step. */
export interface ScheduleDecision {
  /** Take the two-pass sharp step (true) or a plain one-pass step (false). */
  readonly sharp: boolean;
  /** The radius for this step; defaults to the perturbation's `rho`. A device scalar keeps learned ρ off the host. */
  readonly rho?: number | tf.Scalar;
}

/** Context of {@link Schedule.decide} and {@link Schedule.adjust}. */
export interface ScheduleContext extends BaseContext {
  /** The perturbed variables. */
  readonly variables: readonly tf.Variable[];
  /** Clean gradients: present in `decide` only when the schedule sets `needsGradient`, always in `adjust`. */
  readonly grads: NamedTensors | null;
  /** The clean loss, when the clean pass has run (as for `grads`). */
  readonly loss: tf.Scalar | null;
}

/** When to pay for the second pass, and with which ρ. */
export interface Schedule extends ComponentBase {
  /** Always `'schedule'`. */
  readonly kind: 'schedule';
  /** Set when `decide` needs the clean gradient (AE-SAM): the clean pass then runs before `decide`. */
  readonly needsGradient?: boolean;
  /** Decide whether this step is sharp and with which ρ; return the new state when the schedule keeps any. */
  decide(
    context: ScheduleContext,
    state: ComponentState,
  ): {
    /** This step's verdict. */
    decision: ScheduleDecision;
    /** The schedule's new state, when it keeps any. */
    state?: ComponentState;
  };
  /** Optional: on non-sharp steps, change the clean gradient before the base optimizer sees it (LookSAM). */
  adjust?(
    context: ScheduleContext & {
      /** The clean gradient of the updated variables, keyed by variable name. */
      readonly grads: NamedTensors;
      /**
       * ‖grads‖ over every entry, as a device scalar: the step's one reduction of it, shared with
       * the telemetry. The optimizer always passes it; optional so a context made by hand (a
       * component's unit test) may leave it out.
       */
      readonly gradNorm?: () => tf.Scalar;
    },
    state: ComponentState,
  ): {
    /** The gradient the base optimizer applies, keyed by variable name. */
    grads: NamedTensors;
    /** The schedule's new state, when it keeps any. */
    state?: ComponentState;
  };
  /** Optional: after a sharp step, see g and g_adv (LookSAM stores its g_v here). */
  observe?(context: ObserveContext, state: ComponentState): ComponentState;
}

/** Context of {@link Combiner.combine}. */
export interface CombineContext extends BaseContext {
  /** The updated variables. */
  readonly variables: readonly tf.Variable[];
  /** Clean gradients g (present when `needsGradient` is true). */
  readonly grads: NamedTensors | null;
  /** Adversarial gradients g_adv = ∇L(w + ε). */
  readonly gradsAdv: NamedTensors;
  /** The radius used at this step. */
  readonly rho: tf.Scalar;
}

/** How the clean and adversarial gradients make the update direction. */
export interface Combiner extends ComponentBase {
  /** Always `'combiner'`. */
  readonly kind: 'combiner';
  /** Whether `combine` needs the clean gradient (forces the clean pass). */
  readonly needsGradient: boolean;
  /** The update direction from g and g_adv; return the new state when the combiner keeps any. */
  combine(
    context: CombineContext,
    state: ComponentState,
  ): {
    /** The direction the base optimizer applies, keyed by variable name. */
    grads: NamedTensors;
    /** The combiner's new state, when it keeps any. */
    state?: ComponentState;
  };
}

/** Context of {@link Averager.update}. */
export interface AveragerContext extends BaseContext {
  /** The updated variables, after the base optimizer's update of this step. */
  readonly variables: readonly tf.Variable[];
}

/** Which weights to keep: a running average of the trajectory (SWA, EMA, ...). */
export interface Averager extends ComponentBase {
  /** Always `'averager'`. */
  readonly kind: 'averager';
  /** Called after every update with the new weights. */
  update(context: AveragerContext, state: ComponentState): ComponentState;
  /** The averaged weights in `state`, keyed by variable name (used by `apply()`). */
  averaged(state: ComponentState): NamedTensors;
  /** Optional extra `model.fit` callback hooks (SWAD reads the validation loss here). */
  callbackHooks?(handle: AveragerHandle): FitCallbackHooks;
  /**
   * Optional: called outside any step when the averager's committed state was replaced from
   * outside a step, so a component can see it without waiting for the next update (SWAD's
   * `window()`; MESA's teacher, whose weights mirror the averages). Attached, the optimizer calls it
   * right after `setWeights` (per-variable keys still under the saved variable names) and once
   * more before the next step, after re-keying the state onto that step's variables (they differ
   * after `tf.loadLayersModel`); a standalone handle (`attachAverager`) calls it once after its
   * `setWeights`, keys already re-keyed. Read `state`; do not keep or dispose its tensors (they
   * are the optimizer's). Not called after ordinary steps: `update`'s result is the new state.
   */
  restored?(state: ComponentState): void;
  /**
   * Optional: release tensors the component keeps outside its state (SWAD's last computed mean,
   * which `averaged` hands out). Called once, by the optimizer's `dispose()` or by a standalone
   * handle's (`attach`).
   */
  dispose?(): void;
}

/** The subset of tfjs-layers' `CustomCallbackArgs` flatmin uses (plain functions: no tfjs-layers import needed). */
export interface FitCallbackHooks {
  /** Called once when `fit` starts. */
  onTrainBegin?: (logs?: Record<string, unknown>) => void | Promise<void>;
  /** Called once when `fit` ends. */
  onTrainEnd?: (logs?: Record<string, unknown>) => void | Promise<void>;
  /** Called at the start of every epoch. */
  onEpochBegin?: (epoch: number, logs?: Record<string, unknown>) => void | Promise<void>;
  /** Called at the end of every epoch, with the epoch's logs (`loss`, metrics, `val_loss`, ...). */
  onEpochEnd?: (epoch: number, logs?: Record<string, unknown>) => void | Promise<void>;
  /** Called before every batch. */
  onBatchBegin?: (batch: number, logs?: Record<string, unknown>) => void | Promise<void>;
  /** Called after every batch, with the batch's logs. */
  onBatchEnd?: (batch: number, logs?: Record<string, unknown>) => void | Promise<void>;
}

/** Control over an attached averager: swap the averaged weights in and out, or hook it into `model.fit`. */
export interface AveragerHandle {
  /** The averager component. */
  readonly component: Averager;
  /** Copy the averaged weights into the variables (the current weights are kept for `restore()`). */
  apply(): void;
  /** Put back the weights `apply()` replaced. */
  restore(): void;
  /** Whether `apply()` is in effect. */
  readonly applied: boolean;
  /**
   * A `model.fit` callback: with `applyOnTrainEnd` (default true) the model ends training
   * holding the averaged weights, plus the averager's own hooks. It puts the training weights
   * back when a `fit` begins, so the same callback serves repeated `fit` calls.
   */
  callback(options?: { applyOnTrainEnd?: boolean }): FitCallbackHooks;
}
