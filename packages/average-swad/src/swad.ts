/**
 * SWAD (Cha, Chun, Lee, Cho, Park, Lee & Park, "SWAD: Domain Generalization by Seeking Flat
 * Minima", NeurIPS 2021): a dense average of the weights of every update inside a window
 * [t_s, t_e] that the validation loss decides (see `valley.ts` for the exact rules).
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { type Averager, type AveragerHandle, type ComponentState, FlatminError, type FitCallbackHooks, type NamedTensors } from '@flatmin/core';
import { type AttachTarget, attachAverager, checkNumber, checkOptions, registerComponent, type StandaloneAverager } from '@flatmin/core/kit';
import { addWeights, applyActions, averagedSlots, meanOf } from './device.js';
import { decodeValley, stateOf, sumsOf } from './state.js';
import { afterUpdate, EMPTY_VALLEY, observe, type Valley, type ValleySettings, windowOf } from './valley.js';

/** Options of {@link swad}. */
export interface SwadOptions {
  /** N_s: converged when the loss has not decreased over this many evaluations (integer ≥ 1, default 3). */
  nConverge?: number;
  /** N_e: the window ends when the loss stays above the threshold over this many evaluations (integer ≥ 1, default 6). */
  nTolerance?: number;
  /** r: the threshold is (1 + r) × the loss at t_s (≥ 0, default 0.3). */
  toleranceRatio?: number;
  /**
   * Under `model.fit`: read `val_loss` from the logs of every `evaluateEvery`-th batch (integer
   * ≥ 1) instead of each epoch's end (the default, when absent). tfjs-layers computes `val_loss`
   * at epoch ends only, so batch evaluations need a callback before this one that puts it in the
   * batch logs. Custom loops call {@link SwadAverager.observeValidation} instead.
   */
  evaluateEvery?: number;
}

/** The averaging window in update counts (updates counted from 1, both ends included). */
export interface SwadWindow {
  /** The first averaged update (null until converged). */
  readonly start: number | null;
  /** The last averaged update (null while the window is open). */
  readonly end: number | null;
}

/** The SWAD averager: an {@link Averager} that also takes validation losses and reports its window. */
export interface SwadAverager extends Averager {
  /** The checked options (defaults filled in; `evaluateEvery` only when given). */
  readonly config: Readonly<{
    /** N_s (see {@link SwadOptions.nConverge}). */
    nConverge: number;
    /** N_e (see {@link SwadOptions.nTolerance}). */
    nTolerance: number;
    /** r (see {@link SwadOptions.toleranceRatio}). */
    toleranceRatio: number;
    /** See {@link SwadOptions.evaluateEvery}; present only when given. */
    evaluateEvery?: number;
  }>;
  /**
   * One evaluation: the validation loss of the current weights (a host number; NaN counts as +∞).
   * It takes effect at the next update, or at once for `apply()` and {@link SwadAverager.window}.
   */
  observeValidation(loss: number): void;
  /**
   * t_s and t_e so far, in update counts (`end: null` while open, `start: null` before convergence):
   * the committed state's window (also right after `setWeights` restored one) plus the evaluations
   * given since the last update.
   */
  window(): SwadWindow;
  /**
   * Use SWAD next to any tfjs optimizer (no SAM needed): a handle whose `update()` is called after
   * each optimizer step, or whose `callback()` does it in `model.fit`.
   */
  attach(target: AttachTarget): StandaloneAverager;
}

const KEYS = ['nConverge', 'nTolerance', 'toleranceRatio', 'evaluateEvery'] as const;

/**
 * SWAD (Cha et al., NeurIPS 2021): averages the weights of every update between t_s, where
 * the validation loss has stopped decreasing over `nConverge` evaluations, and t_e, after which it
 * stays above (1 + `toleranceRatio`) × its value at t_s over `nTolerance` evaluations. The window
 * starts retroactively, as the official `LossValley`: up to `nTolerance − nConverge` evaluations
 * before t_s while the loss stayed under the threshold.
 *
 * The validation loss is read only at evaluations: in `model.fit` from `val_loss` in the epoch
 * logs (pass `validationData`), in a custom loop from {@link SwadAverager.observeValidation}.
 * Nothing is read from the device in a step.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs';
 * import { sharpnessAware } from '@flatmin/core';
 * import { gradient } from '@flatmin/perturb-gradient';
 * import { swad } from '@flatmin/average-swad';
 *
 * const averager = swad({ nConverge: 3, nTolerance: 6, toleranceRatio: 0.3 });
 * const optimizer = sharpnessAware({ base: tf.train.adam(1e-3), perturbation: gradient({ rho: 0.05 }), averager });
 * // model.compile({ optimizer, loss: 'meanSquaredError' });
 * // await model.fit(x, y, { epochs: 30, validationData: [xVal, yVal], callbacks: [optimizer.averager!.callback()] });
 * // averager.window() → { start, end }; the model now holds the averaged weights.
 * ```
 */
export function swad(options?: SwadOptions): SwadAverager {
  const given = checkOptions(options, KEYS, 'swad');
  const or = (value: unknown, fallback: number): unknown => (value === undefined ? fallback : value);
  const nConverge = checkNumber('nConverge', or(given.nConverge, 3), { min: 1, integer: true }, 'swad');
  const nTolerance = checkNumber('nTolerance', or(given.nTolerance, 6), { min: 1, integer: true }, 'swad');
  const toleranceRatio = checkNumber('toleranceRatio', or(given.toleranceRatio, 0.3), { min: 0 }, 'swad');
  const evaluateEvery = given.evaluateEvery === undefined ? undefined : checkNumber('evaluateEvery', given.evaluateEvery, { min: 1, integer: true }, 'swad');
  const settings: ValleySettings = { nConverge, nTolerance, toleranceRatio };

  let pending: number[] = [];
  let seen: Valley = EMPTY_VALLEY;
  let variables = new Map<string, tf.Tensor>();
  let lastMean: NamedTensors = {};

  const advance = (valley: Valley): { valley: Valley; actions: ReturnType<typeof observe>['actions'] } => {
    let v = valley;
    const actions: ReturnType<typeof observe>['actions'] = [];
    for (const loss of pending) {
      const result = observe(v, loss, settings);
      v = result.valley;
      actions.push(...result.actions);
    }
    return { valley: v, actions };
  };

  const component: SwadAverager = {
    kind: 'averager',
    name: 'swad',
    config: evaluateEvery === undefined ? { nConverge, nTolerance, toleranceRatio } : { nConverge, nTolerance, toleranceRatio, evaluateEvery },
    update: ({ variables: updated }, state) => {
      const { valley, actions } = advance(syncFrom(state));
      let sums = applyActions(sumsOf(state), actions);
      if (valley.phase !== 2) sums = addWeights(sums, updated);
      const next = afterUpdate(valley);
      variables = new Map(updated.map((v) => [v.name, v]));
      pending = [];
      seen = next;
      return stateOf(next, sums);
    },
    averaged: (state) => {
      for (const t of Object.values(lastMean)) if (!t.isDisposed) t.dispose();
      lastMean = tf.tidy(() => {
        const { valley, actions } = advance(syncFrom(state));
        return meanOf(applyActions(sumsOf(state), actions), averagedSlots(valley), variables);
      });
      return lastMean;
    },
    callbackHooks: (_handle: AveragerHandle) => validationHooks(component, evaluateEvery),
    observeValidation: (loss) => {
      if (typeof loss !== 'number') throw new FlatminError(`swad.observeValidation(loss) takes the validation loss as a number, got ${typeof loss}.`);
      pending.push(Number.isNaN(loss) ? Infinity : loss);
    },
    window: () => windowOf(advance(seen).valley),
    attach: (target) => attachAverager(component, target),
    // setWeights (the optimizer's or a standalone handle's) replaced the state: window() reads it at once.
    restored: (state: ComponentState) => {
      syncFrom(state);
    },
    // The last mean handed out by averaged() (apply() copies it into the variables; it lives until the next call).
    dispose: () => {
      for (const t of Object.values(lastMean)) if (!t.isDisposed) t.dispose();
      lastMean = {};
    },
  };
  const syncFrom = (state: ComponentState): Valley => {
    seen = decodeValley(state);
    return seen;
  };
  return component;
}
registerComponent('averager', 'swad', (config) => swad(config as SwadOptions));

/** The `model.fit` hooks that read `val_loss` at evaluations. */
function validationHooks(averager: SwadAverager, evaluateEvery: number | undefined): FitCallbackHooks {
  const read = (logs: Record<string, unknown> | undefined, where: string): void => {
    const loss = logs?.['val_loss'];
    if (typeof loss !== 'number') {
      throw new FlatminError(
        `swad reads the validation loss from 'val_loss' in the ${where} logs, but there is none: pass validationData (or validationSplit) to model.fit${where === 'batch' ? ', and a callback before this one that puts val_loss in the batch logs (evaluateEvery)' : ''}.`,
      );
    }
    averager.observeValidation(loss);
  };
  if (evaluateEvery === undefined) return { onEpochEnd: (_epoch, logs) => read(logs, 'epoch') };
  let batches = 0;
  return {
    onBatchEnd: (_batch, logs) => {
      batches += 1;
      if (batches % evaluateEvery === 0) read(logs, 'batch');
    },
  };
}
