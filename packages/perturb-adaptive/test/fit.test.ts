// tfjs-layers: model.fit with a conv kernel (rank 4, filter-wise T), BatchNormalization and a
// metric — no leak across fits, the BN moving statistics moved by the clean pass only, and a
// model saved with its optimizer loads back with the perturbation's config.
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { type Perturbation, SharpnessAwareOptimizer, sharpnessAware } from '@flatmin/core';
import { describe, expect, it } from 'vitest';
import { adaptive, fisher } from '../src/index.js';

function data(n = 16) {
  return tf.tidy(() => {
    const x = tf.randomNormal([n, 4, 4, 1], 0, 1, 'float32', 3);
    const labels = tf.cast(tf.greater(tf.sum(x, [1, 2, 3]), 0), 'int32');
    return { x: tf.keep(x), y: tf.keep(tf.cast(tf.oneHot(labels, 2), 'float32')) };
  });
}

function model(): tfl.Sequential {
  const m = tfl.sequential();
  m.add(tfl.layers.conv2d({ inputShape: [4, 4, 1], filters: 2, kernelSize: 3, kernelInitializer: tfl.initializers.glorotUniform({ seed: 1 }) }));
  m.add(tfl.layers.batchNormalization());
  m.add(tfl.layers.activation({ activation: 'relu' }));
  m.add(tfl.layers.flatten());
  m.add(tfl.layers.dense({ units: 2, activation: 'softmax', kernelInitializer: tfl.initializers.glorotUniform({ seed: 2 }) }));
  return m;
}

const PERTURBATIONS: [string, () => Perturbation][] = [
  ["adaptive 'element'", () => adaptive({ rho: 0.5 })],
  ["adaptive 'filter'", () => adaptive({ rho: 0.5, granularity: 'filter' })],
  ['fisher', () => fisher({ rho: 0.1 })],
];

describe('model.fit with BatchNormalization and a metric', () => {
  it.each(PERTURBATIONS)('%s: trains, leaks nothing across fits, 2 loss evaluations per step', async (_name, perturbation) => {
    const { x, y } = data();
    const m = model();
    const optimizer = sharpnessAware({ base: tf.train.sgd(0.1), perturbation: perturbation() });
    m.compile({ optimizer, loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
    const first = await m.fit(x, y, { epochs: 1, batchSize: 8, verbose: 0, shuffle: false });
    const before = tf.memory();
    const second = await m.fit(x, y, { epochs: 3, batchSize: 8, verbose: 0, shuffle: false });
    const after = tf.memory();
    expect({ numTensors: after.numTensors, numBytes: after.numBytes }).toEqual({ numTensors: before.numTensors, numBytes: before.numBytes });
    expect(optimizer.steps).toBe(4 * 2);
    expect(optimizer.lossEvaluations).toBe(2 * 4 * 2);
    expect(second.history['acc']).toHaveLength(3);
    const losses = [...(first.history['loss'] as number[]), ...(second.history['loss'] as number[])];
    expect(losses.every(Number.isFinite)).toBe(true);
    expect(losses.at(-1)!).toBeLessThan(losses[0]!);
    m.dispose();
    optimizer.dispose();
    tf.dispose([x, y]);
  });

  it.each(PERTURBATIONS)('%s: BN moving statistics are those of one (clean) pass per step', async (_name, perturbation) => {
    const { x, y } = data();
    const plain = model();
    const sharp = model();
    sharp.setWeights(plain.getWeights());
    const sgd = tf.train.sgd(0.1);
    const optimizer = sharpnessAware({ base: tf.train.sgd(0.1), perturbation: perturbation() });
    plain.compile({ optimizer: sgd, loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
    sharp.compile({ optimizer, loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
    // One batch each: one update from the same weights, so the clean forward pass is the same.
    await plain.fit(x, y, { epochs: 1, batchSize: 16, verbose: 0, shuffle: false });
    await sharp.fit(x, y, { epochs: 1, batchSize: 16, verbose: 0, shuffle: false });
    const stats = (m: tfl.LayersModel) => m.layers[1]!.getWeights().slice(2).map((t) => t.arraySync()); // moving mean, variance
    expect(stats(sharp)).toEqual(stats(plain));
    expect(stats(plain)[0]).not.toEqual([0, 0]); // the clean pass did move them
    // The update did use g(w + ε): the conv kernel differs from plain SGD's.
    expect(sharp.layers[0]!.getWeights()[0]!.arraySync()).not.toEqual(plain.layers[0]!.getWeights()[0]!.arraySync());
    for (const m of [plain, sharp]) m.dispose();
    sgd.dispose();
    optimizer.dispose();
    tf.dispose([x, y]);
  });

  it('a model saved with includeOptimizer loads back with the adaptive perturbation and its config', async () => {
    const { x, y } = data();
    const m = model();
    const optimizer = sharpnessAware({ base: tf.train.sgd(0.1), perturbation: adaptive({ rho: 0.3, eta: 0.05, granularity: 'filter' }) });
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
    expect(restored.perturbation.name).toBe('adaptive');
    expect(restored.perturbation.config).toEqual({ rho: 0.3, eta: 0.05, granularity: 'filter', adaptWhere: 'rank>=2' });
    expect(restored.steps).toBe(2);
    for (const model of [m, loaded]) model.dispose();
    optimizer.dispose();
    tf.dispose([x, y]);
  });
});
