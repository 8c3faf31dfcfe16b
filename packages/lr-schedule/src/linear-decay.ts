/**
 * Linear decay from an initial to a final rate.
 *
 * @module
 */
import { checkOptions } from '@flatmin/core/kit';
import { type DescribedSchedule, describedSchedule, type LinearDecayConfig, optionalNumber, requiredNumber, stepOf } from './schedule.js';

/**
 * Options of {@link linearDecay}.
 *
 * @example
 * ```ts
 * const options: LinearDecayOptions = { initial: 0.1, final: 0, totalSteps: 5000 };
 * ```
 */
export interface LinearDecayOptions {
  /** The rate of step 0 (required; finite, > 0). */
  initial: number;
  /** The rate from `totalSteps` on (default `0`; finite, ≥ 0; larger than `initial` makes a linear increase). */
  final?: number;
  /** The step at which the rate reaches `final` (required; an integer ≥ 1). */
  totalSteps: number;
}

const KEYS = ['initial', 'final', 'totalSteps'] as const;
const WHERE = 'linearDecay';

/**
 * η(t) = initial + (final − initial) · t / T for 0 ≤ t ≤ T (T = `totalSteps`), `final` after
 * T; a negative t counts as 0. GSAM's official `LinearScheduler` without warmup (Zhuang et al.,
 * *Surrogate Gap Guided Sharpness-Aware Minimization*, ICLR 2022).
 *
 * @example
 * ```ts
 * const schedule = linearDecay({ initial: 0.1, final: 0.01, totalSteps: 90 });
 * schedule(0);   // 0.1
 * schedule(45);  // 0.055
 * schedule(500); // 0.01
 * ```
 */
export function linearDecay(options: LinearDecayOptions): DescribedSchedule<{
  /** Always `'linearDecay'`. */
  name: 'linearDecay';
  /** The resolved options. */
  config: LinearDecayConfig;
}> {
  const given = checkOptions(options, KEYS, WHERE);
  const initial = requiredNumber('initial', given.initial, { min: 0, minExclusive: true }, 'a finite number > 0', WHERE);
  const final = optionalNumber('final', given.final, 0, { min: 0 }, WHERE);
  const totalSteps = requiredNumber('totalSteps', given.totalSteps, { min: 1, integer: true }, 'an integer >= 1', WHERE);
  const schedule = (step: number): number => {
    const t = stepOf(step, WHERE);
    if (t >= totalSteps) return final;
    return initial + ((final - initial) * t) / totalSteps;
  };
  return describedSchedule(schedule, { name: 'linearDecay', config: { initial, final, totalSteps } }, { min: Math.min(initial, final), max: Math.max(initial, final) });
}
