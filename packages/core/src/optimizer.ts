/**
 * `SharpnessAwareOptimizer`: a `tf.Optimizer` whose `minimize` runs the two-pass
 * sharpness-aware step, so `model.compile({ optimizer })` + `model.fit` and custom
 * loops both work unchanged.
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import type { NamedTensor } from '@tensorflow/tfjs-core/dist/tensor_types.js';
import { AveragerState } from './averager-handle.js';
import { adversarial } from './combiners.js';
import { checkChoice, checkKnownKeys, checkNumber, FlatminConfigError, FlatminError } from './errors.js';
import { SeededRandom } from './random.js';
import { type ComponentKind, lookupComponent } from './registry.js';
import { always } from './schedule.js';
import { decodeNumber, disposeState, encodeNumber, replaceState, stateTensors } from './state.js';
import { globalDot, globalNorm, mapNamed, pickNamed, sumOfSquares } from './tensor-math.js';
import type {
  Averager,
  AveragerHandle,
  BaseContext,
  Combiner,
  ComponentState,
  JsonValue,
  NamedTensors,
  Perturbation,
  Schedule,
} from './types.js';

/**
 * Which variables are perturbed:
 * - `'trainable'` (default): the variables the base optimizer updates (`varList`, or every trainable variable).
 * - `'all'`: those plus every other registered variable, trainable or not (e.g. a frozen LoRA base `W₀`).
 *   Gradient-based perturbations give ε = 0 to variables the loss does not reach; noise perturbations perturb them all.
 * - `'frozen'`: the non-trainable registered variables only.
 * - a predicate on `tf.Variable`, called for every candidate (the updated variables and every registered one).
 *
 * Only the updated (trainable) variables are ever changed by the base optimizer.
 */
export type Scope = 'trainable' | 'all' | 'frozen' | ((variable: tf.Variable) => boolean);

/** What to do with a non-finite loss or gradient (see {@link SharpnessAwareConfig.onNonFinite}). */
export type NonFinitePolicy = 'skip' | 'throw' | 'ignore';

/** Gradient accumulation over micro-batches (see {@link SharpnessAwareConfig.accumulate}). */
export interface AccumulateOptions {
  /** Micro-batches per update, N ≥ 1. */
  steps: number;
  /**
   * Where the adversarial gradient is taken: `'last'` (default) on the last micro-batch only, as in
   * the data-parallel variant of the seeds; `'all'` on every micro-batch (averaged) — this needs every
   * micro-batch at once, so it works only through {@link SharpnessAwareOptimizer.minimizeMicroBatches}.
   */
  adversarial?: 'last' | 'all';
}

/** The configuration of {@link sharpnessAware}. */
export interface SharpnessAwareConfig {
  /** Any tfjs optimizer: it does the actual update with the final gradient. */
  base: tf.Optimizer;
  /** Where to look for the worst case: builds ε (e.g. `gradient({ rho: 0.05 })` for SAM). */
  perturbation: Perturbation;
  /** When to pay for the second pass, and with which ρ. Default {@link always}. */
  schedule?: Schedule;
  /** How g and g_adv make the update. Default {@link adversarial} (SAM). */
  combiner?: Combiner;
  /** Which weights to keep (SWA, EMA, ...): updated after every step. */
  averager?: Averager;
  /** Which variables are perturbed. Default `'trainable'`. */
  scope?: Scope;
  /** Decoupled weight decay λ ≥ 0: λ·w is added to the gradient the base optimizer gets (default 0). */
  weightDecay?: number;
  /** Also add λ·w to the gradient the perturbation sees (the PyTorch ports' behaviour). Default false. */
  weightDecayInPerturbation?: boolean;
  /** Seed of the one generator every random draw comes from. Default: drawn once from `Math.random()` (see `getConfig().seed`). */
  seed?: number;
  /**
   * A non-finite loss or gradient:
   * - `'skip'` (default): decided on the device with no host read — the gradient given to the base
   *   optimizer becomes zeros (an SGD step leaves the weights untouched, no slot turns NaN) and the
   *   step is counted in `telemetry().skippedSteps` (the check may use ‖g‖², so a gradient with
   *   ‖g‖ above ~1e19, whose square overflows float32, counts as non-finite too);
   * - `'throw'`: reads one scalar per step and throws a {@link FlatminError} before any update;
   * - `'ignore'`: tfjs' own behaviour (NaN flows into the weights).
   */
  onNonFinite?: NonFinitePolicy;
  /** Gradient accumulation: a number N or `{ steps: N, adversarial: 'last' | 'all' }`. Default 1 (none). */
  accumulate?: number | AccumulateOptions;
  /** Compute the per-step telemetry scalars on the device (a few reductions per step). Default true. */
  telemetry?: boolean;
  /**
   * `minimize` calls the loss closure twice. Tensors the closure `tf.keep`s during the second
   * (adversarial) call are disposed after it (`'dispose'`, default): that is how `model.fit` with
   * metrics leaks nothing — its closure keeps one metric tensor per call and reads those of the
   * first. Use `'keep'` if your own closure keeps tensors you dispose yourself.
   */
  keptInAdversarialPass?: 'dispose' | 'keep';
}

/** One step's telemetry, read from the device by {@link SharpnessAwareOptimizer.telemetry}. NaN where not computed. */
export interface Telemetry {
  /** ‖g‖₂ of the clean gradient of the updated variables (NaN when no clean pass was made). */
  gradNorm: number;
  /** ‖ε‖₂ (0 on a non-sharp step). */
  epsilonNorm: number;
  /** cos(g, g_adv) (NaN when a pass is missing). */
  cosine: number;
  /** The ρ used. */
  rho: number;
  /** Whether the last step was sharp (two passes). */
  sharp: boolean;
  /** Fraction of sharp steps so far. */
  sharpFraction: number;
  /** Steps whose update was skipped by `onNonFinite: 'skip'`. */
  skippedSteps: number;
  /** Completed updates. */
  steps: number;
}

/** The device scalars behind {@link Telemetry} (owned by the optimizer: do not dispose). */
export interface TelemetryTensors {
  gradNorm: tf.Scalar | null;
  epsilonNorm: tf.Scalar | null;
  cosine: tf.Scalar | null;
  rho: tf.Scalar | null;
  skippedSteps: tf.Scalar | null;
}

type LossFn = () => tf.Scalar;
type Gradients = { loss: tf.Scalar; grads: NamedTensors };

const NORM_EPSILON = 1e-12;
const BASE_PREFIX = 'base/';
const TENSOR_PREFIX = 'flatmin/';
const NUMBER_PREFIX = 'flatmin#/';
const KINDS: ComponentKind[] = ['perturbation', 'schedule', 'combiner', 'averager'];
const CONFIG_KEYS = [
  'base',
  'perturbation',
  'schedule',
  'combiner',
  'averager',
  'scope',
  'weightDecay',
  'weightDecayInPerturbation',
  'seed',
  'onNonFinite',
  'accumulate',
  'telemetry',
  'keptInAdversarialPass',
];

/**
 * A `tf.Optimizer` that runs the sharpness-aware step with pluggable
 * perturbation, schedule, combiner and averager. Build it with {@link sharpnessAware}.
 *
 * One call of `minimize(f)`:
 * 1. the schedule decides whether the step is sharp, and ρ;
 * 2. not sharp: one pass g = ∇f(w) (the schedule may adjust g), the base optimizer applies it;
 * 3. sharp: clean pass g (skipped when nobody needs it), ε from the perturbation, non-trainable
 *    state (BatchNorm moving statistics) snapshotted, w ← w + ε, adversarial pass g_adv = ∇f(w + ε),
 *    w and the snapshot restored exactly (no float re-subtraction), g_final = combine(g, g_adv),
 *    weight decay, non-finite guard, base update;
 * 4. the averager sees the new weights.
 * Nothing is read from the device in the step (except `onNonFinite: 'throw'` and schedules that
 * must decide on the host, one scalar each).
 */
export class SharpnessAwareOptimizer extends tf.Optimizer {
  /** @internal */
  static get className(): string {
    return 'SharpnessAwareOptimizer';
  }

  /** The tfjs optimizer that applies the final gradient. */
  readonly base: tf.Optimizer;
  /** Builds ε (see {@link SharpnessAwareConfig.perturbation}). */
  readonly perturbation: Perturbation;
  /** Decides which steps are sharp, and ρ (default {@link always}). */
  readonly schedule: Schedule;
  /** Makes the update from g and g_adv (default {@link adversarial}). */
  readonly combiner: Combiner;
  /** The attached averager's handle (`apply`, `restore`, `callback`), or undefined. */
  readonly averager: AveragerHandle | undefined;
  /** Which variables are perturbed (see {@link Scope}). */
  readonly scope: Scope;
  /** Decoupled weight decay λ added to the base optimizer's gradient. */
  readonly weightDecay: number;
  /** Whether λ·w is also added to the gradient the perturbation sees. */
  readonly weightDecayInPerturbation: boolean;
  /** The seed of the generator every random draw comes from (the one drawn when none was given). */
  readonly seed: number;
  /** What a non-finite loss or gradient does (see {@link SharpnessAwareConfig.onNonFinite}). */
  readonly onNonFinite: NonFinitePolicy;
  /** Micro-batches per update (`accumulate.steps`). */
  readonly accumulateSteps: number;
  /** Where the adversarial gradient of an accumulated step is taken (`accumulate.adversarial`). */
  readonly accumulateAdversarial: 'last' | 'all';
  /** Whether the per-step telemetry scalars are computed. */
  readonly telemetryEnabled: boolean;
  /** What happens to tensors the loss closure keeps during the adversarial pass. */
  readonly keptInAdversarialPass: 'dispose' | 'keep';

  private readonly random: SeededRandom;
  private states: Record<ComponentKind, ComponentState> = { perturbation: {}, schedule: {}, combiner: {}, averager: {} };
  private stepCount = 0;
  private sharpCount = 0;
  private lastSharp = false;
  private microIndex = 0;
  private accumulator: NamedTensors | null = null;
  private skipped: tf.Scalar | null = null;
  private readonly rhoCache = new Map<number, tf.Scalar>();
  private lastTelemetry: Omit<TelemetryTensors, 'skippedSteps'> = { gradNorm: null, epsilonNorm: null, cosine: null, rho: null };
  private readonly averagerState: AveragerState | undefined;
  private disposed = false;

  constructor(config: SharpnessAwareConfig) {
    super();
    if (config == null || typeof config !== 'object') {
      throw new FlatminConfigError('config', config, 'an object with at least { base, perturbation }', 'sharpnessAware');
    }
    checkKnownKeys(config, CONFIG_KEYS, 'sharpnessAware');
    if (!(config.base instanceof tf.Optimizer)) {
      throw new FlatminConfigError('base', config.base, 'a tfjs optimizer such as tf.train.sgd(0.1)', 'sharpnessAware');
    }
    this.base = config.base;
    this.perturbation = checkComponent('perturbation', config.perturbation, 'gradient({ rho: 0.05 }) from @flatmin/perturb-gradient');
    this.schedule = checkComponent('schedule', config.schedule ?? always(), 'always() or a schedule package factory');
    this.combiner = checkComponent('combiner', config.combiner ?? adversarial(), 'adversarial(), mix() or surrogateGap()');
    const averager = config.averager === undefined ? undefined : checkComponent('averager', config.averager, 'an averager such as ema()');
    const scope = config.scope ?? 'trainable';
    if (typeof scope !== 'function') checkChoice('scope', scope, ['trainable', 'all', 'frozen'], 'sharpnessAware');
    this.scope = scope;
    this.weightDecay = checkNumber('weightDecay', config.weightDecay ?? 0, { min: 0 }, 'sharpnessAware');
    this.weightDecayInPerturbation = checkBoolean('weightDecayInPerturbation', config.weightDecayInPerturbation ?? false);
    this.seed = checkNumber('seed', config.seed ?? Math.floor(Math.random() * 2 ** 32), { integer: true }, 'sharpnessAware');
    this.onNonFinite = checkChoice('onNonFinite', config.onNonFinite ?? 'skip', ['skip', 'throw', 'ignore'], 'sharpnessAware');
    const accumulate = typeof config.accumulate === 'number' || config.accumulate === undefined ? { steps: config.accumulate ?? 1 } : config.accumulate;
    if (typeof accumulate !== 'object' || accumulate === null) {
      throw new FlatminConfigError('accumulate', config.accumulate, 'a whole number >= 1 or { steps, adversarial }', 'sharpnessAware');
    }
    checkKnownKeys(accumulate, ['steps', 'adversarial'], 'sharpnessAware accumulate');
    this.accumulateSteps = checkNumber('accumulate.steps', accumulate.steps, { integer: true, min: 1 }, 'sharpnessAware');
    this.accumulateAdversarial = checkChoice('accumulate.adversarial', accumulate.adversarial ?? 'last', ['last', 'all'], 'sharpnessAware');
    this.telemetryEnabled = checkBoolean('telemetry', config.telemetry ?? true);
    this.keptInAdversarialPass = checkChoice('keptInAdversarialPass', config.keptInAdversarialPass ?? 'dispose', ['dispose', 'keep'], 'sharpnessAware');
    this.random = new SeededRandom(this.seed);
    if (averager !== undefined) {
      this.averagerState = new AveragerState(
        averager,
        () => this.states.averager,
        () => this.updatedVariablesSeen,
      );
      this.averager = this.averagerState.handle;
    } else {
      this.averagerState = undefined;
      this.averager = undefined;
    }
  }

  /** The variables the last step updated (for the averager's `apply`). */
  private updatedVariablesSeen: tf.Variable[] = [];

  // ---------------------------------------------------------------------------------------------
  // The step

  /**
   * Run one sharpness-aware step on the loss `f` (called twice on sharp steps) and return the
   * clean loss when `returnCost` (the adversarial loss when no clean pass was made). `varList`
   * defaults to every trainable variable, as in tfjs.
   *
   * With `accumulate: N`, each call is one micro-batch: calls 1…N−1 only accumulate the clean
   * gradient; call N makes the update.
   */
  override minimize(f: () => tf.Scalar, returnCost = false, varList?: tf.Variable[]): tf.Scalar | null {
    this.assertUsable();
    if (this.accumulateSteps === 1) return this.step([f], null, returnCost, varList);
    if (this.accumulateAdversarial === 'all') {
      throw new FlatminError(
        "accumulate.adversarial 'all' needs every micro-batch at once: call optimizer.minimizeMicroBatches([f1, …, fN]) instead of minimize (model.fit cannot feed it; use 'last' there).",
      );
    }
    if (this.microIndex < this.accumulateSteps - 1) {
      const updateVariables = this.updateVariables(varList);
      const { loss, grads } = this.gradientsOf(f, unionVariables(updateVariables, this.perturbedVariables(updateVariables)));
      const previous = this.accumulator;
      this.accumulator = tf.tidy(() => (previous === null ? { ...grads } : addNamed(previous, grads)));
      keepNamed(this.accumulator);
      if (previous !== null) {
        // The sums replaced both the old buffer and this batch's gradients (except names only one had).
        disposeNamed(previous, this.accumulator);
        disposeNamed(grads, this.accumulator);
      }
      this.microIndex += 1;
      if (returnCost) return loss;
      loss.dispose();
      return null;
    }
    const prior = this.accumulator === null ? null : { grads: this.accumulator, count: this.accumulateSteps - 1 };
    try {
      return this.step([f], prior, returnCost, varList);
    } finally {
      if (this.accumulator !== null) disposeNamed(this.accumulator);
      this.accumulator = null;
      this.microIndex = 0;
    }
  }

  /**
   * Gradient accumulation with every micro-batch at once (custom loops): ε from the summed clean
   * gradients of `losses`, the adversarial gradient on the last micro-batch (`accumulate.adversarial:
   * 'last'`) or on every one, averaged (`'all'`); the base optimizer gets the mean. Returns the
   * mean clean loss when `returnCost`. Independent of `accumulate.steps`.
   *
   * @example
   * ```ts
   * const optimizer = sharpnessAware({ base: tf.train.sgd(0.1), perturbation: gradient(), accumulate: { steps: 4, adversarial: 'all' } });
   * optimizer.minimizeMicroBatches(batches.map((b) => () => loss(model, b)));
   * ```
   */
  minimizeMicroBatches(losses: ReadonlyArray<() => tf.Scalar>, returnCost = false, varList?: tf.Variable[]): tf.Scalar | null {
    this.assertUsable();
    if (!Array.isArray(losses) || losses.length === 0 || !losses.every((f) => typeof f === 'function')) {
      throw new FlatminError('minimizeMicroBatches needs a non-empty array of loss functions.');
    }
    const adversarialFs = this.accumulateAdversarial === 'all' ? [...losses] : [losses[losses.length - 1]!];
    return this.step([...losses], null, returnCost, varList, adversarialFs);
  }

  private step(
    cleanFs: LossFn[],
    prior: { grads: NamedTensors; count: number } | null,
    returnCost: boolean,
    varList: tf.Variable[] | undefined,
    adversarialFs: LossFn[] = cleanFs.slice(-1),
  ): tf.Scalar | null {
    const updateVariables = this.updateVariables(varList);
    const perturbedVariables = this.perturbedVariables(updateVariables);
    const gradientVariables = unionVariables(updateVariables, perturbedVariables);
    this.updatedVariablesSeen = updateVariables;
    const base: BaseContext = { step: this.stepCount, random: this.random, normEpsilon: NORM_EPSILON };
    const owned: tf.Tensor[] = []; // tensors this step made and disposes at the end
    let clean: { loss: tf.Scalar; sum: NamedTensors; mean: NamedTensors } | null = null;
    try {
      const forceClean = prior !== null || cleanFs.length > 1;
      if (this.schedule.needsGradient || forceClean) {
        clean = this.cleanPass(cleanFs, prior, gradientVariables);
        owned.push(...Object.values(clean.sum), ...Object.values(clean.mean), clean.loss);
      }
      const decision = this.runComponent('schedule', (state) =>
        this.schedule.decide({ ...base, variables: updateVariables, grads: clean?.mean ?? null, loss: clean?.loss ?? null }, state),
      ).decision;
      const rho = this.rhoScalar(decision.rho);
      if (decision.rho !== undefined && typeof decision.rho !== 'number') owned.push(decision.rho);
      if (!decision.sharp) {
        if (clean === null) {
          clean = this.cleanPass(cleanFs, null, updateVariables);
          owned.push(...Object.values(clean.sum), ...Object.values(clean.mean), clean.loss);
        }
        let grads = pickNamed(clean.mean, updateVariables);
        if (this.schedule.adjust !== undefined) {
          const adjust = this.schedule.adjust.bind(this.schedule);
          const cleanGrads = grads;
          grads = this.runComponent('schedule', (state) =>
            adjust({ ...base, variables: updateVariables, grads: cleanGrads, loss: clean?.loss ?? null }, state),
          ).grads;
          owned.push(...Object.values(grads));
        }
        if (this.telemetryEnabled) {
          const mean = clean.mean;
          const gradNorm = tf.tidy(() => globalNorm(Object.values(pickNamed(mean, updateVariables))));
          owned.push(gradNorm);
          this.recordTelemetry(gradNorm, null, null, rho);
        }
        this.lastSharp = false;
        this.applyUpdate(grads, clean.loss, updateVariables);
        return returnCost ? tf.keep(clean.loss.clone()) : null;
      }

      // Sharp step.
      const needsClean = this.perturbation.needsGradient || this.combiner.needsGradient;
      if (needsClean && clean === null) {
        clean = this.cleanPass(cleanFs, null, gradientVariables);
        owned.push(...Object.values(clean.sum), ...Object.values(clean.mean), clean.loss);
      }
      const perturbationGrads = clean === null ? null : this.perturbationGradients(clean.sum, perturbedVariables);
      if (perturbationGrads !== null) owned.push(...Object.values(perturbationGrads));
      let sharedGradNorm: tf.Scalar | null = null;
      const gradNormOnce = (): tf.Scalar => {
        if (sharedGradNorm === null) {
          const grads = perturbationGrads ?? {};
          sharedGradNorm = tf.keep(tf.tidy(() => globalNorm(Object.values(grads))));
          owned.push(sharedGradNorm);
        }
        return sharedGradNorm;
      };
      const { epsilon, epsilonNorm: knownEpsilonNorm } = this.runComponent('perturbation', (state) =>
        this.perturbation.compute(
          { ...base, variables: perturbedVariables, grads: perturbationGrads, loss: clean?.loss ?? null, rho, gradNorm: gradNormOnce },
          state,
        ),
      );
      if (knownEpsilonNorm !== undefined) owned.push(knownEpsilonNorm);
      const epsilonNorm = this.telemetryEnabled ? (knownEpsilonNorm ?? tf.tidy(() => globalNorm(Object.values(epsilon)))) : null;
      if (epsilonNorm !== null) owned.push(epsilonNorm);
      // Adversarial gradients of the updated and the perturbed variables (observers may need both).
      const needsAll = this.perturbation.observe !== undefined || this.schedule.observe !== undefined;
      // cos(g, g_adv) from ε when ε ∝ g over exactly the updated variables: g need not stay alive.
      const cosineFromEpsilon =
        this.telemetryEnabled &&
        this.perturbation.alignedWithGradient === true &&
        this.scope === 'trainable' &&
        !(this.weightDecayInPerturbation && this.weightDecay > 0);
      let gradNorm: tf.Scalar | null = null;
      if (clean !== null && !this.combiner.needsGradient && !needsAll && (!this.telemetryEnabled || cosineFromEpsilon)) {
        // Nobody needs g any more: free it before the adversarial pass (lower peak memory).
        if (this.telemetryEnabled) {
          // The perturbation's ‖g‖ is the telemetry's when it saw the same gradient (scope 'trainable', one batch).
          if (cleanFs.length === 1 && prior === null && sharedGradNorm !== null) {
            gradNorm = sharedGradNorm;
          } else {
            const mean = clean.mean;
            gradNorm = tf.tidy(() => globalNorm(Object.values(pickNamed(mean, updateVariables))));
            owned.push(gradNorm);
          }
        }
        this.disposeUnlessState([...Object.values(clean.sum), ...Object.values(clean.mean)]);
        clean = { loss: clean.loss, sum: {}, mean: {} };
      }
      const adversarialPass = this.adversarialPass(
        adversarialFs,
        epsilon,
        perturbedVariables,
        needsAll ? gradientVariables : updateVariables,
        cosineFromEpsilon && gradNorm !== null,
      );
      owned.push(...Object.values(adversarialPass.grads), adversarialPass.loss);
      if (adversarialPass.epsilonDot !== null) owned.push(adversarialPass.epsilonDot);
      const adversarialUpdate = pickNamed(adversarialPass.grads, updateVariables);
      const cleanForCombiner = clean === null ? null : pickNamed(clean.mean, updateVariables);
      const { grads } = this.runComponent('combiner', (state) =>
        this.combiner.combine({ ...base, variables: updateVariables, grads: cleanForCombiner, gradsAdv: adversarialUpdate, rho }, state),
      );
      owned.push(...Object.values(grads));
      const observeContext = {
        ...base,
        variables: gradientVariables,
        grads: clean === null ? null : pickNamed(clean.mean, gradientVariables),
        gradsAdv: adversarialPass.grads,
        rho,
      };
      const observePerturbation = this.perturbation.observe?.bind(this.perturbation);
      if (observePerturbation !== undefined) this.runState('perturbation', (state) => observePerturbation(observeContext, state));
      const observeSchedule = this.schedule.observe?.bind(this.schedule);
      if (observeSchedule !== undefined) this.runState('schedule', (state) => observeSchedule(observeContext, state));
      // ‖g_adv‖², once: for the telemetry, and as the finite-check of the update when g_final is g_adv.
      const adversarialSquares = this.telemetryEnabled ? tf.tidy(() => sumOfSquares(Object.values(adversarialUpdate))) : null;
      if (adversarialSquares !== null) owned.push(adversarialSquares);
      if (adversarialSquares !== null) {
        let cosine: { dot: tf.Scalar; norm: tf.Scalar; adversarialSquares: tf.Scalar } | null = null;
        if (gradNorm !== null) {
          // g was freed early: cos(g, g_adv) = cos(ε, g_adv), since ε ∝ g.
          const dot = adversarialPass.epsilonDot;
          if (dot !== null && epsilonNorm !== null) cosine = { dot, norm: epsilonNorm, adversarialSquares };
        } else if (clean !== null) {
          const g = pickNamed(clean.mean, updateVariables);
          gradNorm = tf.tidy(() => globalNorm(Object.values(g)));
          const dot = tf.tidy(() => globalDot(g, adversarialUpdate));
          owned.push(gradNorm, dot);
          cosine = { dot, norm: gradNorm, adversarialSquares };
        }
        this.recordTelemetry(gradNorm, cosine, epsilonNorm, rho);
      }
      this.lastSharp = true;
      this.sharpCount += 1;
      const lossForGuard = clean?.loss ?? adversarialPass.loss;
      const names = Object.keys(grads);
      const isAdversarial = names.length === Object.keys(adversarialUpdate).length && names.every((name) => grads[name] === adversarialUpdate[name]);
      this.applyUpdate(grads, lossForGuard, updateVariables, isAdversarial ? adversarialSquares : null);
      return returnCost ? tf.keep(lossForGuard.clone()) : null;
    } finally {
      this.disposeUnlessState(owned);
    }
  }

  /** Dispose step temporaries, sparing any tensor a component kept in its state. */
  private disposeUnlessState(tensors: Iterable<tf.Tensor>): void {
    const kept = new Set(KINDS.flatMap((kind) => stateTensors(this.states[kind])));
    for (const tensor of tensors) if (!kept.has(tensor) && !tensor.isDisposed) tensor.dispose();
  }

  /** Clean pass(es): sum and mean of ∇f over the micro-batches (plus a prior accumulated sum). */
  private cleanPass(
    fs: LossFn[],
    prior: { grads: NamedTensors; count: number } | null,
    variables: tf.Variable[],
  ): { loss: tf.Scalar; sum: NamedTensors; mean: NamedTensors } {
    const results: Gradients[] = [];
    try {
      for (const f of fs) results.push(this.gradientsOf(f, variables));
      if (results.length === 1 && prior === null) {
        const only = results[0]!;
        return { loss: only.loss, sum: only.grads, mean: { ...only.grads } };
      }
      const count = results.length + (prior?.count ?? 0);
      return tf.tidy(() => {
        let sum = prior === null ? results[0]!.grads : addNamed(prior.grads, results[0]!.grads);
        for (const r of results.slice(1)) sum = addNamed(sum, r.grads);
        const mean = mapNamed(sum, (t) => tf.div(t, count));
        const loss = tf.div(tf.addN(results.map((r) => r.loss)), results.length) as tf.Scalar;
        // Clones share data (no copy) and survive the disposal of the per-batch results below.
        return { loss, sum: mapNamed(sum, (t) => t.clone()), mean };
      });
    } finally {
      if (!(results.length === 1 && prior === null)) {
        for (const r of results) {
          r.loss.dispose();
          disposeNamed(r.grads);
        }
      }
    }
  }

  /** The clean gradient the perturbation sees (with weight decay when asked). */
  private perturbationGradients(sum: NamedTensors, perturbedVariables: tf.Variable[]): NamedTensors {
    const picked = pickNamed(sum, perturbedVariables);
    if (!(this.weightDecayInPerturbation && this.weightDecay > 0)) return picked;
    const decay = this.weightDecay;
    return tf.tidy(() => {
      const out: NamedTensors = {};
      for (const v of perturbedVariables) {
        const g = picked[v.name];
        if (g !== undefined) out[v.name] = tf.add(g, tf.mul(v, decay));
      }
      return out;
    });
  }

  /**
   * w ← w + ε; g_adv = mean ∇f(w + ε) over `fs`; w and non-trainable state restored exactly.
   * With `measureEpsilonDot`, also ε·g_adv, from the displacement (w + ε) − w before the restore.
   */
  private adversarialPass(
    fs: LossFn[],
    epsilon: NamedTensors,
    perturbedVariables: tf.Variable[],
    gradientVariables: tf.Variable[],
    measureEpsilonDot = false,
  ): Gradients & { epsilonDot: tf.Scalar | null } {
    const perturbed = new Set(perturbedVariables.map((v) => v.name));
    // Snapshots share the variables' data (tf.clone does not copy): restoring is a pointer swap.
    const snapshots: Array<[tf.Variable, tf.Tensor]> = [];
    for (const variable of Object.values(tf.engine().registeredVariables)) {
      if (perturbed.has(variable.name) || !variable.trainable) snapshots.push([variable, tf.clone(variable)]);
    }
    // Tensors the loss closure keeps during this pass are recorded (and disposed below) by
    // wrapping the engine's keep for the duration of the pass: tf.keep calls engine.keep.
    const engine = tf.engine();
    const originalKeep = engine.keep;
    const keepWasOwn = Object.hasOwn(engine, 'keep');
    const keptDuringPass: tf.Tensor[] = [];
    let results: Gradients[] = [];
    let epsilonDot: tf.Scalar | null = null;
    try {
      tf.tidy(() => {
        for (const v of perturbedVariables) {
          const e = epsilon[v.name];
          if (e !== undefined) v.assign(tf.add(v, e));
        }
      });
      this.disposeUnlessState(Object.values(epsilon));
      if (this.keptInAdversarialPass === 'dispose') {
        engine.keep = <T extends tf.Tensor>(tensor: T): T => {
          keptDuringPass.push(tensor);
          return originalKeep.call(engine, tensor) as T;
        };
      }
      results = fs.map((f) => this.gradientsOf(f, gradientVariables));
      if (measureEpsilonDot && results.length === 1) {
        const gradsAdv = results[0]!.grads;
        const before = new Map(snapshots);
        epsilonDot = tf.tidy(() => {
          const terms = perturbedVariables
            .filter((v) => gradsAdv[v.name] !== undefined && before.has(v))
            .map((v) => tf.tidy(() => tf.sum(tf.mul(gradsAdv[v.name]!, tf.sub(v, before.get(v)!)))));
          return terms.length === 0 ? tf.scalar(0) : (tf.addN(terms) as tf.Scalar);
        });
      }
    } finally {
      if (keepWasOwn) engine.keep = originalKeep;
      else delete (engine as { keep?: unknown }).keep;
      for (const [variable, snapshot] of snapshots) {
        if (variable.dataId !== snapshot.dataId) variable.assign(snapshot);
        snapshot.dispose();
      }
      for (const tensor of keptDuringPass) if (!tensor.isDisposed && !results.some((r) => r.loss === tensor)) tensor.dispose();
    }
    if (results.length === 1) return { ...results[0]!, epsilonDot };
    try {
      const averaged: Gradients = tf.tidy(() => {
        let sum = results[0]!.grads;
        for (const r of results.slice(1)) sum = addNamed(sum, r.grads);
        return {
          grads: mapNamed(sum, (t) => tf.div(t, results.length)),
          loss: tf.div(tf.addN(results.map((r) => r.loss)), results.length) as tf.Scalar,
        };
      });
      return { ...averaged, epsilonDot: null };
    } finally {
      for (const r of results) {
        r.loss.dispose();
        disposeNamed(r.grads);
      }
    }
  }

  /** Weight decay, the non-finite guard, the base update, the averager. Disposes nothing it was given. */
  /**
   * @param squares optional Σ‖g‖² of exactly `grads`, already computed: then the finite check costs
   *   no extra reduction (a sum of squares is finite iff every element is, barring |g| > ~1e19).
   */
  private applyUpdate(grads: NamedTensors, loss: tf.Scalar, updateVariables: tf.Variable[], squares: tf.Scalar | null = null): void {
    const decay = this.weightDecay;
    const policy = this.onNonFinite;
    const decayed = tf.tidy(() => {
      const out: NamedTensors = {};
      for (const v of updateVariables) {
        const g = grads[v.name];
        if (g !== undefined) out[v.name] = decay > 0 ? tf.add(g, tf.mul(v, decay)) : g;
      }
      return out;
    });
    // One device boolean: are the loss and every gradient finite?
    const ok =
      policy === 'ignore'
        ? null
        : // Σ of every element is finite iff no element is NaN/±Inf (barring a finite sum beyond ~3e38):
          // one reduction per gradient instead of an element-wise isFinite pass.
          tf.tidy(() =>
            squares !== null && decay === 0
              ? (tf.isFinite(tf.add(loss, squares)) as tf.Scalar)
              : (tf.isFinite(tf.addN([loss, ...Object.values(decayed).map((g) => tf.sum(g))])) as tf.Scalar),
          );
    let final = decayed;
    try {
      if (ok !== null && policy === 'throw' && ok.dataSync()[0] === 0) {
        throw new FlatminError(
          `non-finite loss or gradient at step ${this.stepCount} (onNonFinite: 'throw'); the weights were not updated. Lower the learning rate or ρ, or use onNonFinite: 'skip'.`,
        );
      }
      if (ok !== null && policy === 'skip') {
        // g·s with s = 1 (finite step) or NaN (skip), then NaN → 0: an element-wise condition,
        // because broadcasting a scalar boolean (tf.where(ok, …)) is a slow Tile on wasm.
        final = tf.tidy(() => {
          const okFloat = tf.cast(ok, 'float32');
          const s = tf.div(okFloat, okFloat); // 1, or 0/0 = NaN when the step is skipped
          return mapNamed(decayed, (g) => {
            const gated = tf.mul(g, s);
            const finite = tf.isFinite(gated);
            // The Select kernel directly: tf.where would first broadcast (clone) all three inputs.
            // The cast is 0 wherever it is picked.
            return tf.engine().runKernel('Select', { condition: finite, t: gated, e: tf.cast(finite, 'float32') }) as tf.Tensor;

          });
        });
        const previous = this.skipped;
        this.skipped = tf.keep(tf.tidy(() => tf.add(previous ?? tf.scalar(0), tf.sub(1, tf.cast(ok, 'float32'))) as tf.Scalar));
        previous?.dispose();
      }
      this.base.applyGradients(updateVariables.filter((v) => final[v.name] !== undefined).map((v) => ({ name: v.name, tensor: final[v.name]! })));
    } finally {
      for (const map of [decayed, final]) for (const [name, tensor] of Object.entries(map)) if (tensor !== grads[name] && !tensor.isDisposed) tensor.dispose();
      ok?.dispose();
    }
    this.stepCount += 1;
    if (this.averagerState !== undefined) {
      const component = this.averagerState.component;
      const context = { step: this.stepCount - 1, random: this.random, normEpsilon: NORM_EPSILON, variables: updateVariables };
      this.runState('averager', (state) => component.update(context, state));
    }
  }

  /** ∇f with respect to `variables` (any variable, trainable or not), with flatmin's errors. */
  private gradientsOf(f: LossFn, variables: tf.Variable[]): Gradients {
    if (variables.length === 0) throw new FlatminError('there are no variables to optimize: pass varList or create trainable variables.');
    let result: { value: tf.Tensor; grads: (tf.Tensor | undefined)[] };
    try {
      result = tf.engine().gradients(f, variables, undefined, true) as typeof result;
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      if (/gradient function not found/i.test(message)) {
        throw new FlatminError(
          `${message} No gradients are registered for this op. In Node, '@tensorflow/tfjs-core' alone registers no gradients: import '@tensorflow/tfjs' or '@tensorflow/tfjs-layers' (or tfjs-node) once, before training.`,
          { cause: error },
        );
      }
      throw error;
    }
    const { value, grads } = result;
    const named: NamedTensors = {};
    variables.forEach((v, i) => {
      const g = grads[i];
      if (g != null) named[v.name] = g;
    });
    if (value.rank !== 0 || Object.keys(named).length === 0) {
      value.dispose();
      disposeNamed(named);
      throw new FlatminError(
        value.rank !== 0
          ? `the loss function must return a scalar, but it returned a rank-${value.rank} tensor.`
          : 'Cannot find a connection between any variable and the result of the loss function: make sure the ops that use the variables run inside the function passed to minimize().',
      );
    }
    return { loss: value as tf.Scalar, grads: named };
  }

  /** Run a component method in a tidy, store its new state, return the rest. */
  private runComponent<R extends { state?: ComponentState }>(kind: ComponentKind, fn: (state: ComponentState) => R): Omit<R, 'state'> {
    const current = this.states[kind];
    const result = tf.tidy(() => fn(current) as unknown as tf.TensorContainer) as unknown as R;
    const { state, ...rest } = result;
    if (state !== undefined) this.states[kind] = replaceState(current, state);
    return rest;
  }

  private runState(kind: ComponentKind, fn: (state: ComponentState) => ComponentState): void {
    this.runComponent(kind, (state) => ({ state: fn(state) }));
  }

  private updateVariables(varList: tf.Variable[] | undefined): tf.Variable[] {
    const candidates = varList ?? Object.values(tf.engine().registeredVariables);
    return candidates.filter((v) => v.trainable);
  }

  private perturbedVariables(updateVariables: tf.Variable[]): tf.Variable[] {
    const scope = this.scope;
    if (scope === 'trainable') return updateVariables;
    const registered = Object.values(tf.engine().registeredVariables);
    if (scope === 'frozen') return registered.filter((v) => !v.trainable);
    const candidates = unionVariables(updateVariables, registered);
    return scope === 'all' ? candidates : candidates.filter((v) => scope(v));
  }

  private rhoScalar(rho: number | tf.Scalar | undefined): tf.Scalar {
    if (rho !== undefined && typeof rho !== 'number') return rho;
    const value = rho ?? this.perturbation.rho;
    let scalar = this.rhoCache.get(value);
    if (scalar === undefined) {
      if (this.rhoCache.size > 64) this.clearRhoCache();
      scalar = tf.keep(tf.scalar(value));
      this.rhoCache.set(value, scalar);
    }
    return scalar;
  }

  private clearRhoCache(): void {
    for (const scalar of this.rhoCache.values()) scalar.dispose();
    this.rhoCache.clear();
  }

  /**
   * Keep this step's telemetry scalars (the previous step's are disposed). The cosine is
   * dot/(norm·‖g_adv‖): g·g_adv over ‖g‖, or, when g was freed early (ε ∝ g), ε·g_adv over ‖ε‖.
   */
  private recordTelemetry(
    gradNorm: tf.Scalar | null,
    cosine: { dot: tf.Scalar; norm: tf.Scalar; adversarialSquares: tf.Scalar } | null,
    epsilonNorm: tf.Scalar | null,
    rho: tf.Scalar,
  ): void {
    if (!this.telemetryEnabled) return;
    const previous = this.lastTelemetry;
    this.lastTelemetry = tf.tidy(() => ({
      gradNorm: gradNorm === null ? tf.scalar(Number.NaN) : tf.clone(gradNorm),
      cosine:
        cosine === null
          ? tf.scalar(Number.NaN)
          : (tf.div(cosine.dot, tf.add(tf.mul(cosine.norm, tf.sqrt(cosine.adversarialSquares)), NORM_EPSILON)) as tf.Scalar),
      epsilonNorm: epsilonNorm === null ? tf.scalar(0) : tf.clone(epsilonNorm),
      rho: tf.clone(rho),
    }));
    for (const t of Object.values(this.lastTelemetry)) if (t !== null) tf.keep(t);
    for (const t of Object.values(previous)) t?.dispose();
  }

  // ---------------------------------------------------------------------------------------------
  // Telemetry, state, config

  /** The last step's telemetry, read from the device (this is the only place it is read). */
  async telemetry(): Promise<Telemetry> {
    const read = async (t: tf.Scalar | null) => (t === null || t.isDisposed ? Number.NaN : (await t.data())[0]!);
    const t = this.lastTelemetry;
    return {
      gradNorm: await read(t.gradNorm),
      epsilonNorm: await read(t.epsilonNorm),
      cosine: await read(t.cosine),
      rho: await read(t.rho),
      sharp: this.lastSharp,
      sharpFraction: this.stepCount === 0 ? 0 : this.sharpCount / this.stepCount,
      skippedSteps: this.skipped === null ? 0 : await read(this.skipped),
      steps: this.stepCount,
    };
  }

  /** The device scalars behind {@link telemetry}, without reading them (owned by the optimizer). */
  telemetryTensors(): TelemetryTensors {
    return { ...this.lastTelemetry, skippedSteps: this.skipped };
  }

  /** Completed updates (micro-batches of an accumulation count once). */
  get steps(): number {
    return this.stepCount;
  }

  /**
   * All state: the base optimizer's weights (prefixed `base/`), then flatmin's counters, the
   * generator state, the accumulation buffer and every component's state. Restoring it with
   * {@link setWeights} into a fresh optimizer of the same config continues the run exactly.
   */
  override async getWeights(): Promise<NamedTensor[]> {
    this.assertUsable();
    const out: NamedTensor[] = (await this.base.getWeights()).map((w) => ({ name: `${BASE_PREFIX}${w.name}`, tensor: w.tensor }));
    const numbers: Record<string, number> = {
      step: this.stepCount,
      sharpCount: this.sharpCount,
      lastSharp: this.lastSharp ? 1 : 0,
      microIndex: this.microIndex,
    };
    for (const [key, value] of Object.entries(numbers)) out.push({ name: `${NUMBER_PREFIX}optimizer/${key}`, tensor: encodeNumber(value) });
    out.push({ name: `${TENSOR_PREFIX}optimizer/random`, tensor: tf.tensor1d(Int32Array.from(this.random.getState(), (x) => x | 0), 'int32') });
    if (this.skipped !== null) out.push({ name: `${TENSOR_PREFIX}optimizer/skipped`, tensor: this.skipped.clone() });
    for (const [name, tensor] of Object.entries(this.accumulator ?? {})) out.push({ name: `${TENSOR_PREFIX}accumulator/${name}`, tensor: tensor.clone() });
    for (const kind of KINDS) {
      for (const [key, value] of Object.entries(this.states[kind])) {
        out.push(
          typeof value === 'number'
            ? { name: `${NUMBER_PREFIX}${kind}/${key}`, tensor: encodeNumber(value) }
            : { name: `${TENSOR_PREFIX}${kind}/${key}`, tensor: value.clone() },
        );
      }
    }
    return out;
  }

  /** Restore what {@link getWeights} saved (the tensors are copied: the caller keeps ownership). */
  override async setWeights(weightValues: NamedTensor[]): Promise<void> {
    this.assertUsable();
    const baseWeights = weightValues.filter((w) => w.name.startsWith(BASE_PREFIX)).map((w) => ({ name: w.name.slice(BASE_PREFIX.length), tensor: w.tensor }));
    if (baseWeights.length > 0) await this.base.setWeights(baseWeights);
    const states: Record<ComponentKind, Record<string, tf.Tensor | number>> = { perturbation: {}, schedule: {}, combiner: {}, averager: {} };
    const accumulator: NamedTensors = {};
    const numbers: Record<string, number> = {};
    let randomState: number[] | null = null;
    let skipped: tf.Scalar | null = null;
    for (const { name, tensor } of weightValues) {
      if (name.startsWith(BASE_PREFIX)) continue;
      const isNumber = name.startsWith(NUMBER_PREFIX);
      if (!isNumber && !name.startsWith(TENSOR_PREFIX)) throw new FlatminError(`setWeights: unknown weight '${name}' (not saved by a SharpnessAwareOptimizer).`);
      const path = name.slice(isNumber ? NUMBER_PREFIX.length : TENSOR_PREFIX.length);
      const slash = path.indexOf('/');
      const group = path.slice(0, slash);
      const key = path.slice(slash + 1);
      if (group === 'optimizer') {
        if (isNumber) numbers[key] = await decodeNumber(tensor);
        else if (key === 'random') randomState = Array.from(await tensor.data());
        else if (key === 'skipped') skipped = tf.keep(tensor.clone()) as tf.Scalar;
      } else if (group === 'accumulator') {
        accumulator[key] = tf.keep(tensor.clone());
      } else if ((KINDS as string[]).includes(group)) {
        states[group as ComponentKind][key] = isNumber ? await decodeNumber(tensor) : tf.keep(tensor.clone());
      } else {
        throw new FlatminError(`setWeights: unknown weight '${name}'.`);
      }
    }
    for (const kind of KINDS) {
      disposeState(this.states[kind]);
      this.states[kind] = states[kind];
    }
    if (this.accumulator !== null) disposeNamed(this.accumulator);
    this.accumulator = Object.keys(accumulator).length > 0 ? accumulator : null;
    this.skipped?.dispose();
    this.skipped = skipped;
    if (randomState !== null) this.random.setState(randomState);
    this.stepCount = numbers['step'] ?? 0;
    this.sharpCount = numbers['sharpCount'] ?? 0;
    this.lastSharp = (numbers['lastSharp'] ?? 0) === 1;
    this.microIndex = numbers['microIndex'] ?? 0;
  }

  /** Delegates to the base optimizer (a plain, non-sharp update with the given gradients). */
  override applyGradients(variableGradients: tf.NamedTensorMap | NamedTensor[]): void {
    this.assertUsable();
    this.base.applyGradients(variableGradients);
  }

  /** A JSON config from which {@link SharpnessAwareOptimizer.fromConfig} rebuilds the optimizer (a predicate `scope` is not serializable). */
  override getConfig(): tf.serialization.ConfigDict {
    const component = (c: { name: string; config: Readonly<Record<string, JsonValue>> }) => ({ name: c.name, config: { ...c.config } });
    const config: Record<string, unknown> = {
      base: { className: this.base.getClassName(), config: this.base.getConfig() },
      perturbation: component(this.perturbation),
      schedule: component(this.schedule),
      combiner: component(this.combiner),
      scope: typeof this.scope === 'function' ? 'predicate' : this.scope,
      weightDecay: this.weightDecay,
      weightDecayInPerturbation: this.weightDecayInPerturbation,
      seed: this.seed,
      onNonFinite: this.onNonFinite,
      accumulate: { steps: this.accumulateSteps, adversarial: this.accumulateAdversarial },
      telemetry: this.telemetryEnabled,
      keptInAdversarialPass: this.keptInAdversarialPass,
    };
    if (this.averagerState !== undefined) config['averager'] = component(this.averagerState.component);
    return config as tf.serialization.ConfigDict;
  }

  /**
   * Rebuild from {@link getConfig} (used by `tf.loadLayersModel` for models saved with their
   * optimizer). The base optimizer's class and every component's package must be imported.
   */
  static override fromConfig<T extends tf.serialization.Serializable>(
    cls: tf.serialization.SerializableConstructor<T>,
    config: tf.serialization.ConfigDict,
  ): T {
    const c = config as Record<string, unknown>;
    const baseEntry = c['base'] as { className: string; config: tf.serialization.ConfigDict } | undefined;
    if (baseEntry === undefined) throw new FlatminConfigError('base', undefined, 'a saved base optimizer config', 'SharpnessAwareOptimizer.fromConfig');
    const registered = tf.serialization.SerializationMap.getMap().classNameMap[baseEntry.className];
    if (registered === undefined) {
      throw new FlatminConfigError('base', baseEntry.className, 'a registered tfjs optimizer class', 'SharpnessAwareOptimizer.fromConfig');
    }
    const [baseClass, baseFromConfig] = registered;
    const build = (kind: ComponentKind) => {
      const entry = c[kind] as { name: string; config: Record<string, JsonValue> } | undefined;
      if (entry === undefined) return undefined;
      const factory = lookupComponent(kind, entry.name);
      if (factory === undefined) {
        throw new FlatminError(`fromConfig: no ${kind} '${entry.name}' is registered: import the package that exports ${entry.name}() first.`);
      }
      return factory(entry.config);
    };
    if (c['scope'] === 'predicate') {
      throw new FlatminConfigError('scope', 'predicate', "'trainable', 'all' or 'frozen': a predicate scope cannot be saved; rebuild the optimizer with sharpnessAware()", 'SharpnessAwareOptimizer.fromConfig');
    }
    const options: Record<string, unknown> = {
      base: baseFromConfig(baseClass, baseEntry.config),
      perturbation: build('perturbation'),
      schedule: build('schedule'),
      combiner: build('combiner'),
      averager: build('averager'),
    };
    for (const key of ['scope', 'weightDecay', 'weightDecayInPerturbation', 'seed', 'onNonFinite', 'accumulate', 'telemetry', 'keptInAdversarialPass']) {
      if (c[key] !== undefined) options[key] = c[key];
    }
    for (const key of Object.keys(options)) if (options[key] === undefined) delete options[key];
    return new (cls as unknown as new (config: SharpnessAwareConfig) => T)(options as unknown as SharpnessAwareConfig);
  }

  /** Dispose the base optimizer's slots and every tensor flatmin keeps. The optimizer cannot be used afterwards. */
  override dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.averagerState?.dispose();
    this.base.dispose();
    for (const kind of KINDS) disposeState(this.states[kind]);
    if (this.accumulator !== null) disposeNamed(this.accumulator);
    this.accumulator = null;
    this.skipped?.dispose();
    this.skipped = null;
    for (const t of Object.values(this.lastTelemetry)) t?.dispose();
    this.clearRhoCache();
    super.dispose();
  }

  private assertUsable(): void {
    if (this.disposed) throw new FlatminError('this SharpnessAwareOptimizer was disposed.');
  }
}

tf.serialization.registerClass(SharpnessAwareOptimizer);

/**
 * Build a {@link SharpnessAwareOptimizer}: a tfjs optimizer you can hand to `model.compile`
 * or call `minimize` on in a custom loop.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs';
 * import { sharpnessAware } from '@flatmin/core';
 * import { gradient } from '@flatmin/perturb-gradient';
 *
 * const optimizer = sharpnessAware({ base: tf.train.momentum(0.05, 0.9), perturbation: gradient({ rho: 0.05 }), seed: 42 });
 * model.compile({ optimizer, loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
 * await model.fit(xs, ys, { epochs: 5 });
 * console.log(await optimizer.telemetry());
 * ```
 */
export function sharpnessAware(config: SharpnessAwareConfig): SharpnessAwareOptimizer {
  return new SharpnessAwareOptimizer(config);
}

function checkComponent<T extends { kind: string }>(kind: ComponentKind, value: T | undefined, example: string): T {
  if (value == null || typeof value !== 'object' || value.kind !== kind) {
    throw new FlatminConfigError(kind, value, `a ${kind} component, e.g. ${example}`, 'sharpnessAware');
  }
  return value;
}

function checkBoolean(key: string, value: unknown): boolean {
  if (typeof value !== 'boolean') throw new FlatminConfigError(key, value, 'true or false', 'sharpnessAware');
  return value;
}

function unionVariables(a: tf.Variable[], b: tf.Variable[]): tf.Variable[] {
  const seen = new Set(a.map((v) => v.name));
  return [...a, ...b.filter((v) => !seen.has(v.name))];
}

function addNamed(a: NamedTensors, b: NamedTensors): NamedTensors {
  const out: NamedTensors = { ...a };
  for (const [name, t] of Object.entries(b)) {
    const existing = out[name];
    out[name] = existing === undefined ? t : tf.add(existing, t);
  }
  return out;
}

function keepNamed(tensors: NamedTensors): void {
  for (const t of Object.values(tensors)) tf.keep(t);
}

function disposeNamed(tensors: NamedTensors, except?: NamedTensors): void {
  const keep = new Set(except === undefined ? [] : Object.values(except));
  for (const t of Object.values(tensors)) if (!keep.has(t) && !t.isDisposed) t.dispose();
}
