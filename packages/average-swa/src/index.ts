/**
 * `@flatmin/average-swa`: Stochastic Weight Averaging (Izmailov, Podoprikhin, Garipov, Vetrov &
 * Wilson, "Averaging Weights Leads to Wider Optima and Better Generalization", UAI 2018) — an
 * equal running average of the weights, attached to `sharpnessAware` (SWA + SAM) or by itself
 * next to any tfjs optimizer — and `updateBatchNorm`, which recomputes BatchNorm statistics for
 * the averaged weights.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs';
 * import { sharpnessAware } from '@flatmin/core';
 * import { gradient } from '@flatmin/perturb-gradient';
 * import { swa, updateBatchNorm } from '@flatmin/average-swa';
 *
 * const optimizer = sharpnessAware({ base: tf.train.sgd(0.05), perturbation: gradient(), averager: swa({ start: 50 }) });
 * model.compile({ optimizer, loss: 'categoricalCrossentropy' });
 * await model.fit(x, y, { epochs: 5, callbacks: [optimizer.averager!.callback()] });
 * await updateBatchNorm(model, [x]); // the model now holds w̄: refresh its BatchNorm statistics
 * ```
 *
 * @packageDocumentation
 */
export {
  type BatchNormBatch,
  type BatchNormData,
  type BatchNormModel,
  type BatchNormProgress,
  type BatchNormUpdate,
  type DatasetLike,
  type UpdateBatchNormOptions,
  updateBatchNorm,
} from './batch-norm.js';
export type { AttachModel, AttachTarget, StandaloneAverager, StandaloneCallbackOptions } from '@flatmin/core/kit';
export { evaluateAveraged } from './evaluate-averaged.js';
export { type AttachableAverager, type SwaOptions, swa, swaAverages } from './swa.js';
