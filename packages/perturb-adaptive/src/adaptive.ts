/**
 * ASAM's perturbation: ε = ρ·T_w²g/‖T_w g‖ with the scale operator T_w = |w| + η, element-wise or
 * per filter.
 *
 * @module
 */

import { FlatminConfigError, FlatminError, type NamedTensors, type Perturbation, type PerturbationContext } from '@flatmin/core';
import { checkChoice, checkNumber, checkOptions, elementwise, filterNorms, globalNorm, lastAxisVector, registerComponent } from '@flatmin/core/kit';
import * as tf from '@tensorflow/tfjs-core';

/**
 * Which variables ASAM adapts (the others use T = 1, i.e. SAM's ε there): a predicate on the
 * variable, or one of the names a config can store — `'rank>=2'` (the default: kernels and
 * embeddings; biases and norm scales are not adapted) and `'all'` (every perturbed variable).
 *
 * @example
 * ```ts
 * const kernelsOnly: AdaptWhere = 'rank>=2';
 * const likeTheOfficialCode: AdaptWhere = (v) => v.shape.length >= 2 || v.name.endsWith('/gamma');
 * ```
 */
export type AdaptWhere = 'rank>=2' | 'all' | ((variable: tf.Variable) => boolean);

/**
 * Options of {@link adaptive}: ASAM (Kwon, Kim, Park & Choi, "ASAM: Adaptive Sharpness-Aware
 * Minimization for Scale-Invariant Learning of Deep Neural Networks", ICML 2021).
 *
 * @example
 * ```ts
 * const options: AdaptiveOptions = { rho: 0.5, eta: 0.01, granularity: 'filter' };
 * const perturbation = adaptive(options);
 * ```
 */
export interface AdaptiveOptions {
  /** The radius ρ, a finite number ≥ 0 (default 0.5, the paper's CIFAR-10 value; 0 reduces exactly to the base optimizer). A schedule may pass another ρ per step. */
  rho?: number;
  /** η of T_w = |w| + η, a finite number ≥ 0 (default 0.01): keeps zero weights perturbable. */
  eta?: number;
  /**
   * `'element'` (default): T = |w_i| + η for every entry. `'filter'`: T = ‖W_:,j‖ + η for every
   * entry of filter j, a filter being an index of the **last** axis (tfjs layout: dense kernel
   * [in, out], conv kernel [h, w, in, out]) and the norm taken over all the other axes; an adapted
   * rank-1 or rank-0 variable is one filter.
   */
  granularity?: 'element' | 'filter';
  /**
   * Which perturbed variables are adapted (default `'rank>=2'`); see {@link AdaptWhere}. A
   * predicate is called on the host with each variable at every sharp step and must return a
   * boolean. It cannot be saved: `config.adaptWhere` is then `'custom'`, and rebuilding from that
   * config (`fromConfig`, `tf.loadLayersModel`) throws a `FlatminConfigError` for `adaptWhere`.
   */
  adaptWhere?: AdaptWhere;
}

const WHERE = 'adaptive';
const KNOWN_KEYS = ['rho', 'eta', 'granularity', 'adaptWhere'] as const;
const GRANULARITIES = ['element', 'filter'] as const;
const NAMED_WHERE = ['rank>=2', 'all'] as const;
const CUSTOM = 'custom';

/**
 * The ASAM perturbation (Kwon, Kim, Park & Choi, "ASAM: Adaptive Sharpness-Aware Minimization for
 * Scale-Invariant Learning of Deep Neural Networks", ICML 2021): the first-order worst case over
 * the ellipsoid ‖T_w⁻¹ε‖₂ ≤ ρ, so that rescaling a weight rescales its perturbation:
 *
 *   ε = ρ T_w² g / (‖T_w g‖₂ + 1e-12), T_w = |w| + η (`'element'`) or ‖W_:,j‖ + η (`'filter'`),
 *
 * with **one global norm over every perturbed variable together**. w is the variable's value at
 * the clean point, g its clean gradient. Variables outside `adaptWhere` (by default those of rank
 * < 2: biases, norm scales) take T = 1. The radius used is the step's `context.rho`. A zero
 * gradient gives ε = 0 (never NaN), and so does ρ = 0. No random draws, no state, no host reads.
 *
 * Differences from the official code (SamsungLabs/ASAM): it adapts the parameters whose name
 * contains "weight" — in PyTorch that is the kernels and also the BatchNorm/LayerNorm scales,
 * not the biases (pass `adaptWhere: (v) => v.shape.length >= 2 || v.name.endsWith('/gamma')` for
 * that choice); it is element-wise only (`'filter'` follows the paper's filter-wise variant, here in
 * tfjs layout); it adds 1e-16 to the norm where flatmin adds 1e-12; and it removes ε by subtracting
 * it (flatmin restores the weights exactly).
 *
 * `config` is `{ rho, eta, granularity, adaptWhere }` with `adaptWhere` `'rank>=2'`, `'all'` or
 * `'custom'` (a predicate); the factory is registered as `('perturbation', 'adaptive')`.
 *
 * @param options see {@link AdaptiveOptions}; invalid values throw a `FlatminConfigError` naming the key.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs';
 * import { sharpnessAware } from '@flatmin/core';
 * import { adaptive } from '@flatmin/perturb-adaptive';
 *
 * const asam = sharpnessAware({ base: tf.train.momentum(0.1, 0.9), perturbation: adaptive({ rho: 0.5 }) });
 * const filterWise = sharpnessAware({ base: tf.train.sgd(0.1), perturbation: adaptive({ rho: 0.5, granularity: 'filter' }) });
 * ```
 */
export function adaptive(options?: AdaptiveOptions): Perturbation {
  const checked = checkOptions(options, KNOWN_KEYS, WHERE);
  const rho = checkNumber('rho', checked.rho === undefined ? 0.5 : checked.rho, { min: 0 }, WHERE);
  const eta = checkNumber('eta', checked.eta === undefined ? 0.01 : checked.eta, { min: 0 }, WHERE);
  const granularity = checked.granularity === undefined ? 'element' : checkChoice('granularity', checked.granularity, GRANULARITIES, WHERE);
  const adapted = resolveAdaptWhere(checked.adaptWhere);
  const config = Object.freeze({ rho, eta, granularity, adaptWhere: adapted.stored });

  return {
    kind: 'perturbation',
    name: 'adaptive',
    config,
    rho,
    needsGradient: true,
    // ε_i is g_i times T_i² (T = |w| + η, the filter norm + η, or 1), over a global norm: 0 where g_i is.
    vanishesWithGradient: true,
    compute(context: PerturbationContext): { epsilon: NamedTensors } {
      if (context.grads === null) {
        throw new FlatminError('adaptive() needs the clean gradient, but no clean pass was made (context.grads is null).');
      }
      const scales = new Map<string, tf.Tensor>(); // T_w of the adapted variables; the others are T = 1
      const scaled: NamedTensors = {}; // T_w g
      for (const variable of context.variables) {
        const g = context.grads[variable.name];
        if (g === undefined) continue;
        if (adapted.test(variable)) {
          const scale = elementwise.add(granularity === 'element' ? tf.abs(variable) : lastAxisVector(filterNorms(variable)), eta);
          scales.set(variable.name, scale);
          scaled[variable.name] = elementwise.mul(scale, g);
        } else {
          scaled[variable.name] = g;
        }
      }
      const factor = elementwise.div(context.rho, elementwise.add(globalNorm(scaled), context.normEpsilon));
      const epsilon: NamedTensors = {};
      for (const [name, tg] of Object.entries(scaled)) {
        const scale = scales.get(name);
        epsilon[name] = elementwise.mul(scale === undefined ? tg : elementwise.mul(scale, tg), factor);
      }
      return { epsilon };
    },
  };
}

/** The host test and the stored form of `adaptWhere`. */
function resolveAdaptWhere(value: unknown): { test: (variable: tf.Variable) => boolean; stored: string } {
  if (value === undefined || value === 'rank>=2') return { test: (v) => v.shape.length >= 2, stored: 'rank>=2' };
  if (value === 'all') return { test: () => true, stored: 'all' };
  if (typeof value === 'function') {
    const predicate = value as (variable: tf.Variable) => unknown;
    return {
      stored: CUSTOM,
      test: (variable) => {
        const verdict = predicate(variable);
        if (typeof verdict !== 'boolean') {
          throw new FlatminError(`adaptive(): adaptWhere(${variable.name}) returned ${String(verdict)}; it must return true or false.`);
        }
        return verdict;
      },
    };
  }
  if (value === CUSTOM) {
    throw new FlatminConfigError(
      'adaptWhere',
      value,
      "a predicate (variable) => boolean, 'rank>=2' or 'all' — this config was saved from a custom predicate, which cannot be serialized: rebuild the optimizer with adaptive({ adaptWhere })",
      WHERE,
    );
  }
  throw new FlatminConfigError('adaptWhere', value, `a predicate (variable) => boolean, or one of ${NAMED_WHERE.map((n) => `'${n}'`).join(', ')}`, WHERE);
}

registerComponent('perturbation', 'adaptive', (config) => adaptive(config as AdaptiveOptions));
