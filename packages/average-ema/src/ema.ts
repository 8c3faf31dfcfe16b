/**
 * EMA of the weights: the first update copies w (torch's AveragedModel), then
 * w̄ ← d_t w̄ + (1 − d_t) w, with timm's ModelEmaV3 warmup by default.
 *
 * @module
 */
import type { Averager, AveragerContext, ComponentState } from '@flatmin/core';
import { type AttachTarget, attachAverager, checkOptions, registerComponent, type StandaloneAverager } from '@flatmin/core/kit';
import { averagesOf, emaStep } from './ema-step.js';
import { checkBoolean, checkDecay } from './options.js';

/**
 * Options of {@link ema}.
 *
 * @example
 * ```ts
 * const options: EmaOptions = { decay: 0.9999, warmup: false };
 * const averager = ema(options);
 * ```
 */
export interface EmaOptions {
  /** The decay d, in (0, 1) (default 0.999). */
  decay?: number;
  /** timm's warmup d_t = min(decay, 1 − (1 + t)^(−2/3)) (default true); false: d_t = decay after the first update. */
  warmup?: boolean;
}

/** The averager {@link ema} makes: an {@link Averager} that also attaches to a model or variables without `sharpnessAware`. */
export interface EmaAverager extends Averager {
  /** A standalone handle over `target` (a model, variables, or a function returning them), for any tfjs optimizer. */
  attach(target: AttachTarget): StandaloneAverager;
}

const WHERE = 'ema';
const KNOWN_KEYS = ['decay', 'warmup'] as const;

/**
 * An exponential moving average of the weights (Polyak averaging with an exponential window).
 * The first update copies w, as torch's `AveragedModel` does; every later update is
 * w̄ ← d_t w̄ + (1 − d_t) w, with d_t = `decay`, or with `warmup` (default)
 * d_t = min(decay, 1 − (1 + t)^(−2/3)), t the update's index from 0 — timm's `ModelEmaV3`
 * warmup (power 2/3, gamma 1), so d_0 = 0 and early averages follow w closely.
 *
 * State: `` `${variable.name}:ema` `` per variable and the counter `count` (a device scalar, so
 * a step skipped by `onNonFinite: 'skip'` leaves every part exactly as it was). The averaged
 * variables are the ones the optimizer updates (or the attached model's trainable weights);
 * BatchNorm moving statistics are not averaged: `apply()` keeps the model's current ones.
 * Cost per update: two multiplies and an add per weight, one weight-sized buffer; no host read.
 *
 * @param options see {@link EmaOptions}; invalid values throw a `FlatminConfigError` naming the key.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs';
 * import { sharpnessAware } from '@flatmin/core';
 * import { gradient } from '@flatmin/perturb-gradient';
 * import { ema } from '@flatmin/average-ema';
 *
 * const optimizer = sharpnessAware({ base: tf.train.sgd(0.1), perturbation: gradient(), averager: ema({ decay: 0.999 }) });
 * // or next to any tfjs optimizer: const handle = ema().attach(model); ... handle.update();
 * ```
 */
export function ema(options?: EmaOptions): EmaAverager {
  const checked = checkOptions(options, KNOWN_KEYS, WHERE);
  const decay = checkDecay(checked.decay, 0.999, WHERE);
  const warmup = checkBoolean('warmup', checked.warmup, true, WHERE);
  const settings = { decay, warmup };
  const averager: EmaAverager = {
    kind: 'averager',
    name: WHERE,
    config: Object.freeze({ decay, warmup }),
    update: (context: AveragerContext, state: ComponentState) => emaStep(context, state, settings),
    averaged: averagesOf,
    attach: (target) => attachAverager(averager, target),
  };
  return averager;
}

registerComponent('averager', WHERE, (config) => ema(config as EmaOptions));
