/**
 * FriendlySAM's perturbation: ε along the clean gradient with its running mean (the full-gradient
 * component) taken out.
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import type { ComponentState, NamedTensors, Perturbation, PerturbationContext } from '@flatmin/core';
import { checkChoice, checkNumber, checkOptions, elementwise, registerComponent, shareData, variableKey } from '@flatmin/core/kit';
import { alongDirection, cleanGradients, nextState, STARTED, selectStarted, stored } from './direction.js';

/**
 * Options of {@link friendly}: FriendlySAM (Li, Zhou, He, Cheng & Huang, CVPR 2024,
 * "Friendly Sharpness-Aware Minimization").
 *
 * @example
 * ```ts
 * const options: FriendlyOptions = { rho: 0.2, sigma: 1, lambda: 0.6, variant: 'seed' };
 * const perturbation = friendly(options);
 * ```
 */
export interface FriendlyOptions {
  /** The radius ρ, a finite number ≥ 0 (default 0.05; 0 reduces exactly to the base optimizer). A schedule may pass another ρ per step. */
  rho?: number;
  /** σ, how much of the running mean is removed from g, a finite number (default 1; 0 is SAM exactly). */
  sigma?: number;
  /** λ, the decay of the running mean m of the clean gradients, in [0, 1) (default 0.9). */
  lambda?: number;
  /**
   * `'seed'` (default): m_t = λ m_{t−1} + (1−λ) g_t from m_{−1} = 0, then d_t = g_t − σ m_t
   * (Algorithm 3 of the seed). `'official'`: the nblt/F-SAM code — d_t = g_t − σ m_{t−1} with
   * the mean before this step's update, and m₁ = g₁ (the first step is SAM's).
   */
  variant?: 'seed' | 'official';
}

const WHERE = 'friendly';
const KNOWN_KEYS = ['rho', 'sigma', 'lambda', 'variant'] as const;
const VARIANTS = ['seed', 'official'] as const;
/** The state slot of a variable's running mean m of the clean gradients. */
const MOMENTUM = 'momentum';

/**
 * The FriendlySAM perturbation (Li, Zhou, He, Cheng & Huang, CVPR 2024, "Friendly
 * Sharpness-Aware Minimization"). The batch gradient g_t holds a full-gradient component
 * (estimated by a running mean m of past batch gradients) and a batch-specific component; F-SAM
 * perturbs along the batch-specific one only, with one global norm over every perturbed variable:
 *
 * - `variant: 'seed'` (default, Algorithm 3 of the seed): m_t = λ m_{t−1} + (1−λ) g_t with
 *   m_{−1} = 0; d_t = g_t − σ m_t; ε = ρ d_t / (‖d_t‖ + 1e-12).
 * - `variant: 'official'` (the authors' code, nblt/F-SAM): d_t = g_t − σ m_{t−1}, then
 *   m_t = λ m_{t−1} + (1−λ) g_t; on a variable's first step m₁ = g₁ and d₁ = g₁ (SAM's ε).
 *
 * m is kept per variable in the component state under `` `${variable.name}:momentum` `` (the
 * `'official'` variant also keeps a device scalar `` `${variable.name}:started` ``, so a skipped
 * non-finite first step reads as "not started" again), created lazily and saved by
 * `getWeights`. A variable with no gradient this step gets no ε and keeps its m. The running
 * mean advances on sharp steps only (a schedule's non-sharp steps do not call the perturbation).
 * σ = 0 is SAM exactly; ρ = 0 gives ε = 0; a zero d gives ε = 0, never NaN.
 *
 * @param options see {@link FriendlyOptions}; invalid values throw a `FlatminConfigError` naming the key.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs';
 * import { sharpnessAware } from '@flatmin/core';
 * import { friendly } from '@flatmin/perturb-friendly';
 *
 * const fsam = sharpnessAware({ base: tf.train.momentum(0.05, 0.9), perturbation: friendly({ rho: 0.2, lambda: 0.6 }) });
 * const asInTheCode = friendly({ rho: 0.2, lambda: 0.6, variant: 'official' });
 * ```
 */
export function friendly(options?: FriendlyOptions): Perturbation {
  const checked = checkOptions(options, KNOWN_KEYS, WHERE);
  const rho = checkNumber('rho', checked.rho === undefined ? 0.05 : checked.rho, { min: 0 }, WHERE);
  const sigma = checkNumber('sigma', checked.sigma === undefined ? 1 : checked.sigma, {}, WHERE);
  const lambda = checkNumber('lambda', checked.lambda === undefined ? 0.9 : checked.lambda, { min: 0, max: 1, maxExclusive: true }, WHERE);
  const variant = checked.variant === undefined ? 'seed' : checkChoice('variant', checked.variant, VARIANTS, WHERE);
  const step = variant === 'seed' ? seedStep : officialStep;
  return {
    kind: 'perturbation',
    name: WHERE,
    config: Object.freeze({ rho, sigma, lambda, variant }),
    rho,
    needsGradient: true,
    compute(context: PerturbationContext, state: ComponentState) {
      const grads = cleanGradients(context, WHERE);
      const directions: NamedTensors = {};
      const fresh: Record<string, tf.Tensor> = {};
      for (const [name, g] of Object.entries(grads)) {
        const { direction, momentum, started } = step(g, state, name, sigma, lambda);
        directions[name] = direction;
        fresh[variableKey(name, MOMENTUM)] = momentum;
        if (started !== undefined) fresh[variableKey(name, STARTED)] = started;
      }
      return { ...alongDirection(directions, context), state: nextState(state, fresh) };
    },
  };
}

interface FriendlyStep {
  direction: tf.Tensor;
  momentum: tf.Tensor;
  started?: tf.Tensor;
}

/** m_t = λ m_{t−1} + (1−λ) g_t (m_{−1} = 0), d_t = g_t − σ m_t. A missing m is 0, as a skipped first step's zeros are. */
function seedStep(g: tf.Tensor, state: ComponentState, name: string, sigma: number, lambda: number): FriendlyStep {
  const previous = stored(state, name, MOMENTUM);
  const fromGradient = elementwise.mul(g, 1 - lambda);
  const momentum = previous === undefined ? fromGradient : elementwise.add(elementwise.mul(previous, lambda), fromGradient);
  return { direction: elementwise.sub(g, timesSigma(momentum, sigma)), momentum };
}

/**
 * d_t = g_t − σ m_{t−1}, m_t = λ m_{t−1} + (1−λ) g_t, and m₁ = g₁ on the first step. With no state
 * the first step is d = g, m = g; a stored flag of 0 (a skipped first step left zeros) gives the
 * same values exactly through the device formula.
 */
function officialStep(g: tf.Tensor, state: ComponentState, name: string, sigma: number, lambda: number): FriendlyStep {
  const previous = stored(state, name, MOMENTUM);
  if (previous === undefined) return { direction: g, momentum: shareData(g), started: tf.scalar(1) };
  const started = stored(state, name, STARTED);
  const running = elementwise.add(elementwise.mul(previous, lambda), elementwise.mul(g, 1 - lambda));
  return {
    direction: elementwise.sub(g, timesSigma(previous, sigma)),
    momentum: started === undefined ? running : selectStarted(started, running, g),
    started: tf.scalar(1),
  };
}

/** σ·x, with no operation at the default σ = 1 (x·1 is x exactly, NaN and −0 included). */
function timesSigma(x: tf.Tensor, sigma: number): tf.Tensor {
  return sigma === 1 ? x : elementwise.mul(x, sigma);
}

registerComponent('perturbation', WHERE, (config) => friendly(config as FriendlyOptions));
