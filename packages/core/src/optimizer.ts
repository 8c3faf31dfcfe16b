/**
 * `SharpnessAwareOptimizer`: a `tf.Optimizer` whose `minimize` runs the sharpness-aware step, so
 * `model.compile({ optimizer })` + `model.fit` and custom loops both work unchanged. The step
 * itself is in `step/run.ts`; this class holds the state between steps and speaks tfjs.
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { AveragerState } from './averager-handle.js';
import { type Components, resolveConfig, type Settings, type SharpnessAwareConfig } from './config.js';
import { configFrom, configOf } from './serialize.js';
import { FlatminConfigError, FlatminError } from './errors.js';
import { exportWeights, importWeights, type NamedWeight, renameState } from './persist.js';
import { SeededRandom } from './random.js';
import { COMPONENT_KINDS } from './registry.js';
import { disposeState } from './state.js';
import { learningRateOf, type StepEnv, type Store } from './step/context.js';
import type { Requirement } from './step/objective.js';
import { accumulateMicroBatch, disposeAccumulated, runStep } from './step/run.js';
import { type Telemetry, type TelemetryTensors, TelemetryRecorder } from './telemetry.js';
import type { AveragerHandle, Combiner, Objective, Perturbation, Schedule } from './types.js';
import { stepVariables } from './variables.js';

/**
 * A `tf.Optimizer` that runs the sharpness-aware step with pluggable perturbation, schedule,
 * combiner and averager. Build it with {@link sharpnessAware}.
 *
 * One call of `minimize(f)`: the schedule decides whether the step is sharp, and ρ; a sharp step
 * takes the clean gradient g (when anyone needs it), builds ε, takes g_adv = ∇f(w + ε) with the
 * weights (and whatever the closure touched) restored exactly afterwards, combines g and g_adv;
 * then weight decay, the non-finite guard, the base optimizer's update and the averager. The
 * step is a transaction: if anything throws, weights, optimizer state, counters and
 * `tf.memory()` are as before the call. Nothing is read from the device in the step (except
 * `onNonFinite: 'throw'` and schedules that must decide on the host, one scalar each).
 *
 * It acts like the optimizer it wraps: `learningRate` and `iterations` read and write the base
 * optimizer's.
 *
 * @example
 * ```ts
 * const optimizer: SharpnessAwareOptimizer = sharpnessAware({ base: tf.train.sgd(0.1), perturbation: gradient({ rho: 0.05 }) });
 * model.compile({ optimizer, loss: 'meanSquaredError' });
 * await model.fit(xs, ys, { epochs: 2 });
 * console.log(optimizer.steps, (await optimizer.telemetry()).cosine);
 * const state = await optimizer.getWeights(); // everything: base slots, counters, generator, components
 * ```
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
  /** Decides which steps are sharp, and ρ (default `always()`). */
  readonly schedule: Schedule;
  /** Makes the update from g and g_adv (default `adversarial()`). */
  readonly combiner: Combiner;
  /** The attached averager's handle (`apply`, `restore`, `callback`), or undefined. */
  readonly averager: AveragerHandle | undefined;
  /** The checked configuration (defaults filled in). */
  readonly settings: Settings;
  /** The seed of the generator every random draw comes from (the one drawn when none was given). */
  readonly seed: number;

  private readonly env: StepEnv;
  private readonly store: Store;
  private readonly averagerState: AveragerState | undefined;
  private pendingNames: string[] | null = null;
  private exported: NamedWeight[] = [];
  private readonly rhoScalars = new Map<number, tf.Scalar>();
  private disposed = false;

  constructor(config: SharpnessAwareConfig) {
    super();
    const { base, components, settings } = resolveConfig(config);
    this.base = base;
    this.perturbation = components.perturbation;
    this.schedule = components.schedule;
    this.combiner = components.combiner;
    this.settings = settings;
    this.seed = settings.seed;
    this.store = {
      states: { perturbation: {}, schedule: {}, combiner: {}, averager: {} },
      counters: { steps: 0, sharpSteps: 0, lastSharp: false, microIndex: 0, lossEvaluations: 0 },
      random: new SeededRandom(settings.seed),
      telemetry: new TelemetryRecorder(settings.telemetry),
      accumulator: null,
      variables: [],
      rhoScalar: (value, scope) => {
        let scalar = this.rhoScalars.get(value);
        if (scalar === undefined) {
          if (this.rhoScalars.size >= 64) this.disposeRhoScalars();
          const made = tf.keep(tf.scalar(value));
          this.rhoScalars.set(value, made);
          scope.onRollback(() => {
            this.rhoScalars.delete(value);
            made.dispose();
          });
          scalar = made;
        }
        return scalar;
      },
    };
    const averager = components.averager;
    this.averagerState =
      averager === undefined
        ? undefined
        : new AveragerState(
            averager,
            () => this.store.states.averager,
            () => this.store.variables,
          );
    this.averager = this.averagerState?.handle;
    this.env = {
      base,
      settings,
      ...components,
      averager: this.averagerState,
      averagerComponent: averager,
      store: this.store,
      requirements: requirementsOf(components, settings),
    };
  }

  /**
   * Run one sharpness-aware step on the loss `f` and return its loss when `returnCost`. `f` is
   * `() => loss`, or `() => ({ loss, perSample?, parts? })` for components that need more of the
   * batch. It is called more than once per sharp step; the first call is the one `model.fit`
   * sees (its loss, metrics, BatchNorm statistics), the others leave no trace. `varList`
   * defaults to every trainable variable, as in tfjs.
   *
   * With `accumulate: N`, each call is one micro-batch: calls 1…N−1 only add their clean gradient
   * to a sum (and return their loss); call N makes the update.
   */
  override minimize(f: Objective, returnCost = false, varList?: tf.Variable[]): tf.Scalar | null {
    this.assertCanStep(f);
    const variables = stepVariables(this.settings.scope, varList);
    this.followRenames(variables.gradient);
    const { steps, adversarial } = this.settings.accumulate;
    if (steps === 1) return runStep(this.env, variables, { cleanFs: [f], adversarialFs: [f], prior: null }, returnCost);
    if (adversarial === 'all') {
      throw new FlatminError(
        "accumulate.adversarial 'all' needs every micro-batch at once: call optimizer.minimizeMicroBatches([f1, …, fN]) instead of minimize (model.fit cannot feed it; use 'last' there).",
      );
    }
    if (this.store.counters.microIndex < steps - 1) return accumulateMicroBatch(this.env, variables, f, returnCost);
    const prior = this.store.accumulator;
    const cost = runStep(this.env, variables, { cleanFs: [f], adversarialFs: [f], prior }, returnCost);
    if (prior !== null) disposeAccumulated(prior);
    this.store.accumulator = null;
    this.store.counters.microIndex = 0;
    return cost;
  }

  /**
   * Gradient accumulation with every micro-batch at once (custom loops): ε from the mean clean
   * gradient of `losses`; the adversarial gradient as `accumulate.adversarial` says (`'all'`: on
   * every micro-batch). Returns the mean clean loss when `returnCost`. Independent of `accumulate.steps`.
   *
   * @example
   * ```ts
   * const optimizer = sharpnessAware({ base: tf.train.sgd(0.1), perturbation: gradient(), accumulate: { steps: 4, adversarial: 'all' } });
   * optimizer.minimizeMicroBatches(batches.map((b) => () => loss(model, b)));
   * ```
   */
  minimizeMicroBatches(losses: readonly Objective[], returnCost = false, varList?: tf.Variable[]): tf.Scalar | null {
    if (!Array.isArray(losses) || losses.length === 0 || !losses.every((f) => typeof f === 'function')) {
      throw new FlatminError('minimizeMicroBatches needs a non-empty array of loss functions.');
    }
    this.assertCanStep(losses[0]!);
    if (this.settings.sharpOn !== null) throw new FlatminError('minimizeMicroBatches does not support sharpOn: call minimize with one closure per update.');
    const variables = stepVariables(this.settings.scope, varList);
    this.followRenames(variables.gradient);
    const adversarialFs = this.settings.accumulate.adversarial === 'all' ? [...losses] : [losses[losses.length - 1]!];
    return runStep(this.env, variables, { cleanFs: [...losses], adversarialFs, prior: null }, returnCost);
  }

  /**
   * Not supported: a sharpness-aware gradient cannot be handed out without running the step (it
   * moves the weights and the components' state). Throws a {@link FlatminError}; call `minimize`.
   */
  override computeGradients(
    _f: () => tf.Scalar,
    _varList?: tf.Variable[],
  ): {
    /** Never returned. */
    value: tf.Scalar;
    /** Never returned. */
    grads: tf.NamedTensorMap;
  } {
    throw new FlatminError(
      'computeGradients would return a plain gradient under a sharpness-aware name: call optimizer.minimize(f) instead (it computes g, g_adv and the update in one step).',
    );
  }

  /** The base optimizer's update with the given gradients: a plain step, as the name says (no ε, no guard). */
  override applyGradients(variableGradients: tf.NamedTensorMap | NamedWeight[]): void {
    this.assertUsable();
    this.base.applyGradients(variableGradients);
  }

  /** The base optimizer's learning rate. Setting it changes the rate of the next step (tfjs' SGD and momentum cache it: `setLearningRate` is used when the base has it). */
  get learningRate(): number {
    return learningRateOf(this.base);
  }

  /** Set the base optimizer's learning rate for the next step (a finite number). */
  set learningRate(value: number) {
    if (typeof value !== 'number' || !Number.isFinite(value)) throw new FlatminConfigError('learningRate', value, 'a finite number', 'SharpnessAwareOptimizer');
    const base = this.base as unknown as { setLearningRate?: (lr: number) => void; learningRate?: number };
    if (typeof base.setLearningRate === 'function') base.setLearningRate(value);
    else base.learningRate = value;
  }

  /** The base optimizer's update counter (it counts skipped steps too). */
  override get iterations(): number {
    return this.base.iterations;
  }

  override set iterations(value: number) {
    (this.base as unknown as { iterations_: number }).iterations_ = value;
  }

  /** The last step's telemetry, read from the device (the only place it is read). */
  async telemetry(): Promise<Telemetry> {
    return this.store.telemetry.read(this.store.counters);
  }

  /** The device scalars behind {@link telemetry}, without reading them (owned by the optimizer). */
  telemetryTensors(): TelemetryTensors {
    return this.store.telemetry.tensors();
  }

  /** Completed updates (micro-batches of an accumulation count once; skipped steps count). */
  get steps(): number {
    return this.store.counters.steps;
  }

  /** Completed sharp (two-pass) updates, skipped ones included: a host counter, as {@link steps}. */
  get sharpSteps(): number {
    return this.store.counters.sharpSteps;
  }

  /** Calls of the loss closure so far (clean, adversarial, forward-only evaluations). */
  get lossEvaluations(): number {
    return this.store.counters.lossEvaluations;
  }

  /**
   * All state: the base optimizer's weights (prefixed `base/`), flatmin's counters, the generator,
   * the accumulation buffer, every component's state and the names of the variables it belongs to.
   * Restoring it with {@link setWeights} into a fresh optimizer of the same config continues the
   * run exactly, also after `tf.loadLayersModel` renamed the variables.
   *
   * Ownership: the returned tensors are fresh handles owned by this optimizer; they stay valid
   * until the next `getWeights()` or `dispose()`, which dispose them (so `model.save` leaks
   * nothing). Clone what you keep longer; disposing them yourself is harmless.
   */
  override async getWeights(): Promise<NamedWeight[]> {
    this.assertUsable();
    this.disposeExported();
    this.exported = await exportWeights(this.base, this.store);
    return [...this.exported];
  }

  /** Restore what {@link getWeights} saved (the tensors are copied: the caller keeps ownership); the averager's `restored` hook then sees its restored state. */
  override async setWeights(weightValues: NamedWeight[]): Promise<void> {
    this.assertUsable();
    this.pendingNames = await importWeights(this.base, this.store, weightValues);
    this.averagerState?.component.restored?.(this.store.states.averager);
  }

  /** A JSON config from which {@link SharpnessAwareOptimizer.fromConfig} rebuilds the optimizer (a predicate or model `scope` is not serializable). */
  override getConfig(): tf.serialization.ConfigDict {
    return configOf(this.base, this, this.settings, this.averagerState?.component);
  }

  /**
   * Rebuild from {@link getConfig} (used by `tf.loadLayersModel` for models saved with their
   * optimizer). The base optimizer's class and every component's package must be imported.
   */
  static override fromConfig<T extends tf.serialization.Serializable>(
    cls: tf.serialization.SerializableConstructor<T>,
    config: tf.serialization.ConfigDict,
  ): T {
    return new (cls as unknown as new (config: SharpnessAwareConfig) => T)(configFrom(config));
  }

  /** Dispose the base optimizer's slots and every tensor flatmin keeps. The optimizer cannot be used afterwards. */
  override dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.disposeExported();
    this.averagerState?.dispose();
    this.base.dispose();
    for (const kind of COMPONENT_KINDS) disposeState(this.store.states[kind]);
    if (this.store.accumulator !== null) disposeAccumulated(this.store.accumulator);
    this.store.accumulator = null;
    this.store.telemetry.dispose();
    this.disposeRhoScalars();
    super.dispose();
  }

  private assertUsable(): void {
    if (this.disposed) throw new FlatminError('this SharpnessAwareOptimizer was disposed.');
  }

  private assertCanStep(f: unknown): void {
    this.assertUsable();
    if (typeof f !== 'function') throw new FlatminError(`minimize: the loss must be a function () => tf.Scalar (or () => ({ loss, perSample, parts })), got ${f === null ? 'null' : typeof f}.`);
    if (this.averagerState?.handle.applied) {
      throw new FlatminError('the averaged weights are applied: call optimizer.averager.restore() before training again (the averager callback does so when a fit begins).');
    }
  }

  /** After setWeights: attach the saved per-variable state to this step's variables (they may have new names). */
  private followRenames(variables: tf.Variable[]): void {
    if (this.pendingNames === null) return;
    renameState(this.store, this.pendingNames, variables);
    this.pendingNames = null;
    // The averager saw the restored state under the saved names; show it the re-keyed one.
    this.averagerState?.component.restored?.(this.store.states.averager);
  }

  private disposeRhoScalars(): void {
    for (const scalar of this.rhoScalars.values()) scalar.dispose();
    this.rhoScalars.clear();
  }

  private disposeExported(): void {
    for (const { tensor } of this.exported) if (!tensor.isDisposed && !(tensor instanceof tf.Variable)) tensor.dispose();
    this.exported = [];
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
 * const model = tf.sequential({ layers: [tf.layers.dense({ units: 2, inputShape: [4], activation: 'softmax' })] });
 * model.compile({ optimizer, loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
 * await model.fit(tf.randomNormal([16, 4]), tf.oneHot(tf.tensor1d([0, 1, 0, 1, 1, 0, 0, 1, 0, 1, 0, 1, 1, 0, 0, 1], 'int32'), 2), { epochs: 2, verbose: 0 });
 * console.log(await optimizer.telemetry());
 * ```
 */
export function sharpnessAware(config: SharpnessAwareConfig): SharpnessAwareOptimizer {
  return new SharpnessAwareOptimizer(config);
}

/** What the components and `sharpOn` need from the loss closure. */
function requirementsOf(components: Components, settings: Settings): Requirement[] {
  const out: Requirement[] = [];
  for (const component of [components.perturbation, components.schedule, components.combiner, components.averager]) {
    for (const field of component?.requires ?? []) out.push({ who: `${component!.kind} '${component!.name}'`, field: field as Requirement['field'] });
  }
  if (settings.sharpOn !== null) out.push({ who: `sharpOn (${settings.sharpOn.map((p) => `'${p}'`).join(', ')})`, field: 'parts', parts: settings.sharpOn });
  return out;
}
