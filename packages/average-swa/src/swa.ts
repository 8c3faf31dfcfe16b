/**
 * SWA: an equal running average of the weights, taken every `every`-th update after `start`.
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Averager, AveragerContext, ComponentState, NamedTensors } from '@flatmin/core';
import { type AttachTarget, attachAverager, checkNumber, checkOptions, registerComponent, type StandaloneAverager, variableKey } from '@flatmin/core/kit';

/** Options of {@link swa}. */
export interface SwaOptions {
  /** Updates left out before averaging begins: an integer ≥ 0. Default 0 (average from the first update). */
  start?: number;
  /** Average the weights of every `every`-th update after `start`: an integer ≥ 1. Default 1. */
  every?: number;
}

/** An averager that can also be attached by itself next to any tfjs optimizer. */
export interface AttachableAverager extends Averager {
  /**
   * Attach the averager to a model's trainable weights (or a list of variables) without
   * `sharpnessAware`: call `update()` after each step of any tfjs optimizer, or pass
   * `callback()` to `model.fit`.
   */
  attach(target: AttachTarget): StandaloneAverager;
}

const KEYS = ['start', 'every'] as const;
/** The number averaged so far, n: a float32 device scalar, so a skipped step keeps it exactly. */
const COUNT = 'count';
const SLOT = 'swa';

/**
 * Whether the weights after update `k` (1-based: the k-th update of the run) are averaged:
 * `k > start` and `(k − start)` a multiple of `every`.
 *
 * @example
 * ```ts
 * swaAverages(10, 8, 1); // true: the 10th update is after start 8
 * swaAverages(12, 8, 5); // false: (12 − 8) is not a multiple of 5
 * ```
 */
export function swaAverages(k: number, start: number, every: number): boolean {
  return k > start && (k - start) % every === 0;
}

/**
 * Stochastic Weight Averaging (Izmailov, Podoprikhin, Garipov, Vetrov & Wilson, "Averaging
 * Weights Leads to Wider Optima and Better Generalization", UAI 2018).
 *
 * After update k (k = 1, 2, …) with k > `start` and (k − `start`) a multiple of `every` — the
 * updates `start + every`, `start + 2·every`, … — the average takes the new weights w:
 * w̄ ← w̄ + (w − w̄)/(n + 1), n the number of weights averaged so far (the first one is copied).
 * So w̄ is the plain mean of the averaged weights. Only the updated (trainable) variables are
 * averaged; BatchNorm moving statistics are not: recompute them for w̄ with
 * `updateBatchNorm` after `apply()`.
 *
 * Use it as `sharpnessAware({ averager: swa() })` (then `optimizer.averager.apply()`), or by
 * itself with any tfjs optimizer through {@link AttachableAverager.attach}.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs';
 * import { sharpnessAware } from '@flatmin/core';
 * import { gradient } from '@flatmin/perturb-gradient';
 * import { swa } from '@flatmin/average-swa';
 *
 * const optimizer = sharpnessAware({ base: tf.train.sgd(0.05), perturbation: gradient(), averager: swa({ start: 100 }) });
 * model.compile({ optimizer, loss: 'categoricalCrossentropy' });
 * await model.fit(x, y, { epochs: 10, callbacks: [optimizer.averager!.callback()] }); // ends holding w̄
 * ```
 */
export function swa(options?: SwaOptions): AttachableAverager {
  const given = checkOptions(options, KEYS, 'swa');
  const start = checkNumber('start', given.start === undefined ? 0 : given.start, { min: 0, integer: true }, 'swa');
  const every = checkNumber('every', given.every === undefined ? 1 : given.every, { min: 1, integer: true }, 'swa');
  const averager: AttachableAverager = {
    kind: 'averager',
    name: 'swa',
    config: { start, every },
    update: (context: AveragerContext, state: ComponentState): ComponentState => {
      if (!swaAverages(context.step + 1, start, every)) return state;
      const previousCount = state[COUNT];
      const count = previousCount === undefined || typeof previousCount === 'number' ? tf.scalar(0) : previousCount;
      const next: Record<string, tf.Tensor | number> = { ...state, [COUNT]: tf.add(count, 1) };
      const divisor = tf.add(count, 1);
      for (const variable of context.variables) {
        const key = variableKey(variable.name, SLOT);
        const mean = state[key];
        // n = 0: w̄ + (w − w̄)/1 would round; a copy is exact.
        next[key] = mean === undefined || typeof mean === 'number' ? tf.clone(variable) : tf.add(mean, tf.div(tf.sub(variable, mean), divisor));
      }
      return next;
    },
    averaged: (state: ComponentState): NamedTensors => {
      const out: NamedTensors = {};
      const suffix = `:${SLOT}`;
      for (const [key, value] of Object.entries(state)) {
        if (key.endsWith(suffix) && typeof value !== 'number') out[key.slice(0, -suffix.length)] = value;
      }
      return out;
    },
    attach: (target) => attachAverager(averager, target),
  };
  return averager;
}
registerComponent('averager', 'swa', (config) => swa(config as SwaOptions));
