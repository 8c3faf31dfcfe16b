/**
 * An averager by itself, next to any tfjs optimizer: the handle `attach()` returns (`update`,
 * `apply`, `restore`, `callback`, its own `getWeights`/`setWeights`). Generic over the
 * `Averager` interface; nothing here is SWA-specific.
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { type Averager, type AveragerHandle, type ComponentState, type FitCallbackHooks, FlatminError, type NamedWeight } from '@flatmin/core';
import { decodeNumber, disposeState, encodeNumber, replaceState, SeededRandom, shareData } from '@flatmin/core/kit';

/** A tfjs-layers model, seen only through the fields the handle reads. */
export interface ModelLike {
  /** Its trainable parameters (tfjs-layers `LayerVariable`s; `read()` returns the `tf.Variable`). */
  readonly trainableWeights: ReadonlyArray<{
    /** The weight's `tf.Variable`. */
    read(): tf.Tensor;
  }>;
  /** Its other weights: frozen parameters and BatchNorm moving statistics. */
  readonly nonTrainableWeights?: ReadonlyArray<{
    /** The weight's `tf.Variable`. */
    read(): tf.Tensor;
  }>;
}

/**
 * What an averager is attached to: a tfjs-layers model (its trainable weights are averaged, read
 * again at every update, so a model built later works), a list of variables, or a function
 * returning one.
 */
export type AttachTarget = ModelLike | readonly tf.Variable[] | (() => readonly tf.Variable[]);

/** Options of {@link StandaloneAverager.callback}. */
export interface StandaloneCallbackOptions {
  /** End `fit` holding the averaged weights (default true; nothing happens while none are averaged yet). */
  applyOnTrainEnd?: boolean;
  /**
   * Called at each epoch end with the averaged weights applied (and restored afterwards), e.g. to
   * run `model.evaluate` or `updateBatchNorm`; skipped while no weights are averaged yet.
   */
  onEpochEnd?: (epoch: number, logs?: Record<string, unknown>) => void | Promise<void>;
}

/** The handle of an averager attached by itself (see `attach()` of `swa()`). */
export interface StandaloneAverager extends AveragerHandle {
  /** Show the averager the current weights, after one step of the training optimizer (no host read). */
  update(): void;
  /** Updates seen so far (the next update's `step`). */
  readonly steps: number;
  /**
   * A `model.fit` callback: `update()` at each batch end, `restore()` when a `fit` begins, the
   * averaged weights applied at the end (`applyOnTrainEnd`, default true), and optionally a
   * function run at each epoch end with the averaged weights applied.
   */
  callback(options?: StandaloneCallbackOptions): FitCallbackHooks;
  /**
   * The averager's state as named tensors (`flatmin/averager/<key>`, host numbers as
   * `flatmin#/averager/<key>`), the update count and the variable names. Fresh handles the caller disposes.
   */
  getWeights(): Promise<NamedWeight[]>;
  /** Restore what {@link StandaloneAverager.getWeights} saved (copied: the caller keeps its tensors). */
  setWeights(weights: readonly NamedWeight[]): Promise<void>;
  /** Free the averager's buffers (and the weights kept by `apply()`, without restoring them). */
  dispose(): void;
}

const TENSOR_PREFIX = 'flatmin/averager/';
const NUMBER_PREFIX = 'flatmin#/averager/';
const STEPS = 'flatmin#/handle/steps';
const RANDOM = 'flatmin/handle/random';
const NAMES = 'flatmin/handle/variables';

function resolve(target: AttachTarget): tf.Variable[] {
  const list = typeof target === 'function' ? target() : Array.isArray(target) ? target : (target as ModelLike).trainableWeights.map((w) => w.read());
  return (list as tf.Tensor[]).filter((v): v is tf.Variable => v instanceof tf.Variable && !v.isDisposed);
}

function others(target: AttachTarget): tf.Variable[] {
  if (typeof target === 'function' || Array.isArray(target)) return [];
  return ((target as ModelLike).nonTrainableWeights ?? []).map((w) => w.read()).filter((v): v is tf.Variable => v instanceof tf.Variable && !v.isDisposed);
}

/**
 * Attach `averager` to `target` by itself: the generic machinery behind `swa(...).attach(model)`.
 * `apply()` swaps the averaged weights into the target's trainable variables and, for a model, also
 * keeps its non-trainable weights (BatchNorm moving statistics), so `restore()` puts back the model
 * exactly as it was even after `updateBatchNorm`.
 *
 * @example
 * ```ts
 * const handle = attachAverager(swa(), model);
 * for (const batch of batches) { adam.minimize(() => loss(batch), false, variables); handle.update(); }
 * handle.apply(); // evaluate with w̄ …
 * handle.restore();
 * ```
 */
export function attachAverager(averager: Averager, target: AttachTarget): StandaloneAverager {
  let state: ComponentState = {};
  let steps = 0;
  let disposed = false;
  const random = new SeededRandom(0);
  let backup: Map<tf.Variable, tf.Tensor> | null = null;

  const alive = (what: string) => {
    if (disposed) throw new FlatminError(`averager '${averager.name}': ${what} after dispose().`);
  };
  const hasAveraged = () => Object.keys(averager.averaged(state)).length > 0;

  const apply = (): void => {
    alive('apply()');
    if (backup !== null) return;
    const averaged = averager.averaged(state);
    const kept = new Map<tf.Variable, tf.Tensor>();
    const targets = resolve(target).filter((v) => averaged[v.name] !== undefined);
    if (targets.length === 0) throw new FlatminError(`averager '${averager.name}' has no averaged weights yet: update() at least once after its start before apply().`);
    for (const v of [...targets, ...others(target)]) if (!kept.has(v)) kept.set(v, tf.keep(shareData(v)));
    for (const v of targets) v.assign(averaged[v.name]!);
    backup = kept;
  };
  const restore = (): void => {
    if (backup === null) return;
    for (const [variable, value] of backup) {
      if (!variable.isDisposed) variable.assign(value);
      value.dispose();
    }
    backup = null;
  };
  const update = (): void => {
    alive('update()');
    if (backup !== null) throw new FlatminError(`averager '${averager.name}': the averaged weights are applied: restore() before training again.`);
    const context = { step: steps, random, normEpsilon: 1e-12, learningRate: Number.NaN, variables: resolve(target) };
    const next = tf.tidy(() => averager.update(context, state) as unknown as tf.TensorContainer) as unknown as ComponentState;
    state = replaceState(state, next);
    steps += 1;
  };

  const handle: StandaloneAverager = {
    component: averager,
    apply,
    restore,
    update,
    get applied() {
      return backup !== null;
    },
    get steps() {
      return steps;
    },
    callback: (options = {}) => {
      const hooks: FitCallbackHooks = {
        ...(averager.callbackHooks?.(handle) ?? {}),
      };
      const own = { ...hooks };
      hooks.onTrainBegin = async (logs) => {
        restore();
        await own.onTrainBegin?.(logs);
      };
      hooks.onBatchEnd = async (batch, logs) => {
        update();
        await own.onBatchEnd?.(batch, logs);
      };
      const atEpochEnd = options.onEpochEnd;
      if (atEpochEnd !== undefined) {
        hooks.onEpochEnd = async (epoch, logs) => {
          await own.onEpochEnd?.(epoch, logs);
          if (!hasAveraged()) return;
          apply();
          try {
            await atEpochEnd(epoch, logs);
          } finally {
            restore();
          }
        };
      }
      if (options.applyOnTrainEnd ?? true) {
        hooks.onTrainEnd = async (logs) => {
          await own.onTrainEnd?.(logs);
          if (hasAveraged()) apply();
        };
      }
      return hooks;
    },
    getWeights: async () => {
      alive('getWeights()');
      const out: NamedWeight[] = [{ name: STEPS, tensor: encodeNumber(steps) }];
      out.push({ name: RANDOM, tensor: tf.tensor1d(Int32Array.from(random.getState(), (x) => x | 0), 'int32') });
      out.push({ name: NAMES, tensor: tf.tensor1d(resolve(target).map((v) => v.name), 'string') });
      for (const [key, value] of Object.entries(state)) {
        out.push(typeof value === 'number' ? { name: `${NUMBER_PREFIX}${key}`, tensor: encodeNumber(value) } : { name: `${TENSOR_PREFIX}${key}`, tensor: shareData(value) });
      }
      return out;
    },
    setWeights: async (weights) => {
      alive('setWeights()');
      const next: Record<string, tf.Tensor | number> = {};
      let savedNames: string[] | null = null;
      let savedSteps = 0;
      let savedRandom: number[] | null = null;
      for (const { name, tensor } of weights) {
        if (name === STEPS) savedSteps = await decodeNumber(tensor);
        else if (name === RANDOM) savedRandom = Array.from(await tensor.data());
        else if (name === NAMES) savedNames = Array.from((await tensor.data()) as unknown as string[]);
        else if (name.startsWith(NUMBER_PREFIX)) next[name.slice(NUMBER_PREFIX.length)] = await decodeNumber(tensor);
        else if (name.startsWith(TENSOR_PREFIX)) next[name.slice(TENSOR_PREFIX.length)] = tf.keep(tensor.clone());
        else throw new FlatminError(`setWeights: unknown weight '${name}' (not saved by an attached averager).`);
      }
      disposeState(state);
      state = renamed(next, savedNames, resolve(target));
      steps = savedSteps;
      if (savedRandom !== null) random.setState(savedRandom);
    },
    dispose: () => {
      if (disposed) return;
      if (backup !== null) for (const value of backup.values()) value.dispose();
      backup = null;
      disposeState(state);
      state = {};
      disposed = true;
    },
  };
  return handle;
}

/** Re-key per-variable state (`name:slot`) saved under `saved` names onto `current` variables, by position. */
function renamed(state: Record<string, tf.Tensor | number>, saved: string[] | null, current: readonly tf.Variable[]): ComponentState {
  if (saved === null || saved.length !== current.length) return state;
  const map = new Map(saved.map((name, i) => [name, current[i]!.name]));
  const out: Record<string, tf.Tensor | number> = {};
  for (const [key, value] of Object.entries(state)) {
    const colon = key.lastIndexOf(':');
    const owner = colon < 0 ? null : key.slice(0, colon);
    const to = owner === null ? undefined : map.get(owner);
    out[to === undefined ? key : `${to}${key.slice(colon)}`] = value;
  }
  return out;
}

/**
 * Hooks for `model.fit` that run `fn` at each epoch end with the averaged weights of any averager
 * handle applied — `optimizer.averager` of `sharpnessAware` included — and restore them afterwards.
 * An epoch that ends before anything is averaged is skipped. Pass it next to `handle.callback()`.
 *
 * @example
 * ```ts
 * const evaluate = evaluateAveraged(optimizer.averager!, async () => console.log(model.evaluate(xTest, yTest)));
 * await model.fit(x, y, { epochs: 10, callbacks: [optimizer.averager!.callback(), evaluate] });
 * ```
 */
export function evaluateAveraged(handle: AveragerHandle, fn: (epoch: number, logs?: Record<string, unknown>) => void | Promise<void>): FitCallbackHooks {
  return {
    onEpochEnd: async (epoch, logs) => {
      if (handle.applied) return;
      try {
        handle.apply();
      } catch (error) {
        // Nothing averaged yet: apply() changed nothing.
        if (error instanceof FlatminError) return;
        throw error;
      }
      try {
        await fn(epoch, logs);
      } finally {
        handle.restore();
      }
    },
  };
}
