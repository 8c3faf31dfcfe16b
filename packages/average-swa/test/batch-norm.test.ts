// updateBatchNorm against a float64 cumulative mean of the batch statistics (biased variance, as
// tfjs' BatchNormalization uses in training), for both weightings, an array and a dataset, 2-D and
// 4-D inputs; the layers' momenta come back; restorable; progress; refusals; no leak.
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { FlatminError } from '@flatmin/core';
import { describe, expect, it } from 'vitest';
import { type BatchNormProgress, swa, updateBatchNorm } from '../src/index.js';
import { dense64, maxRelative, moments64 } from './reference.js';

function denseModel() {
  const m = tfl.sequential();
  m.add(tfl.layers.dense({ units: 4, inputShape: [3], kernelInitializer: tfl.initializers.glorotUniform({ seed: 3 }), biasInitializer: 'ones' }));
  m.add(tfl.layers.batchNormalization({ momentum: 0.9 }));
  m.add(tfl.layers.dense({ units: 2, kernelInitializer: tfl.initializers.glorotUniform({ seed: 4 }) }));
  return m;
}

const sizes = [5, 3, 4];
const batches = () => sizes.map((n, i) => tf.randomNormal([n, 3], 0.5, 2, 'float32', 10 + i));

/** moving_mean, moving_variance of a BatchNormalization layer. */
const stats = (layer: tfl.layers.Layer) => layer.getWeights().slice(-2).map((t) => Array.from(t.dataSync()));

/** Float64: the batch statistics of the first dense layer's outputs, averaged per batch or per sample. */
function reference(model: tfl.Sequential, inputs: tf.Tensor[], weighting: 'batch' | 'sample') {
  const [kernel, bias] = model.layers[0]!.getWeights().map((t) => t.arraySync()) as [number[][], number[]];
  const perBatch = inputs.map((x) => ({ n: x.shape[0]!, ...moments64(dense64(x.arraySync() as number[][], kernel, bias)) }));
  const weights = perBatch.map((b) => (weighting === 'batch' ? 1 : b.n));
  const total = weights.reduce((s, w) => s + w, 0);
  const avg = (pick: (b: (typeof perBatch)[number]) => number[]) => pick(perBatch[0]!).map((_, j) => perBatch.reduce((s, b, i) => s + (weights[i]! * pick(b)[j]!) / total, 0));
  return [avg((b) => b.mean), avg((b) => b.variance)];
}

describe('updateBatchNorm', () => {
  it.each(['batch', 'sample'] as const)("weighting '%s': the float64 cumulative mean of the batch statistics, momentum put back", async (weighting) => {
    const model = denseModel();
    model.predict(tf.zeros([1, 3]));
    const inputs = batches();
    const before = tf.memory().numTensors;
    const progress: BatchNormProgress[] = [];
    const result = await updateBatchNorm(model, inputs, { weighting, onProgress: (p) => void progress.push({ ...p }) });
    expect(tf.memory().numTensors).toBe(before);
    expect(result).toMatchObject({ layers: 1, batches: 3, samples: 12 });
    expect(progress).toEqual([
      { batches: 1, samples: 5, total: 3 },
      { batches: 2, samples: 8, total: 3 },
      { batches: 3, samples: 12, total: 3 },
    ]);
    const [mean, variance] = reference(model, inputs, weighting);
    const [movingMean, movingVariance] = stats(model.layers[1]!);
    expect(maxRelative(movingMean!, mean!)).toBeLessThan(1e-5);
    expect(maxRelative(movingVariance!, variance!)).toBeLessThan(1e-5);
    expect((model.layers[1]!.getConfig() as { momentum: number }).momentum).toBe(0.9);
    // Unequal batch sizes: the two weightings really differ.
    const [otherMean] = reference(model, inputs, weighting === 'batch' ? 'sample' : 'batch');
    expect(maxRelative(movingMean!, otherMean!)).toBeGreaterThan(1e-4);
    tf.dispose(inputs);
    model.dispose();
  });

  it('4-D inputs (BatchNorm over the channels of [n, h, w, c]) and a dataset of { xs, ys }, disposed after use', async () => {
    const model = tfl.sequential();
    model.add(tfl.layers.batchNormalization({ inputShape: [2, 2, 3] }));
    model.add(tfl.layers.flatten());
    model.predict(tf.zeros([1, 2, 2, 3]));
    const xs = [tf.randomNormal([2, 2, 2, 3], 1, 3, 'float32', 1), tf.randomNormal([3, 2, 2, 3], -1, 0.5, 'float32', 2)];
    const handed: tf.Tensor[] = [];
    const dataset = {
      iterator: async () => {
        let i = 0;
        return {
          next: async () => {
            if (i >= xs.length) return { done: true as const, value: undefined };
            const element = { xs: tf.clone(xs[i]!), ys: tf.zeros([xs[i]!.shape[0]!, 1]) };
            handed.push(element.xs, element.ys);
            i += 1;
            return { done: false as const, value: element };
          },
        };
      },
    };
    const progress: BatchNormProgress[] = [];
    await updateBatchNorm(model, dataset, { onProgress: (p) => void progress.push({ ...p }) });
    expect(handed.every((t) => t.isDisposed)).toBe(true);
    expect(progress.at(-1)).toEqual({ batches: 2, samples: 5, total: null });
    // Float64: per batch, the channel statistics over n·h·w positions; then their mean.
    const perBatch = xs.map((x) => moments64((x.arraySync() as number[][][][]).flat(2)));
    const mean = perBatch[0]!.mean.map((_, j) => (perBatch[0]!.mean[j]! + perBatch[1]!.mean[j]!) / 2);
    const variance = perBatch[0]!.variance.map((_, j) => (perBatch[0]!.variance[j]! + perBatch[1]!.variance[j]!) / 2);
    const [movingMean, movingVariance] = stats(model.layers[0]!);
    expect(maxRelative(movingMean!, mean)).toBeLessThan(1e-5);
    expect(maxRelative(movingVariance!, variance)).toBeLessThan(1e-5);
    tf.dispose(xs);
    model.dispose();
  });

  it('one batch: the moving statistics are that batch\'s, bit for bit (what the training pass computes)', async () => {
    const model = tfl.sequential();
    model.add(tfl.layers.batchNormalization({ inputShape: [3] }));
    model.predict(tf.zeros([1, 3]));
    const x = tf.randomNormal([6, 3], 2, 1, 'float32', 5);
    await updateBatchNorm(model, [x]);
    const { mean, variance } = tf.moments(x, 0);
    expect(stats(model.layers[0]!)).toEqual([Array.from(mean.dataSync()), Array.from(variance.dataSync())]);
    tf.dispose([x, mean, variance]);
    model.dispose();
  });

  it('restorable: restore() puts the old statistics back exactly', async () => {
    const model = denseModel();
    const inputs = batches();
    model.compile({ optimizer: tf.train.sgd(0.1), loss: 'meanSquaredError' });
    await model.fit(inputs[0]!, tf.ones([5, 2]), { epochs: 2, verbose: 0, shuffle: false });
    const old = stats(model.layers[1]!);
    const result = await updateBatchNorm(model, inputs, { restorable: true });
    expect(stats(model.layers[1]!)).not.toEqual(old);
    const before = tf.memory().numTensors;
    result.restore();
    expect(stats(model.layers[1]!)).toEqual(old);
    expect(tf.memory().numTensors).toBe(before - 2);
    tf.dispose(inputs);
    model.dispose();
  });

  it("the standalone handle's apply()/restore() puts back the model exactly, BatchNorm statistics included", async () => {
    const model = denseModel();
    const inputs = batches();
    const sgd = tf.train.sgd(0.1);
    model.compile({ optimizer: sgd, loss: 'meanSquaredError' });
    const handle = swa().attach(model);
    await model.fit(inputs[0]!, tf.ones([5, 2]), { epochs: 3, batchSize: 5, verbose: 0, shuffle: false, callbacks: [handle.callback({ applyOnTrainEnd: false })] });
    const weights = model.getWeights().map((t) => Array.from(t.dataSync()));
    handle.apply();
    await updateBatchNorm(model, inputs);
    expect(model.getWeights().map((t) => Array.from(t.dataSync()))).not.toEqual(weights);
    handle.restore();
    expect(model.getWeights().map((t) => Array.from(t.dataSync()))).toEqual(weights);
    handle.dispose();
    tf.dispose(inputs);
    model.dispose();
  });

  it('a model without BatchNormalization is left alone', async () => {
    const model = tfl.sequential({ layers: [tfl.layers.dense({ units: 1, inputShape: [2] })] });
    expect(await updateBatchNorm(model, [])).toMatchObject({ layers: 0, batches: 0 });
    model.dispose();
  });

  it('refuses what it cannot use, by name', async () => {
    // A layer not built yet (no input seen) has no moving statistics.
    const lazy = { layers: [tfl.layers.batchNormalization()], apply: () => null };
    await expect(updateBatchNorm(lazy, [tf.zeros([2, 3])])).rejects.toThrow(/not built/);
    const model = denseModel();
    await expect(updateBatchNorm(model, [])).rejects.toThrow(/no batches/);
    await expect(updateBatchNorm(model, 5 as never)).rejects.toThrow(FlatminError);
    await expect(updateBatchNorm({} as never, [])).rejects.toThrow(/tfjs-layers model/);
    await expect(updateBatchNorm(model, [], { weighting: 'mean' as never })).rejects.toMatchObject({ name: 'FlatminConfigError', key: 'weighting' });
    await expect(updateBatchNorm(model, [], { every: 1 } as never)).rejects.toMatchObject({ name: 'FlatminConfigError', key: 'every' });
    await expect(updateBatchNorm(model, [{} as never])).rejects.toThrow(/xs/);
    expect((model.layers[1]!.getConfig() as { momentum: number }).momentum).toBe(0.9);
    model.dispose();
  });
});
