// tfjs-layers: model.compile + model.fit with BatchNormalization and a metric. On every step —
// sharp or reusing — the BatchNorm moving statistics move exactly as one plain SGD step from the
// same weights moves them (one pass per step updates them), nothing leaks across fits, the loss
// evaluations are 1 + 1/k per step, and a model saved with its optimizer loads back with g_v.
import * as tf from '@tensorflow/tfjs-core';
import { SharpnessAwareOptimizer, sharpnessAware } from '@flatmin/core';
import { gradient } from '@flatmin/perturb-gradient';
import { bnClassifier as model, fitData as data, movingStatistics, reloaded } from '@flatmin/test-kit';
import { describe, expect, it } from 'vitest';
import { everyK } from '../src/index.js';

describe('model.fit with BatchNormalization and a metric', () => {
  it.each([['global'], ['tensor']] as const)("'%s': on sharp and reusing steps alike, BatchNorm statistics move as one plain pass moves them", async (granularity) => {
    const { x, y } = data(16);
    const plain = model();
    const sharp = model();
    const sgd = tf.train.sgd(0.1);
    const optimizer = sharpnessAware({ base: tf.train.sgd(0.1), perturbation: gradient({ rho: 0.5 }), schedule: everyK({ k: 2, alpha: 0.7, granularity }) });
    plain.compile({ optimizer: sgd, loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
    sharp.compile({ optimizer, loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
    for (let t = 0; t < 4; t += 1) {
      // Same weights (and statistics) before the step, so the clean forward passes match exactly.
      plain.setWeights(sharp.getWeights());
      const before = movingStatistics(sharp);
      await plain.fit(x, y, { epochs: 1, batchSize: 16, verbose: 0, shuffle: false });
      await sharp.fit(x, y, { epochs: 1, batchSize: 16, verbose: 0, shuffle: false });
      expect(movingStatistics(sharp)).toEqual(movingStatistics(plain));
      expect(movingStatistics(sharp)).not.toEqual(before); // the clean pass did move them
      // Sharp (t = 0, 2) and reusing (t = 1, 3) steps both differ from plain SGD's update.
      expect(sharp.layers[0]!.getWeights()[0]!.arraySync()).not.toEqual(plain.layers[0]!.getWeights()[0]!.arraySync());
    }
    expect(optimizer.sharpSteps).toBe(2);
    expect(optimizer.lossEvaluations).toBe(6);
    for (const t of [x, y]) t.dispose();
    plain.dispose();
    sharp.dispose();
    sgd.dispose();
    optimizer.dispose();
  });

  it('trains, reports the metric, leaks nothing across fits, costs 1 + 1/k passes per step', async () => {
    const { x, y } = data(32);
    const m = model();
    const optimizer = sharpnessAware({ base: tf.train.momentum(0.1, 0.9), perturbation: gradient({ rho: 0.05 }), schedule: everyK({ k: 5 }) });
    m.compile({ optimizer, loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
    const first = await m.fit(x, y, { epochs: 2, batchSize: 8, verbose: 0, shuffle: false });
    const before = tf.memory();
    const second = await m.fit(x, y, { epochs: 3, batchSize: 8, verbose: 0, shuffle: false });
    const after = tf.memory();
    expect({ numTensors: after.numTensors, numBytes: after.numBytes }).toEqual({ numTensors: before.numTensors, numBytes: before.numBytes });
    expect(optimizer.steps).toBe(20);
    expect(optimizer.sharpSteps).toBe(4); // t = 0, 5, 10, 15
    expect(optimizer.lossEvaluations).toBe(20 + 4);
    expect(second.history['acc']).toHaveLength(3);
    const losses = [...(first.history['loss'] as number[]), ...(second.history['loss'] as number[])];
    expect(losses.at(-1)!).toBeLessThan(losses[0]!);
    for (const t of [x, y]) t.dispose();
    m.dispose();
    optimizer.dispose();
  });
});

describe('model.save with includeOptimizer', () => {
  it('loads back with its config and g_v, and resumes where it stopped', async () => {
    const { x, y } = data(16);
    const m = model();
    const optimizer = sharpnessAware({ base: tf.train.momentum(0.05, 0.9), perturbation: gradient({ rho: 0.1 }), schedule: everyK({ k: 3, alpha: 0.5, granularity: 'tensor' }) });
    m.compile({ optimizer, loss: 'categoricalCrossentropy' });
    await m.fit(x, y, { epochs: 1, batchSize: 8, verbose: 0, shuffle: false }); // t = 0 (sharp), 1: the next is reusing
    const loaded = await reloaded(m, { includeOptimizer: true });
    const restored = loaded.optimizer as SharpnessAwareOptimizer;
    expect(restored).toBeInstanceOf(SharpnessAwareOptimizer);
    expect(restored.schedule.name).toBe('everyK');
    expect(restored.schedule.config).toEqual({ k: 3, alpha: 0.5, granularity: 'tensor' });
    const slots = async (o: tf.Optimizer) =>
      (await o.getWeights()).filter((w) => w.name.startsWith('flatmin/schedule/')).map((w) => [w.name.slice(w.name.lastIndexOf(':')), w.tensor.arraySync()] as const);
    const saved = await slots(optimizer);
    // g_v and ‖g_v‖ of the two dense kernels and biases and of BatchNorm's γ and β.
    expect(saved.map(([slot]) => slot).sort()).toEqual([...Array(6).fill(':gv'), ...Array(6).fill(':gvNorm')]);
    expect(await slots(restored)).toEqual(saved);
    await m.fit(x, y, { epochs: 1, batchSize: 8, shuffle: false, verbose: 0 });
    await loaded.fit(x, y, { epochs: 1, batchSize: 8, shuffle: false, verbose: 0 });
    expect(loaded.getWeights().map((w) => w.arraySync())).toEqual(m.getWeights().map((w) => w.arraySync()));
    for (const t of [x, y]) t.dispose();
    m.dispose();
    loaded.dispose();
    optimizer.dispose();
  });
});
