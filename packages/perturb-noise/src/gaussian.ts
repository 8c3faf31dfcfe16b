/**
 * Gaussian weight noise: ε = Z ⊙ S, Z ~ N(0, 1) from the optimizer's seeded generator — the
 * perturbation of random weight perturbation (RWP).
 *
 * @module
 */
import type * as tf from '@tensorflow/tfjs-core';
import type { NamedTensors, Perturbation, PerturbationContext } from '@flatmin/core';
import { checkOptions, registerComponent } from '@flatmin/core/kit';
import { resolveScale, resolveSigma } from './options.js';
import { type NoiseScale, noiseScale, scaledNoise } from './scale.js';

/**
 * Options of {@link gaussian}.
 *
 * @example
 * ```ts
 * const options: GaussianOptions = { sigma: 0.01, scale: 'filter' };
 * ```
 */
export interface GaussianOptions {
  /** σ, a finite number ≥ 0 (default 0.01; 0 reduces exactly to the base optimizer). A schedule's ρ(t) replaces it per step. */
  sigma?: number;
  /**
   * How S follows the weights (default `'standard'`): `'standard'` S = σ; `'matrix'` S = σ‖W‖_F;
   * `'element'` S = σ|W_ij|; `'filter'` S_ij = σ‖W_:,j‖ (filter j = an index of the last axis,
   * a bias is one filter) — the official RWP code's choice.
   */
  scale?: NoiseScale;
}

const WHERE = 'gaussian';
const KEYS = ['sigma', 'scale'] as const;

/**
 * Gaussian weight noise, ε = Z ⊙ S with Z ~ N(0, 1) drawn from the optimizer's seeded
 * generator (`context.random`), one draw per perturbed variable and step; S from `scale`
 * (see {@link GaussianOptions}). σ is the step's ρ: this factory's `sigma`, or a schedule's
 * ρ(t).
 *
 * It is the perturbation of RWP (Li, Tao, Yan, Lei, Wu, Fang, He & Huang, "Revisiting Random
 * Weight Perturbation for Efficiently Improving Generalization", TMLR 2024; arXiv 2404.00357),
 * which pairs it with core's `mix({ lambda })` combiner (λ g_adv + (1 − λ) g) and filter-wise
 * noise. `needsGradient` is false: with the default `adversarial()` combiner a step costs one
 * forward-backward pass (at w + ε, so `model.fit` reports L(w + ε)); with `mix` two (the clean
 * pass at w, then w + ε).
 *
 * @param options see {@link GaussianOptions}; a bad value throws a `FlatminConfigError` naming the key.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs';
 * import { mix, sharpnessAware } from '@flatmin/core';
 * import { gaussian } from '@flatmin/perturb-noise';
 *
 * // RWP: filter-wise noise, half noisy and half clean gradient.
 * const rwp = sharpnessAware({ base: tf.train.sgd(0.1), perturbation: gaussian({ sigma: 0.01, scale: 'filter' }), combiner: mix({ lambda: 0.5 }), seed: 1 });
 * // Plain noise injection: one pass per step.
 * const noisy = sharpnessAware({ base: tf.train.sgd(0.1), perturbation: gaussian({ sigma: 0.001 }) });
 * ```
 */
export function gaussian(options?: GaussianOptions): Perturbation {
  const checked = checkOptions(options, KEYS, WHERE);
  const sigma = resolveSigma(checked.sigma, WHERE);
  const scale = resolveScale(checked.scale, WHERE);
  return {
    kind: 'perturbation',
    name: WHERE,
    config: Object.freeze({ sigma, scale }),
    rho: sigma,
    needsGradient: false,
    compute(context: PerturbationContext): { epsilon: NamedTensors } {
      return { epsilon: scaledNoise(context.variables, context.random, (v: tf.Variable) => noiseScale(v, scale, context.rho)) };
    },
  };
}

registerComponent('perturbation', WHERE, (config) => gaussian(config as GaussianOptions));
