/**
 * The handle behind `optimizer.averager`: swaps averaged weights in and out and makes the
 * `model.fit` callback.
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { FlatminError } from './errors.js';
import { shareData } from './tensor-math.js';
import type { Averager, AveragerHandle, ComponentState, FitCallbackHooks } from './types.js';

/** @internal The optimizer's bookkeeping for an attached averager. */
export class AveragerState {
  readonly handle: AveragerHandle;
  private backup: Map<tf.Variable, tf.Tensor> | null = null;

  constructor(
    readonly component: Averager,
    getState: () => ComponentState,
    getVariables: () => readonly tf.Variable[],
  ) {
    const apply = (): void => {
      if (this.backup !== null) return;
      const averaged = component.averaged(getState());
      const backup = new Map<tf.Variable, tf.Tensor>();
      for (const variable of getVariables()) {
        const value = averaged[variable.name];
        if (value === undefined) continue;
        // shareData: keeping the current weights costs no copy.
        backup.set(variable, tf.keep(shareData(variable)));
        variable.assign(value);
      }
      if (backup.size === 0) {
        throw new FlatminError(`averager '${component.name}' has no averaged weights yet: train at least one step before apply().`);
      }
      this.backup = backup;
    };
    const restore = (): void => {
      if (this.backup === null) return;
      for (const [variable, value] of this.backup) {
        variable.assign(value);
        value.dispose();
      }
      this.backup = null;
    };
    const self = this;
    const handle: AveragerHandle = {
      component,
      apply,
      restore,
      get applied() {
        return self.backup !== null;
      },
      callback: (options = {}) => {
        const hooks: FitCallbackHooks = { ...(component.callbackHooks?.(handle) ?? {}) };
        // A second fit() starts from the training weights, not from the averaged ones the first applied.
        const ownBegin = hooks.onTrainBegin;
        hooks.onTrainBegin = async (logs) => {
          restore();
          await ownBegin?.(logs);
        };
        if (options.applyOnTrainEnd ?? true) {
          const own = hooks.onTrainEnd;
          hooks.onTrainEnd = async (logs) => {
            await own?.(logs);
            apply();
          };
        }
        return hooks;
      },
    };
    this.handle = handle;
  }

  /** Drop the kept weights without restoring them. */
  dispose(): void {
    if (this.backup === null) return;
    for (const value of this.backup.values()) value.dispose();
    this.backup = null;
  }
}
