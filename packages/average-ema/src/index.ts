/**
 * `@flatmin/average-ema`: an exponential moving average of the weights (`ema`, with timm's
 * warmup) and MESA (Du, Zhou, Feng, Tan & Goh, NeurIPS 2022, "Sharpness-Aware Training for
 * Free"): the EMA model as a teacher and its trajectory loss λτ²·KL, and SAF (`saf`, the same
 * loss against the network's own outputs Ẽ epochs back, for custom loops). Each averager works
 * attached to `sharpnessAware({ averager })`, standalone next to any tfjs optimizer
 * (`ema().attach(model)`), and as a `model.fit` callback.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs';
 * import { ema } from '@flatmin/average-ema';
 *
 * const handle = ema({ decay: 0.99 }).attach(model);
 * model.compile({ optimizer: tf.train.adam(1e-3), loss: 'meanSquaredError' });
 * await model.fit(x, y, { epochs: 5, callbacks: [handle.callback()] }); // ends holding the averaged weights
 * ```
 *
 * @packageDocumentation
 */
export { type EmaAverager, type EmaOptions, ema } from './ema.js';
export { averagedEvaluation, type AveragedEvaluationOptions, type EvaluatingModel } from './evaluation.js';
export type { AttachModel, AttachTarget, StandaloneAverager, StandaloneCallbackOptions } from '@flatmin/core/kit';
export { type LossFunction, type MesaAverager, type MesaModels, type MesaOptions, mesa } from './mesa.js';
export { type SafOptions, type SafTrajectory, saf } from './saf.js';
