/**
 * `@flatmin/average-swad`: SWAD (Cha et al., NeurIPS 2021), dense weight averaging inside the
 * window the validation loss decides, as a flatmin averager, standalone next to any tfjs
 * optimizer, and as a `model.fit` callback.
 *
 * @packageDocumentation
 */
export type { AttachModel, AttachTarget, StandaloneAverager, StandaloneCallbackOptions } from '@flatmin/core/kit';
export { type SwadAverager, type SwadOptions, type SwadWindow, swad } from './swad.js';
