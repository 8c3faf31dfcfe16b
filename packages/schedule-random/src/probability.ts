/**
 * The probability p(t) of a sharp step: constant, linear and step schedules that carry a JSON
 * description of themselves, so an optimizer using them can be saved and rebuilt.
 *
 * @module
 */
import { FlatminConfigError } from '@flatmin/core';
import { checkKnownKeys, checkNumber, checkOptions } from '@flatmin/core/kit';

/** The JSON description of a {@link ProbabilitySchedule} (what `randomly`'s config stores). */
export type ProbabilityConfig =
  | {
      /** {@link constantP}. */
      readonly schedule: 'constant';
      /** The probability at every step. */
      readonly p: number;
    }
  | {
      /** {@link linearP}. */
      readonly schedule: 'linear';
      /** p(0). */
      readonly from: number;
      /** p(t) for t ≥ totalSteps. */
      readonly to: number;
      /** The step at which p reaches `to`. */
      readonly totalSteps: number;
    }
  | {
      /** {@link stepP}. */
      readonly schedule: 'step';
      /** The probability of each stretch (one more than `boundaries`). */
      readonly values: readonly number[];
      /** The steps where the next value starts. */
      readonly boundaries: readonly number[];
    };

/**
 * A p(t) that can be saved: a function of the step t (counted from 0) with values in [0, 1], and
 * its JSON description in `config`. Made by {@link constantP}, {@link linearP} or {@link stepP}.
 *
 * @example
 * ```ts
 * const p: ProbabilitySchedule = linearP({ from: 0.2, to: 0.8, totalSteps: 1000 });
 * p(500); // 0.5
 * p.config; // { schedule: 'linear', from: 0.2, to: 0.8, totalSteps: 1000 }
 * ```
 */
export interface ProbabilitySchedule {
  (step: number): number;
  /** What rebuilds it (see {@link probabilityFromConfig}). */
  readonly config: ProbabilityConfig;
}

function described(fn: (step: number) => number, config: ProbabilityConfig): ProbabilitySchedule {
  return Object.assign(fn, { config: Object.freeze(config) });
}

const PROBABILITY = { min: 0, max: 1 } as const;

/**
 * p(t) = p at every step (RST's constant scheduling function; the same as `randomly({ p })`).
 *
 * @param p the probability of a sharp step, in [0, 1].
 *
 * @example
 * ```ts
 * const schedule = randomly({ p: constantP(0.5) });
 * ```
 */
export function constantP(p: number): ProbabilitySchedule {
  const value = checkNumber('p', p, PROBABILITY, 'constantP');
  return described(() => value, { schedule: 'constant', p: value });
}

/** Options of {@link linearP}. */
export interface LinearPOptions {
  /** p(0), in [0, 1]. */
  from: number;
  /** p(t) for t ≥ totalSteps, in [0, 1]. */
  to: number;
  /** T, the steps over which p goes from `from` to `to`: a whole number ≥ 1. */
  totalSteps: number;
}

/**
 * p(t) = from + (to − from) · min(t, T) / T: a linear ramp over T steps, then constant (RST's
 * linear scheduling function; t counts from 0).
 *
 * @example
 * ```ts
 * const schedule = randomly({ p: linearP({ from: 0, to: 1, totalSteps: 10_000 }) });
 * ```
 */
export function linearP(options: LinearPOptions): ProbabilitySchedule {
  const where = 'linearP';
  const checked = checkOptions(options, ['from', 'to', 'totalSteps'], where);
  const from = checkNumber('from', checked.from, PROBABILITY, where);
  const to = checkNumber('to', checked.to, PROBABILITY, where);
  const totalSteps = checkNumber('totalSteps', checked.totalSteps, { min: 1, integer: true }, where);
  return described((step) => from + ((to - from) * Math.min(step, totalSteps)) / totalSteps, { schedule: 'linear', from, to, totalSteps });
}

/** Options of {@link stepP}. */
export interface StepPOptions {
  /** The probabilities, each in [0, 1]: one more than there are boundaries. */
  values: readonly number[];
  /** The steps where p changes, strictly increasing whole numbers ≥ 1. */
  boundaries: readonly number[];
}

/**
 * A piecewise-constant p(t) (RST's step scheduling function): p(t) = values[i] where i is the number
 * of boundaries ≤ t — so `values[0]` before `boundaries[0]`, `values[1]` from `boundaries[0]` up to
 * `boundaries[1]`, and so on (t counts from 0).
 *
 * @example
 * ```ts
 * // p = 0.2 for steps 0–999, 0.5 for 1000–1999, then 0.8.
 * const schedule = randomly({ p: stepP({ values: [0.2, 0.5, 0.8], boundaries: [1000, 2000] }) });
 * ```
 */
export function stepP(options: StepPOptions): ProbabilitySchedule {
  const where = 'stepP';
  const checked = checkOptions(options, ['values', 'boundaries'], where);
  const { values: givenValues, boundaries: givenBoundaries } = checked;
  if (!Array.isArray(givenBoundaries)) throw new FlatminConfigError('boundaries', givenBoundaries, 'an array of strictly increasing whole numbers >= 1', where);
  if (!Array.isArray(givenValues) || givenValues.length !== givenBoundaries.length + 1) {
    throw new FlatminConfigError('values', givenValues, `an array of ${givenBoundaries.length + 1} probabilities in [0, 1] (one more than boundaries)`, where);
  }
  const values = givenValues.map((v: unknown) => checkNumber('values', v, PROBABILITY, where));
  const boundaries = givenBoundaries.map((b: unknown, i: number) => {
    const previous = i === 0 ? 0 : (givenBoundaries[i - 1] as number);
    return checkNumber('boundaries', b, { min: previous + (i === 0 ? 1 : 0), minExclusive: i > 0, integer: true }, where);
  });
  return described(
    (step) => {
      let i = 0;
      while (i < boundaries.length && step >= boundaries[i]!) i += 1;
      return values[i]!;
    },
    { schedule: 'step', values, boundaries },
  );
}

/**
 * Rebuild a {@link ProbabilitySchedule} from its JSON `config` (what `randomly` does when
 * `fromConfig` hands it one); a bad description throws a `FlatminConfigError` naming the key.
 *
 * @example
 * ```ts
 * const p = probabilityFromConfig({ schedule: 'step', values: [0.2, 0.8], boundaries: [100] });
 * p(150); // 0.8
 * ```
 */
export function probabilityFromConfig(config: ProbabilityConfig): ProbabilitySchedule {
  const where = 'randomly';
  const { schedule, ...rest } = config as { schedule?: unknown } & Record<string, unknown>;
  if (schedule === 'constant') {
    checkKnownKeys(rest, ['p'], where);
    return constantP(rest['p'] as number);
  }
  if (schedule === 'linear') return linearP(rest as unknown as LinearPOptions);
  if (schedule === 'step') return stepP(rest as unknown as StepPOptions);
  throw new FlatminConfigError('p.schedule', schedule, "'constant', 'linear' or 'step' (a description made by constantP, linearP or stepP)", where);
}
