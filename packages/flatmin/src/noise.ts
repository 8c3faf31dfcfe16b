/**
 * Random-weight-perturbation presets: RWP, LPF-SGD, Flat-LoRA and mARWP.
 *
 * @module
 */
import { mix, type SharpnessAwareOptimizer, sharpnessAware } from '@flatmin/core';
import { type FilterNoiseOptions, type FisherNoiseOptions, filterNoise, fisherNoise, type GaussianOptions, gaussian } from '@flatmin/perturb-noise';
import { flatLoraNoise, mergedScope } from '@flatmin/lora';
import { defined, GuardedOptimizer, given, type MethodSettings, needsObjective, resolvePreset } from './preset.js';

/** The paper keys of {@link rwp}. */
export interface RwpKeys extends GaussianOptions {
  /** λ of the mix λ ∇L(w + ε) + (1 − λ) ∇L(w), in [0, 1] (the paper's α; default 0.5). */
  lambda?: number;
}

/** Options of {@link rwp}: `sigma` (0.01), `scale` ('filter'), `lambda` (0.5), and the settings. */
export type RwpOptions = MethodSettings & RwpKeys;

/**
 * RWP — Li, Tao, Yan, Lei, Wu, Fang, He & Huang, "Revisiting Random Weight Perturbation for
 * Efficiently Improving Generalization", TMLR 2024: Gaussian filter-wise noise and the mixed
 * gradient λ ∇L(w + ε) + (1 − λ) ∇L(w). `sharpnessAware({ base, perturbation: gaussian({ sigma,
 * scale }), combiner: mix({ lambda }) })`. Defaults σ = 0.01, `scale: 'filter'` (the official
 * code's; `gaussian`'s own default is `'standard'`), λ = 0.5. Two passes per step (clean and noisy),
 * seeded by `seed`.
 *
 * @example
 * ```ts
 * const optimizer = rwp({ base: tf.train.sgd(0.1), sigma: 0.01, lambda: 0.5, seed: 42 });
 * ```
 */
export function rwp(options: RwpOptions): SharpnessAwareOptimizer {
  const { method, settings } = resolvePreset<RwpKeys>(options, 'rwp', ['sigma', 'scale', 'lambda']);
  const { lambda, ...noise } = method;
  return sharpnessAware({
    ...settings,
    perturbation: gaussian({ ...noise, scale: given(noise.scale, 'filter') }),
    combiner: mix(defined({ lambda })),
  });
}

/** The paper keys of {@link lpfSgd}. */
export type LpfSgdKeys = Pick<FilterNoiseOptions, 'gamma' | 'increase' | 'samples' | 'totalSteps'>;

/** Options of {@link lpfSgd}: `gamma` (0.002), `increase` (7), `samples` (1), `totalSteps`, and the settings. */
export type LpfSgdOptions = MethodSettings & LpfSgdKeys;

/**
 * LPF-SGD — Bisla, Wang & Choromanska, "Low-Pass Filtering SGD for Recovering Flat Optima in the
 * Deep Learning Optimization Landscape", AISTATS 2022: the gradient at w + ε, ε ~ N(0, (γ_t‖W_:,j‖)²)
 * per filter, γ_t rising on a cosine to `increase`·γ over `totalSteps`.
 * `sharpnessAware({ base, perturbation: filterNoise({ gamma, increase, samples, totalSteps }) })`.
 * Defaults γ = 0.002, increase 7, one draw; without `totalSteps` γ_t = γ. One pass per step
 * (`samples` = M > 1: M passes over M chunks of the batch, which needs per-sample losses — a custom
 * loop returning `{ loss, perSample }`; under `model.fit` the step throws a `FlatminError` naming `lpfSgd`).
 *
 * @example
 * ```ts
 * const optimizer = lpfSgd({ base: tf.train.momentum(0.05, 0.9), totalSteps: 10_000, seed: 1 });
 * ```
 */
export function lpfSgd(options: LpfSgdOptions): SharpnessAwareOptimizer {
  const { method, settings } = resolvePreset<LpfSgdKeys>(options, 'lpfSgd', ['gamma', 'increase', 'samples', 'totalSteps']);
  const perturbation = filterNoise(method);
  if (given(method.samples, 1) === 1) return sharpnessAware({ ...settings, perturbation });
  return new GuardedOptimizer(
    { ...settings, perturbation },
    needsObjective(
      'lpfSgd (LPF-SGD, Bisla et al., AISTATS 2022)',
      'per-sample losses to split the batch among its samples > 1 noise draws',
      'optimizer.minimize(() => { const perSample = lossPerExample(model.apply(x), y); return { loss: tf.mean(perSample), perSample }; }), or lpfSgd({ base, samples: 1 }) under model.fit',
    ),
  );
}

/** The paper keys of {@link flatLora}. */
export interface FlatLoraKeys {
  /** σ, the noise strength: S_ij = f_t · σ/√n · ‖W_:,j‖ (default 0.05). */
  sigma?: number;
  /** T of the ramp f_t = (1 − cos(π t/T))/2; without it f_t = 1. */
  totalSteps?: number;
}

/** Options of {@link flatLora}: `sigma` (0.05), `totalSteps`, and the settings (`scope` replaces the default {@link mergedScope}). */
export type FlatLoraOptions = MethodSettings & FlatLoraKeys;

/**
 * Flat-LoRA — Li, He, Li, Wang, Shang & Huang, "Flat-LoRA: Low-Rank Adaptation over a Flat Loss
 * Landscape", ICML 2025: noise on the merged weight W₀ + (α/r)BA, filter-wise, scaled by 1/√n (n
 * the layer's input size) and a cosine ramp, one pass per step. `sharpnessAware({ base,
 * perturbation: flatLoraNoise({ sigma, totalSteps }), scope: mergedScope() })` from
 * `@flatmin/lora`: on a LoRA model the noise goes on each LoRA layer's W₀ (A and B are not
 * perturbed), scaled by the merged weight's norms, and on the plain layers' weights; on a model
 * without LoRA layers, on every trainable weight (the formula of
 * `filterNoise({ perInput: true })`). Defaults σ = 0.05.
 *
 * @example
 * ```ts
 * const optimizer = flatLora({ base: tf.train.adam(1e-3), sigma: 0.05, totalSteps: 5_000, seed: 1 });
 * ```
 */
export function flatLora(options: FlatLoraOptions): SharpnessAwareOptimizer {
  const { method, settings } = resolvePreset<FlatLoraKeys>(options, 'flatLora', ['sigma', 'totalSteps']);
  const { sigma, totalSteps } = method;
  return sharpnessAware({ scope: mergedScope(), ...settings, perturbation: flatLoraNoise({ ...defined({ totalSteps }), sigma: given(sigma, 0.05) as number }) });
}

/** The paper keys of {@link marwp}. */
export interface MarwpKeys extends FisherNoiseOptions {
  /** λ of the mix λ ∇L(w + ε) + (1 − λ) ∇L(w), in [0, 1] (default 0.5). */
  lambda?: number;
}

/** Options of {@link marwp}: `sigma` (0.01), `eta` (1), `decay` (0.9), `lambda` (0.5), and the settings. */
export type MarwpOptions = MethodSettings & MarwpKeys;

/**
 * mARWP — the adaptive random weight perturbation of Li et al., TMLR 2024 (as {@link rwp}): filter
 * noise shrunk where a running Fisher F_j is large, S_ij = σ‖W_:,j‖/√(1 + ηF_j), with RWP's mixed
 * gradient. `sharpnessAware({ base, perturbation: fisherNoise({ sigma, eta, decay }), combiner:
 * mix({ lambda }) })`. Defaults σ = 0.01, η = 1, decay 0.9, λ = 0.5. Two passes per step (the clean
 * pass feeds the Fisher and the mix).
 *
 * @example
 * ```ts
 * const optimizer = marwp({ base: tf.train.sgd(0.1), sigma: 0.01, eta: 1, seed: 3 });
 * ```
 */
export function marwp(options: MarwpOptions): SharpnessAwareOptimizer {
  const { method, settings } = resolvePreset<MarwpKeys>(options, 'marwp', ['sigma', 'eta', 'decay', 'lambda']);
  const { lambda, ...noise } = method;
  return sharpnessAware({ ...settings, perturbation: fisherNoise(noise), combiner: mix(defined({ lambda })) });
}
