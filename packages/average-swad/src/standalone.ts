/**
 * A weight averager next to any tfjs optimizer, without `sharpnessAware`: the handle keeps the
 * averager's state itself, is updated after each optimizer step (`update()`, or its `model.fit`
 * callback), swaps the averaged weights in and out, and saves its state. Generic over
 * {@link Averager}: nothing here is SWAD-specific (a candidate for `@flatmin/core/kit`).
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { type Averager, type AveragerHandle, type ComponentState, FlatminError, type FitCallbackHooks, type NamedWeight } from '@flatmin/core';
import { decodeNumber, disposeState, encodeNumber, replaceState, SeededRandom, shareData } from '@flatmin/core/kit';

/** What a standalone averager follows: a tfjs-layers model (its trainable weights) or a list of variables. */
export type AverageTarget =
  | {
      /** A tfjs-layers model's trainable weights. */
      readonly trainableWeights: ReadonlyArray<{
        /** The weight's `tf.Variable`. */
        read(): tf.Tensor;
      }>;
    }
  | readonly tf.Variable[];

/** An averager attached to a model or variables, outside any flatmin optimizer. */
export interface StandaloneAverager extends AveragerHandle {
  /** Fold the current weights in: call it after every optimizer step (the `callback()` does it on each batch end). */
  update(): void;
  /** The number of `update()` calls so far. */
  readonly updates: number;
  /** The averager's state as named tensors (`swad/<key>`; host numbers as `swad#/<key>`; the update count as `swad.handle/updates`): fresh handles, the caller owns them. */
  getWeights(): NamedWeight[];
  /** Restore what {@link StandaloneAverager.getWeights} returned (tensors are copied: the caller keeps ownership). */
  setWeights(weights: readonly NamedWeight[]): Promise<void>;
  /** Free the state (and any weights `apply()` kept). */
  dispose(): void;
}

function variablesOf(target: AverageTarget): tf.Variable[] {
  if (Array.isArray(target)) return target as tf.Variable[];
  const weights = (target as { trainableWeights?: ReadonlyArray<{ read(): tf.Tensor }> }).trainableWeights;
  if (weights === undefined) throw new FlatminError('attach(target) takes a tfjs-layers model or an array of tf.Variable.');
  return weights.map((w) => w.read() as tf.Variable);
}

/**
 * Attach `component` to `target`'s weights (see {@link StandaloneAverager}).
 *
 * @example
 * ```ts
 * const handle = attachAverager(swad(), model); // the same as swad().attach(model)
 * handle.update(); // after each optimizer step
 * ```
 */
export function attachAverager(component: Averager, target: AverageTarget): StandaloneAverager {
  if (!Array.isArray(target) && (target === null || typeof target !== 'object' || !('trainableWeights' in target))) {
    throw new FlatminError(`${component.name}(...).attach(target) takes a tfjs-layers model or an array of tf.Variable.`);
  }
  let state: ComponentState = {};
  let updates = 0;
  let backup: Map<tf.Variable, tf.Tensor> | null = null;
  const tensorPrefix = `${component.name}/`;
  const numberPrefix = `${component.name}#/`;
  const counterName = `${component.name}.handle/updates`;

  const apply = (): void => {
    if (backup !== null) return;
    const averaged = component.averaged(state);
    const kept = new Map<tf.Variable, tf.Tensor>();
    for (const variable of variablesOf(target)) {
      const value = averaged[variable.name];
      if (value === undefined) continue;
      kept.set(variable, tf.keep(shareData(variable)));
      variable.assign(value);
    }
    if (kept.size === 0) throw new FlatminError(`averager '${component.name}' has no averaged weights yet: call update() after at least one step before apply().`);
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
    apply,
    restore,
    get applied() {
      return backup !== null;
    },
    get updates() {
      return updates;
    },
    update: () => {
      if (backup !== null) throw new FlatminError('the averaged weights are applied: call restore() before training again (the callback does so when a fit begins).');
      const variables = variablesOf(target);
      const next = tf.tidy(() => {
        const made = component.update({ step: updates, random: NO_RANDOM, normEpsilon: 1e-12, learningRate: Number.NaN, variables }, state);
        for (const value of Object.values(made)) if (typeof value !== 'number') tf.keep(value);
        return made;
      });
      state = replaceState(state, next);
      updates += 1;
    },
    callback: (options = {}) => {
      const hooks: FitCallbackHooks = { ...(component.callbackHooks?.(handle) ?? {}) };
      const ownBegin = hooks.onTrainBegin;
      hooks.onTrainBegin = async (logs) => {
        restore();
        await ownBegin?.(logs);
      };
      const ownBatch = hooks.onBatchEnd;
      hooks.onBatchEnd = async (batch, logs) => {
        handle.update();
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
      const out: NamedWeight[] = [{ name: counterName, tensor: encodeNumber(updates) }];
      for (const [key, value] of Object.entries(state)) {
        out.push(typeof value === 'number' ? { name: `${numberPrefix}${key}`, tensor: encodeNumber(value) } : { name: `${tensorPrefix}${key}`, tensor: shareData(value) });
      }
      return out;
    },
    setWeights: async (weights) => {
      const next: Record<string, tf.Tensor | number> = {};
      let count = 0;
      for (const { name, tensor } of weights) {
        if (name === counterName) count = await decodeNumber(tensor);
        else if (name.startsWith(numberPrefix)) next[name.slice(numberPrefix.length)] = await decodeNumber(tensor);
        else if (name.startsWith(tensorPrefix)) next[name.slice(tensorPrefix.length)] = tf.keep(tensor.clone());
        else throw new FlatminError(`setWeights: unknown weight '${name}' (not saved by a '${component.name}' averager).`);
      }
      disposeState(state);
      state = next;
      updates = count;
      (component as Restorable).restored?.(state);
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

/** The random source a standalone averager's context carries (averagers draw nothing; fixed seed). */
const NO_RANDOM = new SeededRandom(0);

/** An averager that wants to know when a standalone handle restored its state (SWAD's window()). */
interface Restorable {
  restored?(state: ComponentState): void;
}
