/**
 * Flat-LoRA's noise on the merged weight: the filter norms come from W₀ + (α/r)·AᵀBᵀ, not from W₀
 * alone.
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Perturbation, PerturbationContext, PerturbationResult } from '@flatmin/core';
import { checkNumber, checkOptions, registerComponent } from '@flatmin/core/kit';
import { filterNorms, filterSize, scaledNoise } from '@flatmin/perturb-noise';
import { loraLayerOf, loraRole } from './roles.js';

/**
 * Options of {@link flatLoraNoise}.
 *
 * @example
 * ```ts
 * const options: FlatLoraNoiseOptions = { sigma: 0.05, totalSteps: 10_000 };
 * ```
 */
export interface FlatLoraNoiseOptions {
  /** σ, a finite number ≥ 0 (default 0.05, the paper's; 0 reduces exactly to the base optimizer). A schedule's ρ(t) replaces it per step. */
  sigma?: number;
  /** T, the steps of the (1 − cos(π t/T))/2 ramp, a whole number ≥ 1 (default: none, the factor is 1). Steps past T keep the value at T. */
  totalSteps?: number;
}

const WHERE = 'flatLoraNoise';
const KEYS = ['sigma', 'totalSteps'] as const;

/**
 * The weight whose filter norms set a variable's noise: for a LoRA layer's W₀ the merged weight
 * W₀ + (α/r)·AᵀBᵀ (its current A and B), for anything else the variable itself.
 */
function normSource(variable: tf.Variable): tf.Tensor {
  const layer = loraRole(variable) === 'kernel' ? loraLayerOf(variable) : undefined;
  if (layer === undefined) return variable;
  return tf.add(variable, tf.mul(tf.matMul(layer.loraA, layer.loraB, true, true), layer.scale));
}

/**
 * Flat-LoRA (Li, He, Li, Wang, Shang & Huang, "Flat-LoRA: Low-Rank Adaptation over a Flat Loss
 * Landscape", ICML 2025; arXiv 2409.14396): random weight noise on the merged weight
 * W' = W₀ + (α/r)·BA, ε_ij ~ N(0, S_ij²) with S_ij = f_t · σ/√n · ‖W'_:,j‖ (filter j = an output
 * unit, the last axis in tfjs layout; n = the layer's input size), f_t = (1 − cos(π t/T))/2.
 * Adding ε to W' is adding it to W₀ (A and B are not perturbed), so use it with
 * `scope: loraScope('origin')`: the perturbed variables are the W₀ of the LoRA layers, each scaled
 * by its merged weight's norms. (A variable that is no LoRA kernel is scaled by its own norms.)
 *
 * One forward-backward per step with the default `adversarial()` combiner: the noisy gradient
 * replaces the clean one, as the paper does. Noise from the optimizer's seeded generator.
 * `@flatmin/perturb-noise`'s `filterNoise({ perInput: true })` is the same formula with W₀'s own
 * norms: equal while B = 0, apart once BA grows.
 *
 * @param options see {@link FlatLoraNoiseOptions}; a bad value throws a `FlatminConfigError` naming the key.
 * @returns the perturbation.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs';
 * import { sharpnessAware } from '@flatmin/core';
 * import { flatLoraNoise, loraScope } from '@flatmin/lora';
 *
 * const optimizer = sharpnessAware({ base: tf.train.adam(1e-3), perturbation: flatLoraNoise({ sigma: 0.05, totalSteps: 1000 }), scope: loraScope('origin') });
 * ```
 */
export function flatLoraNoise(options?: FlatLoraNoiseOptions): Perturbation {
  const checked = checkOptions(options, KEYS, WHERE);
  const sigma = checkNumber('sigma', checked.sigma === undefined ? 0.05 : checked.sigma, { min: 0 }, WHERE);
  const totalSteps = checked.totalSteps === undefined ? undefined : checkNumber('totalSteps', checked.totalSteps, { min: 1, integer: true }, WHERE);
  const config = Object.freeze({ sigma, ...(totalSteps === undefined ? {} : { totalSteps }) });
  return {
    kind: 'perturbation',
    name: WHERE,
    config,
    rho: sigma,
    needsGradient: false,
    compute(context: PerturbationContext): PerturbationResult {
      const ramp = totalSteps === undefined ? 1 : (1 - Math.cos((Math.PI * Math.min(context.step, totalSteps)) / totalSteps)) / 2;
      const size = tf.mul(context.rho, ramp);
      // One seeded standard-normal buffer for all the variables (the draws of filterNoise's).
      const epsilon = scaledNoise(context.variables, context.random, (variable) => tf.mul(tf.div(size, Math.sqrt(filterSize(variable.shape))), filterNorms(normSource(variable))));
      return { epsilon };
    },
  };
}

registerComponent('perturbation', WHERE, (config) => flatLoraNoise(config as FlatLoraNoiseOptions));
