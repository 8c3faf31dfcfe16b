/**
 * The measurements on a tfjs-layers model and a held-out batch: `modelObjective` makes the
 * `(loss, variables)` pair, `forModel` binds every measurement to it.
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { FlatminConfigError } from '@flatmin/core';
import { checkOptions } from '@flatmin/core/kit';
import type { LossFn } from './common.js';
import { type FlatnessOptions, type FlatnessResult, flatness } from './flatness.js';
import { type HessianEigenvalueOptions, type HessianTraceOptions, hessianEigenvalue, hessianTrace } from './hessian.js';
import { type LineOptions, type LineResult, lineLandscape } from './line.js';
import { LOSS_NAMES, type LossName, namedLoss } from './losses.js';
import { type SharpnessOptions, type SharpnessResult, sharpness } from './sharpness.js';
import { type SurfaceOptions, type SurfaceResult, surfaceLandscape } from './surface.js';

/** A per-sample (or already reduced) loss of targets and predictions: its mean is the objective. */
export type LossOfOutputs = (yTrue: tf.Tensor, yPred: tf.Tensor) => tf.Tensor;

/** The part of a tfjs-layers `LayersModel` the wrappers use (so any `tf.LayersModel` fits). */
export interface ModelLike {
  /** The trainable weights; each `read()` gives its `tf.Variable`. */
  readonly trainableWeights: ReadonlyArray<{
    /** The weight's `tf.Variable`. */
    read(): tf.Tensor;
  }>;
  /** A forward pass; called with `{ training: false }` (BatchNorm's moving statistics, no dropout). */
  apply(inputs: tf.Tensor | tf.Tensor[], kwargs?: { training?: boolean }): unknown;
  /** The compiled model's loss (`model.compile({ loss })`: a name or a function; the first of a list), used when `loss` is not given. */
  readonly loss?: unknown;
}

/** A held-out batch and the loss to measure on it. */
export interface ModelBatch {
  /** The inputs. */
  x: tf.Tensor;
  /** The targets. */
  y: tf.Tensor;
  /** A loss name as `model.compile` takes it, or `(yTrue, yPred) => tf.Tensor` (its mean is taken); default the compiled model's loss. */
  loss?: LossName | LossOfOutputs;
}

/** The objective of a model on a batch: what every measurement takes. */
export interface ModelObjective {
  /** mean(loss(y, model(x))) in inference mode. */
  loss: LossFn;
  /** The model's trainable weights, as `tf.Variable`s. */
  variables: tf.Variable[];
}

function resolveLoss(model: ModelLike, given: unknown, where: string): LossOfOutputs {
  if (typeof given === 'function') return given as LossOfOutputs;
  if (typeof given === 'string') {
    if (!(LOSS_NAMES as readonly string[]).includes(given)) throw new FlatminConfigError('loss', given, `a function (yTrue, yPred) => tf.Tensor or one of ${LOSS_NAMES.map((n) => `'${n}'`).join(', ')}`, where);
    return namedLoss(given as LossName);
  }
  if (given === undefined && model.loss !== undefined) {
    const compiled = Array.isArray(model.loss) ? model.loss[0] : model.loss;
    if (typeof compiled === 'function' || typeof compiled === 'string') return resolveLoss(model, compiled, where);
  }
  throw new FlatminConfigError('loss', given, `a function (yTrue, yPred) => tf.Tensor, one of ${LOSS_NAMES.map((n) => `'${n}'`).join(', ')}, or a compiled model`, where);
}

/**
 * The `(loss, variables)` pair of a tfjs-layers model on a held-out batch: loss = the mean of
 * `loss(y, model.apply(x, { training: false }))`, variables = the model's trainable weights.
 *
 * @param model a tfjs-layers model (compiled, if `loss` is not given).
 * @param batch {@link ModelBatch}: `{ x, y, loss? }`.
 * @returns {@link ModelObjective}.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs';
 * import { flatness, modelObjective } from '@flatmin/landscape';
 *
 * const model = tf.sequential({ layers: [tf.layers.dense({ units: 1, inputShape: [2] })] });
 * const x = tf.randomNormal([16, 2], 0, 1, 'float32', 1);
 * const { loss, variables } = modelObjective(model, { x, y: x.sum(1, true), loss: 'meanSquaredError' });
 * const { average } = await flatness(loss, variables, { samples: 4 });
 * ```
 */
export function modelObjective(model: ModelLike, batch: ModelBatch): ModelObjective {
  const where = 'modelObjective';
  if (model === null || typeof model !== 'object' || !Array.isArray(model.trainableWeights) || typeof model.apply !== 'function') {
    throw new FlatminConfigError('model', model, 'a tfjs-layers model', where);
  }
  const checked = checkOptions(batch, ['x', 'y', 'loss'], where);
  if (!(checked.x instanceof tf.Tensor)) throw new FlatminConfigError('x', checked.x, 'a tf.Tensor of inputs', where);
  if (!(checked.y instanceof tf.Tensor)) throw new FlatminConfigError('y', checked.y, 'a tf.Tensor of targets', where);
  const fn = resolveLoss(model, checked.loss, where);
  const variables = model.trainableWeights.map((w) => w.read() as tf.Variable);
  const { x, y } = checked;
  const loss: LossFn = () =>
    tf.tidy(() => {
      const output = model.apply(x, { training: false });
      const prediction = Array.isArray(output) ? (output[0] as tf.Tensor) : (output as tf.Tensor);
      return tf.mean(fn(y, prediction)) as tf.Scalar;
    });
  return { loss, variables };
}

/** Every measurement bound to one model and batch (see {@link forModel}). */
export interface ModelMeasurements extends ModelObjective {
  /** {@link flatness} of the model on the batch. */
  flatness(options?: FlatnessOptions): Promise<FlatnessResult>;
  /** {@link sharpness} of the model on the batch. */
  sharpness(options?: SharpnessOptions): Promise<SharpnessResult>;
  /** {@link hessianEigenvalue} of the model on the batch. */
  hessianEigenvalue(options?: HessianEigenvalueOptions): Promise<number>;
  /** {@link hessianTrace} of the model on the batch. */
  hessianTrace(options?: HessianTraceOptions): Promise<number>;
  /** The line; `to` may also be a second model of the same architecture (its trainable weights are w₂). */
  lineLandscape(options?: Omit<LineOptions, 'to'> & { to?: tf.Tensor[] | ModelLike }): Promise<LineResult>;
  /** {@link surfaceLandscape} of the model on the batch. */
  surfaceLandscape(options?: SurfaceOptions): Promise<SurfaceResult>;
}

/**
 * Every measurement of this package bound to a tfjs-layers model and a held-out batch
 * ({@link modelObjective}); `lineLandscape({ to: otherModel })` interpolates between two trained
 * models of the same architecture.
 *
 * @param model a tfjs-layers model.
 * @param batch {@link ModelBatch}: `{ x, y, loss? }`.
 * @returns {@link ModelMeasurements}.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs';
 * import { forModel } from '@flatmin/landscape';
 *
 * const model = tf.sequential({ layers: [tf.layers.dense({ units: 1, inputShape: [2] })] });
 * const x = tf.randomNormal([16, 2], 0, 1, 'float32', 1);
 * const measure = forModel(model, { x, y: x.sum(1, true), loss: 'meanSquaredError' });
 * const top = await measure.hessianEigenvalue({ iterations: 10 });
 * const line = await measure.lineLandscape({ steps: 11 });
 * ```
 */
export function forModel(model: ModelLike, batch: ModelBatch): ModelMeasurements {
  const { loss, variables } = modelObjective(model, batch);
  return {
    loss,
    variables,
    flatness: (options) => flatness(loss, variables, options),
    sharpness: (options) => sharpness(loss, variables, options),
    hessianEigenvalue: (options) => hessianEigenvalue(loss, variables, options),
    hessianTrace: (options) => hessianTrace(loss, variables, options),
    lineLandscape: (options) => {
      const to = options?.to;
      if (to === undefined || Array.isArray(to)) return lineLandscape(loss, variables, options as LineOptions);
      const other = to as ModelLike;
      if (other === null || typeof other !== 'object' || !Array.isArray(other.trainableWeights)) {
        throw new FlatminConfigError('to', to, 'an array of tensors or a model of the same architecture', 'lineLandscape');
      }
      return lineLandscape(loss, variables, { ...options, to: other.trainableWeights.map((w) => w.read()) });
    },
    surfaceLandscape: (options) => surfaceLandscape(loss, variables, options),
  };
}
