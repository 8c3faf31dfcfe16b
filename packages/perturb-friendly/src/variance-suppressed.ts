/**
 * VaSSO's perturbation: ε along a running mean of the clean gradients, a lower-variance estimate
 * of the full gradient than one batch's.
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import type { ComponentState, NamedTensors, Perturbation, PerturbationContext } from '@flatmin/core';
import { checkNumber, checkOptions, elementwise, registerComponent, shareData, variableKey } from '@flatmin/core/kit';
import { alongDirection, cleanGradients, nextState, STARTED, selectStarted, stored } from './direction.js';

/**
 * Options of {@link varianceSuppressed}: VaSSO (Li & Giannakis, NeurIPS 2023, "Enhancing
 * Sharpness-Aware Optimization Through Variance Suppression").
 *
 * @example
 * ```ts
 * const options: VarianceSuppressedOptions = { rho: 0.1, theta: 0.4 };
 * const perturbation = varianceSuppressed(options);
 * ```
 */
export interface VarianceSuppressedOptions {
  /** The radius ρ, a finite number ≥ 0 (default 0.05; 0 reduces exactly to the base optimizer). A schedule may pass another ρ per step. */
  rho?: number;
  /** θ, the weight of the newest gradient in d_t = (1−θ) d_{t−1} + θ g_t, in (0, 1] (default 0.9; 1 is SAM exactly). */
  theta?: number;
}

const WHERE = 'varianceSuppressed';
const KNOWN_KEYS = ['rho', 'theta'] as const;
/** The state slot of a variable's running mean d of the clean gradients. */
const AVERAGE = 'average';

/**
 * The VaSSO perturbation (Li & Giannakis, NeurIPS 2023, "Enhancing Sharpness-Aware Optimization
 * Through Variance Suppression"): SAM's ascent direction from a running mean of the batch
 * gradients instead of one batch's, which suppresses the variance of the adversary:
 *
 * d_t = (1−θ) d_{t−1} + θ g_t,  ε = ρ d_t / (‖d_t‖ + 1e-12) (one global norm).
 *
 * The first step of each variable starts the mean at its gradient, d₀ = g₀, as the authors' code
 * (BingcongLi/VaSSO) does, so the first ε is SAM's. d is kept per variable in the component
 * state under `` `${variable.name}:average` `` with a device scalar `` `${variable.name}:started` ``
 * (a skipped non-finite first step reads as "not started" again), created lazily and saved by
 * `getWeights`. A variable with no gradient this step gets no ε and keeps its d. The mean advances
 * on sharp steps only. θ = 1 is SAM exactly; ρ = 0 gives ε = 0; a zero d gives ε = 0, never NaN.
 *
 * @param options see {@link VarianceSuppressedOptions}; invalid values throw a `FlatminConfigError` naming the key.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs';
 * import { sharpnessAware } from '@flatmin/core';
 * import { varianceSuppressed } from '@flatmin/perturb-friendly';
 *
 * const vasso = sharpnessAware({ base: tf.train.momentum(0.05, 0.9), perturbation: varianceSuppressed({ rho: 0.1, theta: 0.4 }) });
 * ```
 */
export function varianceSuppressed(options?: VarianceSuppressedOptions): Perturbation {
  const checked = checkOptions(options, KNOWN_KEYS, WHERE);
  const rho = checkNumber('rho', checked.rho === undefined ? 0.05 : checked.rho, { min: 0 }, WHERE);
  const theta = checkNumber('theta', checked.theta === undefined ? 0.9 : checked.theta, { min: 0, minExclusive: true, max: 1 }, WHERE);
  return {
    kind: 'perturbation',
    name: WHERE,
    config: Object.freeze({ rho, theta }),
    rho,
    needsGradient: true,
    compute(context: PerturbationContext, state: ComponentState) {
      const grads = cleanGradients(context, WHERE);
      const directions: NamedTensors = {};
      const fresh: Record<string, tf.Tensor> = {};
      for (const [name, g] of Object.entries(grads)) {
        const d = average(g, state, name, theta);
        directions[name] = d;
        fresh[variableKey(name, AVERAGE)] = d === g ? shareData(g) : d;
        fresh[variableKey(name, STARTED)] = tf.scalar(1);
      }
      return { ...alongDirection(directions, context), state: nextState(state, fresh) };
    },
  };
}

/**
 * d_t = (1−θ) d_{t−1} + θ g_t, and d₀ = g₀ on a variable's first step (no state, or a stored flag
 * of 0 that a skipped first step left behind: the same values exactly).
 */
function average(g: tf.Tensor, state: ComponentState, name: string, theta: number): tf.Tensor {
  const previous = stored(state, name, AVERAGE);
  if (previous === undefined) return g;
  const running = elementwise.add(elementwise.mul(previous, 1 - theta), elementwise.mul(g, theta));
  const started = stored(state, name, STARTED);
  return started === undefined ? running : selectStarted(started, running, g);
}

registerComponent('perturbation', WHERE, (config) => varianceSuppressed(config as VarianceSuppressedOptions));
