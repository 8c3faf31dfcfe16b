/**
 * Linear warmup, then cosine annealing: the schedule most SAM-family papers train with.
 *
 * @module
 */
import { FlatminConfigError } from '@flatmin/core';
import { checkOptions } from '@flatmin/core/kit';
import { type CosineWithWarmupConfig, type DescribedSchedule, describedSchedule, optionalNumber, requiredNumber, stepOf } from './schedule.js';

/**
 * Options of {@link cosineWithWarmup}.
 *
 * @example
 * ```ts
 * const options: CosineWithWarmupOptions = { peak: 0.1, warmupSteps: 500, totalSteps: 10_000, floor: 1e-4 };
 * ```
 */
export interface CosineWithWarmupOptions {
  /** The rate at the end of the warmup, where the cosine starts (required; finite, > 0). */
  peak: number;
  /** Steps of linear warmup from 0 to `peak` (default `0`: start at `peak`; an integer ≥ 0, < `totalSteps`). */
  warmupSteps?: number;
  /** The step at which the rate reaches `floor` and stays there (required; an integer > `warmupSteps`). */
  totalSteps: number;
  /** The rate from `totalSteps` on (default `0`; 0 ≤ `floor` ≤ `peak`). */
  floor?: number;
}

const KEYS = ['peak', 'warmupSteps', 'totalSteps', 'floor'] as const;
const WHERE = 'cosineWithWarmup';

/**
 * Linear warmup then cosine annealing, for update t = 0, 1, … (W = `warmupSteps`,
 * T = `totalSteps`):
 *
 * - t < W: η(t) = peak · t / W (from 0 at t = 0; the first update of a warmup moves nothing);
 * - W ≤ t ≤ T: η(t) = floor + (peak − floor) · (1 + cos(π (t − W) / (T − W))) / 2
 *   (peak at t = W, floor at t = T);
 * - t > T: floor. A negative t counts as 0.
 *
 * The cosine of Loshchilov & Hutter, *SGDR: Stochastic Gradient Descent with Warm Restarts*
 * (ICLR 2017), without restarts, after the linear warmup of Goyal et al., *Accurate, Large
 * Minibatch SGD* (2017); GSAM (Zhuang et al., ICLR 2022) trains with exactly this
 * (its official `CosineScheduler` with `init_value = 0`).
 *
 * @example
 * ```ts
 * const schedule = cosineWithWarmup({ peak: 0.1, warmupSteps: 100, totalSteps: 1000, floor: 0.001 });
 * schedule(0);    // 0
 * schedule(50);   // 0.05
 * schedule(100);  // 0.1
 * schedule(1000); // 0.001
 * ```
 */
export function cosineWithWarmup(options: CosineWithWarmupOptions): DescribedSchedule<{
  /** Always `'cosineWithWarmup'`. */
  name: 'cosineWithWarmup';
  /** The resolved options. */
  config: CosineWithWarmupConfig;
}> {
  const given = checkOptions(options, KEYS, WHERE);
  const peak = requiredNumber('peak', given.peak, { min: 0, minExclusive: true }, 'a finite number > 0', WHERE);
  const warmupSteps = optionalNumber('warmupSteps', given.warmupSteps, 0, { min: 0, integer: true }, WHERE);
  const totalSteps = requiredNumber('totalSteps', given.totalSteps, { min: 1, integer: true }, 'an integer > warmupSteps', WHERE);
  if (totalSteps <= warmupSteps) throw new FlatminConfigError('totalSteps', totalSteps, `an integer > warmupSteps (${warmupSteps})`, WHERE);
  const floor = optionalNumber('floor', given.floor, 0, { min: 0, max: peak }, WHERE);
  const decaySteps = totalSteps - warmupSteps;
  const schedule = (step: number): number => {
    const t = stepOf(step, WHERE);
    if (t < warmupSteps) return (peak * t) / warmupSteps;
    if (t >= totalSteps) return floor;
    return floor + ((peak - floor) * (1 + Math.cos((Math.PI * (t - warmupSteps)) / decaySteps))) / 2;
  };
  return describedSchedule(schedule, { name: 'cosineWithWarmup', config: { peak, warmupSteps, totalSteps, floor } }, { min: warmupSteps > 0 ? 0 : floor, max: peak });
}
