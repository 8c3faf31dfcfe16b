/**
 * RST's schedule: each step is sharp with probability p(t), a Bernoulli draw on the host from the
 * optimizer's seeded generator.
 *
 * @module
 */
import { FlatminConfigError, FlatminError, type JsonValue, type Schedule, type ScheduleContext } from '@flatmin/core';
import { checkNumber, checkOptions, registerComponent } from '@flatmin/core/kit';
import { type ProbabilityConfig, type ProbabilitySchedule, probabilityFromConfig } from './probability.js';

/**
 * Options of {@link randomly}: RST (Zhao, Zhang & Hu, 2022, "Randomized Sharpness-Aware Training
 * for Boosting Computational Efficiency in Deep Learning").
 *
 * @example
 * ```ts
 * const options: RandomlyOptions = { p: linearP({ from: 0.2, to: 0.8, totalSteps: 1000 }) };
 * const schedule = randomly(options);
 * ```
 */
export interface RandomlyOptions {
  /**
   * The probability of a sharp step (default 0.5): a number in [0, 1]; a {@link ProbabilitySchedule}
   * from `constantP`, `linearP` or `stepP` (saved in the config); its JSON `config`; or any
   * `(step) => number` with values in [0, 1] (which cannot be saved: see {@link randomly}).
   */
  p?: number | ProbabilitySchedule | ProbabilityConfig | ((step: number) => number);
}

const WHERE = 'randomly';
/** What the config holds for a p(t) that is a plain function (no JSON description). */
const UNSAVED = { schedule: 'function' } as const;

/**
 * The RST schedule (Zhao, Zhang & Hu, 2022, "Randomized Sharpness-Aware Training for Boosting
 * Computational Efficiency in Deep Learning"): at step t (counted from 0) a Bernoulli trial with
 * probability p(t) picks the sharp two-pass step (SAM, or whatever perturbation is configured) or
 * the base optimizer's plain one-pass step.
 *
 * The draw is `context.random.uniform() < p(t)` on the host, from the optimizer's seeded generator
 * (saved by `getWeights`), so a `seed` fixes which steps are sharp and nothing is read from the
 * device. No draw is made when p(t) is exactly 0 or 1: then p = 1 is SAM and p = 0 the base
 * optimizer exactly, even with a perturbation that draws from the same generator. ρ is the
 * perturbation's own.
 *
 * `p` may be a number, a {@link ProbabilitySchedule} (`constantP`, `linearP`, `stepP`: saved in
 * the config as its JSON description, so `getConfig`/`fromConfig` and `model.save` round-trip) or
 * any function of the step. A plain function cannot be saved: the config then records
 * `{ p: { schedule: 'function' } }`, and rebuilding from it (`fromConfig`, `tf.loadLayersModel`
 * with the optimizer) throws a `FlatminConfigError` for `p` saying so. A function that returns a
 * value outside [0, 1] (or not a number) throws a `FlatminError` naming p(t), the value and the step.
 *
 * Cost: 1 + p passes per step on average; no state of its own, no device work.
 *
 * @param options see {@link RandomlyOptions}; invalid values throw a `FlatminConfigError` naming the key.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs';
 * import { sharpnessAware } from '@flatmin/core';
 * import { gradient } from '@flatmin/perturb-gradient';
 * import { linearP, randomly } from '@flatmin/schedule-random';
 *
 * const rst = sharpnessAware({ base: tf.train.sgd(0.1), perturbation: gradient({ rho: 0.05 }), schedule: randomly({ p: 0.5 }), seed: 1 });
 * const ramp = randomly({ p: linearP({ from: 0.1, to: 0.9, totalSteps: 5000 }) });
 * ```
 */
export function randomly(options?: RandomlyOptions): Schedule {
  const checked = checkOptions(options, ['p'], WHERE);
  const { probability, config } = resolve(checked.p === undefined ? 0.5 : checked.p);
  return {
    kind: 'schedule',
    name: WHERE,
    config: Object.freeze({ p: config }),
    decide: (context: ScheduleContext) => {
      const p = probability(context.step);
      if (typeof p !== 'number' || !(p >= 0 && p <= 1)) {
        throw new FlatminError(`${WHERE}: p(t) returned ${String(p)} at step ${context.step}; p must be a number in [0, 1].`);
      }
      const sharp = p === 1 || (p > 0 && context.random.uniform() < p);
      return { decision: { sharp } };
    },
  };
}

function resolve(p: unknown): { probability: (step: number) => unknown; config: JsonValue } {
  if (typeof p === 'number') {
    const value = checkNumber('p', p, { min: 0, max: 1 }, WHERE);
    return { probability: () => value, config: value };
  }
  if (typeof p === 'function') {
    const own = (p as Partial<ProbabilitySchedule>).config;
    if (own === undefined) return { probability: p as (step: number) => unknown, config: { ...UNSAVED } };
    const rebuilt = probabilityFromConfig(own);
    return { probability: rebuilt, config: rebuilt.config as unknown as JsonValue };
  }
  if (p !== null && typeof p === 'object' && !Array.isArray(p)) {
    if ((p as { schedule?: unknown }).schedule === UNSAVED.schedule) {
      throw new FlatminConfigError(
        'p',
        p,
        'a number in [0, 1] or a constantP/linearP/stepP schedule: this config was saved from a custom p(t) function, which cannot be serialized — rebuild the optimizer with sharpnessAware({ ..., schedule: randomly({ p }) }) and restore its state with setWeights',
        WHERE,
      );
    }
    const rebuilt = probabilityFromConfig(p as ProbabilityConfig);
    return { probability: rebuilt, config: rebuilt.config as unknown as JsonValue };
  }
  throw new FlatminConfigError('p', p, 'a number in [0, 1], a constantP/linearP/stepP schedule, or a function (step) => number in [0, 1]', WHERE);
}

registerComponent('schedule', WHERE, (config) => randomly(config as RandomlyOptions));
