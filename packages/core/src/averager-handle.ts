/**
 * The handle behind `optimizer.averager`: swaps averaged weights in and out and makes the
 * `model.fit` callback. The swap and the callback are shared with the standalone handle
 * (`attachAverager` in `attach-averager.ts`).
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { FlatminError } from './errors.js';
import { shareData } from './tensor-math.js';
import type { Averager, AveragerHandle, ComponentState, FitCallbackHooks } from './types.js';

/** @internal Averaged weights swapped into variables, and what they replaced. */
export class WeightSwap {
  private backup: Map<tf.Variable, tf.Tensor> | null = null;

  /** Whether averaged weights are in. */
  get applied(): boolean {
    return this.backup !== null;
  }

  /**
   * Assign `averaged[v.name]` to each of `variables` that has one, keeping the current values
   * (and those of `alsoKeep`, e.g. BatchNorm statistics) for {@link restore}. Throws `empty`
   * (a FlatminError message) when nothing is averaged. A no-op while applied.
   */
  apply(averaged: Readonly<Record<string, tf.Tensor>>, variables: readonly tf.Variable[], empty: string, alsoKeep: readonly tf.Variable[] = []): void {
    if (this.backup !== null) return;
    const targets = variables.filter((v) => averaged[v.name] !== undefined);
    if (targets.length === 0) throw new FlatminError(empty);
    const kept = new Map<tf.Variable, tf.Tensor>();
    // shareData: keeping the current weights costs no copy.
    for (const v of [...targets, ...alsoKeep]) if (!kept.has(v)) kept.set(v, tf.keep(shareData(v)));
    for (const v of targets) v.assign(averaged[v.name]!);
    this.backup = kept;
  }

  /** Put back what {@link apply} replaced (exactly: the kept values are the old data). */
  restore(): void {
    if (this.backup === null) return;
    for (const [variable, value] of this.backup) {
      if (!variable.isDisposed) variable.assign(value);
      value.dispose();
    }
    this.backup = null;
  }

  /** Drop the kept weights without restoring them. */
  dispose(): void {
    if (this.backup === null) return;
    for (const value of this.backup.values()) value.dispose();
    this.backup = null;
  }
}

/** @internal What {@link fitHooks} adds to the averager's own hooks. */
export interface FitHookOptions {
  /** Called at each batch end before the averager's own hook (a standalone handle's `update()`). */
  readonly onBatch?: () => void;
  /** End holding the averaged weights (default true); skipped when `hasAveraged` says none are. */
  readonly applyOnTrainEnd?: boolean;
  /** Whether anything is averaged yet (default: always true, so `apply()` throws its message). */
  readonly hasAveraged?: () => boolean;
  /** Run at each epoch end with the averaged weights applied, then restored (skipped while none are). */
  readonly onEpochEnd?: (epoch: number, logs?: Record<string, unknown>) => void | Promise<void>;
}

/**
 * @internal The `model.fit` callback of a handle: `restore()` when a fit begins (a second fit starts
 * from the training weights), the averager's own hooks, and the options' additions.
 */
export function fitHooks(component: Averager, handle: AveragerHandle, options: FitHookOptions): FitCallbackHooks {
  const own: FitCallbackHooks = { ...(component.callbackHooks?.(handle) ?? {}) };
  const hooks: FitCallbackHooks = { ...own };
  const hasAveraged = options.hasAveraged ?? (() => true);
  hooks.onTrainBegin = async (logs) => {
    handle.restore();
    await own.onTrainBegin?.(logs);
  };
  const onBatch = options.onBatch;
  if (onBatch !== undefined) {
    hooks.onBatchEnd = async (batch, logs) => {
      onBatch();
      await own.onBatchEnd?.(batch, logs);
    };
  }
  const atEpochEnd = options.onEpochEnd;
  if (atEpochEnd !== undefined) {
    hooks.onEpochEnd = async (epoch, logs) => {
      await own.onEpochEnd?.(epoch, logs);
      if (handle.applied || !hasAveraged()) return;
      handle.apply();
      try {
        await atEpochEnd(epoch, logs);
      } finally {
        handle.restore();
      }
    };
  }
  if (options.applyOnTrainEnd ?? true) {
    hooks.onTrainEnd = async (logs) => {
      await own.onTrainEnd?.(logs);
      if (hasAveraged()) handle.apply();
    };
  }
  return hooks;
}

/** @internal The optimizer's bookkeeping for an attached averager. */
export class AveragerState {
  readonly handle: AveragerHandle;
  private readonly swap = new WeightSwap();

  constructor(
    readonly component: Averager,
    getState: () => ComponentState,
    getVariables: () => readonly tf.Variable[],
  ) {
    const swap = this.swap;
    const handle: AveragerHandle = {
      component,
      apply: () => swap.apply(component.averaged(getState()), getVariables(), `averager '${component.name}' has no averaged weights yet: train at least one step before apply().`),
      restore: () => swap.restore(),
      get applied() {
        return swap.applied;
      },
      callback: (options = {}) => fitHooks(component, handle, { applyOnTrainEnd: options.applyOnTrainEnd ?? true }),
    };
    this.handle = handle;
  }

  /** Drop the kept weights without restoring them, and what the component keeps outside its state. */
  dispose(): void {
    this.swap.dispose();
    this.component.dispose?.();
  }
}
