/**
 * Presets that are one perturbation with SAM's every-step schedule: SAM, ASAM, Fisher SAM,
 * FriendlySAM, VaSSO and the one-backward lookahead variant.
 *
 * @module
 */
import { type SharpnessAwareOptimizer, sharpnessAware } from '@flatmin/core';
import { type AdaptiveOptions, adaptive, type FisherOptions, fisher } from '@flatmin/perturb-adaptive';
import { type FriendlyOptions, friendly, type VarianceSuppressedOptions, varianceSuppressed } from '@flatmin/perturb-friendly';
import { type GradientOptions, gradient } from '@flatmin/perturb-gradient';
import { type MethodSettings, resolvePreset } from './preset.js';

/** Options of {@link sam}: the base optimizer, `rho` (0.05) and `p` (2), and the settings of {@link MethodSettings}. */
export type SamOptions = MethodSettings & Pick<GradientOptions, 'rho' | 'p'>;

/**
 * SAM — Foret, Kleiner, Mobahi & Neyshabur, "Sharpness-Aware Minimization for Efficiently
 * Improving Generalization", ICLR 2021: ε = ρ g/‖g‖₂, update with ∇L(w + ε).
 * `sharpnessAware({ base, perturbation: gradient({ rho, p }) })`. Defaults ρ = 0.05, p = 2.
 * Two forward-backward passes per step.
 *
 * @example
 * ```ts
 * const optimizer = sam({ base: tf.train.momentum(0.05, 0.9), rho: 0.05 });
 * model.compile({ optimizer, loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
 * ```
 */
export function sam(options: SamOptions): SharpnessAwareOptimizer {
  const { method, settings } = resolvePreset<GradientOptions>(options, 'sam', ['rho', 'p']);
  return sharpnessAware({ ...settings, perturbation: gradient(method) });
}

/** Options of {@link asam}: `rho` (0.5), `eta` (0.01), `granularity` ('element'), `adaptWhere` ('rank>=2'), and the settings. */
export type AsamOptions = MethodSettings & AdaptiveOptions;

/**
 * ASAM — Kwon, Kim, Park & Choi, "ASAM: Adaptive Sharpness-Aware Minimization for Scale-Invariant
 * Learning of Deep Neural Networks", ICML 2021: ε = ρ T_w² g/‖T_w g‖, T_w = |w| + η.
 * `sharpnessAware({ base, perturbation: adaptive({ rho, eta, granularity, adaptWhere }) })`.
 * Defaults ρ = 0.5, η = 0.01, element-wise, kernels only. Two passes per step.
 *
 * @example
 * ```ts
 * const optimizer = asam({ base: tf.train.momentum(0.05, 0.9), rho: 1.0, granularity: 'filter' });
 * ```
 */
export function asam(options: AsamOptions): SharpnessAwareOptimizer {
  const { method, settings } = resolvePreset<AdaptiveOptions>(options, 'asam', ['rho', 'eta', 'granularity', 'adaptWhere']);
  return sharpnessAware({ ...settings, perturbation: adaptive(method) });
}

/** Options of {@link fisherSam}: `rho` (0.1), `eta` (1), and the settings. */
export type FisherSamOptions = MethodSettings & FisherOptions;

/**
 * Fisher SAM — Kim, Li, Hu & Hospedales, "Fisher SAM: Information Geometry and Sharpness Aware
 * Minimisation", ICML 2022: ε = ρ (g/f)/√(Σ g²/f), f = 1 + η g².
 * `sharpnessAware({ base, perturbation: fisher({ rho, eta }) })`. Defaults ρ = 0.1, η = 1. Two passes per step.
 *
 * @example
 * ```ts
 * const optimizer = fisherSam({ base: tf.train.sgd(0.1), rho: 0.1, eta: 1 });
 * ```
 */
export function fisherSam(options: FisherSamOptions): SharpnessAwareOptimizer {
  const { method, settings } = resolvePreset<FisherOptions>(options, 'fisherSam', ['rho', 'eta']);
  return sharpnessAware({ ...settings, perturbation: fisher(method) });
}

/** Options of {@link fsam}: `rho` (0.05), `sigma` (1), `lambda` (0.9), `variant` ('seed'), and the settings. */
export type FsamOptions = MethodSettings & FriendlyOptions;

/**
 * FriendlySAM (F-SAM) — Li, Zhou, He, Cheng & Huang, "Friendly Sharpness-Aware Minimization",
 * CVPR 2024: ε along g − σm, m the running mean of the gradients.
 * `sharpnessAware({ base, perturbation: friendly({ rho, sigma, lambda, variant }) })`.
 * Defaults ρ = 0.05, σ = 1, λ = 0.9 (the paper's CIFAR script: ρ 0.2, λ 0.6). Two passes per step.
 *
 * @example
 * ```ts
 * const optimizer = fsam({ base: tf.train.momentum(0.05, 0.9), rho: 0.2, lambda: 0.6 });
 * ```
 */
export function fsam(options: FsamOptions): SharpnessAwareOptimizer {
  const { method, settings } = resolvePreset<FriendlyOptions>(options, 'fsam', ['rho', 'sigma', 'lambda', 'variant']);
  return sharpnessAware({ ...settings, perturbation: friendly(method) });
}

/** Options of {@link vasso}: `rho` (0.05), `theta` (0.9), and the settings. */
export type VassoOptions = MethodSettings & VarianceSuppressedOptions;

/**
 * VaSSO — Li & Giannakis, "Enhancing Sharpness-Aware Optimization Through Variance Suppression",
 * NeurIPS 2023: ε along d_t = (1−θ) d_{t−1} + θ g_t.
 * `sharpnessAware({ base, perturbation: varianceSuppressed({ rho, theta }) })`. Defaults ρ = 0.05,
 * θ = 0.9. Two passes per step.
 *
 * @example
 * ```ts
 * const optimizer = vasso({ base: tf.train.sgd(0.1), rho: 0.1, theta: 0.4 });
 * ```
 */
export function vasso(options: VassoOptions): SharpnessAwareOptimizer {
  const { method, settings } = resolvePreset<VarianceSuppressedOptions>(options, 'vasso', ['rho', 'theta']);
  return sharpnessAware({ ...settings, perturbation: varianceSuppressed(method) });
}

/** Options of {@link ogSam}: `rho` (0.05), `p` (2), and the settings. */
export type OgSamOptions = MethodSettings & Pick<GradientOptions, 'rho' | 'p'>;

/**
 * OG-SAM, SAM by lookahead — Yu, Zhang & Kwok, "Improving Sharpness-Aware Minimization by
 * Lookahead", ICML 2024: ε from the previous step's adversarial gradient, so one backward per step.
 * `sharpnessAware({ base, perturbation: gradient({ rho, p, from: 'previous' }) })`. Defaults
 * ρ = 0.05, p = 2. One pass per step (the first step is a plain step); under `model.fit` the
 * reported loss is L(w + ε).
 *
 * @example
 * ```ts
 * const optimizer = ogSam({ base: tf.train.sgd(0.1), rho: 0.05 });
 * ```
 */
export function ogSam(options: OgSamOptions): SharpnessAwareOptimizer {
  const { method, settings } = resolvePreset<GradientOptions>(options, 'ogSam', ['rho', 'p']);
  return sharpnessAware({ ...settings, perturbation: gradient({ ...method, from: 'previous' }) });
}
