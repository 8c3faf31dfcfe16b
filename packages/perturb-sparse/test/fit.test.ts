// model.fit with BatchNormalization and a metric (a plain closure: fisherMask's squared
// batch-gradient EMA, the documented fallback), BatchNorm statistics moved by one pass per step,
// loss evaluations counted, no leak across fits; and a custom loop that returns per-sample losses.
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { sharpnessAware } from '@flatmin/core';
import { gradient } from '@flatmin/perturb-gradient';
import { describe, expect, it } from 'vitest';
import { dynamicMask, fisherMask, type Mask, randomMask, sparse } from '../src/index.js';

function data(n = 32) {
  return tf.tidy(() => {
    const x = tf.randomNormal([n, 4], 0, 1, 'float32', 1);
    const labels = tf.cast(tf.greater(tf.sum(x, 1), 0), 'int32');
    return { x: tf.keep(x), y: tf.keep(tf.cast(tf.oneHot(labels, 2), 'float32')) };
  });
}

function model(batchNorm: boolean) {
  const m = tfl.sequential();
  m.add(tfl.layers.dense({ units: 8, inputShape: [4], kernelInitializer: tfl.initializers.glorotUniform({ seed: 1 }) }));
  if (batchNorm) m.add(tfl.layers.batchNormalization());
  m.add(tfl.layers.activation({ activation: 'relu' }));
  m.add(tfl.layers.dense({ units: 2, activation: 'softmax', kernelInitializer: tfl.initializers.glorotUniform({ seed: 2 }) }));
  return m;
}

const MASKS: [string, () => Mask][] = [
  ['fisherMask (squared batch-gradient EMA fallback)', () => fisherMask({ updateEvery: 2 })],
  ['dynamicMask', () => dynamicMask({ updateEvery: 2, totalSteps: 40 })],
  ['randomMask', () => randomMask({ keep: 0.5 })],
];

const movingStats = (m: tfl.LayersModel) =>
  m.layers[1]!.getWeights()
    .slice(2) // moving_mean, moving_variance
    .map((t) => t.arraySync());

describe.each(MASKS)('model.fit with BatchNormalization and a metric: %s', (_name, mask) => {
  it('trains, leaks nothing across fits, counts two loss evaluations per step', async () => {
    const { x, y } = data();
    const m = model(true);
    const optimizer = sharpnessAware({ base: tf.train.sgd(0.1), perturbation: sparse(gradient({ rho: 0.05 }), mask()), seed: 1 });
    m.compile({ optimizer, loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
    const first = await m.fit(x, y, { epochs: 2, batchSize: 8, verbose: 0 });
    const before = tf.memory();
    const second = await m.fit(x, y, { epochs: 3, batchSize: 8, verbose: 0 });
    const after = tf.memory();
    expect({ numTensors: after.numTensors, numBytes: after.numBytes }).toEqual({ numTensors: before.numTensors, numBytes: before.numBytes });
    expect(optimizer.steps).toBe(20);
    expect((await optimizer.telemetry()).lossEvaluations).toBe(40);
    expect(second.history['acc']).toHaveLength(3);
    const losses = [...(first.history['loss'] as number[]), ...(second.history['loss'] as number[])];
    expect(losses.at(-1)!).toBeLessThan(losses[0]!);
    m.dispose();
    optimizer.dispose();
    tf.dispose([x, y]);
  });

  it('BatchNorm moving statistics move by the clean pass only (equal to one plain SGD step)', async () => {
    const { x, y } = data(16);
    const plain = model(true);
    const sharp = model(true);
    sharp.setWeights(plain.getWeights());
    const sgd = tf.train.sgd(0.1);
    const optimizer = sharpnessAware({ base: tf.train.sgd(0.1), perturbation: sparse(gradient({ rho: 0.5 }), mask()), seed: 2 });
    plain.compile({ optimizer: sgd, loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
    sharp.compile({ optimizer, loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
    await plain.fit(x, y, { epochs: 1, batchSize: 16, verbose: 0 });
    await sharp.fit(x, y, { epochs: 1, batchSize: 16, verbose: 0 });
    expect(movingStats(sharp)).toEqual(movingStats(plain));
    expect(movingStats(plain)[0]).not.toEqual(new Array(8).fill(0)); // the clean pass did move them
    // ...and the step was sharp: the kernel differs from plain SGD's.
    expect(sharp.layers[0]!.getWeights()[0]!.arraySync()).not.toEqual(plain.layers[0]!.getWeights()[0]!.arraySync());
    for (const m of [plain, sharp]) m.dispose();
    sgd.dispose();
    optimizer.dispose();
    tf.dispose([x, y]);
  });
});

describe('a custom loop that returns per-sample losses', () => {
  it('fisherMask does not need them (no requires) and gives the same steps as with a plain closure', () => {
    const { x, y } = data(16);
    const run = (withPerSample: boolean) => {
      const m = model(false);
      const optimizer = sharpnessAware({ base: tf.train.sgd(0.1), perturbation: sparse(gradient({ rho: 0.1 }), fisherMask({ updateEvery: 1 })) });
      expect(optimizer.getConfig()).toBeDefined();
      for (let i = 0; i < 4; i += 1) {
        optimizer.minimize(() => {
          const probabilities = m.apply(x) as tf.Tensor2D; // softmax outputs: the per-example cross-entropy
          const perSample = tf.neg(tf.sum(tf.mul(y, tf.log(tf.add(probabilities, 1e-7))), 1)) as tf.Tensor1D;
          return withPerSample ? { loss: tf.mean(perSample) as tf.Scalar, perSample } : (tf.mean(perSample) as tf.Scalar);
        });
      }
      const weights = m.getWeights().map((w) => w.arraySync());
      m.dispose();
      optimizer.dispose();
      return weights;
    };
    expect(run(true)).toEqual(run(false));
    expect(sparse(gradient(), fisherMask()).requires).toBeUndefined();
    tf.dispose([x, y]);
  });
});
