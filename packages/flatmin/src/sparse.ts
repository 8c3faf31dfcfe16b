/**
 * Sparse-perturbation presets: SSAM-F, SSAM-D (Mi et al., NeurIPS 2022) and ESAM (Du et al., ICLR 2022).
 *
 * @module
 */
import { type SharpnessAwareOptimizer, sharpnessAware } from '@flatmin/core';
import { gradient } from '@flatmin/perturb-gradient';
import {
  type DynamicMaskOptions,
  dataSelection,
  dynamicMask,
  type FisherMaskOptions,
  fisherMask,
  randomMask,
  type SparseOptions,
  sparse,
} from '@flatmin/perturb-sparse';
import { asKey, defined, GuardedOptimizer, given, type MethodSettings, needsObjective, resolvePreset } from './preset.js';

/** The paper keys of {@link ssamF}. */
export interface SsamFKeys extends FisherMaskOptions, SparseOptions {
  /** SAM's radius ρ (default 0.05). */
  rho?: number;
}

/** Options of {@link ssamF}: `rho` (0.05), `sparsity` (0.5), `updateEvery` (5), `samples` (16), `normalize` ('masked'), and the settings. */
export type SsamFOptions = MethodSettings & SsamFKeys;

/**
 * SSAM-F — Mi, Shen, Ren, Zhou, Sun, Ji & Tao, "Make Sharpness-Aware Minimization Stronger: A
 * Sparsified Perturbation Approach", NeurIPS 2022: SAM's ε on the coordinates with the largest
 * Fisher information only. `sharpnessAware({ base, perturbation: sparse(gradient({ rho }),
 * fisherMask({ sparsity, updateEvery, samples }), { normalize }) })`. Defaults ρ = 0.05, s = 0.5,
 * K = 5, 16 samples, `'masked'`. Two passes per step; under `model.fit` the Fisher is the documented
 * squared batch-gradient EMA (a custom loop returning `{ loss, perSample }` gets the empirical Fisher).
 *
 * @example
 * ```ts
 * const optimizer = ssamF({ base: tf.train.momentum(0.05, 0.9), rho: 0.1, sparsity: 0.5 });
 * ```
 */
export function ssamF(options: SsamFOptions): SharpnessAwareOptimizer {
  const { method, settings } = resolvePreset<SsamFKeys>(options, 'ssamF', ['rho', 'sparsity', 'updateEvery', 'samples', 'normalize']);
  const { rho, normalize, ...mask } = method;
  return sharpnessAware({ ...settings, perturbation: sparse(gradient(defined({ rho })), fisherMask(mask), defined({ normalize })) });
}

/** The paper keys of {@link ssamD}. */
export interface SsamDKeys extends DynamicMaskOptions, SparseOptions {
  /** SAM's radius ρ (default 0.05). */
  rho?: number;
}

/** Options of {@link ssamD}: `rho` (0.05), `sparsity` (0.5), `dropRate` (0.5), `updateEvery` (5), `totalSteps`, `normalize` ('masked'), and the settings. */
export type SsamDOptions = MethodSettings & SsamDKeys;

/**
 * SSAM-D — Mi et al., NeurIPS 2022 (as {@link ssamF}): SAM's ε through a dynamic sparse mask
 * (drop the smallest |g|, regrow at random). `sharpnessAware({ base, perturbation:
 * sparse(gradient({ rho }), dynamicMask({ sparsity, dropRate, updateEvery, totalSteps }), { normalize }) })`.
 * Defaults ρ = 0.05, s = 0.5, drop rate 0.5 (cosine-annealed over `totalSteps` when given), K = 5.
 * Two passes per step.
 *
 * @example
 * ```ts
 * const optimizer = ssamD({ base: tf.train.sgd(0.1), sparsity: 0.5, totalSteps: 10_000, seed: 1 });
 * ```
 */
export function ssamD(options: SsamDOptions): SharpnessAwareOptimizer {
  const { method, settings } = resolvePreset<SsamDKeys>(options, 'ssamD', ['rho', 'sparsity', 'dropRate', 'updateEvery', 'totalSteps', 'normalize']);
  const { rho, normalize, ...mask } = method;
  return sharpnessAware({ ...settings, perturbation: sparse(gradient(defined({ rho })), dynamicMask(mask), defined({ normalize })) });
}

/** The paper keys of {@link esam}. */
export interface EsamKeys {
  /** SAM's radius ρ (default 0.05). */
  rho?: number;
  /** β, the probability that a variable is perturbed (stochastic weight perturbation), in (0, 1] (default 0.5). */
  beta?: number;
  /** γ, the fraction of the batch the adversarial gradient is taken over (sharpness-sensitive data selection), in (0, 1] (default 0.5; 1 turns it off). */
  gamma?: number;
}

/** Options of {@link esam}: `rho` (0.05), `beta` (0.5), `gamma` (0.5), and the settings. */
export type EsamOptions = MethodSettings & EsamKeys;

/**
 * ESAM — Du, Yan, Feng, Zhou, Zhen, Goh & Tan, "Efficient Sharpness-aware Minimization for
 * Improved Training of Neural Networks", ICLR 2022: stochastic weight perturbation (each variable
 * perturbed with probability β, ε/β) and sharpness-sensitive data selection (the adversarial
 * gradient over the ⌈γn⌉ samples whose loss rises most). `sharpnessAware({ base, perturbation:
 * dataSelection(sparse(gradient({ rho }), randomMask({ keep: beta })), { gamma }) })`; with γ = 1
 * the data selection is left out (`sparse(...)` alone). Defaults ρ = 0.05, β = 0.5, γ = 0.5.
 * Two passes per step.
 *
 * Data selection needs per-sample losses: with γ < 1 the step throws a `FlatminError` naming
 * `esam` under `model.fit`; call it from a custom loop whose closure returns `{ loss, perSample }`,
 * or use `esam({ base, gamma: 1 })` under `model.fit`.
 *
 * @example
 * ```ts
 * const optimizer = esam({ base: tf.train.momentum(0.05, 0.9), beta: 0.6, gamma: 0.5, seed: 1 });
 * optimizer.minimize(() => {
 *   const perSample = tf.losses.softmaxCrossEntropy(y, model.apply(x), undefined, undefined, tf.Reduction.NONE);
 *   return { loss: tf.mean(perSample), perSample };
 * });
 * ```
 */
export function esam(options: EsamOptions): SharpnessAwareOptimizer {
  const { method, settings } = resolvePreset<EsamKeys>(options, 'esam', ['rho', 'beta', 'gamma']);
  const weights = sparse(gradient(defined({ rho: method.rho })), asKey('esam', 'beta', 'keep', () => randomMask(defined({ keep: method.beta }))));
  const gamma = given(method.gamma, 0.5);
  if (gamma === 1) return sharpnessAware({ ...settings, perturbation: weights });
  const perturbation = dataSelection(weights, { gamma });
  return new GuardedOptimizer(
    { ...settings, perturbation },
    needsObjective(
      'esam (ESAM, Du et al., ICLR 2022)',
      'per-sample losses for its sharpness-sensitive data selection (gamma < 1)',
      'optimizer.minimize(() => { const perSample = lossPerExample(model.apply(x), y); return { loss: tf.mean(perSample), perSample }; }), or esam({ base, gamma: 1 }) under model.fit',
    ),
  );
}
