/**
 * Telemetry where users look: {@link telemetryCallback} writes the optimizer's telemetry into
 * `model.fit`'s logs (so it lands in `history.history` and in every later callback), and
 * {@link sharpnessAwareOf} / {@link telemetryOf} find the {@link SharpnessAwareOptimizer} behind a
 * compiled model without a cast.
 *
 * Core does not depend on tfjs-layers at run time: the callback is a plain object of the shape
 * tfjs-layers' `CustomCallbackArgs` has, which `fit` and `fitDataset` wrap in a `CustomCallback`.
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { checkChoice, checkOptions, FlatminConfigError, FlatminError } from './errors.js';
import { SharpnessAwareOptimizer } from './optimizer.js';
import type { Telemetry } from './telemetry.js';
import type { FitCallbackHooks } from './types.js';

/**
 * Anything with an `optimizer` property, such as a tfjs-layers `LayersModel` (compiled or not).
 * Structural, so core needs no tfjs-layers types.
 */
export interface OptimizerHolder {
  /** The model's optimizer: `undefined` until `model.compile`. */
  readonly optimizer?: unknown;
}

/** What {@link sharpnessAwareOf}, {@link telemetryOf} and {@link telemetryCallback} accept: the optimizer itself, or a model compiled with it. */
export type SharpnessAwareSource = tf.Optimizer | OptimizerHolder;

/**
 * The {@link SharpnessAwareOptimizer} itself, or the one a model was compiled with: a typed
 * `model.optimizer`, no cast needed. Throws a {@link FlatminError} that says what it got instead
 * (an uncompiled model, another optimizer, something else).
 *
 * @example
 * ```ts
 * model.compile({ optimizer: sharpnessAware({ base: tf.train.sgd(0.1), perturbation: gradient() }), loss: 'meanSquaredError' });
 * const optimizer = sharpnessAwareOf(model); // SharpnessAwareOptimizer
 * console.log(optimizer.steps, await optimizer.telemetry());
 * ```
 */
export function sharpnessAwareOf(source: SharpnessAwareSource): SharpnessAwareOptimizer {
  if (isSharpnessAware(source)) return source;
  if (isOptimizer(source)) {
    throw new FlatminError(`sharpnessAwareOf: got ${describeOptimizer(source)}, not a flatmin SharpnessAwareOptimizer; build one with sharpnessAware({ base, perturbation }).${twoCopies(source)}`);
  }
  if (typeof source === 'object' && source !== null && 'optimizer' in source) {
    const optimizer = (source as OptimizerHolder).optimizer;
    if (isSharpnessAware(optimizer)) return optimizer;
    if (optimizer === undefined || optimizer === null) {
      throw new FlatminError(
        `sharpnessAwareOf: the model is not compiled (model.optimizer is ${String(optimizer)}): call model.compile({ optimizer: sharpnessAware(...), loss }) first.`,
      );
    }
    const what = isOptimizer(optimizer) ? describeOptimizer(optimizer) : describeValue(optimizer);
    throw new FlatminError(
      `sharpnessAwareOf: model.optimizer is ${what}, not a flatmin SharpnessAwareOptimizer; compile the model with sharpnessAware(...) as its optimizer.${twoCopies(optimizer)}`,
    );
  }
  throw new FlatminError(`sharpnessAwareOf: expected a SharpnessAwareOptimizer or a model compiled with one, got ${describeValue(source)}.`);
}

/**
 * The last step's {@link Telemetry} of a model compiled with a {@link SharpnessAwareOptimizer}
 * (or of the optimizer itself): `sharpnessAwareOf(source).telemetry()`; its errors reject the promise.
 *
 * @example
 * ```ts
 * await model.fit(xs, ys, { epochs: 2 });
 * const { gradNorm, sharpFraction } = await telemetryOf(model);
 * ```
 */
export async function telemetryOf(source: SharpnessAwareSource): Promise<Telemetry> {
  return sharpnessAwareOf(source).telemetry();
}

/**
 * The keys {@link telemetryCallback} writes, without the prefix (default `'sam/'`, so
 * `'sam/gradNorm'` …). Over the steps of the epoch (or of the batch, with `every: 'batch'`):
 *
 * - `gradNorm`: mean ‖g‖ over the applied steps whose ‖g‖ was computed (NaN values — no clean
 *   pass — are left out);
 * - `epsilonNorm`: mean ‖ε‖ over the applied sharp steps;
 * - `cosine`: mean cos(g, g_adv) over the applied steps where both gradients exist (NaN values
 *   are left out: non-sharp steps, steps without a clean pass);
 * - `rho`: mean ρ over the applied sharp steps;
 * - `sharpFraction`: sharp steps / steps, skipped ones included (as `Telemetry.sharpFraction`);
 * - `skippedSteps`: steps skipped by `onNonFinite: 'skip'`;
 * - `skippedStepsTotal`: the optimizer's skipped-steps counter at the end (since it was built or restored);
 * - `steps`: completed updates (an accumulation's micro-batches count once; skipped steps count).
 *
 * "Applied" excludes skipped steps (a skipped step keeps the previous step's telemetry). A mean
 * over no steps is NaN, and so is `sharpFraction` when there was no update.
 *
 * @example
 * ```ts
 * const history = await model.fit(xs, ys, { epochs: 3, callbacks: [telemetryCallback(model)] });
 * for (const key of TELEMETRY_LOG_KEYS) console.log(key, history.history[`sam/${key}`]);
 * ```
 */
export const TELEMETRY_LOG_KEYS = ['gradNorm', 'epsilonNorm', 'cosine', 'rho', 'sharpFraction', 'skippedSteps', 'skippedStepsTotal', 'steps'] as const;

/** One of {@link TELEMETRY_LOG_KEYS}. */
export type TelemetryLogKey = (typeof TELEMETRY_LOG_KEYS)[number];

/** Options of {@link telemetryCallback}. */
export interface TelemetryCallbackOptions {
  /**
   * `'epoch'` (default): epoch logs only, one device read per epoch. `'batch'`: also each batch's
   * values in the batch logs, one read per batch (and tfjs-layers then also reads each batch's
   * loss and metrics, as it does for any callback with `onBatchEnd`).
   */
  every?: 'epoch' | 'batch';
  /** Prefix of every key (default `'sam/'`). */
  prefix?: string;
}

/**
 * The callback {@link telemetryCallback} returns: the hooks of tfjs-layers' `CustomCallbackArgs`
 * (a structural copy, so no tfjs-layers types are needed). `onBatchEnd` is present only with
 * `every: 'batch'`.
 */
export interface TelemetryCallback extends FitCallbackHooks {
  /** Starts collecting from the optimizer (looked up again from the model, when one was given). */
  onTrainBegin: (logs?: Record<string, unknown>) => Promise<void>;
  /** Stops collecting. */
  onTrainEnd: (logs?: Record<string, unknown>) => Promise<void>;
  /** Starts the epoch's span of steps. */
  onEpochBegin: (epoch: number, logs?: Record<string, unknown>) => Promise<void>;
  /** Reads the epoch's telemetry from the device and writes it into the epoch's logs under the prefixed keys. */
  onEpochEnd: (epoch: number, logs?: Record<string, unknown>) => Promise<void>;
  /** Collects the previous step's telemetry scalars (kept on the device: no read). */
  onBatchBegin: (batch: number, logs?: Record<string, unknown>) => Promise<void>;
}

/**
 * A `model.fit` / `model.fitDataset` callback that adds the optimizer's telemetry to the epoch
 * logs — so it lands in `history.history['sam/gradNorm']` and in every callback after it — under
 * the keys {@link TELEMETRY_LOG_KEYS} (prefixed `'sam/'`). `optimizer` is the
 * {@link SharpnessAwareOptimizer} or a model compiled with one (looked up again when each `fit`
 * begins); its telemetry must be on (`telemetry: false` throws a {@link FlatminError} here).
 *
 * Cost: each step's scalars are added to running sums on the device (when the next batch begins:
 * no read, and no `onBatchEnd`, for which tfjs-layers would read every batch's loss); the epoch's
 * sums are read with one `data()` at the epoch end. `every: 'batch'` reads once per batch instead
 * and writes each batch's values into the batch logs too. The callback keeps a few scalars during
 * a `fit` and frees them at its end; one callback serves repeated `fit` calls (not concurrent ones).
 *
 * Callbacks run in order: put it before the callbacks that should see its keys. tfjs-layers'
 * own loggers run before every user callback and do not see them. With tfjs-layers callback
 * objects (`tf.callbacks.earlyStopping`) in the list, wrap it: `new tf.CustomCallback(telemetryCallback(optimizer))`.
 *
 * @example
 * ```ts
 * const history = await model.fit(xs, ys, { epochs: 3, callbacks: [telemetryCallback(model)] });
 * console.log(history.history['sam/gradNorm'], history.history['sam/cosine']);
 * ```
 */
export function telemetryCallback(optimizer: SharpnessAwareSource, options?: TelemetryCallbackOptions): TelemetryCallback {
  const WHERE = 'telemetryCallback';
  // An absent key takes its default; null is a value like any other (refused here).
  const checked = checkOptions(options, ['every', 'prefix'], WHERE);
  const every = checkChoice('every', checked.every === undefined ? 'epoch' : checked.every, ['epoch', 'batch'], WHERE);
  const prefix = checked.prefix === undefined ? 'sam/' : checked.prefix;
  if (typeof prefix !== 'string') throw new FlatminConfigError('prefix', prefix, 'a string', WHERE);
  const resolve = (): SharpnessAwareOptimizer => {
    const found = sharpnessAwareOf(optimizer);
    if (!found.settings.telemetry) {
      throw new FlatminError(
        `${WHERE}: the optimizer was built with telemetry: false, so there is nothing to log; build it with sharpnessAware({ ..., telemetry: true }) (the default).`,
      );
    }
    return found;
  };
  const collector = new Collector(resolve());
  const write = (logs: Record<string, unknown> | undefined, span: Span) => {
    if (logs === undefined || logs === null) return;
    for (const key of TELEMETRY_LOG_KEYS) logs[`${prefix}${key}`] = logValue(span, key);
  };
  const callback: TelemetryCallback = {
    onTrainBegin: async () => {
      collector.start(isSharpnessAware(optimizer) ? optimizer : resolve());
    },
    onEpochBegin: async () => {
      collector.startEpoch();
    },
    onBatchBegin: async () => {
      collector.collect();
    },
    onEpochEnd: async (_epoch, logs) => {
      collector.collect();
      if (every === 'epoch' || collector.needsFlush()) collector.addToEpoch(await collector.flush());
      write(logs, collector.epoch);
    },
    onTrainEnd: async () => {
      collector.stop();
    },
  };
  if (every === 'batch') {
    callback.onBatchEnd = async (_batch, logs) => {
      collector.collect();
      const span = await collector.flush();
      collector.addToEpoch(span);
      write(logs, span);
    };
  }
  return callback;
}

/** Sums over some steps (a span: a batch or an epoch): [Σ‖g‖, n, Σ‖ε‖, n, Σcos, n, Σρ, n, skipped]. */
const SUMS = 9;

interface Span {
  sums: number[];
  steps: number;
  sharp: number;
  skippedTotal: number;
  /** Flushed spans in it (an epoch's), to know whether the epoch was read at all. */
  reads: number;
}

function emptySpan(): Span {
  return { sums: new Array<number>(SUMS).fill(0), steps: 0, sharp: 0, skippedTotal: Number.NaN, reads: 0 };
}

function logValue(w: Span, key: TelemetryLogKey): number {
  const mean = (i: number) => (w.sums[i + 1]! > 0 ? w.sums[i]! / w.sums[i + 1]! : Number.NaN);
  switch (key) {
    case 'gradNorm':
      return mean(0);
    case 'epsilonNorm':
      return mean(2);
    case 'cosine':
      return mean(4);
    case 'rho':
      return mean(6);
    case 'sharpFraction':
      return w.steps > 0 ? w.sharp / w.steps : Number.NaN;
    case 'skippedSteps':
      return w.sums[8]!;
    case 'skippedStepsTotal':
      return w.skippedTotal;
    case 'steps':
      return w.steps;
  }
}

/**
 * Adds each completed step's telemetry scalars to a device vector (`pending`) and reads it on
 * `flush`. A step is seen through the host counters `steps` / `sharpSteps`; whether it was
 * skipped, through the device skipped-steps counter against a kept copy of its previous value.
 */
class Collector {
  epoch: Span = emptySpan();
  private pending: tf.Tensor1D | null = null;
  private pendingSteps = 0;
  private pendingSharp = 0;
  private lastSteps = 0;
  private lastSharp = 0;
  private previousSkipped: tf.Scalar | null = null;

  constructor(private optimizer: SharpnessAwareOptimizer) {}

  start(optimizer: SharpnessAwareOptimizer): void {
    this.optimizer = optimizer;
    this.startEpoch();
  }

  /** Forget anything not yet read and count from the optimizer's present state. */
  startEpoch(): void {
    this.dropPending();
    this.epoch = emptySpan();
    this.lastSteps = this.optimizer.steps;
    this.lastSharp = this.optimizer.sharpSteps;
    const counter = this.optimizer.telemetryTensors().skippedSteps;
    this.previousSkipped?.dispose();
    this.previousSkipped = counter === null ? null : tf.keep(tf.clone(counter));
  }

  /** Add the step completed since the last call (if any) to the device sums. No read. */
  collect(): void {
    const { steps, sharpSteps } = this.optimizer;
    const newSteps = steps - this.lastSteps;
    const newSharp = sharpSteps - this.lastSharp;
    this.lastSteps = steps;
    this.lastSharp = sharpSteps;
    if (newSteps <= 0) return;
    const t = this.optimizer.telemetryTensors();
    const previous = this.previousSkipped;
    const made = tf.tidy(() => {
      const skippedNow = t.skippedSteps ?? tf.scalar(0);
      const skipped = tf.cast(previous === null ? skippedNow : tf.sub(skippedNow, previous), 'float32') as tf.Scalar;
      // The telemetry is the last step's: on a skipped step, the previous step's values (kept).
      const applied: tf.Scalar = tf.sub(1, tf.minimum(skipped, 1));
      const sharp: tf.Scalar = newSharp > 0 ? applied : tf.scalar(0);
      const term = (value: tf.Scalar | null, weight: tf.Scalar, dropNaN: boolean): tf.Tensor[] => {
        if (value === null) return [tf.scalar(0), tf.scalar(0)];
        const w = dropNaN ? tf.mul(weight, tf.cast(tf.logicalNot(tf.isNaN(value)), 'float32')) : weight;
        return [tf.where(tf.greater(w, 0), value, tf.zerosLike(value)), w];
      };
      const step = tf.stack([
        ...term(t.gradNorm, applied, true),
        ...term(t.epsilonNorm, sharp, false),
        ...term(t.cosine, applied, true),
        ...term(t.rho, sharp, false),
        skipped,
      ]) as tf.Tensor1D;
      const made: { sums: tf.Tensor1D; skipped?: tf.Scalar } = { sums: this.pending === null ? step : (tf.add(this.pending, step) as tf.Tensor1D) };
      if (t.skippedSteps !== null) made.skipped = tf.clone(t.skippedSteps);
      return made;
    }) as { sums: tf.Tensor1D; skipped?: tf.Scalar };
    this.pending?.dispose();
    this.pending = tf.keep(made.sums);
    previous?.dispose();
    this.previousSkipped = made.skipped === undefined ? null : tf.keep(made.skipped);
    this.pendingSteps += newSteps;
    this.pendingSharp += newSharp;
  }

  /** Whether the epoch has something unread, or was not read at all (its skipped total is unknown). */
  needsFlush(): boolean {
    return this.pending !== null || this.epoch.reads === 0;
  }

  /** Read the sums since the last flush and the skipped-steps counter: one `data()`. */
  async flush(): Promise<Span> {
    const counter = this.optimizer.telemetryTensors().skippedSteps;
    const pending = this.pending;
    const all = tf.tidy(() => tf.concat([pending ?? tf.zeros([SUMS]), counter === null ? tf.zeros([1]) : tf.reshape(counter, [1])]));
    const span: Span = { sums: [], steps: this.pendingSteps, sharp: this.pendingSharp, skippedTotal: Number.NaN, reads: 1 };
    this.dropPending();
    try {
      const values = await all.data();
      span.sums = Array.from(values.subarray(0, SUMS));
      span.skippedTotal = values[SUMS]!;
    } finally {
      all.dispose();
    }
    return span;
  }

  addToEpoch(span: Span): void {
    const epoch = this.epoch;
    for (let i = 0; i < SUMS; i += 1) epoch.sums[i]! += span.sums[i]!;
    epoch.steps += span.steps;
    epoch.sharp += span.sharp;
    epoch.skippedTotal = span.skippedTotal;
    epoch.reads += span.reads;
  }

  /** Free every tensor kept (the end of a fit). */
  stop(): void {
    this.dropPending();
    this.previousSkipped?.dispose();
    this.previousSkipped = null;
  }

  private dropPending(): void {
    this.pending?.dispose();
    this.pending = null;
    this.pendingSteps = 0;
    this.pendingSharp = 0;
  }
}

/**
 * A real prototype check: tfjs' `Optimizer[Symbol.hasInstance]` is duck-typed (any object with
 * `minimize`, `computeGradients` and `applyGradients`), and subclasses inherit it, so
 * `sgd instanceof SharpnessAwareOptimizer` is true.
 */
function isSharpnessAware(value: unknown): value is SharpnessAwareOptimizer {
  return typeof value === 'object' && value !== null && Object.prototype.isPrototypeOf.call(SharpnessAwareOptimizer.prototype, value);
}

/** Any tfjs optimizer (tfjs' own duck-typed check, safe for null). */
function isOptimizer(value: unknown): value is tf.Optimizer {
  return typeof value === 'object' && value !== null && value instanceof tf.Optimizer;
}

function describeOptimizer(optimizer: tf.Optimizer): string {
  const name = optimizer.constructor?.name || 'an optimizer';
  const className = typeof optimizer.getClassName === 'function' ? optimizer.getClassName() : undefined;
  const article = /^([AEIOUaeiou]|[FHLMNRSX][A-Z])/.test(name) ? 'an' : 'a';
  return `${article} ${name}${className !== undefined && className !== name ? ` ('${className}')` : ''}`;
}

function describeValue(value: unknown): string {
  if (value === null || value === undefined) return String(value);
  if (typeof value === 'string') return `the string ${JSON.stringify(value)}`;
  if (typeof value !== 'object') return `${typeof value} ${String(value)}`;
  const name = (value as object).constructor?.name;
  return name && name !== 'Object' ? `a ${name}` : 'a plain object';
}

/** A hint when the object is a SharpnessAwareOptimizer of another copy of @flatmin/core. */
function twoCopies(value: unknown): string {
  const className = (value as { getClassName?: () => string } | null)?.getClassName?.();
  return className === 'SharpnessAwareOptimizer' ? ' (it is one from another copy of @flatmin/core: install a single copy.)' : '';
}
