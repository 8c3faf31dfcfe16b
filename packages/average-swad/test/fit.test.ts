// model.fit: the callback reads val_loss from the epoch logs (validationData) — or from batch logs
// with evaluateEvery — with BatchNormalization and a metric; attached and standalone.
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { sharpnessAware } from '@flatmin/core';
import { gradient } from '@flatmin/perturb-gradient';
import { bnClassifier as model } from '@flatmin/test-kit';
import { describe, expect, it } from 'vitest';
import { swad } from '../src/index.js';
import { mean64, referenceWindow, relativeError } from './helpers.js';

function data(n: number, seed: number) {
  return tf.tidy(() => {
    const x = tf.randomNormal([n, 4], 0, 1, 'float32', seed);
    const labels = tf.cast(tf.greater(tf.sum(x, 1), 0), 'int32');
    return { x: tf.keep(x), y: tf.keep(tf.cast(tf.oneHot(labels, 2), 'float32')) };
  });
}

const trainable = (m: tfl.LayersModel) => m.trainableWeights.flatMap((w) => Array.from(w.read().dataSync()));
const movingStatistics = (m: tfl.LayersModel) => m.layers[1]!.getWeights().slice(2).map((t) => Array.from(t.dataSync()));
/** Records the trainable weights after every batch (placed before SWAD's callback). */
const recorder = (m: tfl.LayersModel, into: number[][]) => ({ onBatchEnd: async () => void into.push(trainable(m)) });
const SETTINGS = { nConverge: 3, nTolerance: 4, toleranceRatio: 0.05 };

describe('model.fit callback reading val_loss', () => {
  it('standalone next to tf.train.adam: the window from the epochs’ val_loss, the dense mean, BN statistics untouched', async () => {
    const { x, y } = data(32, 1);
    const val = data(16, 2);
    const m = model();
    m.compile({ optimizer: tf.train.adam(0.02), loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
    const averager = swad(SETTINGS);
    const handle = averager.attach(m);
    const trajectory: number[][] = [];
    const history = await m.fit(x, y, { epochs: 12, batchSize: 8, verbose: 0, shuffle: false, validationData: [val.x, val.y], callbacks: [recorder(m, trajectory), handle.callback()] });
    const losses = history.history['val_loss'] as number[];
    const at = losses.map((_, k) => 4 * (k + 1)); // 4 batches per epoch
    const reference = referenceWindow(losses, at, SETTINGS);
    expect(averager.window()).toEqual({ start: reference.start, end: reference.end });
    // This run's curve gives a non-empty window that starts retroactively (before the converging epoch 2).
    expect(reference.start).not.toBeNull();
    expect(reference.start!).toBeLessThan(reference.averagedTo!);
    // The model ends holding the average (applyOnTrainEnd); BatchNorm's moving statistics are not averaged.
    expect(handle.applied).toBe(true);
    const stats = movingStatistics(m);
    expect(relativeError(trainable(m), mean64(trajectory, reference.start!, reference.averagedTo!))).toBeLessThan(1e-5);
    handle.restore();
    expect(trainable(m)).toEqual(trajectory.at(-1));
    expect(movingStatistics(m)).toEqual(stats);
    // A second fit leaks nothing (the callback restores the training weights first).
    const before = tf.memory().numTensors;
    handle.restore();
    await m.fit(x, y, { epochs: 2, batchSize: 8, verbose: 0, shuffle: false, validationData: [val.x, val.y], callbacks: [handle.callback({ applyOnTrainEnd: false })] });
    expect(tf.memory().numTensors).toBe(before);
    handle.dispose();
    m.dispose();
    for (const t of [x, y, val.x, val.y]) t.dispose();
  });

  it('attached to sharpnessAware: optimizer.averager.callback(), same window as the reference, 2 loss evaluations per step', async () => {
    const { x, y } = data(32, 1);
    const val = data(16, 2);
    const m = model();
    const averager = swad(SETTINGS);
    const optimizer = sharpnessAware({ base: tf.train.adam(0.02), perturbation: gradient({ rho: 0.05 }), averager, seed: 1 });
    m.compile({ optimizer, loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
    const trajectory: number[][] = [];
    const history = await m.fit(x, y, { epochs: 12, batchSize: 8, verbose: 0, shuffle: false, validationData: [val.x, val.y], callbacks: [recorder(m, trajectory), optimizer.averager!.callback()] });
    const losses = history.history['val_loss'] as number[];
    const reference = referenceWindow(losses, losses.map((_, k) => 4 * (k + 1)), SETTINGS);
    expect(averager.window()).toEqual({ start: reference.start, end: reference.end });
    expect(optimizer.averager!.applied).toBe(true);
    expect(relativeError(trainable(m), mean64(trajectory, reference.start!, reference.averagedTo!))).toBeLessThan(1e-5);
    expect((await optimizer.telemetry()).lossEvaluations).toBe(2 * 48);
    optimizer.averager!.restore();
    expect(trainable(m)).toEqual(trajectory.at(-1));
    optimizer.dispose();
    m.dispose();
    for (const t of [x, y, val.x, val.y]) t.dispose();
  });

  it('evaluateEvery: reads val_loss from every n-th batch’s logs', async () => {
    const { x, y } = data(32, 1);
    const m = model();
    m.compile({ optimizer: tf.train.sgd(0.1), loss: 'categoricalCrossentropy' });
    const averager = swad({ ...SETTINGS, evaluateEvery: 3 });
    const handle = averager.attach(m);
    // Synthetic batch-level validation losses put into the logs by an earlier callback.
    const curve = [3, 2, 1, 1.02, 1.01, 1.2, 1.3, 1.4, 1.5, 1.6];
    let batches = 0;
    const feeder = {
      onBatchEnd: async (_b: number, logs?: Record<string, unknown>) => {
        logs!['val_loss'] = curve[Math.floor(batches / 3)]!;
        batches += 1;
      },
    };
    await m.fit(x, y, { epochs: 7, batchSize: 8, verbose: 0, shuffle: false, callbacks: [feeder, handle.callback({ applyOnTrainEnd: false })] });
    // Evaluations at batches 3, 6, …, 27: L = 3, 2, 1, 1.02, 1.01, 1.2, 1.3, 1.4, 1.5 (e_k = 3k).
    // c = 3 (1; 1.02), T = 1.05, no look-back (nTolerance = nConverge): t_s = e_3 + 1 = 10;
    // L_6, L_7 > 1.05 over 2 evaluations: t_e = e_5 = 15.
    expect(averager.window()).toEqual({ start: 10, end: 15 });
    handle.dispose();
    m.dispose();
    for (const t of [x, y]) t.dispose();
  });

  it('without validation data the callback says what is missing', async () => {
    const { x, y } = data(8, 1);
    const m = model();
    m.compile({ optimizer: tf.train.sgd(0.1), loss: 'categoricalCrossentropy' });
    const handle = swad().attach(m);
    await expect(m.fit(x, y, { epochs: 1, batchSize: 8, verbose: 0, callbacks: [handle.callback()] })).rejects.toThrow(/val_loss.*validationData/);
    handle.dispose();
    m.dispose();
    for (const t of [x, y]) t.dispose();
  });
});
