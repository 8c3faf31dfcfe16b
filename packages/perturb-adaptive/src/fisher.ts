/**
 * Fisher SAM's perturbation: the worst case over the ellipsoid of the diagonal Fisher estimated
 * from the batch gradient, f = 1 + η g².
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { FlatminError, type NamedTensors, type Perturbation, type PerturbationContext } from '@flatmin/core';
import { checkNumber, checkOptions, elementwise, globalDot, pickNamed, registerComponent } from '@flatmin/core/kit';

/**
 * Options of {@link fisher}: Fisher SAM (Kim, Li, Hu & Hospedales, "Fisher SAM: Information
 * Geometry and Sharpness Aware Minimisation", ICML 2022).
 *
 * @example
 * ```ts
 * const options: FisherOptions = { rho: 0.1, eta: 1 };
 * const perturbation = fisher(options);
 * ```
 */
export interface FisherOptions {
  /** The radius ρ (the paper's γ), a finite number ≥ 0 (default 0.1; 0 reduces exactly to the base optimizer). A schedule may pass another ρ per step. */
  rho?: number;
  /** η of the diagonal Fisher f = 1 + η g², a finite number ≥ 0 (default 1; 0 is SAM exactly). */
  eta?: number;
}

const WHERE = 'fisher';
const KNOWN_KEYS = ['rho', 'eta'] as const;

/**
 * The Fisher SAM perturbation (Kim, Li, Hu & Hospedales, "Fisher SAM: Information Geometry and
 * Sharpness Aware Minimisation", ICML 2022): the first-order worst case over the Fisher ellipsoid
 * εᵀ diag(f) ε ≤ ρ², with the diagonal Fisher estimated from the batch gradient g,
 *
 *   f = 1 + η g² (element-wise),  ε = ρ (g/f) / (√(Σ g²/f) + 1e-12),
 *
 * the sum over **every perturbed variable together**. So ‖ε‖₂ ≤ ρ, with equality only where f = 1:
 * coordinates with a large gradient (high Fisher information, the model's output moves fast) are
 * perturbed less. η = 0 gives f = 1 and SAM's ε = ρ g/(‖g‖₂ + 1e-12) exactly (bit for bit the same
 * as `gradient({ rho })` of `@flatmin/perturb-gradient`). A zero gradient gives ε = 0, never NaN;
 * ρ = 0 gives ε = 0. The radius used is the step's `context.rho`. No random draws, no state, no
 * host reads. The formula is the paper's (its radius γ is ρ here); see the README for what was compared.
 *
 * `config` is `{ rho, eta }`; the factory is registered as `('perturbation', 'fisher')`.
 *
 * @param options see {@link FisherOptions}; invalid values throw a `FlatminConfigError` naming the key.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs';
 * import { sharpnessAware } from '@flatmin/core';
 * import { fisher } from '@flatmin/perturb-adaptive';
 *
 * const fsam = sharpnessAware({ base: tf.train.sgd(0.1), perturbation: fisher({ rho: 0.1, eta: 1 }) });
 * ```
 */
export function fisher(options?: FisherOptions): Perturbation {
  const checked = checkOptions(options, KNOWN_KEYS, WHERE);
  const rho = checkNumber('rho', checked.rho === undefined ? 0.1 : checked.rho, { min: 0 }, WHERE);
  const eta = checkNumber('eta', checked.eta === undefined ? 1 : checked.eta, { min: 0 }, WHERE);
  const config = Object.freeze({ rho, eta });

  return {
    kind: 'perturbation',
    name: 'fisher',
    config,
    rho,
    needsGradient: true,
    // ε_i is g_i/(1 + η g_i²) over a global norm: 0 where g_i is.
    vanishesWithGradient: true,
    compute(context: PerturbationContext): { epsilon: NamedTensors } {
      if (context.grads === null) {
        throw new FlatminError('fisher() needs the clean gradient, but no clean pass was made (context.grads is null).');
      }
      const grads = pickNamed(context.grads, context.variables);
      // u = g/f. With η = 0 f is 1: u is g itself, so ε is SAM's to the bit (and η·g² = 0·∞ cannot make NaN).
      const natural: NamedTensors = {};
      for (const [name, g] of Object.entries(grads)) {
        natural[name] = eta === 0 ? g : elementwise.div(g, elementwise.add(1, elementwise.mul(eta, tf.square(g))));
      }
      // Σ g²/f = Σ g·u over all variables.
      const norm = tf.sqrt(globalDot(grads, natural));
      const factor = elementwise.div(context.rho, elementwise.add(norm, context.normEpsilon));
      const epsilon: NamedTensors = {};
      for (const [name, u] of Object.entries(natural)) epsilon[name] = elementwise.mul(u, factor);
      return { epsilon };
    },
  };
}

registerComponent('perturbation', 'fisher', (config) => fisher(config as FisherOptions));
