/**
 * Presets that change when SAM's second pass is paid for: LookSAM, RST and AE-SAM.
 *
 * @module
 */
import { type SharpnessAwareOptimizer, sharpnessAware } from '@flatmin/core';
import { gradient } from '@flatmin/perturb-gradient';
import { type AdaptivePolicyOptions, adaptivePolicy } from '@flatmin/schedule-adaptive';
import { type EveryKOptions, everyK } from '@flatmin/schedule-every-k';
import { type RandomlyOptions, randomly } from '@flatmin/schedule-random';
import { defined, type MethodSettings, resolvePreset } from './preset.js';

/** The paper keys of {@link lookSam}. */
export interface LookSamKeys extends EveryKOptions {
  /** SAM's radius ρ (default 0.05). */
  rho?: number;
}

/** Options of {@link lookSam}: `rho` (0.05), `k` (5), `alpha` (0.7), `granularity` ('global'), and the settings. */
export type LookSamOptions = MethodSettings & LookSamKeys;

/**
 * LookSAM — Liu, Mai, Chen, Hsieh & You, "Towards Efficient and Scalable Sharpness-Aware
 * Minimization", CVPR 2022: SAM every k steps; in between one pass that adds back the stored
 * sharpness component g_v. `sharpnessAware({ base, perturbation: gradient({ rho }), schedule:
 * everyK({ k, alpha, granularity }) })`. Defaults ρ = 0.05, k = 5, α = 0.7. 1 + 1/k passes per step.
 *
 * @example
 * ```ts
 * const optimizer = lookSam({ base: tf.train.momentum(0.05, 0.9), k: 5, alpha: 0.7 });
 * ```
 */
export function lookSam(options: LookSamOptions): SharpnessAwareOptimizer {
  const { method, settings } = resolvePreset<LookSamKeys>(options, 'lookSam', ['rho', 'k', 'alpha', 'granularity']);
  const { rho, ...schedule } = method;
  return sharpnessAware({ ...settings, perturbation: gradient(defined({ rho })), schedule: everyK(schedule) });
}

/** The paper keys of {@link rst}. */
export interface RstKeys extends RandomlyOptions {
  /** SAM's radius ρ (default 0.05). */
  rho?: number;
}

/** Options of {@link rst}: `rho` (0.05), `p` (0.5, a number or a p(t) schedule), and the settings. */
export type RstOptions = MethodSettings & RstKeys;

/**
 * RST — Zhao, Zhang & Hu, "Randomized Sharpness-Aware Training for Boosting Computational
 * Efficiency in Deep Learning", 2022: each step is SAM with probability p(t), a plain step
 * otherwise (a Bernoulli draw from the seeded generator). `sharpnessAware({ base, perturbation:
 * gradient({ rho }), schedule: randomly({ p }) })`. Defaults ρ = 0.05, p = 0.5. 1 + p passes per step.
 *
 * @example
 * ```ts
 * const optimizer = rst({ base: tf.train.sgd(0.1), p: 0.5, seed: 42 });
 * ```
 */
export function rst(options: RstOptions): SharpnessAwareOptimizer {
  const { method, settings } = resolvePreset<RstKeys>(options, 'rst', ['rho', 'p']);
  const { rho, ...schedule } = method;
  return sharpnessAware({ ...settings, perturbation: gradient(defined({ rho })), schedule: randomly(schedule) });
}

/** The paper keys of {@link aeSam}. */
export interface AeSamKeys extends Partial<AdaptivePolicyOptions> {
  /** SAM's radius ρ (default 0.05). */
  rho?: number;
}

/** Options of {@link aeSam}: `rho` (0.05), `delta` (0.9), `lambda1` (−1), `lambda2` (1), `totalSteps` (required), and the settings. */
export type AeSamOptions = MethodSettings &
  AeSamKeys & {
    /** T, the run's length in steps (epochs × batches per epoch), for c_t's schedule (required). */
    totalSteps: number;
  };

/**
 * AE-SAM — Jiang, Yang, Zhang & Kwok, "An Adaptive Policy to Employ Sharpness-Aware
 * Minimization", ICLR 2023: SAM only on steps where ‖g‖² is high against its running mean and
 * standard deviation. `sharpnessAware({ base, perturbation: gradient({ rho }), schedule:
 * adaptivePolicy({ delta, lambda1, lambda2, totalSteps }) })`. Defaults ρ = 0.05, δ = 0.9, λ₁ = −1,
 * λ₂ = 1; `totalSteps` (epochs × batches) is required. 1 + (sharp fraction) passes per step; one
 * scalar read per step (the decision is made on the host).
 *
 * @example
 * ```ts
 * const optimizer = aeSam({ base: tf.train.momentum(0.05, 0.9), totalSteps: 10 * 390 });
 * ```
 */
export function aeSam(options: AeSamOptions): SharpnessAwareOptimizer {
  const { method, settings } = resolvePreset<AeSamKeys>(options, 'aeSam', ['rho', 'delta', 'lambda1', 'lambda2', 'totalSteps']);
  const { rho, ...schedule } = method;
  return sharpnessAware({ ...settings, perturbation: gradient(defined({ rho })), schedule: adaptivePolicy(schedule as AdaptivePolicyOptions) });
}
