/**
 * `@flatmin/lora`: LoRA (Hu et al., "LoRA: Low-Rank Adaptation of Large Language Models", ICLR
 * 2022) for tfjs-layers, and the pieces that make it sharpness-aware: a LoRA dense layer
 * W = W₀ + (α/r)·BA with W₀ frozen ({@link loraDense}), {@link withLora} / {@link mergeLora} for a
 * pretrained model, the perturbation scopes `lora` / `full` / `origin` for `sharpnessAware`
 * ({@link loraScope}: SAM-LoRA, RWP-LoRA, Flat-LoRA — Li et al., 2024), and BAR, the
 * balancedness regularizer (Li, Zhang & He, NeurIPS 2024; {@link balancedness}).
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs';
 * import { sharpnessAware } from '@flatmin/core';
 * import { gradient } from '@flatmin/perturb-gradient';
 * import { loraScope, withLora } from '@flatmin/lora';
 *
 * const pretrained = tf.sequential({ layers: [tf.layers.dense({ units: 2, inputShape: [4] })] });
 * const model = withLora(pretrained, { rank: 2 });
 * model.compile({ optimizer: sharpnessAware({ base: tf.train.adam(1e-3), perturbation: gradient(), scope: loraScope('lora') }), loss: 'meanSquaredError' });
 * ```
 *
 * @packageDocumentation
 */
export { type Balancedness, type BalancednessOptions, balancedness, type StepCounter } from './balancedness.js';
export { type FlatLoraNoiseOptions, flatLoraNoise } from './flat-lora-noise.js';
export { loraLayers } from './layers.js';
export { ACTIVATIONS, type LoraActivation, LoraDense, type LoraDenseOptions, loraDense } from './lora-dense.js';
export { type LoraRole, loraRole } from './roles.js';
export { type LoraScopeKind, type LoraScopeOptions, loraScope, mergedScope } from './scope.js';
export { mergeLora, type WithLoraOptions, withLora } from './with-lora.js';
