/**
 * The LoRA perturbation scopes for `sharpnessAware({ scope })`: which of W₀, A and B the
 * perturbation moves (seed's three noise-injection strategies).
 *
 * @module
 */
import type * as tf from '@tensorflow/tfjs-core';
import { FlatminConfigError, type LayersLike, type Scope } from '@flatmin/core';
import { checkChoice, checkOptions } from '@flatmin/core/kit';
import { isLayersLike, loraLayers } from './layers.js';
import type { LoraDense } from './lora-dense.js';
import { loraLayerOf, loraRole } from './roles.js';

/** The three LoRA scopes. */
export type LoraScopeKind = 'lora' | 'full' | 'origin';

/** Options of {@link loraScope}. */
export interface LoraScopeOptions {
  /**
   * Restrict the scope to this model's LoRA layers. Default: every LoRA layer whose A or B is among
   * the step's updated variables (for `'full'` and `'origin'`, W₀ is frozen and so not among them:
   * it is found from its layer's A and B).
   */
  model?: LayersLike;
}

const WHERE = 'loraScope';
const KINDS = ['lora', 'full', 'origin'] as const;

/**
 * A `scope` for `sharpnessAware` that perturbs exactly the LoRA weights of seed 002's three
 * noise-injection strategies (LoRA: Hu et al., ICLR 2022; W = W₀ + (α/r)·BA, tfjs layout
 * W₀ + (α/r)·AᵀBᵀ):
 *
 * - `'lora'`: A and B only — W₀ + (α/r)(B + ε_B)(A + ε_A). SAM-LoRA / RWP-LoRA on the adapters.
 * - `'full'`: W₀, A and B — (W₀ + ε_W) + (α/r)(B + ε_B)(A + ε_A); one global norm over the three.
 * - `'origin'`: W₀ only — (W₀ + ε_W) + (α/r)BA. Flat-LoRA (Li et al., "Flat-LoRA: Low-Rank
 *   Adaptation over a Flat Loss Landscape", 2024) perturbs here, with `filterNoise({ perInput: true })`.
 *
 * The bias and every non-LoRA variable are never perturbed. W₀ is perturbed (the adversarial pass
 * runs at W₀ + ε, then W₀ is restored bit for bit) but never updated: it is not trainable, so the
 * base optimizer never sees it. Works with every perturbation (gradient, noise, adaptive, ...).
 *
 * @param kind `'lora'`, `'full'` or `'origin'`; anything else throws a `FlatminConfigError` for `scope`.
 * @param options see {@link LoraScopeOptions} (`model` restricts the scope to one model's layers).
 * @returns a core `Scope` (a predicate for `'lora'`, `{ frozen, trainable, filter }` otherwise).
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs';
 * import { sharpnessAware } from '@flatmin/core';
 * import { gradient } from '@flatmin/perturb-gradient';
 * import { loraDense, loraScope } from '@flatmin/lora';
 *
 * const model = tf.sequential({ layers: [loraDense({ units: 1, rank: 2, inputShape: [4] })] });
 * const samLora = sharpnessAware({ base: tf.train.adam(1e-3), perturbation: gradient({ rho: 0.05 }), scope: loraScope('lora') });
 * const origin = sharpnessAware({ base: tf.train.adam(1e-3), perturbation: gradient({ rho: 0.05 }), scope: loraScope('origin') });
 * ```
 */
export function loraScope(kind: LoraScopeKind, options?: LoraScopeOptions): Scope {
  const scope = checkChoice('scope', kind, KINDS, WHERE);
  const checked = checkOptions(options, ['model'], WHERE);
  const model = checked.model;
  if (model !== undefined && !isLayersLike(model)) throw new FlatminConfigError('model', model, 'a tfjs-layers model', WHERE);
  const inModel = (v: tf.Variable) => {
    if (model === undefined) return true;
    const layer = loraLayerOf(v);
    return layer !== undefined && loraLayers(model).includes(layer);
  };
  const isFactor = (v: tf.Variable) => {
    const role = loraRole(v);
    return (role === 'lora_A' || role === 'lora_B') && inModel(v);
  };
  if (scope === 'lora') return isFactor;
  // W₀ of each LoRA layer whose A or B this step updates (core passes the updated variables).
  const kernels = (update: readonly tf.Variable[]) => {
    const layers = new Set<LoraDense>();
    for (const v of update) if (isFactor(v)) layers.add(loraLayerOf(v)!);
    return [...layers].map((layer) => layer.kernel);
  };
  if (scope === 'origin') return { frozen: kernels, trainable: false, filter: (v) => loraRole(v) === 'kernel' };
  return { frozen: kernels, trainable: true, filter: (v) => loraRole(v) === 'kernel' || isFactor(v) };
}

/**
 * Flat-LoRA's scope for a model with or without LoRA layers: the W₀ of every LoRA layer whose A or
 * B the step updates, and every updated variable that is not a LoRA weight (a plain layer's kernel
 * and bias); never A, B or a LoRA layer's bias. On a LoRA model it is `loraScope('origin')` plus
 * the plain trainable layers; on a model without LoRA layers, the trainable variables. With
 * {@link flatLoraNoise} each is scaled by the norms of its merged weight (its own, off LoRA).
 *
 * @returns a core `Scope` (`{ frozen, trainable: true, filter }`).
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs';
 * import { sharpnessAware } from '@flatmin/core';
 * import { flatLoraNoise, mergedScope } from '@flatmin/lora';
 *
 * const optimizer = sharpnessAware({ base: tf.train.adam(1e-3), perturbation: flatLoraNoise({ sigma: 0.05 }), scope: mergedScope() });
 * ```
 */
export function mergedScope(): Scope {
  const origin = loraScope('origin') as { frozen: (update: readonly tf.Variable[]) => readonly tf.Variable[] };
  return { frozen: origin.frozen, trainable: true, filter: (v) => loraRole(v) === 'kernel' || loraRole(v) === undefined };
}
