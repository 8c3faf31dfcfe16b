/**
 * What every learning-rate schedule of this package is: a pure function of the step that also
 * carries a JSON description, plus the shared checks of its options and of the step.
 *
 * @module
 */
import { FlatminConfigError, FlatminError } from '@flatmin/core';
import { checkNumber, type NumberRange } from '@flatmin/core/kit';

/**
 * Any learning-rate schedule: the rate η(t) of update `t` (counted from 0). Pure: the same step
 * always gives the same rate. {@link learningRateSchedule} accepts any such function, yours too.
 *
 * @example
 * ```ts
 * const halving: ScheduleFunction = (step) => 0.1 * 0.5 ** Math.floor(step / 1000);
 * ```
 */
export type ScheduleFunction = (step: number) => number;

/**
 * The resolved options of {@link cosineWithWarmup} (every default filled in).
 *
 * @example
 * ```ts
 * const { warmupSteps, floor } = cosineWithWarmup({ peak: 0.1, totalSteps: 100 }).description.config; // 0, 0
 * ```
 */
export interface CosineWithWarmupConfig {
  /** The rate at the end of the warmup, where the cosine starts. */
  peak: number;
  /** Steps of linear warmup from 0 to `peak` (0: none). */
  warmupSteps: number;
  /** The step at which the rate reaches `floor`. */
  totalSteps: number;
  /** The rate from `totalSteps` on. */
  floor: number;
}

/**
 * The resolved options of {@link stepDecay}.
 *
 * @example
 * ```ts
 * stepDecay({ initial: 0.1, every: 30 }).description.config.factor; // 0.1
 * ```
 */
export interface StepDecayConfig {
  /** The rate of steps 0 … every − 1. */
  initial: number;
  /** The multiplier applied every `every` steps. */
  factor: number;
  /** The length of each constant stretch, in steps. */
  every: number;
}

/**
 * The resolved options of {@link linearDecay}.
 *
 * @example
 * ```ts
 * linearDecay({ initial: 0.1, totalSteps: 100 }).description.config.final; // 0
 * ```
 */
export interface LinearDecayConfig {
  /** The rate of step 0. */
  initial: number;
  /** The rate from `totalSteps` on. */
  final: number;
  /** The step at which the rate reaches `final`. */
  totalSteps: number;
}

/**
 * The JSON description a schedule of this package carries: the factory's name and its resolved
 * options. `JSON.parse(JSON.stringify(d))` is `d`; {@link scheduleFromDescription} rebuilds the schedule.
 *
 * @example
 * ```ts
 * cosineWithWarmup({ peak: 0.1, totalSteps: 1000 }).description;
 * // { name: 'cosineWithWarmup', config: { peak: 0.1, warmupSteps: 0, totalSteps: 1000, floor: 0 } }
 * ```
 */
export type ScheduleDescription =
  | {
      /** The factory: {@link cosineWithWarmup}. */
      name: 'cosineWithWarmup';
      /** Its resolved options. */
      config: CosineWithWarmupConfig;
    }
  | {
      /** The factory: {@link stepDecay}. */
      name: 'stepDecay';
      /** Its resolved options. */
      config: StepDecayConfig;
    }
  | {
      /** The factory: {@link linearDecay}. */
      name: 'linearDecay';
      /** Its resolved options. */
      config: LinearDecayConfig;
    };

/**
 * A schedule made by this package's factories: a {@link ScheduleFunction} with its
 * {@link ScheduleDescription} (and the smallest and largest rate it ever gives, which a ρ
 * schedule proportional to the rate — GSAM's — needs).
 *
 * @example
 * ```ts
 * const schedule = linearDecay({ initial: 0.1, totalSteps: 100 });
 * schedule(50); // 0.05
 * schedule.description; // { name: 'linearDecay', config: { initial: 0.1, final: 0, totalSteps: 100 } }
 * schedule.range; // { min: 0, max: 0.1 }
 * ```
 */
export interface DescribedSchedule<D extends ScheduleDescription = ScheduleDescription> extends ScheduleFunction {
  /** The factory's name and resolved options (JSON). */
  readonly description: D;
  /** The smallest and the largest rate over all steps. */
  readonly range: {
    /** The smallest rate. */
    readonly min: number;
    /** The largest rate. */
    readonly max: number;
  };
}

/** Attach the description and range to the pure function (frozen: a schedule never changes). */
export function describedSchedule<D extends ScheduleDescription>(fn: ScheduleFunction, description: D, range: { min: number; max: number }): DescribedSchedule<D> {
  const schedule = fn as DescribedSchedule<D>;
  Object.defineProperty(schedule, 'description', { value: Object.freeze({ name: description.name, config: Object.freeze({ ...description.config }) }), enumerable: true });
  Object.defineProperty(schedule, 'range', { value: Object.freeze({ ...range }), enumerable: true });
  return Object.freeze(schedule);
}

/**
 * The step a schedule is evaluated at: NaN (or a non-number) throws a {@link FlatminError}; a
 * negative step counts as 0 (the schedule holds its first value before the start); `Infinity`
 * is allowed (the value after the end).
 */
export function stepOf(step: unknown, where: string): number {
  if (typeof step !== 'number' || Number.isNaN(step)) {
    throw new FlatminError(`${where}: the step must be a number ≥ 0 (the update's index, from 0), got ${typeof step === 'number' ? 'NaN' : typeof step}.`);
  }
  return step < 0 ? 0 : step;
}

/** A key without a default: absent (`undefined`) is refused by name, like a bad value. */
export function requiredNumber(key: string, value: unknown, range: NumberRange, expected: string, where: string): number {
  if (value === undefined) throw new FlatminConfigError(key, value, `${expected} (required: it has no default)`, where);
  return checkNumber(key, value, range, where);
}

/** An optional key: absent takes the default; anything else (null included) is checked. */
export function optionalNumber(key: string, value: unknown, fallback: number, range: NumberRange, where: string): number {
  return checkNumber(key, value === undefined ? fallback : value, range, where);
}
