/**
 * Random search for the worst perturbation: the worst of k Gaussian draws, chosen on the device.
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import type { NamedTensors, Perturbation, PerturbationContext } from '@flatmin/core';
import { checkNumber, checkOptions, mapNamed, pick, registerComponent } from '@flatmin/core/kit';
import { resolveScale, resolveSigma } from './options.js';
import { type NoiseScale, noiseScale, scaledNoise } from './scale.js';

/**
 * Options of {@link worstOfK}.
 *
 * @example
 * ```ts
 * const options: WorstOfKOptions = { k: 4, sigma: 0.01, scale: 'filter' };
 * ```
 */
export interface WorstOfKOptions {
  /** How many noise vectors to try, a whole number ≥ 1 (default 4; 1 is `gaussian` exactly, with no forward-only evaluation). */
  k?: number;
  /** σ of each draw, a finite number ≥ 0 (default 0.01). A schedule's ρ(t) replaces it per step. */
  sigma?: number;
  /** The scale S of each draw, as in `gaussian` (default `'standard'`): `'standard'`, `'matrix'`, `'element'` or `'filter'`. */
  scale?: NoiseScale;
}

const WHERE = 'worstOfK';
const KEYS = ['k', 'sigma', 'scale'] as const;

/**
 * The worst of k random perturbations — a random-search approximation of SAM's inner maximization:
 * draw δ_1 … δ_k = Z_j ⊙ S (Z_j ~ N(0, 1) from the optimizer's seeded generator, S as in
 * `gaussian`), evaluate L(w + δ_j) forward only (`context.evaluate`: no gradient, the weights
 * restored exactly, nothing `model.fit` sees disturbed), and take ε = δ_j of the largest loss. The
 * choice is made on the device (a comparison and a select per draw, no host read); ties go to the
 * earliest draw. At most two parameter-sized candidates are alive at once.
 *
 * Cost per step with the default `adversarial()` combiner: k forward-only evaluations plus one
 * forward-backward pass at w + ε, i.e. k + 1 loss evaluations (`telemetry().lossEvaluations`);
 * k = 1 skips the evaluation (one pass, the same ε as `gaussian`).
 *
 * @param options see {@link WorstOfKOptions}; a bad value throws a `FlatminConfigError` naming the key.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs';
 * import { sharpnessAware } from '@flatmin/core';
 * import { worstOfK } from '@flatmin/perturb-noise';
 *
 * const optimizer = sharpnessAware({ base: tf.train.sgd(0.1), perturbation: worstOfK({ k: 4, sigma: 0.01, scale: 'filter' }) });
 * ```
 */
export function worstOfK(options?: WorstOfKOptions): Perturbation {
  const checked = checkOptions(options, KEYS, WHERE);
  const k = checkNumber('k', checked.k === undefined ? 4 : checked.k, { min: 1, integer: true }, WHERE);
  const sigma = resolveSigma(checked.sigma, WHERE);
  const scale = resolveScale(checked.scale, WHERE);
  return {
    kind: 'perturbation',
    name: WHERE,
    config: Object.freeze({ k, sigma, scale }),
    rho: sigma,
    needsGradient: false,
    compute(context: PerturbationContext): { epsilon: NamedTensors } {
      const draw = (): NamedTensors => scaledNoise(context.variables, context.random, (v) => noiseScale(v, scale, context.rho));
      let epsilon = draw();
      if (k === 1) return { epsilon };
      let worst: tf.Tensor = context.evaluate(epsilon);
      for (let j = 1; j < k; j += 1) {
        const bar = worst;
        const current = epsilon;
        // One tidy per draw: the draw, the condition and the losing candidate are freed before the
        // next draw, so at most two parameter-sized candidates (and one condition) are alive.
        const next = tf.tidy(() => {
          const delta = draw();
          const loss = context.evaluate(delta);
          // Whole candidates are kept or dropped on the device's verdict (a buffer pick on cpu and
          // wasm, no element compared); a NaN loss never wins and never becomes the bar.
          const better = tf.cast(tf.greater(loss, bar), 'float32') as tf.Scalar;
          const chosen = mapNamed(current, (e, name) => pick(better, delta[name]!, e));
          return { chosen, worst: pick(better, loss, bar) };
        });
        tf.dispose(Object.values(current));
        epsilon = next.chosen;
        worst = next.worst;
      }
      return { epsilon };
    },
  };
}

registerComponent('perturbation', WHERE, (config) => worstOfK(config as WorstOfKOptions));
