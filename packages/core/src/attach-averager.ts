/**
 * An averager by itself, next to any tfjs optimizer (no `sharpnessAware`): the handle that
 * `ema(...).attach(model)`, `swa(...).attach(model)` and `swad(...).attach(model)` return. It
 * keeps the averager's state, updates it after each optimizer step, swaps the averaged weights
 * in and out, makes the `model.fit` callback and saves its own state. Generic over
 * {@link Averager}.
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { fitHooks, WeightSwap } from './averager-handle.js';
import { FlatminError } from './errors.js';
import type { NamedWeight } from './persist.js';
import { variableOfKey } from './persist.js';
import { SeededRandom } from './random.js';
import { decodeNumber, disposeState, encodeNumber, replaceState } from './state.js';
import { shareData } from './tensor-math.js';
import type { Averager, AveragerHandle, ComponentState, FitCallbackHooks } from './types.js';

/** A tfjs-layers model, seen only through the fields a standalone averager reads. */
export interface AttachModel {
  /** Its trainable parameters (tfjs-layers `LayerVariable`s, whose `read()` is the `tf.Variable`, or variables). */
  readonly trainableWeights: ReadonlyArray<
    | {
        /** The weight's `tf.Variable`. */
        read(): tf.Tensor;
      }
    | tf.Variable
  >;
  /** Its other weights (frozen parameters, BatchNorm moving statistics): kept by `apply()`, put back by `restore()`. */
  readonly nonTrainableWeights?: ReadonlyArray<
    | {
        /** The weight's `tf.Variable`. */
        read(): tf.Tensor;
      }
    | tf.Variable
  >;
}

/**
 * What a standalone averager follows: a tfjs-layers model (its trainable weights, read again at
 * every call, so a model built later works), a list of variables, or a function returning one.
 */
export type AttachTarget = AttachModel | readonly tf.Variable[] | (() => readonly tf.Variable[]);

/** Options of {@link StandaloneAverager.callback}. */
export interface StandaloneCallbackOptions {
  /** End `fit` holding the averaged weights (default true; nothing happens while none are averaged yet). */
  applyOnTrainEnd?: boolean;
  /**
   * Called at each epoch end with the averaged weights applied (and restored afterwards), e.g. to
   * run `model.evaluate`; skipped while no weights are averaged yet.
   */
  onEpochEnd?: (epoch: number, logs?: Record<string, unknown>) => void | Promise<void>;
}

/** Options of {@link attachAverager}. */
export interface AttachOptions {
  /** Seed of the random source the averager's context carries (default 0; saved with the state). */
  seed?: number;
}

/** The handle of an averager attached by itself: `optimizer.averager`'s {@link AveragerHandle}, plus `update()` and its own state. */
export interface StandaloneAverager extends AveragerHandle {
  /** Show the averager the current weights: call it after every step of the training optimizer (no host read). */
  update(): void;
  /** Updates so far (the next update's `step`). */
  readonly steps: number;
  /** The averaged weights by variable name (owned by the handle: valid until the next update). */
  averaged(): Readonly<Record<string, tf.Tensor>>;
  /**
   * A `model.fit` callback: `update()` at each batch end, `restore()` when a `fit` begins, the
   * averaged weights applied at the end (`applyOnTrainEnd`, default true), the averager's own hooks,
   * and optionally a function run at each epoch end with the averaged weights applied.
   */
  callback(options?: StandaloneCallbackOptions): FitCallbackHooks;
  /**
   * The state to save: the averager's tensors (`flatmin/averager/<key>`), host numbers
   * (`flatmin#/averager/<key>`), the update count, the random state and the attached variables'
   * names. Fresh handles (no copy): the caller disposes them.
   */
  getWeights(): NamedWeight[];
  /**
   * Restore what {@link StandaloneAverager.getWeights} saved (copied: the caller keeps its tensors).
   * Per-variable state follows the attached variables by position when their names changed (as
   * after `tf.loadLayersModel`); a saved state of a variable that is not attached throws a
   * `FlatminError`, as does a weight this handle did not save. Puts back applied weights first,
   * then calls the averager's `restored` hook.
   */
  setWeights(weights: readonly NamedWeight[]): Promise<void>;
  /** Free the averager's state (and the weights kept by an `apply()`, without restoring them). */
  dispose(): void;
}

const TENSOR_PREFIX = 'flatmin/averager/';
const NUMBER_PREFIX = 'flatmin#/averager/';
const STEPS = 'flatmin#/handle/steps';
const RANDOM = 'flatmin/handle/random';
const NAMES = 'flatmin/handle/variables';

const variablesIn = (list: readonly unknown[]): tf.Variable[] =>
  list.map((w) => (w instanceof tf.Variable ? w : (w as { read(): tf.Tensor }).read())).filter((v): v is tf.Variable => v instanceof tf.Variable && !v.isDisposed);

function trainable(target: AttachTarget): tf.Variable[] {
  if (typeof target === 'function') return variablesIn(target());
  if (Array.isArray(target)) return variablesIn(target);
  return variablesIn((target as AttachModel).trainableWeights);
}

function nonTrainable(target: AttachTarget): tf.Variable[] {
  if (typeof target === 'function' || Array.isArray(target)) return [];
  return variablesIn((target as AttachModel).nonTrainableWeights ?? []);
}

function isTarget(target: unknown): target is AttachTarget {
  if (typeof target === 'function' || Array.isArray(target)) return true;
  return target !== null && typeof target === 'object' && Array.isArray((target as { trainableWeights?: unknown }).trainableWeights);
}

/**
 * Attach `averager` to `target` by itself, next to any tfjs optimizer: the generic machinery behind
 * an averager factory's `attach(target)`. The handle holds the averager's state as the optimizer
 * would (`update()` runs `averager.update` in a `tf.tidy` with the target's trainable variables,
 * `step` = updates so far, `learningRate` NaN); `apply()` swaps in `averager.averaged(state)` and,
 * for a model, also keeps its non-trainable weights (BatchNorm moving statistics), so `restore()`
 * puts the model back exactly as it was, even after the statistics were recomputed for the average.
 *
 * @param averager any {@link Averager}.
 * @param target a tfjs-layers model, a list of variables, or a function returning one.
 * @param options see {@link AttachOptions}.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs';
 * import type { Averager } from '@flatmin/core';
 * import { attachAverager, variableKey } from '@flatmin/core/kit';
 *
 * // A toy averager that keeps the last weights; its factory's attach() is one line.
 * const last: Averager = {
 *   kind: 'averager', name: 'last', config: {},
 *   update: ({ variables }) => Object.fromEntries(variables.map((v) => [variableKey(v.name, 'last'), tf.clone(v)])),
 *   averaged: (state) => Object.fromEntries(Object.entries(state).map(([key, t]) => [key.slice(0, -':last'.length), t as tf.Tensor])),
 * };
 * const handle = attachAverager(last, model); // next to any optimizer: adam.minimize(...); handle.update();
 * await model.fit(x, y, { epochs: 3, callbacks: [handle.callback()] }); // ends holding the averaged weights
 * ```
 */
export function attachAverager(averager: Averager, target: AttachTarget, options: AttachOptions = {}): StandaloneAverager {
  if (!isTarget(target)) {
    throw new FlatminError(`${averager.name}(...).attach(target): expected a tfjs-layers model, an array of tf.Variable, or a function returning one.`);
  }
  let state: ComponentState = {};
  let steps = 0;
  let disposed = false;
  const swap = new WeightSwap();
  const random = new SeededRandom(options.seed ?? 0);

  const alive = (what: string): void => {
    if (disposed) throw new FlatminError(`averager '${averager.name}': ${what} after dispose().`);
  };
  const hasAveraged = (): boolean => Object.keys(averager.averaged(state)).length > 0;

  const apply = (): void => {
    alive('apply()');
    swap.apply(averager.averaged(state), trainable(target), `averager '${averager.name}' has no averaged weights yet: update() at least once (after its start) before apply().`, nonTrainable(target));
  };

  const update = (): void => {
    alive('update()');
    if (swap.applied) throw new FlatminError(`averager '${averager.name}': the averaged weights are applied: call restore() before training again (the callback does so when a fit begins).`);
    const context = { step: steps, random, normEpsilon: 1e-12, learningRate: Number.NaN, variables: trainable(target) };
    const next = tf.tidy(() => averager.update(context, state) as unknown as tf.TensorContainer) as unknown as ComponentState;
    state = replaceState(state, next);
    steps += 1;
  };

  const handle: StandaloneAverager = {
    component: averager,
    apply,
    restore: () => swap.restore(),
    update,
    get applied() {
      return swap.applied;
    },
    get steps() {
      return steps;
    },
    averaged: () => averager.averaged(state),
    callback: (callbackOptions = {}) =>
      fitHooks(averager, handle, {
        onBatch: update,
        applyOnTrainEnd: callbackOptions.applyOnTrainEnd ?? true,
        hasAveraged,
        ...(callbackOptions.onEpochEnd === undefined ? {} : { onEpochEnd: callbackOptions.onEpochEnd }),
      }),
    getWeights: () => {
      alive('getWeights()');
      const out: NamedWeight[] = [
        { name: STEPS, tensor: encodeNumber(steps) },
        { name: RANDOM, tensor: tf.tensor1d(Int32Array.from(random.getState(), (x) => x | 0), 'int32') },
        { name: NAMES, tensor: tf.tensor1d(trainable(target).map((v) => v.name), 'string') },
      ];
      for (const [key, value] of Object.entries(state)) {
        out.push(typeof value === 'number' ? { name: `${NUMBER_PREFIX}${key}`, tensor: encodeNumber(value) } : { name: `${TENSOR_PREFIX}${key}`, tensor: shareData(value) });
      }
      return out;
    },
    setWeights: async (weights) => {
      alive('setWeights()');
      const next: Record<string, tf.Tensor | number> = {};
      let savedSteps: number | null = null;
      let savedRandom: number[] | null = null;
      let savedNames: string[] | null = null;
      let restored: ComponentState;
      try {
        for (const { name, tensor } of weights) {
          if (name === STEPS) savedSteps = await decodeNumber(tensor);
          else if (name === RANDOM) savedRandom = Array.from(await tensor.data());
          else if (name === NAMES) savedNames = Array.from((await tensor.data()) as unknown as string[]);
          else if (name.startsWith(NUMBER_PREFIX)) next[name.slice(NUMBER_PREFIX.length)] = await decodeNumber(tensor);
          else if (name.startsWith(TENSOR_PREFIX)) next[name.slice(TENSOR_PREFIX.length)] = tf.keep(tensor.clone());
          else throw new FlatminError(`averager '${averager.name}': setWeights got '${name}', not a weight saved by a standalone handle's getWeights().`);
        }
        if (savedSteps === null) throw new FlatminError(`averager '${averager.name}': setWeights needs '${STEPS}' (saved by getWeights()).`);
        restored = renamed(next, savedNames, trainable(target), averager.name);
      } catch (error) {
        disposeState(next);
        throw error;
      }
      swap.restore();
      disposeState(state);
      state = restored;
      steps = savedSteps;
      if (savedRandom !== null) random.setState(savedRandom);
      averager.restored?.(state);
    },
    dispose: () => {
      if (disposed) return;
      swap.dispose();
      disposeState(state);
      state = {};
      averager.dispose?.();
      disposed = true;
    },
  };
  return handle;
}

/**
 * Re-key per-variable state (`name:slot`) saved under `saved` names onto `current` variables by
 * position (when both lists have the same length), then check every per-variable key belongs to
 * an attached variable.
 */
function renamed(state: Record<string, tf.Tensor | number>, saved: readonly string[] | null, current: readonly tf.Variable[], name: string): ComponentState {
  const map = saved !== null && saved.length === current.length ? new Map(saved.map((n, i) => [n, current[i]!.name])) : new Map<string, string>();
  const attached = new Set(current.map((v) => v.name));
  const out: Record<string, tf.Tensor | number> = {};
  for (const [key, value] of Object.entries(state)) {
    const owner = variableOfKey(key);
    if (owner === null) {
      out[key] = value;
      continue;
    }
    const to = map.get(owner) ?? owner;
    if (!attached.has(to)) throw new FlatminError(`averager '${name}': the saved state of '${owner}' has no attached variable of that name (attached: ${[...attached].join(', ') || 'none'}).`);
    out[`${to}${key.slice(owner.length)}`] = value;
  }
  return out;
}
