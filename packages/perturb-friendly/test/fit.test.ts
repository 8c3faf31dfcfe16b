// tfjs-layers: model.compile + model.fit with BatchNormalization and a metric. The adversarial pass
// leaves the BatchNorm moving statistics as the clean pass left them (one pass per step updates
// them), nothing leaks across fits, and a model saved with its optimizer loads back with the
// perturbation and its running state.
import * as tf from '@tensorflow/tfjs-core';
import { type Perturbation, SharpnessAwareOptimizer, sharpnessAware } from '@flatmin/core';
import { bnClassifier as model, fitData as data, movingStatistics, reloaded } from '@flatmin/test-kit';
import { describe, expect, it } from 'vitest';
import { friendly, varianceSuppressed } from '../src/index.js';

const rows: [string, () => Perturbation][] = [
  ["friendly 'seed'", () => friendly({ rho: 0.5 })],
  ["friendly 'official'", () => friendly({ rho: 0.5, variant: 'official' })],
  ['varianceSuppressed', () => varianceSuppressed({ rho: 0.5 })],
];

describe('model.fit with BatchNormalization and a metric', () => {
  it.each(rows)('%s: BatchNorm statistics move by the clean pass only, every step', async (_name, make) => {
    const { x, y } = data(16);
    const plain = model();
    const sharp = model();
    sharp.setWeights(plain.getWeights());
    const sgd = tf.train.sgd(0.1);
    const optimizer = sharpnessAware({ base: tf.train.sgd(0.1), perturbation: make() });
    plain.compile({ optimizer: sgd, loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
    sharp.compile({ optimizer, loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
    // One step: same weights before it, so the clean forward passes match exactly.
    await plain.fit(x, y, { epochs: 1, batchSize: 16, verbose: 0, shuffle: false });
    await sharp.fit(x, y, { epochs: 1, batchSize: 16, verbose: 0, shuffle: false });
    expect(movingStatistics(sharp)).toEqual(movingStatistics(plain));
    expect(movingStatistics(plain)[0]).not.toEqual([0, 0, 0, 0, 0, 0]); // the clean pass did move them
    // The update did take g(w + ε): the kernels differ from plain SGD's.
    expect(sharp.layers[0]!.getWeights()[0]!.arraySync()).not.toEqual(plain.layers[0]!.getWeights()[0]!.arraySync());
    expect(optimizer.lossEvaluations).toBe(2);
    for (const t of [x, y]) t.dispose();
    plain.dispose();
    sharp.dispose();
    sgd.dispose();
    optimizer.dispose();
  });

  it.each(rows)('%s: trains, reports the metric, leaks nothing across fits', async (_name, make) => {
    const { x, y } = data(32);
    const m = model();
    const optimizer = sharpnessAware({ base: tf.train.momentum(0.1, 0.9), perturbation: make(), seed: 1 });
    m.compile({ optimizer, loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
    const first = await m.fit(x, y, { epochs: 2, batchSize: 8, verbose: 0, shuffle: false });
    const before = tf.memory();
    const second = await m.fit(x, y, { epochs: 3, batchSize: 8, verbose: 0, shuffle: false });
    const after = tf.memory();
    expect({ numTensors: after.numTensors, numBytes: after.numBytes }).toEqual({ numTensors: before.numTensors, numBytes: before.numBytes });
    expect(optimizer.steps).toBe(5 * 4);
    expect(optimizer.lossEvaluations).toBe(2 * 5 * 4);
    expect(second.history['acc']).toHaveLength(3);
    const losses = [...(first.history['loss'] as number[]), ...(second.history['loss'] as number[])];
    expect(losses.at(-1)!).toBeLessThan(losses[0]!);
    for (const t of [x, y]) t.dispose();
    m.dispose();
    optimizer.dispose();
  });
});

describe('model.save with includeOptimizer', () => {
  it.each(rows)('%s: loads back with its config and its running state', async (_name, make) => {
    const { x, y } = data(16);
    const m = model();
    const optimizer = sharpnessAware({ base: tf.train.momentum(0.05, 0.9), perturbation: make(), seed: 4 });
    m.compile({ optimizer, loss: 'categoricalCrossentropy' });
    await m.fit(x, y, { epochs: 1, batchSize: 8, verbose: 0, shuffle: false });
    const loaded = await reloaded(m, { includeOptimizer: true });
    const restored = loaded.optimizer as SharpnessAwareOptimizer;
    expect(restored).toBeInstanceOf(SharpnessAwareOptimizer);
    expect(restored.perturbation.name).toBe(optimizer.perturbation.name);
    expect(restored.perturbation.config).toEqual(optimizer.perturbation.config);
    // The running means, by slot (the loaded model's variables have new names).
    const slots = async (o: tf.Optimizer) =>
      (await o.getWeights())
        .filter((w) => w.name.startsWith('flatmin/perturbation/'))
        .map((w) => [w.name.slice(w.name.lastIndexOf(':')), w.tensor.arraySync()] as const);
    const saved = await slots(optimizer);
    expect(saved.length).toBeGreaterThanOrEqual(4); // two dense kernels and biases, BatchNorm γ and β
    expect(await slots(restored)).toEqual(saved);
    // And it resumes where it stopped: one more epoch on each gives the same weights.
    await m.fit(x, y, { epochs: 1, batchSize: 8, shuffle: false, verbose: 0 });
    await loaded.fit(x, y, { epochs: 1, batchSize: 8, shuffle: false, verbose: 0 });
    expect(loaded.getWeights().map((w) => w.arraySync())).toEqual(m.getWeights().map((w) => w.arraySync()));
    for (const t of [x, y]) t.dispose();
    m.dispose();
    loaded.dispose();
    optimizer.dispose();
  });
});
