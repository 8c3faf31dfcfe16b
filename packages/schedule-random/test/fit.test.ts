// tfjs-layers: model.compile + model.fit with BatchNormalization and a metric. On every step —
// sharp or plain — the BatchNorm moving statistics move exactly as one plain SGD step from the
// same weights moves them (one pass per step updates them), nothing leaks across fits, the loss
// evaluations are 1 + (sharp steps), and a model saved with its optimizer loads back with its p(t)
// and its generator, and resumes with the same draws.
import * as tf from '@tensorflow/tfjs-core';
import { SharpnessAwareOptimizer, sharpnessAware } from '@flatmin/core';
import { gradient } from '@flatmin/perturb-gradient';
import { bnClassifier as model, fitData as data, movingStatistics, reloaded } from '@flatmin/test-kit';
import { describe, expect, it } from 'vitest';
import { linearP, randomly } from '../src/index.js';

describe('model.fit with BatchNormalization and a metric', () => {
  it('on sharp and plain steps alike, BatchNorm statistics move as one plain pass moves them', async () => {
    const { x, y } = data(16);
    const plain = model();
    const sharp = model();
    const sgd = tf.train.sgd(0.1);
    const optimizer = sharpnessAware({ base: tf.train.sgd(0.1), perturbation: gradient({ rho: 0.5 }), schedule: randomly({ p: 0.5 }), seed: 5 });
    plain.compile({ optimizer: sgd, loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
    sharp.compile({ optimizer, loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
    const kinds: boolean[] = [];
    for (let t = 0; t < 6; t += 1) {
      // Same weights (and statistics) before the step, so the clean forward passes match exactly.
      plain.setWeights(sharp.getWeights());
      const before = movingStatistics(sharp);
      await plain.fit(x, y, { epochs: 1, batchSize: 16, verbose: 0, shuffle: false });
      await sharp.fit(x, y, { epochs: 1, batchSize: 16, verbose: 0, shuffle: false });
      expect(movingStatistics(sharp)).toEqual(movingStatistics(plain));
      expect(movingStatistics(sharp)).not.toEqual(before); // the clean pass did move them
      const telemetry = await optimizer.telemetry();
      kinds.push(telemetry.sharp);
      // A sharp step's update differs from plain SGD's; a plain step's is plain SGD's, bit for bit.
      const same = JSON.stringify(sharp.getWeights().map((w) => w.arraySync())) === JSON.stringify(plain.getWeights().map((w) => w.arraySync()));
      expect(same).toBe(!telemetry.sharp);
    }
    expect(kinds).toContain(true);
    expect(kinds).toContain(false);
    expect(optimizer.lossEvaluations).toBe(6 + kinds.filter(Boolean).length);
    for (const t of [x, y]) t.dispose();
    plain.dispose();
    sharp.dispose();
    sgd.dispose();
    optimizer.dispose();
  });

  it('trains, reports the metric, leaks nothing across fits, costs one pass plus one per sharp step', async () => {
    const { x, y } = data(32);
    const m = model();
    const optimizer = sharpnessAware({ base: tf.train.momentum(0.1, 0.9), perturbation: gradient({ rho: 0.05 }), schedule: randomly({ p: 0.5 }), seed: 2 });
    m.compile({ optimizer, loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
    const first = await m.fit(x, y, { epochs: 2, batchSize: 8, verbose: 0, shuffle: false });
    const before = tf.memory();
    const second = await m.fit(x, y, { epochs: 3, batchSize: 8, verbose: 0, shuffle: false });
    const after = tf.memory();
    expect({ numTensors: after.numTensors, numBytes: after.numBytes }).toEqual({ numTensors: before.numTensors, numBytes: before.numBytes });
    expect(optimizer.steps).toBe(20);
    expect(optimizer.sharpSteps).toBeGreaterThan(0);
    expect(optimizer.sharpSteps).toBeLessThan(20);
    expect(optimizer.lossEvaluations).toBe(20 + optimizer.sharpSteps);
    expect(second.history['acc']).toHaveLength(3);
    const losses = [...(first.history['loss'] as number[]), ...(second.history['loss'] as number[])];
    expect(losses.at(-1)!).toBeLessThan(losses[0]!);
    for (const t of [x, y]) t.dispose();
    m.dispose();
    optimizer.dispose();
  });
});

describe('model.save with includeOptimizer', () => {
  it('loads back with its config and its generator, and resumes with the same draws', async () => {
    const { x, y } = data(16);
    const m = model();
    const optimizer = sharpnessAware({ base: tf.train.momentum(0.05, 0.9), perturbation: gradient({ rho: 0.1 }), schedule: randomly({ p: linearP({ from: 0.3, to: 0.7, totalSteps: 8 }) }), seed: 8 });
    m.compile({ optimizer, loss: 'categoricalCrossentropy' });
    await m.fit(x, y, { epochs: 1, batchSize: 8, verbose: 0, shuffle: false });
    const loaded = await reloaded(m, { includeOptimizer: true });
    const restored = loaded.optimizer as SharpnessAwareOptimizer;
    expect(restored).toBeInstanceOf(SharpnessAwareOptimizer);
    expect(restored.schedule.name).toBe('randomly');
    expect(restored.schedule.config).toEqual({ p: { schedule: 'linear', from: 0.3, to: 0.7, totalSteps: 8 } });
    expect(restored.steps).toBe(2);
    const draws: boolean[][] = [[], []];
    for (let epoch = 0; epoch < 3; epoch += 1) {
      await m.fit(x, y, { epochs: 1, batchSize: 8, shuffle: false, verbose: 0 });
      await loaded.fit(x, y, { epochs: 1, batchSize: 8, shuffle: false, verbose: 0 });
      draws[0]!.push((await optimizer.telemetry()).sharp);
      draws[1]!.push((await restored.telemetry()).sharp);
    }
    expect(draws[1]).toEqual(draws[0]);
    expect(restored.sharpSteps).toBe(optimizer.sharpSteps);
    expect(loaded.getWeights().map((w) => w.arraySync())).toEqual(m.getWeights().map((w) => w.arraySync()));
    for (const t of [x, y]) t.dispose();
    m.dispose();
    loaded.dispose();
    optimizer.dispose();
  });
});
