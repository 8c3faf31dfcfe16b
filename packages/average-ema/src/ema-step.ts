/**
 * The EMA recurrence shared by `ema` and `mesa`: the first update copies w, then
 * w̄ ← d_t w̄ + (1 − d_t) w, with d_t = decay or timm's warmup min(decay, 1 − (1 + t)^(−2/3)).
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import type { AveragerContext, ComponentState, NamedTensors } from '@flatmin/core';
import { variableKey } from '@flatmin/core/kit';

/** The state slot of a variable's average. */
export const AVERAGE = 'ema';
/** The global state key of the update counter t (a device scalar, so a skipped step keeps it exactly). */
export const COUNT = 'count';

/** The settings of the recurrence. */
export interface EmaSettings {
  readonly decay: number;
  readonly warmup: boolean;
}

/**
 * d_t on the device from the counter t (updates before this one): `decay`, or
 * min(decay, 1 − (1 + t)^(−2/3)) with warmup; times min(t, 1), so d_0 = 0 (the first update copies w).
 */
function decayAt(count: tf.Scalar, settings: EmaSettings): tf.Scalar {
  const first = tf.minimum(count, 1);
  if (!settings.warmup) return tf.mul(first, settings.decay);
  const warm = tf.sub(1, tf.pow(tf.add(count, 1), -2 / 3));
  return tf.mul(first, tf.minimum(warm, settings.decay));
}

/**
 * One update of every variable's average. A variable with no average yet copies its value
 * (exactly); one that has one takes d_t w̄ + (1 − d_t) w. Returns the new state (the counter + 1).
 */
export function emaStep(context: AveragerContext, state: ComponentState, settings: EmaSettings): Record<string, tf.Tensor | number> {
  const count = (state[COUNT] as tf.Scalar | undefined) ?? tf.scalar(0);
  const d = decayAt(count, settings);
  const keep = tf.sub(1, d);
  const next: Record<string, tf.Tensor | number> = { ...state, [COUNT]: tf.add(count, 1) };
  for (const variable of context.variables) {
    const key = variableKey(variable.name, AVERAGE);
    const previous = state[key] as tf.Tensor | undefined;
    next[key] = previous === undefined ? tf.clone(variable) : tf.add(tf.mul(previous, d), tf.mul(variable, keep));
  }
  return next;
}

/** The averages of a state, keyed by variable name. */
export function averagesOf(state: ComponentState): NamedTensors {
  const out: NamedTensors = {};
  const suffix = `:${AVERAGE}`;
  for (const [key, value] of Object.entries(state)) {
    if (typeof value !== 'number' && key.endsWith(suffix)) out[key.slice(0, -suffix.length)] = value;
  }
  return out;
}
