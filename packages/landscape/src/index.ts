/**
 * `@flatmin/landscape`: how flat is the minimum a TensorFlow.js model found? Average-case and
 * worst-case flatness over filter-normalized random directions, SAM and ASAM sharpness, the
 * Hessian's top eigenvalue and trace, 1-D and 2-D loss landscapes (Li et al., "Visualizing the
 * Loss Landscape of Neural Nets", NeurIPS 2018) and their pictures (SVG and PNG). Every
 * measurement takes `(loss, variables, options)`, is seeded, resolves to plain numbers or JSON,
 * and leaves the variables bit-identical.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs';
 * import { flatness, hessianEigenvalue, lineLandscape, plotLine } from '@flatmin/landscape';
 *
 * const w = tf.variable(tf.tensor1d([1, 2]));
 * const loss = () => tf.sum(tf.square(w));
 * const { average, worst } = await flatness(loss, [w], { seed: 1 });
 * const top = await hessianEigenvalue(loss, [w]);
 * const { svg, png } = await plotLine({ here: await lineLandscape(loss, [w], { seed: 1 }) });
 * ```
 *
 * @packageDocumentation
 */
export type { LossFn, ProgressCallback } from './common.js';
export type { Biases, Normalization } from './directions.js';
export { type FlatnessOptions, type FlatnessResult, flatness } from './flatness.js';
export {
  checkDoubleBackward,
  type DoubleBackwardCheck,
  type HessianEigenvalueOptions,
  type HessianTraceOptions,
  hessianEigenvalue,
  hessianTrace,
} from './hessian.js';
export type { HvpMethod } from './hvp.js';
export { type LineOptions, type LineResult, lineLandscape } from './line.js';
export type { LossName } from './losses.js';
export { forModel, type LossOfOutputs, type ModelBatch, type ModelLike, type ModelMeasurements, type ModelObjective, modelObjective } from './model.js';
export { type PlotChartOptions, type PlotLineOptions, type PlotSurfaceOptions, plotChart, plotLine, plotSurface } from './plot.js';
export type { Picture, RenderOptions } from './render.js';
export { type SharpnessOptions, type SharpnessResult, sharpness } from './sharpness.js';
export { type SurfaceOptions, type SurfaceResult, surfaceLandscape } from './surface.js';
