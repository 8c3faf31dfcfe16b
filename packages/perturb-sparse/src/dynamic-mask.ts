/**
 * SSAM-D's mask: a random sparse mask that drops its smallest-gradient coordinates and regrows as
 * many at random, every K steps.
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import type { ComponentState, JsonValue } from '@flatmin/core';
import { checkNumber, checkOptions, variableKey } from '@flatmin/core/kit';
import { dropAndGrow } from './host-select.js';
import {
  keptCount,
  type Mask,
  type MaskContext,
  type MaskSelection,
  REFRESHED_AT,
  registerMask,
  splitFlat,
  storedPerVariable,
  topIndicator,
  withGradient,
} from './mask.js';

/**
 * Options of {@link dynamicMask}.
 *
 * @example
 * ```ts
 * const options: DynamicMaskOptions = { sparsity: 0.5, dropRate: 0.5, updateEvery: 5, totalSteps: 10_000 };
 * ```
 */
export interface DynamicMaskOptions {
  /** s, the fraction of coordinates NOT perturbed, in [0, 1) (default 0.5); round((1 − s)·d) are kept. 0 keeps all: exactly the inner perturbation. */
  sparsity?: number;
  /** The fraction of the kept coordinates dropped (and regrown) at a refresh, in [0, 1] (default 0.5). */
  dropRate?: number;
  /** K, refresh the mask every K steps (an integer ≥ 1, default 5). */
  updateEvery?: number;
  /** T, an integer ≥ 1: the drop rate is cosine-annealed from `dropRate` to 0 over T steps. Absent (default): constant. */
  totalSteps?: number;
}

const WHERE = 'dynamicMask';
const KEYS = ['sparsity', 'dropRate', 'updateEvery', 'totalSteps'] as const;
const MASK = 'mask';

/**
 * SSAM-D's dynamic mask (Mi, Shen, Ren, Zhou, Sun, Ji & Tao, "Make Sharpness-Aware Minimization
 * Stronger: A Sparsified Perturbation Approach", NeurIPS 2022). Use it with {@link sparse}.
 *
 * - The first sharp step draws a random mask of exactly k = round((1 − s)·d) ones over all
 *   perturbed variables together (d their total size): the top k of uniforms from the optimizer's
 *   seeded `context.random`.
 * - At the first sharp step at least `updateEvery` steps after the last refresh, with
 *   n = min(round(r_t·k), d − k): the n kept coordinates with the smallest |g_i| are dropped, and
 *   n coordinates chosen at random among those the mask did not keep before this refresh are
 *   grown. So ‖m‖₀ = k at every step, exactly.
 * - r_t = `dropRate`·(1 + cos(π·min(t, T)/T))/2 with T = `totalSteps` (t the optimizer's step);
 *   without `totalSteps`, r_t = `dropRate`.
 *
 * Nothing is read back on the host: on cpu and wasm the refresh is one kernel over the memory the
 * backend keeps its tensors in (a radix select, no sort), elsewhere an unsorted `tf.topk` + scatter on
 * the device; both choose the same coordinates (ties to the lower index). The mask is
 * saved per variable (`name:mask`, float32 0/1) with the step of the last refresh.
 *
 * @param options see {@link DynamicMaskOptions}; a bad value throws a `FlatminConfigError` naming the key.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs';
 * import { sharpnessAware } from '@flatmin/core';
 * import { gradient } from '@flatmin/perturb-gradient';
 * import { dynamicMask, sparse } from '@flatmin/perturb-sparse';
 *
 * const ssamD = sharpnessAware({
 *   base: tf.train.momentum(0.05, 0.9),
 *   perturbation: sparse(gradient({ rho: 0.1 }), dynamicMask({ sparsity: 0.5, dropRate: 0.5, totalSteps: 5000 })),
 *   seed: 1,
 * });
 * ```
 */
export function dynamicMask(options?: DynamicMaskOptions): Mask {
  const checked = checkOptions(options, KEYS, WHERE);
  const sparsity = checkNumber('sparsity', checked.sparsity === undefined ? 0.5 : checked.sparsity, { min: 0, max: 1, maxExclusive: true }, WHERE);
  const dropRate = checkNumber('dropRate', checked.dropRate === undefined ? 0.5 : checked.dropRate, { min: 0, max: 1 }, WHERE);
  const updateEvery = checkNumber('updateEvery', checked.updateEvery === undefined ? 5 : checked.updateEvery, { integer: true, min: 1 }, WHERE);
  const totalSteps = checked.totalSteps === undefined ? undefined : checkNumber('totalSteps', checked.totalSteps, { integer: true, min: 1 }, WHERE);
  const config = Object.freeze(totalSteps === undefined ? { sparsity, dropRate, updateEvery } : { sparsity, dropRate, updateEvery, totalSteps });
  const rateAt = (step: number): number =>
    totalSteps === undefined ? dropRate : (dropRate * (1 + Math.cos((Math.PI * Math.min(step, totalSteps)) / totalSteps))) / 2;

  return {
    kind: 'mask',
    name: WHERE,
    config,
    needsGradient: true,
    select(context: MaskContext, state: ComponentState): MaskSelection {
      const grads = context.grads!;
      const present = withGradient(context.variables, grads);
      const shapes = present.map((v) => v.shape);
      const total = present.reduce((sum, v) => sum + v.size, 0);
      const kept = keptCount(sparsity, total);
      const stored = storedPerVariable(state, present, MASK);
      const last = state[REFRESHED_AT];
      const next: Record<string, tf.Tensor | number> = { ...state };
      let masks: tf.Tensor[] | null = null;
      if (present.length === 0) {
        masks = [];
      } else if (stored === null || typeof last !== 'number') {
        masks = tf.tidy(() => splitFlat(topIndicator(context.random.uniformTensor([total]) as tf.Tensor1D, kept), shapes));
        next[REFRESHED_AT] = context.step;
      } else if (context.step - last >= updateEvery) {
        const count = Math.min(Math.round(rateAt(context.step) * kept), total - kept);
        masks =
          count === 0
            ? stored
            : tf.tidy(() => dropAndGrow(stored, present.map((v) => grads[v.name]!), context.random.uniformTensor([total]) as tf.Tensor1D, count));
        next[REFRESHED_AT] = context.step;
      }
      const chosen = masks ?? stored!;
      present.forEach((variable, i) => {
        next[variableKey(variable.name, MASK)] = chosen[i]!;
      });
      return { masks: Object.fromEntries(present.map((v, i) => [v.name, chosen[i]!])), state: next };
    },
  };
}

registerMask(WHERE, (config: Record<string, JsonValue>) => dynamicMask(config as DynamicMaskOptions));
