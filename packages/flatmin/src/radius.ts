/**
 * Presets that set SAM's radius per step: GSAM (ρ follows the learning rate, with the surrogate
 * gap) and LETS (ρ learned from a validation batch).
 *
 * @module
 */
import type * as tf from '@tensorflow/tfjs-core';
import { FlatminConfigError, FlatminError, type SharpnessAwareOptimizer, sharpnessAware, surrogateGap } from '@flatmin/core';
import { gradient } from '@flatmin/perturb-gradient';
import { type LearnedRhoOptions, learnedRho, proportionalToLearningRate, rhoSchedule } from '@flatmin/schedule-rho';
import { defined, given, type MethodSettings, resolvePreset } from './preset.js';

/** The paper keys of {@link gsam}. */
export interface GsamKeys {
  /** ρ at the largest learning rate (default 0.05). */
  rhoMax?: number;
  /** ρ at the smallest learning rate (default 0: ρ ∝ the learning rate). */
  rhoMin?: number;
  /** The largest learning rate of the run (default: the base optimizer's learning rate when the preset is called). */
  lrMax?: number;
  /** The smallest learning rate of the run (default 0). */
  lrMin?: number;
  /** α of the surrogate gap: g_adv − α g_⊥ (default 0.4). */
  alpha?: number;
}

/** Options of {@link gsam}: `rhoMax` (0.05), `rhoMin` (0), `lrMax` (the base's rate), `lrMin` (0), `alpha` (0.4), and the settings. */
export type GsamOptions = MethodSettings & GsamKeys;

/**
 * GSAM — Zhuang, Gong, Yuan, Cui, Adam, Dvornek, Tatikonda, Duncan & Liu, "Surrogate Gap Guided
 * Sharpness-Aware Minimization", ICLR 2022: SAM's ε, the update g_adv − α g_⊥ (g_⊥ the part of g
 * orthogonal to g_adv), and ρ_t proportional to the learning rate η_t.
 * `sharpnessAware({ base, perturbation: gradient(), combiner: surrogateGap({ alpha }), schedule:
 * rhoSchedule(proportionalToLearningRate({ rhoMin, rhoMax, lrMin, lrMax })) })`. Defaults
 * ρ_max = 0.05, ρ_min = 0, η_max = the base optimizer's learning rate now, η_min = 0, α = 0.4 — so
 * ρ = ρ_max until a learning-rate schedule lowers the rate. Two passes per step.
 *
 * @example
 * ```ts
 * const optimizer = gsam({ base: tf.train.sgd(0.1), rhoMax: 0.04, rhoMin: 0.02, alpha: 0.4 });
 * ```
 */
export function gsam(options: GsamOptions): SharpnessAwareOptimizer {
  const { method, settings } = resolvePreset<GsamKeys>(options, 'gsam', ['rhoMax', 'rhoMin', 'lrMax', 'lrMin', 'alpha']);
  const { alpha, ...rule } = method;
  const lrMax = given(rule.lrMax, learningRateOf(settings.base));
  if (lrMax === undefined) {
    throw new FlatminConfigError('lrMax', undefined, "the largest learning rate of the run: the base optimizer has no numeric 'learningRate' to take it from", 'gsam');
  }
  return sharpnessAware({
    ...settings,
    perturbation: gradient(),
    combiner: surrogateGap(defined({ alpha })),
    schedule: rhoSchedule(proportionalToLearningRate({ ...rule, lrMax })),
  });
}

/** The base optimizer's learning rate (tfjs' SGD, momentum, Adam, ... keep it as `learningRate`), or undefined. */
function learningRateOf(base: unknown): number | undefined {
  const rate = base !== null && typeof base === 'object' ? (base as { learningRate?: unknown }).learningRate : undefined;
  return typeof rate === 'number' && Number.isFinite(rate) ? rate : undefined;
}

/** The paper keys of {@link lets}. */
export type LetsKeys = LearnedRhoOptions;

/** Options of {@link lets}: `validation` (required), `rho0` (0.05), `lr` (0.01), `every` (1), and the settings. */
export type LetsOptions = MethodSettings &
  LetsKeys & {
    /** The validation loss, a closure `() => tf.Scalar` on a held-out batch (required). */
    validation: () => tf.Scalar;
  };

/**
 * LETS — Wang, Jiang, Fu & Zhang, "Enhancing Sharpness-Aware Minimization by Learning
 * Perturbation Radius", ECML PKDD 2024: ρ learned by gradient descent on the squared gap between
 * the validation and the training loss after one SAM step. `sharpnessAware({ base, perturbation:
 * gradient(), schedule: learnedRho({ rho0, lr, every, validation }) })`. Defaults ρ₀ = 0.05,
 * lr = 0.01, every step. Two passes per step plus one forward-backward of the validation batch.
 *
 * It needs a validation batch: `validation` is a closure returning its loss. Without it the preset
 * throws a `FlatminError` that shows the call. It then runs in a custom loop or under `model.fit`.
 *
 * @example
 * ```ts
 * const optimizer = lets({ base: tf.train.sgd(0.05), validation: () => tf.losses.meanSquaredError(yVal, model.apply(xVal)) });
 * for (let step = 0; step < 100; step++) optimizer.minimize(() => tf.losses.meanSquaredError(yTrain, model.apply(xTrain)));
 * ```
 */
export function lets(options: LetsOptions): SharpnessAwareOptimizer {
  const { method, settings } = resolvePreset<LetsKeys>(options, 'lets', ['rho0', 'lr', 'every', 'validation']);
  if (method.validation === undefined) {
    throw new FlatminError(
      'lets (LETS, Wang et al., ECML PKDD 2024) learns ρ from a validation batch, and got none. Pass the validation loss as a closure: ' +
        'const optimizer = lets({ base, validation: () => lossOf(model.apply(xVal), yVal) }); then optimizer.minimize(() => lossOf(model.apply(xTrain), yTrain)) in a custom loop, or model.compile({ optimizer, ... }) and model.fit.',
    );
  }
  return sharpnessAware({ ...settings, perturbation: gradient(), schedule: learnedRho(method) });
}
