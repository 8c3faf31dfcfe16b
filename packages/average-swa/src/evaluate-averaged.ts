/**
 * Evaluate with the averaged weights at each epoch end of `model.fit`, for any averager handle.
 *
 * @module
 */
import { type AveragerHandle, type FitCallbackHooks, FlatminError } from '@flatmin/core';

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
