/**
 * mARWP's Fisher-scaled filter noise: filters with a large running squared gradient get less noise.
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { type ComponentState, FlatminError, type NamedTensors, type Perturbation, type PerturbationContext } from '@flatmin/core';
import { checkNumber, checkOptions, elementwise, registerComponent, shareData, variableKey } from '@flatmin/core/kit';
import { filterNorms, filterSums } from './filters.js';
import { resolveSigma } from './options.js';
import { scaledNoise } from './scale.js';

/**
 * Options of {@link fisherNoise}.
 *
 * @example
 * ```ts
 * const options: FisherNoiseOptions = { sigma: 0.01, eta: 1, decay: 0.9 };
 * ```
 */
export interface FisherNoiseOptions {
  /** σ, a finite number ≥ 0 (default 0.01; 0 reduces exactly to the base optimizer). A schedule's ρ(t) replaces it per step. */
  sigma?: number;
  /** η, how strongly the Fisher shrinks the noise, a finite number ≥ 0 (default 1; 0 gives `gaussian({ scale: 'filter' })`'s ε exactly). */
  eta?: number;
  /** λ, the Fisher's decay, a number in [0, 1) (default 0.9; 0 keeps only this step's g²). */
  decay?: number;
}

const WHERE = 'fisherNoise';
const KEYS = ['sigma', 'eta', 'decay'] as const;
const SLOT = 'fisher';

/**
 * Fisher-scaled filter noise (mARWP's adaptive random weight perturbation; Li, Tao, Yan, Lei, Wu,
 * Fang, He & Huang, "Revisiting Random Weight Perturbation for Efficiently Improving
 * Generalization", TMLR 2024): ε = Z ⊙ S with Z ~ N(0, 1) from the optimizer's seeded generator and,
 * for filter j (an index of the last axis in tfjs layout; a bias is one filter),
 *
 *   Fisher_ij ← λ Fisher_ij + g_ij²,  F_j = Σ_i Fisher_ij,  S_ij = σ ‖W_:,j‖ / √(1 + η F_j),
 *
 * with g this step's clean gradient (Fisher starts at 0, so the first step already uses g²). The
 * running Fisher is per-variable state (`` `${name}:fisher` ``), saved by `getWeights`.
 *
 * `needsGradient` is true: a step costs two passes (clean, then noisy) with any combiner. Paired
 * with `mix({ lambda })` — m-ARWP — the clean pass the mix needs anyway feeds the Fisher, so it
 * costs nothing extra. (The official code builds the Fisher from the previous steps' noisy
 * gradients instead; see the README.)
 *
 * @param options see {@link FisherNoiseOptions}; a bad value throws a `FlatminConfigError` naming the key.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs';
 * import { mix, sharpnessAware } from '@flatmin/core';
 * import { fisherNoise } from '@flatmin/perturb-noise';
 *
 * const mArwp = sharpnessAware({ base: tf.train.sgd(0.1), perturbation: fisherNoise({ sigma: 0.01, eta: 1, decay: 0.9 }), combiner: mix({ lambda: 0.5 }) });
 * ```
 */
export function fisherNoise(options?: FisherNoiseOptions): Perturbation {
  const checked = checkOptions(options, KEYS, WHERE);
  const sigma = resolveSigma(checked.sigma, WHERE);
  const eta = checkNumber('eta', checked.eta === undefined ? 1 : checked.eta, { min: 0 }, WHERE);
  const decay = checkNumber('decay', checked.decay === undefined ? 0.9 : checked.decay, { min: 0, max: 1, maxExclusive: true }, WHERE);
  return {
    kind: 'perturbation',
    name: WHERE,
    config: Object.freeze({ sigma, eta, decay }),
    rho: sigma,
    needsGradient: true,
    compute(context: PerturbationContext, state: ComponentState): { epsilon: NamedTensors; state: ComponentState } {
      const grads = context.grads;
      if (grads === null) throw new FlatminError('fisherNoise() needs the clean gradient, but no clean pass was made (context.grads is null).');
      const next: Record<string, tf.Tensor | number> = {};
      // Entries of variables outside this step's scope are carried forward (new handles, same data).
      const updatedKeys = new Set(context.variables.map((v) => variableKey(v.name, SLOT)));
      for (const [key, value] of Object.entries(state)) {
        if (!updatedKeys.has(key)) next[key] = typeof value === 'number' ? value : shareData(value);
      }
      const fisher: NamedTensors = {};
      for (const v of context.variables) {
        const key = variableKey(v.name, SLOT);
        const previous = state[key];
        const g = grads[v.name];
        const squared = g === undefined ? tf.zerosLike(v) : tf.square(g);
        const updated = previous === undefined || typeof previous === 'number' ? squared : elementwise.axpy(squared, decay, previous);
        fisher[v.name] = updated;
        next[key] = updated;
      }
      const epsilon = scaledNoise(context.variables, context.random, (v) =>
        elementwise.div(elementwise.mul(context.rho, filterNorms(v)), tf.sqrt(elementwise.add(1, elementwise.mul(eta, filterSums(fisher[v.name]!))))),
      );
      return { epsilon, state: next };
    },
  };
}

registerComponent('perturbation', WHERE, (config) => fisherNoise(config as FisherNoiseOptions));
