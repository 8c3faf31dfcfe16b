/**
 * `@flatmin/perturb-sparse`: sparse perturbations around any gradient-based perturbation —
 * SSAM-F's Fisher mask and SSAM-D's dynamic mask (Mi et al., "Make Sharpness-Aware Minimization
 * Stronger: A Sparsified Perturbation Approach", NeurIPS 2022) and ESAM's random per-variable mask
 * (Du et al., "Efficient Sharpness-aware Minimization for Improved Training of Neural Networks",
 * ICLR 2022), with ESAM's sharpness-sensitive data selection.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs';
 * import { sharpnessAware } from '@flatmin/core';
 * import { gradient } from '@flatmin/perturb-gradient';
 * import { fisherMask, sparse } from '@flatmin/perturb-sparse';
 *
 * const optimizer = sharpnessAware({ base: tf.train.sgd(0.1), perturbation: sparse(gradient({ rho: 0.1 }), fisherMask({ sparsity: 0.5 })) });
 * ```
 *
 * @packageDocumentation
 */
export { type DataSelectionOptions, dataSelection } from './data-selection.js';
export { type DynamicMaskOptions, dynamicMask } from './dynamic-mask.js';
export { type FisherMaskOptions, fisherMask } from './fisher-mask.js';
export { lookupMask, type Mask, type MaskContext, type MaskFactory, type MaskSelection, registerMask } from './mask.js';
export { type RandomMaskOptions, randomMask } from './random-mask.js';
export { type SparseOptions, sparse } from './sparse.js';
