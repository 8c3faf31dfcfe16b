/**
 * An averager without `sharpnessAware`: attached to a model or a list of variables, next to any
 * tfjs optimizer, it keeps its own state and is updated by `update()` or by its `model.fit`
 * callback (after every batch).
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { type Averager, type AveragerHandle, type ComponentState, type FitCallbackHooks, FlatminError, type NamedWeight } from '@flatmin/core';
import { decodeNumber, encodeNumber, replaceState, SeededRandom, shareData, disposeState } from '@flatmin/core/kit';

/** What an averager attaches to: a tfjs-layers model (its trainable weights), a list of variables, or a function returning one. */
export type AverageTarget =
  | {
      /** A tfjs-layers model's trainable weights. */
      readonly trainableWeights: readonly unknown[];
    }
  | readonly tf.Variable[]
  | (() => readonly tf.Variable[]);

/** A standalone averager: the {@link AveragerHandle} of `optimizer.averager`, plus `update()` and its own saved state. */
export interface StandaloneAverager extends AveragerHandle {
  /** Average the current weights in (call it after every optimizer step). No host reads. */
  update(): void;
  /** Updates so far. */
  readonly steps: number;
  /** The averaged weights by variable name (owned by the handle: valid until the next update). */
  averaged(): Readonly<Record<string, tf.Tensor>>;
  /** The state to save: tensors named `flatmin/averager/<key>` (copies: the caller disposes them) and the update count. */
  getWeights(): NamedWeight[];
  /** Restore what {@link StandaloneAverager.getWeights} returned; a saved variable that is not attached throws a `FlatminError`. */
  setWeights(weights: readonly NamedWeight[]): Promise<void>;
  /** Free the state (and the weights kept by an `apply()` not restored). */
  dispose(): void;
}

const PREFIX = 'flatmin/averager/';
const STEPS = `${PREFIX}#steps`;
/** Host numbers of the state are saved under this prefix, as their float64 bits. */
const NUMBER = `${PREFIX}#number/`;

/** The variables a target holds now (a model's list is read at every call: it may be built later). */
export function targetVariables(target: AverageTarget): tf.Variable[] {
  if (typeof target === 'function') return [...target()];
  if (Array.isArray(target)) return [...(target as tf.Variable[])];
  const weights = (target as { trainableWeights: readonly unknown[] }).trainableWeights;
  return weights.map((w) => (w instanceof tf.Variable ? w : ((w as { read(): tf.Variable }).read())));
}

function isTarget(target: unknown): target is AverageTarget {
  if (typeof target === 'function' || Array.isArray(target)) return true;
  return target !== null && typeof target === 'object' && Array.isArray((target as { trainableWeights?: unknown }).trainableWeights);
}

/**
 * Attach `component` to `target` without an optimizer: the generic machinery behind
 * `ema(...).attach(model)` and `mesa(...).attach(model)`.
 *
 * @example
 * ```ts
 * const handle = attachAverager(ema({ decay: 0.99 }), model);
 * model.compile({ optimizer: tf.train.adam(1e-3), loss: 'meanSquaredError' });
 * await model.fit(x, y, { epochs: 5, callbacks: [handle.callback()] });
 * ```
 */
export function attachAverager(component: Averager, target: AverageTarget): StandaloneAverager {
  if (!isTarget(target)) {
    throw new FlatminError(`${component.name}(...).attach(target): expected a tfjs-layers model, an array of tf.Variable, or a function returning one.`);
  }
  let state: ComponentState = {};
  let steps = 0;
  let backup: Map<tf.Variable, tf.Tensor> | null = null;
  const random = new SeededRandom(0);

  const update = (): void => {
    if (backup !== null) throw new FlatminError(`${component.name}: the averaged weights are applied; call restore() before update().`);
    const variables = targetVariables(target);
    const next = tf.tidy(() => {
      const out = component.update({ step: steps, random, normEpsilon: 1e-12, learningRate: Number.NaN, variables }, state);
      for (const value of Object.values(out)) if (typeof value !== 'number') tf.keep(value);
      return out;
    });
    state = replaceState(state, next);
    steps += 1;
  };

  const apply = (): void => {
    if (backup !== null) return;
    const averaged = component.averaged(state);
    const kept = new Map<tf.Variable, tf.Tensor>();
    for (const variable of targetVariables(target)) {
      const value = averaged[variable.name];
      if (value === undefined) continue;
      kept.set(variable, tf.keep(shareData(variable)));
      variable.assign(value);
    }
    if (kept.size === 0) throw new FlatminError(`averager '${component.name}' has no averaged weights yet: call update() at least once before apply().`);
    backup = kept;
  };

  const restore = (): void => {
    if (backup === null) return;
    for (const [variable, value] of backup) {
      variable.assign(value);
      value.dispose();
    }
    backup = null;
  };

  const handle: StandaloneAverager = {
    component,
    update,
    apply,
    restore,
    get applied() {
      return backup !== null;
    },
    get steps() {
      return steps;
    },
    averaged: () => component.averaged(state),
    callback: (options = {}) => {
      const hooks: FitCallbackHooks = { ...(component.callbackHooks?.(handle) ?? {}) };
      const ownBegin = hooks.onTrainBegin;
      hooks.onTrainBegin = async (logs) => {
        restore();
        await ownBegin?.(logs);
      };
      const ownBatch = hooks.onBatchEnd;
      hooks.onBatchEnd = async (batch, logs) => {
        update();
        await ownBatch?.(batch, logs);
      };
      if (options.applyOnTrainEnd ?? true) {
        const ownEnd = hooks.onTrainEnd;
        hooks.onTrainEnd = async (logs) => {
          await ownEnd?.(logs);
          apply();
        };
      }
      return hooks;
    },
    getWeights: () => {
      const out: NamedWeight[] = [{ name: STEPS, tensor: encodeNumber(steps) }];
      for (const [key, value] of Object.entries(state)) {
        out.push(typeof value === 'number' ? { name: `${NUMBER}${key}`, tensor: encodeNumber(value) } : { name: `${PREFIX}${key}`, tensor: tf.clone(value) });
      }
      return out;
    },
    setWeights: async (weights) => {
      const names = new Set(targetVariables(target).map((v) => v.name));
      const next: Record<string, tf.Tensor | number> = {};
      let savedSteps: number | undefined;
      try {
        for (const { name, tensor } of weights) {
          if (name === STEPS) {
            savedSteps = await decodeNumber(tensor);
            continue;
          }
          if (name.startsWith(NUMBER)) {
            next[name.slice(NUMBER.length)] = await decodeNumber(tensor);
            continue;
          }
          if (!name.startsWith(PREFIX)) throw new FlatminError(`${component.name}: setWeights got '${name}', not a weight saved by getWeights().`);
          const key = name.slice(PREFIX.length);
          const colon = key.lastIndexOf(':');
          if (colon >= 0 && !names.has(key.slice(0, colon))) {
            throw new FlatminError(`${component.name}: the saved average of '${key.slice(0, colon)}' has no attached variable of that name.`);
          }
          next[key] = tf.keep(tf.clone(tensor));
        }
        if (savedSteps === undefined) throw new FlatminError(`${component.name}: setWeights needs '${STEPS}' (saved by getWeights()).`);
      } catch (error) {
        disposeState(next);
        throw error;
      }
      restore();
      disposeState(state);
      state = next;
      steps = savedSteps!;
    },
    dispose: () => {
      if (backup !== null) for (const value of backup.values()) value.dispose();
      backup = null;
      disposeState(state);
      state = {};
    },
  };
  return handle;
}
