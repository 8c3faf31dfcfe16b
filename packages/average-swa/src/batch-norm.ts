/**
 * `updateBatchNorm`: recompute BatchNorm moving statistics for the weights the model holds now
 * (the averaged ones after `apply()`), as a cumulative mean over the data.
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { FlatminError } from '@flatmin/core';
import { checkChoice, checkKnownKeys } from '@flatmin/core/kit';

/** A tfjs-layers model, seen only through the fields `updateBatchNorm` uses. */
export interface BatchNormModel {
  /** The model's layers, searched (nested models too) for BatchNormalization layers. */
  readonly layers: readonly unknown[];
  /** `LayersModel.apply`: with `{ training: true }` BatchNorm uses (and moves by) the batch statistics. */
  apply(inputs: tf.Tensor | tf.Tensor[], kwargs?: Record<string, unknown>): unknown;
}

/** One element of the data: the inputs, a list of inputs, or `fitDataset`'s `{ xs, ys }` (only `xs` is used). */
export type BatchNormBatch =
  | tf.Tensor
  | tf.Tensor[]
  | {
      /** The inputs of the batch. */
      xs: tf.Tensor | tf.Tensor[];
      /** The targets (ignored). */
      ys?: unknown;
    };

/** A `tf.data.Dataset` of batches, seen only through what `updateBatchNorm` calls. */
export interface DatasetLike<T> {
  /** A fresh iterator over the batches. */
  iterator(): Promise<{
    /** The next batch, or `{ done: true }` at the end. */
    next(): Promise<IteratorResult<T>>;
  }>;
  /** Number of elements when known (`tf.data.Dataset.size`). */
  readonly size?: number | null;
}

/** Where the batches come from: an array of input batches or a `tf.data.Dataset` of batches. */
export type BatchNormData = readonly BatchNormBatch[] | DatasetLike<BatchNormBatch>;

/** Progress after each batch. */
export interface BatchNormProgress {
  /** Batches seen so far. */
  batches: number;
  /** Samples seen so far (the first axis of the first input, summed). */
  samples: number;
  /** The number of batches when known (an array's length, a dataset's finite `size`), else null. */
  total: number | null;
}

/** Options of {@link updateBatchNorm}. */
export interface UpdateBatchNormOptions {
  /** Called after each batch (awaited: an async callback can yield to a UI). */
  onProgress?: (progress: BatchNormProgress) => void | Promise<void>;
  /**
   * `'batch'` (default): every batch counts once, the mean of the batch statistics
   * (`torch.optim.swa_utils.update_bn`, momentum None). `'sample'`: each batch weighs its size
   * (the SWA authors' `bn_update`); the same when every batch has the same size.
   */
  weighting?: 'batch' | 'sample';
  /** Keep the old statistics so that the result's `restore()` can put them back (default false). */
  restorable?: boolean;
}

/** What {@link updateBatchNorm} did. */
export interface BatchNormUpdate {
  /** The BatchNormalization layers updated. */
  layers: number;
  /** Batches passed through the model. */
  batches: number;
  /** Samples passed through the model (the first axis of the first input, summed). */
  samples: number;
  /** Put back the moving statistics from before the call (with `restorable: true`; else a no-op). */
  restore(): void;
}

interface BatchNormLayer {
  momentum: number;
  movingMean?: { read(): tf.Variable; write(value: tf.Tensor): void };
  movingVariance?: { read(): tf.Variable; write(value: tf.Tensor): void };
  getClassName(): string;
  readonly name: string;
}

const KEYS = ['onProgress', 'weighting', 'restorable'];

/** Every BatchNormalization layer of a model, nested models included. */
function batchNormLayers(model: { readonly layers: readonly unknown[] }): BatchNormLayer[] {
  const out: BatchNormLayer[] = [];
  for (const layer of model.layers) {
    const l = layer as { layers?: unknown[]; getClassName?: () => string };
    if (Array.isArray(l.layers)) out.push(...batchNormLayers(l as { layers: unknown[] }));
    else if (typeof l.getClassName === 'function' && l.getClassName() === 'BatchNormalization') out.push(l as unknown as BatchNormLayer);
  }
  return out;
}

function inputsOf(batch: BatchNormBatch): tf.Tensor | tf.Tensor[] {
  if (batch instanceof tf.Tensor || Array.isArray(batch)) return batch;
  if (batch !== null && typeof batch === 'object' && 'xs' in batch) return batch.xs;
  throw new FlatminError('updateBatchNorm: each batch must be an input tensor, an array of input tensors, or { xs, ys }.');
}

/**
 * Recompute the moving mean and variance of every BatchNormalization layer of `model` for the
 * weights it holds now: one forward pass per batch in training mode, with each layer's moving
 * statistics set to the cumulative mean of its batch statistics — what
 * `torch.optim.swa_utils.update_bn` does, and what SWA needs after `apply()` (Izmailov et al., UAI 2018).
 *
 * tfjs' BatchNormalization moves its statistics as `moving ← moving − (moving − batch)·(1 − momentum)`
 * with the *biased* batch variance (`tf.moments`, divided by the batch size N), and that is what is
 * averaged here too (torch averages the unbiased variance, ×N/(N−1)). The statistics are first set to
 * 0 and each layer's momentum to k/(k + 1) before batch k (0-based; with `weighting: 'sample'`,
 * n/(n + b) for n samples seen and a batch of b), which makes the moving values the exact running
 * mean; the layers' own momenta are put back afterwards. Training-mode layers run as in training
 * (Dropout drops, as in torch's `model.train()`). The data is read once, in order.
 *
 * @param model a built tfjs-layers model (`tf.sequential`, `tf.model`), nested models included.
 * @param data an array of input batches (each a tensor, an array of tensors for several inputs, or
 *   `{ xs, ys }`) — left to the caller to dispose — or a `tf.data.Dataset` of such batches, whose
 *   elements are disposed after use.
 * @returns the number of layers, batches and samples, and `restore()` (with `restorable: true`).
 *
 * @example
 * ```ts
 * optimizer.averager!.apply();
 * await updateBatchNorm(model, trainBatches, { onProgress: ({ batches, total }) => console.log(batches, total) });
 * model.evaluate(xTest, yTest);
 * ```
 */
export async function updateBatchNorm(model: BatchNormModel, data: BatchNormData, options?: UpdateBatchNormOptions): Promise<BatchNormUpdate> {
  if (options !== undefined) {
    if (options === null || typeof options !== 'object' || Array.isArray(options)) throw new FlatminError('updateBatchNorm: options must be an object { onProgress, weighting, restorable }.');
    checkKnownKeys(options, KEYS, 'updateBatchNorm');
  }
  const weighting = checkChoice('weighting', options?.weighting ?? 'batch', ['batch', 'sample'], 'updateBatchNorm');
  const onProgress = options?.onProgress;
  if (onProgress !== undefined && typeof onProgress !== 'function') throw new FlatminError('updateBatchNorm: onProgress must be a function ({ batches, samples, total }) => void.');
  if (model === null || typeof model !== 'object' || !Array.isArray((model as BatchNormModel).layers) || typeof model.apply !== 'function') {
    throw new FlatminError('updateBatchNorm: model must be a tfjs-layers model (tf.sequential() or tf.model()).');
  }
  const isArray = Array.isArray(data);
  if (!isArray && (data === null || typeof data !== 'object' || typeof (data as DatasetLike<BatchNormBatch>).iterator !== 'function')) {
    throw new FlatminError('updateBatchNorm: data must be an array of input batches or a tf.data.Dataset of batches.');
  }
  const layers = batchNormLayers(model);
  const noUpdate: BatchNormUpdate = { layers: 0, batches: 0, samples: 0, restore: () => {} };
  if (layers.length === 0) return noUpdate;
  for (const layer of layers) {
    if (layer.movingMean === undefined || layer.movingVariance === undefined) {
      throw new FlatminError(`updateBatchNorm: layer '${layer.name}' is not built yet: call the model once (or fit it) first.`);
    }
  }
  const size = isArray ? (data as readonly BatchNormBatch[]).length : ((data as DatasetLike<BatchNormBatch>).size ?? null);
  const total = size !== null && Number.isFinite(size) ? size : null;
  const saved = layers.map((layer) => ({
    momentum: layer.momentum,
    mean: options?.restorable ? tf.keep(tf.clone(layer.movingMean!.read())) : null,
    variance: options?.restorable ? tf.keep(tf.clone(layer.movingVariance!.read())) : null,
  }));
  const restore = () => {
    layers.forEach((layer, i) => {
      const { mean, variance } = saved[i]!;
      if (mean === null || variance === null || mean.isDisposed) return;
      layer.movingMean!.write(mean);
      layer.movingVariance!.write(variance);
      mean.dispose();
      variance.dispose();
    });
  };
  let batches = 0;
  let samples = 0;
  // Weight of what is averaged so far (batches or samples).
  let weight = 0;
  const run = async (batch: BatchNormBatch) => {
    const inputs = inputsOf(batch);
    const first = Array.isArray(inputs) ? inputs[0] : inputs;
    const n = first?.shape[0] ?? 0;
    const w = weighting === 'batch' ? 1 : n;
    if (w === 0) return;
    // moving ← moving·m + batch·(1 − m) with m = weight/(weight + w): the running mean.
    const momentum = weight / (weight + w);
    for (const layer of layers) layer.momentum = momentum;
    tf.tidy(() => {
      model.apply(inputs, { training: true });
    });
    weight += w;
    batches += 1;
    samples += n;
    await onProgress?.({ batches, samples, total });
  };
  try {
    // From 0, the first batch's statistics are copied exactly (0 − (0 − s)·1 = s).
    for (const layer of layers) {
      tf.tidy(() => {
        layer.movingMean!.write(tf.zerosLike(layer.movingMean!.read()));
        layer.movingVariance!.write(tf.zerosLike(layer.movingVariance!.read()));
      });
    }
    if (isArray) {
      for (const batch of data as readonly BatchNormBatch[]) await run(batch);
    } else {
      const iterator = await (data as DatasetLike<BatchNormBatch>).iterator();
      for (let next = await iterator.next(); !next.done; next = await iterator.next()) {
        try {
          await run(next.value);
        } finally {
          tf.dispose(next.value as tf.TensorContainer);
        }
      }
    }
    if (batches === 0) throw new FlatminError('updateBatchNorm: the data has no batches (nothing to average).');
  } catch (error) {
    // With `restorable`, a failure puts the old statistics back; without, they are left part-computed.
    if (options?.restorable) restore();
    throw error;
  } finally {
    layers.forEach((layer, i) => {
      layer.momentum = saved[i]!.momentum;
    });
  }
  return { layers: layers.length, batches, samples, restore };
}

