/**
 * ρ rules: ρ as a function of the step and the base optimizer's learning rate. The helpers return
 * serializable rules (a function with a `rule` name and a JSON `config`), so a schedule built on
 * them survives `getConfig`/`fromConfig` and `model.save`.
 *
 * @module
 */
import { FlatminConfigError, type JsonValue } from '@flatmin/core';
import { checkNumber, checkOptions } from '@flatmin/core/kit';

/**
 * ρ for one step: `step` counts the completed optimizer updates before this one (0 on the first
 * step), `learningRate` is the base optimizer's `learningRate` at this step (NaN when it has none).
 * A plain `(step) => number` is a valid rho function. It runs on the host, once per step, and must
 * return a finite number ≥ 0.
 *
 * @example
 * ```ts
 * const halving: RhoFunction = (step) => 0.1 * 0.5 ** Math.floor(step / 1000);
 * const schedule = rhoSchedule(halving);
 * ```
 */
export type RhoFunction = (step: number, learningRate: number) => number;

/**
 * A named, serializable {@link RhoFunction}: what {@link inverseSqrt}, {@link cosineIncrease} and
 * {@link proportionalToLearningRate} return — a function you can call, and a descriptor
 * (`kind: 'rho'`, `name`, `config`). `name` and `config` are what `getConfig` saves, and
 * `fromConfig` rebuilds the rule from them through {@link registerRhoRule}'s registry.
 *
 * @example
 * ```ts
 * const rule: RhoRule = inverseSqrt({ rho: 0.1 });
 * rule(3, 0.1); // 0.1 / √4 = 0.05
 * rule.name; // 'inverseSqrt'
 * ```
 */
export interface RhoRule extends RhoFunction {
  /** Marks a serializable rule. */
  readonly kind: 'rho';
  /** The rule's registered name (`'inverseSqrt'`, ...). */
  readonly name: string;
  /** Its options, as JSON. */
  readonly config: Readonly<Record<string, JsonValue>>;
}

/** A factory that rebuilds a {@link RhoRule} from its JSON config. */
export type RhoRuleFactory = (config: Record<string, JsonValue>) => RhoRule;

const rules = new Map<string, RhoRuleFactory>();

/**
 * Register a rule factory under `name`, so `fromConfig` (and `tf.loadLayersModel` of a model saved
 * with its optimizer) can rebuild a `rhoSchedule` that uses it. The helpers of this package are
 * registered when it is imported; register your own with {@link makeRhoRule}.
 *
 * @example
 * ```ts
 * const stepDecay = (options: { rho: number; every: number }) =>
 *   makeRhoRule('stepDecay', options, (step) => options.rho * 0.5 ** Math.floor(step / options.every));
 * registerRhoRule('stepDecay', (config) => stepDecay(config as { rho: number; every: number }));
 * ```
 */
export function registerRhoRule(name: string, factory: RhoRuleFactory): void {
  rules.set(name, factory);
}

/**
 * The rule factory registered under `name`, or `undefined`.
 *
 * @example
 * ```ts
 * const rule = lookupRhoRule('inverseSqrt')?.({ rho: 0.05 }); // what fromConfig does for a saved rhoSchedule
 * ```
 */
export function lookupRhoRule(name: string): RhoRuleFactory | undefined {
  return rules.get(name);
}

/**
 * Make a {@link RhoRule} from a function, its name and its JSON config (the config is copied and
 * frozen).
 *
 * @example
 * ```ts
 * const constant = makeRhoRule('constant', { rho: 0.05 }, () => 0.05);
 * ```
 */
export function makeRhoRule(name: string, config: Readonly<Record<string, JsonValue>>, value: RhoFunction): RhoRule {
  const rule = (step: number, learningRate: number) => value(step, learningRate);
  Object.defineProperty(rule, 'kind', { value: 'rho', enumerable: true });
  Object.defineProperty(rule, 'name', { value: name, enumerable: true });
  Object.defineProperty(rule, 'config', { value: Object.freeze({ ...config }), enumerable: true });
  return rule as unknown as RhoRule;
}

/**
 * Whether `value` is a {@link RhoRule} (a function with `kind: 'rho'`, a name and an object `config`).
 *
 * @example
 * ```ts
 * isRhoRule(inverseSqrt({ rho: 0.1 })); // true: saved by getConfig
 * isRhoRule((step: number) => 0.05); // false: a plain function
 * ```
 */
export function isRhoRule(value: unknown): value is RhoRule {
  if (typeof value !== 'function') return false;
  const candidate = value as unknown as Partial<RhoRule>;
  return candidate.kind === 'rho' && typeof candidate.name === 'string' && candidate.config !== null && typeof candidate.config === 'object';
}

/**
 * Options of {@link inverseSqrt}.
 *
 * @example
 * ```ts
 * const options: InverseSqrtOptions = { rho: 0.1, offset: 100 };
 * ```
 */
export interface InverseSqrtOptions {
  /** c, the radius of the first step, a finite number ≥ 0 (default 0.05). */
  rho?: number;
  /** t₀, added to the step count so the first step uses c/√t₀, a finite number > 0 (default 1: ρ₀ = c). */
  offset?: number;
}

/**
 * ρ_t = c/√(t + t₀): the decaying radius ρ_t ∝ 1/√t under which convergence analyses of SAM
 * with stochastic gradients are carried out. t counts the completed steps from 0, so with the
 * default t₀ = 1 the first step uses ρ = c (c/√t itself is undefined at t = 0).
 *
 * @param options see {@link InverseSqrtOptions}; invalid values throw a `FlatminConfigError` naming the key.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs';
 * import { sharpnessAware } from '@flatmin/core';
 * import { gradient } from '@flatmin/perturb-gradient';
 * import { inverseSqrt, rhoSchedule } from '@flatmin/schedule-rho';
 *
 * const optimizer = sharpnessAware({ base: tf.train.sgd(0.1), perturbation: gradient(), schedule: rhoSchedule(inverseSqrt({ rho: 0.1 })) });
 * ```
 */
export function inverseSqrt(options?: InverseSqrtOptions): RhoRule {
  const where = 'inverseSqrt';
  const checked = checkOptions(options, ['rho', 'offset'], where);
  const rho = checkNumber('rho', checked.rho === undefined ? 0.05 : checked.rho, { min: 0 }, where);
  const offset = checkNumber('offset', checked.offset === undefined ? 1 : checked.offset, { min: 0, minExclusive: true }, where);
  return makeRhoRule(where, { rho, offset }, (step) => rho / Math.sqrt(step + offset));
}

/**
 * Options of {@link cosineIncrease}.
 *
 * @example
 * ```ts
 * const options: CosineIncreaseOptions = { rho: 0.02, increase: 5, totalSteps: 10_000 };
 * ```
 */
export interface CosineIncreaseOptions {
  /** ρ at the first step, a finite number ≥ 0 (default 0.05). */
  rho?: number;
  /** How many times ρ grows over `totalSteps`, a finite number ≥ 1 (default 7, LPF-SGD's; 1 keeps ρ constant). */
  increase?: number;
  /** T, the length of the ramp in steps, a whole number ≥ 1 (required). After T, ρ stays at ρ·increase. */
  totalSteps?: number;
}

/**
 * ρ_t = ρ (1 + (inc − 1)(1 − cos(π t/T))/2) for t clamped to [0, T]: ρ at the first step, ρ·inc
 * from step T on — the cosine-increasing radius of LPF-SGD (Bisla, Wang & Choromanska, "Low-Pass
 * Filtering SGD for Recovering Flat Optima in the Deep Learning Optimization Landscape", AISTATS
 * 2022, whose γ_t has this shape), here for any perturbation's ρ.
 *
 * @param options see {@link CosineIncreaseOptions}; `totalSteps` is required.
 *
 * @example
 * ```ts
 * import { cosineIncrease, rhoSchedule } from '@flatmin/schedule-rho';
 *
 * const schedule = rhoSchedule(cosineIncrease({ rho: 0.01, increase: 5, totalSteps: 5000 }));
 * ```
 */
export function cosineIncrease(options?: CosineIncreaseOptions): RhoRule {
  const where = 'cosineIncrease';
  const checked = checkOptions(options, ['rho', 'increase', 'totalSteps'], where);
  const rho = checkNumber('rho', checked.rho === undefined ? 0.05 : checked.rho, { min: 0 }, where);
  const increase = checkNumber('increase', checked.increase === undefined ? 7 : checked.increase, { min: 1 }, where);
  if (checked.totalSteps === undefined) {
    throw new FlatminConfigError('totalSteps', undefined, 'a whole number >= 1 (the length of the ramp; required)', where);
  }
  const totalSteps = checkNumber('totalSteps', checked.totalSteps, { min: 1, integer: true }, where);
  return makeRhoRule(where, { rho, increase, totalSteps }, (step) => {
    const ramp = (1 - Math.cos((Math.PI * Math.min(step, totalSteps)) / totalSteps)) / 2;
    return rho * (1 + (increase - 1) * ramp);
  });
}

/**
 * Options of {@link proportionalToLearningRate}.
 *
 * @example
 * ```ts
 * const options: ProportionalOptions = { rhoMin: 0.01, rhoMax: 0.04, lrMin: 0, lrMax: 0.1 };
 * ```
 */
export interface ProportionalOptions {
  /** ρ when the learning rate is `lrMin`, a finite number ≥ 0 (default 0). */
  rhoMin?: number;
  /** ρ when the learning rate is `lrMax`, a finite number ≥ `rhoMin` (default 0.05). */
  rhoMax?: number;
  /** The smallest learning rate of the run, a finite number ≥ 0 (default 0). */
  lrMin?: number;
  /** The largest learning rate of the run, a finite number > `lrMin` (required). */
  lrMax?: number;
}

/**
 * ρ_t = ρ_min + (ρ_max − ρ_min)(η_t − η_min)/(η_max − η_min): GSAM's radius, which follows the
 * learning rate (Zhuang, Gong, Yuan, Cui, Adam, Dvornek, Tatikonda, Duncan & Liu, "Surrogate Gap
 * Guided Sharpness-Aware Minimization", ICLR 2022). η_t is the base optimizer's `learningRate` at
 * each step, read when the step starts: a callback or a learning-rate schedule that sets
 * `optimizer.learningRate` changes ρ from the next step on. A learning rate outside
 * [η_min, η_max] extrapolates, as in the official code (no clamp); a ρ below 0 (or a base with no
 * `learningRate`) is refused at that step by a `FlatminError`.
 *
 * @param options see {@link ProportionalOptions}; `lrMax` is required.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs';
 * import { sharpnessAware, surrogateGap } from '@flatmin/core';
 * import { gradient } from '@flatmin/perturb-gradient';
 * import { proportionalToLearningRate, rhoSchedule } from '@flatmin/schedule-rho';
 *
 * const gsam = sharpnessAware({
 *   base: tf.train.sgd(0.1),
 *   perturbation: gradient(),
 *   combiner: surrogateGap({ alpha: 0.4 }),
 *   schedule: rhoSchedule(proportionalToLearningRate({ rhoMin: 0.01, rhoMax: 0.04, lrMin: 0, lrMax: 0.1 })),
 * });
 * ```
 */
export function proportionalToLearningRate(options?: ProportionalOptions): RhoRule {
  const where = 'proportionalToLearningRate';
  const checked = checkOptions(options, ['rhoMin', 'rhoMax', 'lrMin', 'lrMax'], where);
  const rhoMin = checkNumber('rhoMin', checked.rhoMin === undefined ? 0 : checked.rhoMin, { min: 0 }, where);
  const rhoMax = checkNumber('rhoMax', checked.rhoMax === undefined ? 0.05 : checked.rhoMax, { min: rhoMin }, where);
  const lrMin = checkNumber('lrMin', checked.lrMin === undefined ? 0 : checked.lrMin, { min: 0 }, where);
  if (checked.lrMax === undefined) {
    throw new FlatminConfigError('lrMax', undefined, `a finite number > lrMin = ${lrMin} (the largest learning rate of the run; required)`, where);
  }
  const lrMax = checkNumber('lrMax', checked.lrMax, { min: lrMin, minExclusive: true }, where);
  return makeRhoRule(where, { rhoMin, rhoMax, lrMin, lrMax }, (_step, learningRate) => rhoMin + ((rhoMax - rhoMin) * (learningRate - lrMin)) / (lrMax - lrMin));
}

registerRhoRule('inverseSqrt', (config) => inverseSqrt(config as InverseSqrtOptions));
registerRhoRule('cosineIncrease', (config) => cosineIncrease(config as CosineIncreaseOptions));
registerRhoRule('proportionalToLearningRate', (config) => proportionalToLearningRate(config as ProportionalOptions));
