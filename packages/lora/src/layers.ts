/**
 * Finding the LoRA layers of a model.
 *
 * @module
 */
import type { LayersLike } from '@flatmin/core';
import { LoraDense } from './lora-dense.js';

/**
 * Every {@link LoraDense} layer of a tfjs-layers model (nested models included), in layer order.
 *
 * @param model a tfjs-layers model (or anything with a `layers` array).
 * @returns its LoRA layers.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs';
 * import { loraDense, loraLayers } from '@flatmin/lora';
 *
 * const model = tf.sequential({ layers: [loraDense({ units: 4, rank: 2, inputShape: [3] }), tf.layers.dense({ units: 1 })] });
 * loraLayers(model).length; // 1
 * ```
 */
export function loraLayers(model: LayersLike): LoraDense[] {
  const out: LoraDense[] = [];
  for (const layer of model.layers) {
    if (layer instanceof LoraDense) out.push(layer);
    else if (layer !== null && typeof layer === 'object' && Array.isArray((layer as LayersLike).layers)) out.push(...loraLayers(layer as LayersLike));
  }
  return out;
}

/** Whether `value` looks like a tfjs-layers model (has a `layers` array). */
export function isLayersLike(value: unknown): value is LayersLike {
  return value !== null && typeof value === 'object' && Array.isArray((value as LayersLike).layers);
}
