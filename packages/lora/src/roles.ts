/**
 * Which LoRA weight a variable is: W₀ (`kernel`), A, B or the bias of a {@link LoraDense}. The map
 * is keyed by the variable object itself (a weak map, filled when a layer is built), so a scope
 * names exactly these variables and never reads tfjs' process-wide variable registry.
 *
 * @module
 */
import type * as tf from '@tensorflow/tfjs-core';
import type { LoraDense } from './lora-dense.js';

/** The four weights of a LoRA dense layer, by their weight names. */
export type LoraRole = 'kernel' | 'lora_A' | 'lora_B' | 'bias';

const roles = new WeakMap<tf.Variable, { layer: LoraDense; role: LoraRole }>();

/** Record that `variable` is the `role` weight of `layer` (called by the layer's `build`). */
export function registerRole(variable: tf.Variable, layer: LoraDense, role: LoraRole): void {
  roles.set(variable, { layer, role });
}

/**
 * The LoRA role of a variable: `'kernel'` (W₀), `'lora_A'`, `'lora_B'` or `'bias'` of a LoRA dense
 * layer, or `undefined` for any other variable.
 *
 * @param variable a tf.Variable (e.g. one of `model.trainableWeights[i].read()`).
 * @returns its role, or undefined.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs';
 * import { loraDense, loraRole } from '@flatmin/lora';
 *
 * const layer = loraDense({ units: 2, rank: 1 });
 * layer.apply(tf.zeros([1, 3]));
 * loraRole(layer.loraA); // 'lora_A'
 * ```
 */
export function loraRole(variable: tf.Variable): LoraRole | undefined {
  return roles.get(variable)?.role;
}

/** The layer a LoRA variable belongs to, or undefined. */
export function loraLayerOf(variable: tf.Variable): LoraDense | undefined {
  return roles.get(variable)?.layer;
}
