// tfjs-layers: model.compile + model.fit with BatchNormalization and a metric. One pass per step
// moves the BatchNorm statistics; nothing leaks across fits; a callback that sets the learning rate
// changes GSAM's ρ at the next step; LETS' validation closure runs the model with training: false;
// model.save with the optimizer restores a rhoSchedule with its rule and its inner schedule.
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { always, type Schedule, SharpnessAwareOptimizer, sharpnessAware } from '@flatmin/core';
import { gradient } from '@flatmin/perturb-gradient';
import { bnClassifier as model, movingStatistics } from '@flatmin/test-kit';
import { describe, expect, it } from 'vitest';
import { inverseSqrt, learnedRho, proportionalToLearningRate, rhoSchedule } from '../src/index.js';
import { alternating } from './helpers.js';

function data(n: number, seed: number) {
  return tf.tidy(() => {
    const x = tf.randomNormal([n, 4], 0, 1, 'float32', seed);
    const labels = tf.cast(tf.greater(tf.sum(x, 1), 0), 'int32');
    return { x: tf.keep(x), y: tf.keep(tf.cast(tf.oneHot(labels, 2), 'float32')) };
  });
}

const validationData = data(8, 9);
/** LETS' validation closure for a model: cross-entropy of its softmax output on a held-out batch, in inference mode. */
const validationFor = (m: () => tfl.LayersModel) => () => {
  const p = m().apply(validationData.x) as tf.Tensor;
  return tf.neg(tf.mean(tf.sum(tf.mul(validationData.y, tf.log(tf.add(p, 1e-7))), 1))) as tf.Scalar;
};

type Row = [string, (m: () => tfl.LayersModel) => Schedule];
const rows: Row[] = [
  ['rhoSchedule(inverseSqrt)', () => rhoSchedule(inverseSqrt({ rho: 0.5 }))],
  ['rhoSchedule(proportionalToLearningRate)', () => rhoSchedule(proportionalToLearningRate({ rhoMax: 0.5, lrMax: 0.1 }))],
  ['learnedRho', (m) => learnedRho({ rho0: 0.5, lr: 0.1, validation: validationFor(m) })],
];

describe('model.fit with BatchNormalization and a metric', () => {
  it.each(rows)('%s: BatchNorm statistics move by the clean pass only, every step (LETS’ validation pass does not move them)', async (_name, make) => {
    const { x, y } = data(16, 1);
    const plain = model();
    const sharp = model();
    plain.setWeights(sharp.getWeights());
    const optimizer = sharpnessAware({ base: tf.train.sgd(0.1), perturbation: gradient(), schedule: make(() => sharp) });
    sharp.compile({ optimizer, loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
    const sgds: tf.Optimizer[] = [];
    // Two steps (LETS updates ρ at the second, with a validation pass). Before each, plain SGD takes
    // one step from the same weights: the clean forward passes match, so must the statistics.
    for (let step = 0; step < 2; step += 1) {
      plain.setWeights(sharp.getWeights());
      const sgd = tf.train.sgd(0.1);
      sgds.push(sgd);
      plain.compile({ optimizer: sgd, loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
      const before = movingStatistics(sharp);
      await plain.fit(x, y, { epochs: 1, batchSize: 16, verbose: 0, shuffle: false });
      await sharp.fit(x, y, { epochs: 1, batchSize: 16, verbose: 0, shuffle: false });
      expect(movingStatistics(sharp)).toEqual(movingStatistics(plain));
      expect(movingStatistics(sharp)).not.toEqual(before); // the clean pass did move them
      // The update did take g(w + ε): the kernels differ from plain SGD's.
      expect(sharp.layers[0]!.getWeights()[0]!.arraySync()).not.toEqual(plain.layers[0]!.getWeights()[0]!.arraySync());
    }
    expect(optimizer.lossEvaluations).toBe(4);
    for (const t of [x, y]) t.dispose();
    plain.dispose();
    sharp.dispose();
    for (const o of [...sgds, optimizer]) o.dispose();
  });

  it.each(rows)('%s: trains, reports the metric, leaks nothing across fits', async (_name, make) => {
    const { x, y } = data(32, 1);
    const m = model();
    const optimizer = sharpnessAware({ base: tf.train.momentum(0.1, 0.9), perturbation: gradient(), schedule: make(() => m), seed: 1 });
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

describe('a callback that sets the learning rate changes GSAM’s ρ at the next step', () => {
  it('onBatchEnd halves model.optimizer.learningRate: ρ follows, one step later', async () => {
    const { x, y } = data(32, 1);
    const m = model();
    const optimizer = sharpnessAware({ base: tf.train.sgd(0.1), perturbation: gradient(), schedule: rhoSchedule(proportionalToLearningRate({ rhoMin: 0, rhoMax: 0.4, lrMin: 0, lrMax: 0.1 })) });
    m.compile({ optimizer, loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
    const rhos: number[] = [];
    const rates: number[] = [];
    await m.fit(x, y, {
      epochs: 1,
      batchSize: 8,
      verbose: 0,
      callbacks: {
        onBatchBegin: async () => {
          rates.push((m.optimizer as SharpnessAwareOptimizer).learningRate);
        },
        onBatchEnd: async () => {
          rhos.push((await optimizer.telemetry()).rho);
          (m.optimizer as SharpnessAwareOptimizer).learningRate *= 0.5;
        },
      },
    });
    expect(rates).toEqual([0.1, 0.05, 0.025, 0.0125]);
    rhos.forEach((rho, t) => {
      expect(rho).toBeCloseTo(0.4 * (rates[t]! / 0.1), 7);
    });
    for (const t of [x, y]) t.dispose();
    m.dispose();
    optimizer.dispose();
  });
});

describe('model.save with includeOptimizer', () => {
  it('rhoSchedule(rule, inner) loads back with its rule, its inner schedule and its nested state', async () => {
    const { x, y } = data(16, 1);
    const m = model();
    const optimizer = sharpnessAware({ base: tf.train.sgd(0.1), perturbation: gradient(), schedule: rhoSchedule(inverseSqrt({ rho: 0.3 }), alternating()) });
    m.compile({ optimizer, loss: 'categoricalCrossentropy' });
    await m.fit(x, y, { epochs: 1, batchSize: 8, verbose: 0, shuffle: false });
    let artifacts: tf.io.ModelArtifacts | undefined;
    await m.save(
      tf.io.withSaveHandler(async (a) => {
        artifacts = a;
        return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
      }),
      { includeOptimizer: true },
    );
    const loaded = await tfl.loadLayersModel(tf.io.fromMemory(artifacts!));
    const restored = loaded.optimizer as SharpnessAwareOptimizer;
    expect(restored).toBeInstanceOf(SharpnessAwareOptimizer);
    expect(restored.schedule.config).toEqual(optimizer.schedule.config);
    const counter = async (o: tf.Optimizer) => (await o.getWeights()).find((w) => w.name === 'flatmin#/schedule/inner-count')?.tensor.arraySync();
    expect(await counter(restored)).toEqual(await counter(optimizer));
    await m.fit(x, y, { epochs: 1, batchSize: 8, shuffle: false, verbose: 0 });
    await loaded.fit(x, y, { epochs: 1, batchSize: 8, shuffle: false, verbose: 0 });
    expect(loaded.getWeights().map((w) => w.arraySync())).toEqual(m.getWeights().map((w) => w.arraySync()));
    for (const t of [x, y]) t.dispose();
    m.dispose();
    loaded.dispose();
    optimizer.dispose();
  });

  it('rhoSchedule with a plain function: loading the model refuses the optimizer by the key rho', async () => {
    const m = model();
    const optimizer = sharpnessAware({ base: tf.train.sgd(0.1), perturbation: gradient(), schedule: rhoSchedule(() => 0.1, always()) });
    m.compile({ optimizer, loss: 'categoricalCrossentropy' });
    let artifacts: tf.io.ModelArtifacts | undefined;
    await m.save(
      tf.io.withSaveHandler(async (a) => {
        artifacts = a;
        return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
      }),
      { includeOptimizer: true },
    );
    await expect(tfl.loadLayersModel(tf.io.fromMemory(artifacts!))).rejects.toMatchObject({ name: 'FlatminConfigError', key: 'rho' });
    m.dispose();
    optimizer.dispose();
  });
});
