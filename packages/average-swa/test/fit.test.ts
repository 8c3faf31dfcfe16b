// model.fit with BatchNormalization and a metric: swa() attached to sharpnessAware (the adversarial
// pass leaves BatchNorm statistics as the clean pass left them; no leak across fits; ends holding
// the float64 mean of the averaged iterates), standalone as a callback next to plain SGD, and
// model.save with includeOptimizer.
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { SharpnessAwareOptimizer, sharpnessAware } from '@flatmin/core';
import { gradient } from '@flatmin/perturb-gradient';
import { bnClassifier as model, fitData as data, reloaded } from '@flatmin/test-kit';
import { describe, expect, it } from 'vitest';
import { evaluateAveraged, swa } from '../src/index.js';
import { averagedIndices, maxRelative, mean64 } from './reference.js';

const movingStatistics = (m: tfl.LayersModel) => m.layers[1]!.getWeights().slice(2).map((t) => Array.from(t.dataSync()));
const trainable = (m: tfl.LayersModel) => m.trainableWeights.flatMap((w) => Array.from(w.read().dataSync()));
const all = (m: tfl.LayersModel) => m.getWeights().map((t) => Array.from(t.dataSync()));
/** A callback that records the trainable weights after every batch (tests only: reads the device). */
function recorder(m: tfl.LayersModel, into: number[][]) {
  return { onBatchEnd: async () => void into.push(trainable(m)) };
}

describe('swa() attached to sharpnessAware under model.fit', () => {
  it('BatchNorm statistics move by the clean pass only; two loss evaluations per step', async () => {
    const { x, y } = data(16);
    const plain = model();
    const sharp = model();
    sharp.setWeights(plain.getWeights());
    const sgd = tf.train.sgd(0.1);
    const optimizer = sharpnessAware({ base: tf.train.sgd(0.1), perturbation: gradient({ rho: 0.5 }), averager: swa() });
    plain.compile({ optimizer: sgd, loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
    sharp.compile({ optimizer, loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
    await plain.fit(x, y, { epochs: 1, batchSize: 16, verbose: 0, shuffle: false });
    await sharp.fit(x, y, { epochs: 1, batchSize: 16, verbose: 0, shuffle: false });
    expect(movingStatistics(sharp)).toEqual(movingStatistics(plain));
    expect(movingStatistics(plain)[0]).not.toEqual([0, 0, 0, 0, 0, 0]);
    expect((await optimizer.telemetry()).lossEvaluations).toBe(2);
    for (const t of [x, y]) t.dispose();
    plain.dispose();
    sharp.dispose();
    sgd.dispose();
    optimizer.dispose();
  });

  it('ends holding the float64 mean of the averaged iterates, reports the metric, leaks nothing across fits', async () => {
    const { x, y } = data(32);
    const m = model();
    const optimizer = sharpnessAware({ base: tf.train.sgd(0.1), perturbation: gradient({ rho: 0.05 }), averager: swa({ start: 3, every: 2 }) });
    m.compile({ optimizer, loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
    const trajectory: number[][] = [];
    const callbacks = [recorder(m, trajectory), optimizer.averager!.callback()];
    const evaluated: number[] = [];
    const atEpochEnd = evaluateAveraged(optimizer.averager!, async (epoch) => {
      expect(optimizer.averager!.applied).toBe(true);
      evaluated.push(epoch);
    });
    await m.fit(x, y, { epochs: 2, batchSize: 8, verbose: 0, shuffle: false, callbacks: [...callbacks, atEpochEnd] });
    // The second fit starts from the training weights (the callback restores them first).
    expect(optimizer.averager!.applied).toBe(true);
    optimizer.averager!.restore();
    const before = tf.memory();
    const second = await m.fit(x, y, { epochs: 2, batchSize: 8, verbose: 0, shuffle: false, callbacks });
    expect(optimizer.averager!.applied).toBe(true);
    const averaged = trainable(m);
    optimizer.averager!.restore();
    const after = tf.memory();
    expect({ numTensors: after.numTensors, numBytes: after.numBytes }).toEqual({ numTensors: before.numTensors, numBytes: before.numBytes });
    // Epoch 0 (updates 1–4) averages nothing yet (the first is update 5): skipped.
    expect(evaluated).toEqual([1]);
    expect(second.history['acc']).toHaveLength(2);
    expect(trajectory).toHaveLength(16);
    expect(maxRelative(averaged, mean64(trajectory, averagedIndices(16, 3, 2)))).toBeLessThan(1e-5);
    expect(trainable(m)).toEqual(trajectory.at(-1));
    for (const t of [x, y]) t.dispose();
    m.dispose();
    optimizer.dispose();
  });

  it('model.save with includeOptimizer: swa and its running average load back', async () => {
    const { x, y } = data(16);
    const m = model();
    const optimizer = sharpnessAware({ base: tf.train.sgd(0.05), perturbation: gradient({ rho: 0.05 }), averager: swa({ start: 1 }) });
    m.compile({ optimizer, loss: 'categoricalCrossentropy' });
    await m.fit(x, y, { epochs: 1, batchSize: 8, verbose: 0, shuffle: false });
    const loaded = await reloaded(m, { includeOptimizer: true });
    const restored = loaded.optimizer as SharpnessAwareOptimizer;
    expect(restored.averager!.component.config).toEqual({ start: 1, every: 1 });
    await m.fit(x, y, { epochs: 1, batchSize: 8, shuffle: false, verbose: 0 });
    await loaded.fit(x, y, { epochs: 1, batchSize: 8, shuffle: false, verbose: 0 });
    optimizer.averager!.apply();
    restored.averager!.apply();
    expect(all(loaded)).toEqual(all(m));
    for (const t of [x, y]) t.dispose();
    m.dispose();
    loaded.dispose();
    optimizer.dispose();
  });
});

describe('swa().attach(model) as a model.fit callback next to plain SGD', () => {
  it('training is untouched; ends holding the mean (BatchNorm statistics as training left them); onEpochEnd sees w̄', async () => {
    const { x, y } = data(24);
    const twin = model();
    const m = model();
    m.setWeights(twin.getWeights());
    const sgdTwin = tf.train.sgd(0.1);
    const sgd = tf.train.sgd(0.1);
    twin.compile({ optimizer: sgdTwin, loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
    m.compile({ optimizer: sgd, loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
    await twin.fit(x, y, { epochs: 2, batchSize: 8, verbose: 0, shuffle: false });
    const handle = swa({ start: 1 }).attach(m);
    const trajectory: number[][] = [];
    const seen: number[][] = [];
    const before = tf.memory().numTensors;
    await m.fit(x, y, {
      epochs: 2,
      batchSize: 8,
      verbose: 0,
      shuffle: false,
      callbacks: [recorder(m, trajectory), handle.callback({ onEpochEnd: async () => void seen.push(trainable(m)) })],
    });
    expect(handle.applied).toBe(true);
    expect(handle.steps).toBe(6);
    expect(maxRelative(trainable(m), mean64(trajectory, averagedIndices(6, 1, 1)))).toBeLessThan(1e-5);
    expect(maxRelative(seen[0]!, mean64(trajectory, averagedIndices(3, 1, 1)))).toBeLessThan(1e-5);
    expect(movingStatistics(m)).toEqual(movingStatistics(twin));
    handle.restore();
    // The epoch-end swap and the updates did not disturb training: the twin without SWA ends the same.
    expect(all(m)).toEqual(all(twin));
    handle.dispose();
    expect(tf.memory().numTensors).toBe(before);
    for (const t of [x, y]) t.dispose();
    m.dispose();
    twin.dispose();
    sgd.dispose();
    sgdTwin.dispose();
  });
});
