/**
 * Gradient combiners: how the clean gradient g = ∇L(w) and the adversarial gradient
 * g_adv = ∇L(w + ε) make the update direction.
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { elementwise } from './elementwise.js';
import { checkNumber, checkOptions } from './errors.js';
import { registerComponent } from './registry.js';
import { globalDot, mapNamed, sumOfSquares } from './tensor-math.js';
import type { Combiner, NamedTensors } from './types.js';

/**
 * SAM's combiner (the default): the update direction is the adversarial gradient,
 * g_final = g_adv (Foret et al., ICLR 2021).
 *
 * @example
 * ```ts
 * const optimizer = sharpnessAware({ base: tf.train.sgd(0.1), perturbation: gradient(), combiner: adversarial() });
 * ```
 */
export function adversarial(options?: Record<string, never>): Combiner {
  checkOptions(options, [], 'adversarial');
  return {
    kind: 'combiner',
    name: 'adversarial',
    config: {},
    needsGradient: false,
    combine: (context) => ({ grads: { ...context.gradsAdv } }),
  };
}

/** Options of {@link mix}. */
export interface MixOptions {
  /** Weight λ ∈ [0, 1] of the adversarial gradient (default 0.5). λ = 1 is SAM, λ = 0 the base optimizer's gradient. */
  lambda?: number;
}

/**
 * RWP's combiner (Li et al., "Revisiting Random Weight Perturbation for Efficiently
 * Improving Generalization", 2023): g_final = λ g_adv + (1 − λ) g. Pair it with a noise
 * perturbation for RWP, or with `gradient()` for a SAM/SGD blend. `mix({ lambda: 1 })` is SAM.
 *
 * @example
 * ```ts
 * const optimizer = sharpnessAware({ base: tf.train.sgd(0.1), perturbation: gradient({ rho: 0.05 }), combiner: mix({ lambda: 0.5 }) });
 * ```
 */
export function mix(options?: MixOptions): Combiner {
  const { lambda: given } = checkOptions(options, ['lambda'], 'mix');
  const lambda = checkNumber('lambda', given === undefined ? 0.5 : given, { min: 0, max: 1 }, 'mix');
  return {
    kind: 'combiner',
    name: 'mix',
    config: { lambda },
    needsGradient: lambda !== 1,
    combine: ({ grads, gradsAdv }) => {
      if (lambda === 1 || grads === null) return { grads: { ...gradsAdv } };
      const out: NamedTensors = {};
      for (const [name, adv] of Object.entries(gradsAdv)) {
        const clean = grads[name];
        out[name] = clean === undefined ? elementwise.mul(adv, lambda) : elementwise.add(elementwise.mul(adv, lambda), elementwise.mul(clean, 1 - lambda));
      }
      return { grads: out };
    },
  };
}

/** Options of {@link surrogateGap}. */
export interface SurrogateGapOptions {
  /** Weight α ≥ 0 of the ascent along g_⊥ (default 0.4). α = 0 is SAM. */
  alpha?: number;
}

/**
 * GSAM's combiner (Zhuang et al., "Surrogate Gap Guided Sharpness-Aware Minimization",
 * ICLR 2022): decompose the clean gradient into the part parallel to g_adv and the
 * orthogonal rest g_⊥ = g − (g·g_adv/‖g_adv‖²) g_adv, then g_final = g_adv − α g_⊥
 * (one global dot product over all updated variables). `surrogateGap({ alpha: 0 })` is SAM.
 *
 * @example
 * ```ts
 * const optimizer = sharpnessAware({ base: tf.train.sgd(0.1), perturbation: gradient({ rho: 0.05 }), combiner: surrogateGap({ alpha: 0.4 }) });
 * ```
 */
export function surrogateGap(options?: SurrogateGapOptions): Combiner {
  const { alpha: given } = checkOptions(options, ['alpha'], 'surrogateGap');
  const alpha = checkNumber('alpha', given === undefined ? 0.4 : given, { min: 0 }, 'surrogateGap');
  return {
    kind: 'combiner',
    name: 'surrogateGap',
    config: { alpha },
    needsGradient: alpha !== 0,
    combine: ({ grads, gradsAdv, normEpsilon }) => {
      if (alpha === 0 || grads === null) return { grads: { ...gradsAdv } };
      const coefficient = tf.div(globalDot(grads, gradsAdv), tf.add(sumOfSquares(Object.values(gradsAdv)), normEpsilon));
      return {
        grads: mapNamed(gradsAdv, (adv, name) => {
          const clean = grads[name];
          if (clean === undefined) return adv;
          const orthogonal = elementwise.sub(clean, elementwise.mul(coefficient, adv));
          return elementwise.sub(adv, elementwise.mul(orthogonal, alpha));
        }),
      };
    },
  };
}

registerComponent('combiner', 'adversarial', () => adversarial());
registerComponent('combiner', 'mix', (config) => mix(config as MixOptions));
registerComponent('combiner', 'surrogateGap', (config) => surrogateGap(config as SurrogateGapOptions));
