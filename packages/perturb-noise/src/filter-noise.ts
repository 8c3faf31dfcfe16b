/**
 * Filter-wise noise with a cosine-increasing size: LPF-SGD's ε, and Flat-LoRA's input-normalized
 * variant.
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { FlatminConfigError, FlatminError, type NamedTensors, type Perturbation, type PerturbationContext, type PerturbationResult } from '@flatmin/core';
import { checkNumber, checkOptions, elementwise, registerComponent } from '@flatmin/core/kit';
import { filterNorms, filterSize } from './filters.js';
import { resolveOptionalSteps } from './options.js';
import { scaledNoise } from './scale.js';

/**
 * Options of {@link filterNoise}.
 *
 * @example
 * ```ts
 * const lpf: FilterNoiseOptions = { gamma: 0.002, increase: 7, totalSteps: 10_000 };
 * const flatLora: FilterNoiseOptions = { gamma: 0.05, perInput: true, totalSteps: 10_000 };
 * ```
 */
export interface FilterNoiseOptions {
  /**
   * γ, a finite number ≥ 0 (default 0.002; 0 reduces exactly to the base optimizer): the noise
   * size at t = 0, relative to each filter's norm. With `perInput` it is Flat-LoRA's σ. A
   * schedule's ρ(t) replaces it per step.
   */
  gamma?: number;
  /** How many times γ grows over `totalSteps`, a finite number ≥ 1 (default 7, LPF-SGD's; 1 keeps γ constant). Unused with `perInput`. */
  increase?: number;
  /**
   * M, noise draws per step, a whole number ≥ 1 (default 1). With M > 1, LPF-SGD's estimate: the
   * batch split in M chunks (in order, sizes differing by at most one), chunk j's mean loss
   * differentiated at w + ε_j with its own draw ε_j, the gradient the mean over the chunks. It
   * needs the per-sample losses (a custom loop whose closure returns `{ loss, perSample }`) and
   * costs M forward-backward passes per step (each forward runs the whole batch).
   */
  samples?: number;
  /**
   * T, the number of steps of the cosine schedule, a whole number ≥ 1 (default: none, then the
   * factor is constant: γ_t = γ, and f_t = 1 with `perInput`). Steps past T keep the value at T.
   */
  totalSteps?: number;
  /** Flat-LoRA's scale S_ij = f_t · γ/√n · ‖W_:,j‖ (n = elements per filter) instead of LPF-SGD's (default false). */
  perInput?: boolean;
}

const WHERE = 'filterNoise';
const KEYS = ['gamma', 'increase', 'samples', 'totalSteps', 'perInput'] as const;

/** (1 − cos(π t/T))/2 for t clamped to [0, T]: 0 at t = 0, 1 at t = T. */
function cosineRamp(step: number, totalSteps: number): number {
  return (1 - Math.cos((Math.PI * Math.min(step, totalSteps)) / totalSteps)) / 2;
}

/**
 * The host factor multiplying the step's ρ (= γ) at step t:
 * LPF-SGD 1 + (inc − 1)(1 − cos(π t/T))/2; Flat-LoRA (1 − cos(π t/T))/2. Both 1 without T.
 */
function stepFactor(step: number, increase: number, perInput: boolean, totalSteps: number | undefined): number {
  if (totalSteps === undefined) return 1;
  const ramp = cosineRamp(step, totalSteps);
  return perInput ? ramp : 1 + (increase - 1) * ramp;
}

/**
 * Filter-wise Gaussian noise whose size grows with a cosine schedule, ε = Z ⊙ S with Z ~ N(0, 1)
 * from the optimizer's seeded generator (filter j = an index of the last axis in tfjs layout; a
 * bias is one filter):
 *
 * - LPF-SGD (Bisla, Wang & Choromanska, "Low-Pass Filtering SGD for Recovering Flat Optima in the
 *   Deep Learning Optimization Landscape", AISTATS 2022): S_ij = γ_t ‖W_:,j‖,
 *   γ_t = γ (1 + (inc − 1)(1 − cos(π t/T))/2), T = `totalSteps` (without it γ_t = γ).
 * - Flat-LoRA (Li, He, Li, Wang, Shang & Huang, "Flat-LoRA: Low-Rank Adaptation over a Flat
 *   Loss Landscape", ICML 2025; arXiv 2409.14396, 2024), `perInput: true`: S_ij = f_t · γ/√n · ‖W_:,j‖, f_t = (1 − cos(π t/T))/2, n
 *   the elements per filter (the layer's input size: `in` for a dense kernel, h·w·in for a conv
 *   kernel). Flat-LoRA perturbs the merged weight W₀ + sBA; here the perturbed variables are what
 *   the optimizer's `scope` names, and their norms are their own.
 *
 * t is the optimizer's completed steps (`context.step`); γ is the step's ρ (this factory's
 * `gamma`, or a schedule's ρ(t)). `needsGradient` is false: with the default `adversarial()`
 * combiner one pass per step (the noisy gradient replaces the clean one, as both papers do).
 *
 * @param options see {@link FilterNoiseOptions}; a bad value throws a `FlatminConfigError` naming the key.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs';
 * import { sharpnessAware } from '@flatmin/core';
 * import { filterNoise } from '@flatmin/perturb-noise';
 *
 * const lpfSgd = sharpnessAware({ base: tf.train.momentum(0.05, 0.9), perturbation: filterNoise({ gamma: 0.002, increase: 7, totalSteps: 10_000 }) });
 * const flatLora = sharpnessAware({ base: tf.train.adam(1e-3), perturbation: filterNoise({ gamma: 0.05, perInput: true, totalSteps: 10_000 }) });
 * ```
 */
export function filterNoise(options?: FilterNoiseOptions): Perturbation {
  const checked = checkOptions(options, KEYS, WHERE);
  const gamma = checkNumber('gamma', checked.gamma === undefined ? 0.002 : checked.gamma, { min: 0 }, WHERE);
  const increase = checkNumber('increase', checked.increase === undefined ? 7 : checked.increase, { min: 1 }, WHERE);
  const samples = checkNumber('samples', checked.samples === undefined ? 1 : checked.samples, { min: 1, integer: true }, WHERE);
  const totalSteps = resolveOptionalSteps('totalSteps', checked.totalSteps, WHERE);
  const perInput = checked.perInput === undefined ? false : checked.perInput;
  if (typeof perInput !== 'boolean') throw new FlatminConfigError('perInput', perInput, 'true or false', WHERE);
  const config = Object.freeze({ gamma, increase, samples, perInput, ...(totalSteps === undefined ? {} : { totalSteps }) });
  return {
    kind: 'perturbation',
    name: WHERE,
    config,
    rho: gamma,
    needsGradient: false,
    ...(samples > 1 ? { requires: ['perSample' as const] } : {}),
    compute(context: PerturbationContext): PerturbationResult {
      const factor = stepFactor(context.step, increase, perInput, totalSteps);
      const size = elementwise.mul(context.rho, factor);
      const draw = () =>
        scaledNoise(context.variables, context.random, (v) => {
          const perFilter = perInput ? elementwise.div(size, Math.sqrt(filterSize(v.shape))) : size;
          return elementwise.mul(perFilter, filterNorms(v));
        });
      if (samples === 1) return { epsilon: draw() };
      return chunkedDraws(context, samples, draw);
    },
  };
}

/**
 * LPF-SGD's mean over M draws: chunk j of the batch at w + ε_j, each through `gradientOf`; the
 * gradient (1/M) Σ_j ∇ mean_{n ∈ chunk j} ℓₙ(w + ε_j), the loss the mean of the batch losses there.
 * ε is reported as the first draw's.
 */
function chunkedDraws(context: PerturbationContext, chunks: number, draw: () => NamedTensors): PerturbationResult {
  const draws = Array.from({ length: chunks }, draw);
  const passes = draws.map((epsilon, j) =>
    context.gradientOf(({ perSample }) => {
      const n = perSample!.shape[0];
      if (n < chunks) throw new FlatminError(`${WHERE}: a batch of ${n} samples cannot be split in samples = ${chunks} chunks.`);
      const start = Math.floor((j * n) / chunks);
      const end = Math.floor(((j + 1) * n) / chunks);
      return tf.mean(tf.slice(perSample!, [start], [end - start])) as tf.Scalar;
    }, epsilon),
  );
  const grads: NamedTensors = {};
  for (const name of Object.keys(passes[0]!.grads)) {
    const terms = passes.map((p) => p.grads[name]).filter((g): g is tf.Tensor => g !== undefined);
    grads[name] = elementwise.div(terms.length === 1 ? terms[0]! : tf.addN(terms), chunks);
  }
  const loss = elementwise.div(tf.addN(passes.map((p) => p.loss)), chunks) as tf.Scalar;
  return { epsilon: draws[0]!, adversarial: { grads, loss } };
}

registerComponent('perturbation', WHERE, (config) => filterNoise(config as FilterNoiseOptions));
