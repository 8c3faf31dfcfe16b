// ema() as a model.fit callback next to tf.train.adam (standalone) and attached to sharpnessAware,
// with BatchNormalization and a metric; averagedEvaluation at each epoch end.
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { sharpnessAware } from '@flatmin/core';
import { fitData as data, bnClassifier as model } from '@flatmin/test-kit';
import { describe, expect, it } from 'vitest';
import { gradient } from '../../perturb-gradient/src/index.js';
import { averagedEvaluation, ema } from '../src/index.js';
import { ema64, relativeError } from './reference.js';

const trainable = (m: tfl.LayersModel) => m.trainableWeights.map((w) => Array.from(w.read().dataSync()));

describe('standalone: ema().attach(model).callback() next to tf.train.adam', () => {
  it('updates after every batch (float64 recurrence of the recorded weights), ends holding the averages, BatchNorm statistics kept, no leak across fits', async () => {
    const { x, y } = data(32);
    const m = model();
    const handle = ema({ decay: 0.7 }).attach(m);
    m.compile({ optimizer: tf.train.adam(0.01), loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
    const trajectory: number[][] = [];
    const recorder = { onBatchEnd: async () => void trajectory.push(trainable(m).flat()) };
    await m.fit(x, y, { epochs: 2, batchSize: 8, shuffle: false, verbose: 0, callbacks: [recorder, handle.callback()] });
    expect(handle.steps).toBe(8);
    expect(handle.applied).toBe(true);
    const movingBefore = m.layers[1]!.getWeights().slice(2).map((t) => t.arraySync());
    expect(relativeError(trainable(m).flat(), ema64(trajectory, 0.7, true))).toBeLessThan(1e-6);
    handle.restore();
    expect(trainable(m).flat()).toEqual(trajectory.at(-1));
    expect(m.layers[1]!.getWeights().slice(2).map((t) => t.arraySync())).toEqual(movingBefore); // not averaged: kept
    const before = tf.memory();
    const history = await m.fit(x, y, { epochs: 2, batchSize: 8, shuffle: false, verbose: 0, callbacks: [handle.callback({ applyOnTrainEnd: false })] });
    const after = tf.memory();
    expect({ n: after.numTensors, b: after.numBytes }).toEqual({ n: before.numTensors, b: before.numBytes });
    expect(history.history['acc']).toHaveLength(2);
    expect(handle.steps).toBe(16);
    expect(handle.applied).toBe(false);
    handle.dispose();
    m.dispose();
    tf.dispose([x, y]);
  });

  it('averagedEvaluation: the averaged weights are evaluated at each epoch end, and the training weights put back', async () => {
    const { x, y } = data(16);
    const m = model();
    const handle = ema({ decay: 0.5 }).attach(m);
    m.compile({ optimizer: tf.train.adam(0.01), loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
    const seen: number[] = [];
    const check = {
      onEpochEnd: async (_epoch: number, logs?: tfl.Logs) => {
        // Evaluate the averages independently: apply, evaluate, restore.
        handle.apply();
        const loss = (m.evaluate(x, y, { verbose: 0 }) as tf.Scalar[])[0]!;
        seen.push(loss.dataSync()[0]!);
        loss.dispose();
        handle.restore();
        expect(logs!['averaged_loss']).toBe(seen.at(-1));
      },
    };
    const weights: number[][] = [];
    await m.fit(x, y, {
      epochs: 2,
      batchSize: 8,
      shuffle: false,
      verbose: 0,
      callbacks: [handle.callback({ applyOnTrainEnd: false }), averagedEvaluation(handle, m, { x, y }), check, { onEpochEnd: async () => void weights.push(trainable(m).flat()) }],
    });
    expect(seen).toHaveLength(2);
    expect(handle.applied).toBe(false);
    handle.apply();
    expect(trainable(m).flat()).not.toEqual(weights.at(-1)); // training weights were in place after the evaluation
    handle.restore();
    handle.dispose();
    m.dispose();
    tf.dispose([x, y]);
  });
});

describe('attached: sharpnessAware({ averager: ema() }) under model.fit', () => {
  it('BatchNorm statistics move by the clean pass only; two loss evaluations per step; callback applies at the end', async () => {
    const { x, y } = data(16);
    const plain = model();
    const sharp = model();
    sharp.setWeights(plain.getWeights());
    const optimizer = sharpnessAware({ base: tf.train.sgd(0.1), perturbation: gradient({ rho: 0.5 }), averager: ema({ decay: 0.9 }) });
    plain.compile({ optimizer: tf.train.sgd(0.1), loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
    sharp.compile({ optimizer, loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
    await plain.fit(x, y, { epochs: 1, batchSize: 16, shuffle: false, verbose: 0 });
    await sharp.fit(x, y, { epochs: 1, batchSize: 16, shuffle: false, verbose: 0, callbacks: optimizer.averager!.callback() });
    const stats = (m: tfl.LayersModel) => m.layers[1]!.getWeights().slice(2).map((t) => t.arraySync());
    expect(stats(sharp)).toEqual(stats(plain));
    expect(optimizer.lossEvaluations).toBe(2);
    expect(optimizer.averager!.applied).toBe(true);
    optimizer.averager!.restore();
    const before = tf.memory();
    await sharp.fit(x, y, { epochs: 2, batchSize: 8, shuffle: false, verbose: 0, callbacks: optimizer.averager!.callback() });
    optimizer.averager!.restore();
    const after = tf.memory();
    expect({ n: after.numTensors, b: after.numBytes }).toEqual({ n: before.numTensors, b: before.numBytes });
    expect(optimizer.lossEvaluations).toBe(2 * 5);
    for (const m of [plain, sharp]) m.dispose();
    optimizer.dispose();
    tf.dispose([x, y]);
  });
});
