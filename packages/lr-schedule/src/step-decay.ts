/**
 * Step decay: the rate multiplied by a factor every so many steps (or epochs).
 *
 * @module
 */
import { checkOptions } from '@flatmin/core/kit';
import { type DescribedSchedule, describedSchedule, optionalNumber, requiredNumber, type StepDecayConfig, stepOf } from './schedule.js';

/**
 * Options of {@link stepDecay}.
 *
 * @example
 * ```ts
 * const options: StepDecayOptions = { initial: 0.1, factor: 0.2, every: 60 };
 * ```
 */
export interface StepDecayOptions {
  /** The rate of steps 0 … every − 1 (required; finite, > 0). */
  initial: number;
  /** The multiplier applied every `every` steps (default `0.1`; 0 < factor ≤ 1; `1` is a constant rate). */
  factor?: number;
  /** The length of each constant stretch, in steps (epochs with `every: 'epoch'`) (required; an integer ≥ 1). */
  every: number;
}

const KEYS = ['initial', 'factor', 'every'] as const;
const WHERE = 'stepDecay';

/**
 * η(t) = initial · factor^⌊t / every⌋ for t = 0, 1, … — PyTorch's `StepLR`. It never ends
 * (it tends to 0 when factor < 1); a negative t counts as 0. The SAM PyTorch example
 * (davda54/sam) and GSAM's example training use a milestone variant (×0.2 at 30 %, 60 %, 80 %
 * of the epochs): write your own `(step) => number` for that, {@link learningRateSchedule}
 * takes any function.
 *
 * @example
 * ```ts
 * const schedule = stepDecay({ initial: 0.1, factor: 0.5, every: 30 });
 * schedule(29); // 0.1
 * schedule(30); // 0.05
 * schedule(60); // 0.025
 * ```
 */
export function stepDecay(options: StepDecayOptions): DescribedSchedule<{
  /** Always `'stepDecay'`. */
  name: 'stepDecay';
  /** The resolved options. */
  config: StepDecayConfig;
}> {
  const given = checkOptions(options, KEYS, WHERE);
  const initial = requiredNumber('initial', given.initial, { min: 0, minExclusive: true }, 'a finite number > 0', WHERE);
  const factor = optionalNumber('factor', given.factor, 0.1, { min: 0, minExclusive: true, max: 1 }, WHERE);
  const every = requiredNumber('every', given.every, { min: 1, integer: true }, 'an integer >= 1', WHERE);
  const schedule = (step: number): number => {
    const t = stepOf(step, WHERE);
    // 1 ** Infinity is NaN in JavaScript: factor 1 is the constant rate at every step.
    if (factor === 1) return initial;
    return initial * factor ** Math.floor(t / every);
  };
  return describedSchedule(schedule, { name: 'stepDecay', config: { initial, factor, every } }, { min: factor === 1 ? initial : 0, max: initial });
}
