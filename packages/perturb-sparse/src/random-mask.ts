/**
 * ESAM's stochastic weight perturbation: each variable perturbed with probability β.
 *
 * @module
 */
import type { JsonValue } from '@flatmin/core';
import { checkNumber, checkOptions } from '@flatmin/core/kit';
import { type Mask, type MaskContext, type MaskSelection, registerMask } from './mask.js';

/**
 * Options of {@link randomMask}.
 *
 * @example
 * ```ts
 * const options: RandomMaskOptions = { keep: 0.6 };
 * ```
 */
export interface RandomMaskOptions {
  /** β, the probability that a variable is perturbed at a step, in (0, 1] (default 0.5). 1 keeps every variable: exactly the inner perturbation. */
  keep?: number;
}

const WHERE = 'randomMask';
const KEYS = ['keep'] as const;

/**
 * ESAM-style random mask (Du, Yan, Feng, Zhou, Zhen, Goh & Tan, "Efficient Sharpness-aware
 * Minimization for Improved Training of Neural Networks", ICLR 2022 — stochastic weight
 * perturbation): at every sharp step each perturbed **variable** (a whole tensor) is kept with
 * probability β = `keep`, independently, and the kept ε is scaled by 1/β. The draws are host
 * uniforms from the optimizer's seeded `context.random` (same seed, same masks; no device read, no
 * state). With `sparse`'s default `normalize: 'masked'` the inner perturbation sees only the
 * kept variables' gradients, so for SAM ε_v = ρ g_v/(β‖g_S‖) on the kept set S — what the
 * official ESAM code does (the dropped parameters get no gradient in its first pass, so they are
 * left out of the norm). `keep: 1` draws nothing and is exactly the inner perturbation.
 *
 * @param options see {@link RandomMaskOptions}; a bad value throws a `FlatminConfigError` naming the key.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs';
 * import { sharpnessAware } from '@flatmin/core';
 * import { gradient } from '@flatmin/perturb-gradient';
 * import { randomMask, sparse } from '@flatmin/perturb-sparse';
 *
 * const optimizer = sharpnessAware({ base: tf.train.sgd(0.1), perturbation: sparse(gradient({ rho: 0.05 }), randomMask({ keep: 0.5 })), seed: 7 });
 * ```
 */
export function randomMask(options?: RandomMaskOptions): Mask {
  const { keep: given } = checkOptions(options, KEYS, WHERE);
  const keep = checkNumber('keep', given === undefined ? 0.5 : given, { min: 0, minExclusive: true, max: 1 }, WHERE);
  return {
    kind: 'mask',
    name: WHERE,
    config: Object.freeze({ keep }),
    needsGradient: false,
    select({ variables, random }: MaskContext): MaskSelection {
      if (keep === 1) return { masks: {} };
      const masks: Record<string, boolean> = {};
      for (const variable of variables) masks[variable.name] = random.uniform() < keep;
      return { masks, scale: 1 / keep };
    },
  };
}

registerMask(WHERE, (config: Record<string, JsonValue>) => randomMask(config as RandomMaskOptions));
