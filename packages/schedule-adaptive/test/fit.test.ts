// tfjs-layers: model.compile + model.fit with BatchNormalization and a metric. BatchNorm moving
// statistics move by one pass per step (the clean pass: a sharp step's adversarial pass leaves
// them, a plain step makes no other), nothing leaks across fits, the cost is one pass per step
// plus one per sharp step, and a model saved with its optimizer loads back with the schedule's
// config and its μ, σ².
import * as tf from '@tensorflow/tfjs-core';
import { type Schedule, SharpnessAwareOptimizer, sharpnessAware } from '@flatmin/core';
import { gradient } from '@flatmin/perturb-gradient';
import { bnClassifier as model, fitData as data, movingStatistics, reloaded } from '@flatmin/test-kit';
import { describe, expect, it } from 'vitest';
import { adaptivePolicy } from '../src/index.js';

const optimizerWith = (schedule: Schedule, base: tf.Optimizer = tf.train.sgd(0.1)) => sharpnessAware({ base, perturbation: gradient({ rho: 0.5 }), schedule, seed: 3 });

describe('model.fit with BatchNormalization and a metric', () => {
  it('the first step (sharp with the defaults) moves BatchNorm statistics by the clean pass only', async () => {
    const { x, y } = data(16);
    const plain = model();
    const sharp = model();
    sharp.setWeights(plain.getWeights());
    const sgd = tf.train.sgd(0.1);
    const optimizer = optimizerWith(adaptivePolicy({ totalSteps: 10 }));
    plain.compile({ optimizer: sgd, loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
    sharp.compile({ optimizer, loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
    await plain.fit(x, y, { epochs: 1, batchSize: 16, verbose: 0, shuffle: false });
    await sharp.fit(x, y, { epochs: 1, batchSize: 16, verbose: 0, shuffle: false });
    expect(optimizer.sharpSteps).toBe(1);
    expect(optimizer.lossEvaluations).toBe(2);
    expect(movingStatistics(sharp)).toEqual(movingStatistics(plain));
    expect(movingStatistics(plain)[0]).not.toEqual([0, 0, 0, 0, 0, 0]); // the clean pass did move them
    // The update took g(w + ε): the kernels differ from plain SGD's.
    expect(sharp.layers[0]!.getWeights()[0]!.arraySync()).not.toEqual(plain.layers[0]!.getWeights()[0]!.arraySync());
    for (const t of [x, y]) t.dispose();
    plain.dispose();
    sharp.dispose();
    sgd.dispose();
    optimizer.dispose();
  });

  it('a policy that never goes sharp (λ = 10⁹) is plain SGD under fit: weights and BatchNorm statistics bit-identical, one pass per step', async () => {
    const { x, y } = data(32);
    const plain = model();
    const policy = model();
    policy.setWeights(plain.getWeights());
    const sgd = tf.train.sgd(0.1);
    const optimizer = optimizerWith(adaptivePolicy({ lambda1: 1e9, lambda2: 1e9, totalSteps: 8 }));
    plain.compile({ optimizer: sgd, loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
    policy.compile({ optimizer, loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
    const expected = await plain.fit(x, y, { epochs: 2, batchSize: 8, shuffle: false, verbose: 0 });
    const actual = await policy.fit(x, y, { epochs: 2, batchSize: 8, shuffle: false, verbose: 0 });
    expect(optimizer.steps).toBe(8);
    expect(optimizer.sharpSteps).toBe(0);
    expect(optimizer.lossEvaluations).toBe(8);
    expect(policy.getWeights().map((w) => w.arraySync())).toEqual(plain.getWeights().map((w) => w.arraySync()));
    expect(actual.history['acc']).toEqual(expected.history['acc']);
    for (const t of [x, y]) t.dispose();
    plain.dispose();
    policy.dispose();
    sgd.dispose();
    optimizer.dispose();
  });

  it('trains, reports the metric, costs steps + sharp steps passes, leaks nothing across fits', async () => {
    const { x, y } = data(32);
    const m = model();
    const optimizer = optimizerWith(adaptivePolicy({ totalSteps: 20 }), tf.train.momentum(0.1, 0.9));
    m.compile({ optimizer, loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
    const first = await m.fit(x, y, { epochs: 2, batchSize: 8, verbose: 0, shuffle: false });
    const before = tf.memory();
    const second = await m.fit(x, y, { epochs: 3, batchSize: 8, verbose: 0, shuffle: false });
    const after = tf.memory();
    expect({ numTensors: after.numTensors, numBytes: after.numBytes }).toEqual({ numTensors: before.numTensors, numBytes: before.numBytes });
    expect(optimizer.steps).toBe(5 * 4);
    expect(optimizer.sharpSteps).toBeGreaterThan(0);
    expect(optimizer.lossEvaluations).toBe(optimizer.steps + optimizer.sharpSteps);
    expect(second.history['acc']).toHaveLength(3);
    const losses = [...(first.history['loss'] as number[]), ...(second.history['loss'] as number[])];
    expect(losses.at(-1)!).toBeLessThan(losses[0]!);
    for (const t of [x, y]) t.dispose();
    m.dispose();
    optimizer.dispose();
  });
});

describe('model.save with includeOptimizer', () => {
  it('loads back with the schedule config and its μ, σ², and resumes with the same decisions', async () => {
    const { x, y } = data(16);
    const m = model();
    const optimizer = optimizerWith(adaptivePolicy({ delta: 0.8, totalSteps: 12 }), tf.train.momentum(0.05, 0.9));
    m.compile({ optimizer, loss: 'categoricalCrossentropy' });
    await m.fit(x, y, { epochs: 1, batchSize: 4, verbose: 0, shuffle: false });
    const loaded = await reloaded(m, { includeOptimizer: true });
    const restored = loaded.optimizer as SharpnessAwareOptimizer;
    expect(restored).toBeInstanceOf(SharpnessAwareOptimizer);
    expect(restored.schedule.name).toBe('adaptivePolicy');
    expect(restored.schedule.config).toEqual(optimizer.schedule.config);
    const state = async (o: tf.Optimizer) =>
      (await o.getWeights()).filter((w) => w.name.startsWith('flatmin/schedule/')).map((w) => [w.name, Array.from(w.tensor.dataSync())] as const);
    const saved = await state(optimizer);
    expect(saved.map(([name]) => name)).toEqual(['flatmin/schedule/mean', 'flatmin/schedule/variance']);
    expect(await state(restored)).toEqual(saved);
    expect(restored.steps).toBe(4);
    // One more epoch on each: the same weights, the same sharp steps.
    await m.fit(x, y, { epochs: 1, batchSize: 4, shuffle: false, verbose: 0 });
    await loaded.fit(x, y, { epochs: 1, batchSize: 4, shuffle: false, verbose: 0 });
    expect(restored.sharpSteps).toBe(optimizer.sharpSteps);
    expect(loaded.getWeights().map((w) => w.arraySync())).toEqual(m.getWeights().map((w) => w.arraySync()));
    for (const t of [x, y]) t.dispose();
    m.dispose();
    loaded.dispose();
    optimizer.dispose();
  });
});
