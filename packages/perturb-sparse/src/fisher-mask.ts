/**
 * SSAM-F's mask: keep the coordinates with the largest (empirical) Fisher information.
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import type { ComponentState, JsonValue } from '@flatmin/core';
import { checkNumber, checkOptions, elementwise, variableKey } from '@flatmin/core/kit';
import {
  keptCount,
  type Mask,
  type MaskContext,
  type MaskSelection,
  REFRESHED_AT,
  registerMask,
  storedPerVariable,
  tensorOfShape,
  topMasks,
  withGradient,
} from './mask.js';

/**
 * Options of {@link fisherMask}.
 *
 * @example
 * ```ts
 * const options: FisherMaskOptions = { sparsity: 0.5, updateEvery: 5, samples: 16 };
 * ```
 */
export interface FisherMaskOptions {
  /** s, the fraction of coordinates NOT perturbed, in [0, 1) (default 0.5); round((1 − s)·d) are kept. 0 keeps all: exactly the inner perturbation. */
  sparsity?: number;
  /** K, refresh the mask every K steps (an integer ≥ 1, default 5). */
  updateEvery?: number;
  /**
   * The number of squared gradients the Fisher estimate averages (an integer ≥ 1, default 16):
   * with per-sample losses (a custom loop returning `{ loss, perSample }`), the gradients of the
   * first `samples` samples' losses at a refresh (the paper's empirical Fisher); without them
   * (`model.fit`), the window of the squared batch-gradient EMA, decay λ = 1 − 1/samples.
   */
  samples?: number;
}

const WHERE = 'fisherMask';
const KEYS = ['sparsity', 'updateEvery', 'samples'] as const;
const FISHER = 'fisher';
const MASK = 'mask';

/**
 * SSAM-F's Fisher mask (Mi, Shen, Ren, Zhou, Sun, Ji & Tao, "Make Sharpness-Aware Minimization
 * Stronger: A Sparsified Perturbation Approach", NeurIPS 2022): keep the global top
 * round((1 − s)·d) coordinates of the diagonal empirical Fisher F over all perturbed variables
 * together (d their total size), refreshed every `updateEvery` steps. Use it with {@link sparse}.
 *
 * **The Fisher estimate.** When the loss closure returns per-sample losses (a custom loop:
 * `() => ({ loss, perSample })`), the paper's empirical Fisher: at each refresh,
 * F_i = (1/m) Σₙ (∂ℓₙ/∂w_i)² over the first m = min(`samples`, batch) samples, each gradient one
 * more forward-backward at w (`context.gradientOf`: m extra loss evaluations on a refresh step,
 * none on the others). Without them (`model.fit` passes a plain closure), the documented
 * fallback: the squared batch-gradient EMA F ← λF + (1 − λ)g², λ = 1 − 1/samples, F₀ = g₀²,
 * updated at every sharp step.
 *
 * The mask is F ≥ t, t the k-th largest F over all perturbed variables (k = round((1 − s)·d)),
 * found on the device by an unsorted `tf.topk` over the concatenated scores, then compared per
 * variable: no host read. Without ties at t that is exactly the top k; coordinates whose F equals
 * the k-th largest are all kept (then more than k ones: e.g. with many exact zeros in F, where the
 * inner ε is zero too for a gradient-based inner perturbation). State: the
 * Fisher EMA and the mask per variable (`name:fisher`, `name:mask`) and the step of the last
 * refresh; all of it is saved by `getWeights`. The first sharp step builds the mask; then it is
 * rebuilt at the first sharp step at least `updateEvery` steps after the last refresh.
 *
 * @param options see {@link FisherMaskOptions}; a bad value throws a `FlatminConfigError` naming the key.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs';
 * import { sharpnessAware } from '@flatmin/core';
 * import { gradient } from '@flatmin/perturb-gradient';
 * import { fisherMask, sparse } from '@flatmin/perturb-sparse';
 *
 * const ssamF = sharpnessAware({
 *   base: tf.train.momentum(0.05, 0.9),
 *   perturbation: sparse(gradient({ rho: 0.1 }), fisherMask({ sparsity: 0.5, updateEvery: 5 })),
 * });
 * ```
 */
export function fisherMask(options?: FisherMaskOptions): Mask {
  const checked = checkOptions(options, KEYS, WHERE);
  const sparsity = checkNumber('sparsity', checked.sparsity === undefined ? 0.5 : checked.sparsity, { min: 0, max: 1, maxExclusive: true }, WHERE);
  const updateEvery = checkNumber('updateEvery', checked.updateEvery === undefined ? 5 : checked.updateEvery, { integer: true, min: 1 }, WHERE);
  const samples = checkNumber('samples', checked.samples === undefined ? 16 : checked.samples, { integer: true, min: 1 }, WHERE);
  const decay = 1 - 1 / samples;
  return {
    kind: 'mask',
    name: WHERE,
    config: Object.freeze({ sparsity, updateEvery, samples }),
    needsGradient: true,
    select(context: MaskContext, state: ComponentState): MaskSelection {
      const grads = context.grads!;
      const present = withGradient(context.variables, grads);
      const next: Record<string, tf.Tensor | number> = { ...state };
      const stored = storedPerVariable(state, present, MASK);
      const last = state[REFRESHED_AT];
      const refresh = stored === null || typeof last !== 'number' || context.step - last >= updateEvery;
      const perSample = context.objective?.perSample ?? null;
      if (perSample !== null && context.gradientOf !== undefined) {
        // The empirical Fisher from per-sample gradients, computed only when the mask is rebuilt.
        let masks = stored ?? [];
        if (refresh && present.length > 0) {
          const fisher = empiricalFisher(context.gradientOf, present, Math.min(samples, perSample.shape[0]));
          const total = present.reduce((sum, v) => sum + v.size, 0);
          masks = topMasks(fisher, keptCount(sparsity, total));
          present.forEach((variable, i) => {
            next[variableKey(variable.name, MASK)] = masks[i]!;
          });
        }
        if (refresh) next[REFRESHED_AT] = context.step;
        return { masks: Object.fromEntries(present.map((v, i) => [v.name, masks[i]!])), state: next };
      }
      const fisher = present.map((variable) => {
        const key = variableKey(variable.name, FISHER);
        const squared = tf.square(grads[variable.name]!);
        const old = tensorOfShape(state[key], variable.shape);
        const value = old === null || decay === 0 ? squared : elementwise.add(elementwise.mul(old, decay), elementwise.mul(squared, 1 - decay));
        next[key] = value;
        return value;
      });
      let masks = stored ?? [];
      if (refresh && present.length > 0) {
        const total = present.reduce((sum, v) => sum + v.size, 0);
        masks = topMasks(fisher, keptCount(sparsity, total));
        present.forEach((variable, i) => {
          next[variableKey(variable.name, MASK)] = masks[i]!;
        });
      }
      if (refresh) next[REFRESHED_AT] = context.step;
      return { masks: Object.fromEntries(present.map((v, i) => [v.name, masks[i]!])), state: next };
    },
  };
}

/** (1/m) Σₙ (∇ℓₙ)² over the first m samples, per variable (a variable a sample does not reach adds 0). */
function empiricalFisher(gradientOf: NonNullable<MaskContext['gradientOf']>, variables: readonly tf.Variable[], m: number): tf.Tensor[] {
  const sums = variables.map((v) => tf.zeros(v.shape) as tf.Tensor);
  for (let n = 0; n < m; n += 1) {
    const { grads: g } = gradientOf(({ perSample }) => tf.sum(tf.slice(perSample!, [n], [1])) as tf.Scalar);
    variables.forEach((variable, i) => {
      const gi = g[variable.name];
      if (gi !== undefined) sums[i] = elementwise.add(sums[i]!, tf.square(gi));
    });
  }
  return sums.map((sum) => elementwise.div(sum, m));
}

registerMask(WHERE, (config: Record<string, JsonValue>) => fisherMask(config as FisherMaskOptions));
