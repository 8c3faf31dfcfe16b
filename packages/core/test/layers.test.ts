// tfjs-layers integration: model.compile + model.fit (with metrics) run the sharp step
// unchanged, BatchNorm statistics survive the adversarial pass, and a model saved with its
// optimizer loads back with the optimizer's full state.
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { describe, expect, it } from 'vitest';
import { SharpnessAwareOptimizer, sharpnessAware } from '../src/index.js';
import { registerComponent } from '../src/kit.js';
import { samPerturbation } from './helpers.js';

registerComponent('perturbation', 'test-sam', (config) => samPerturbation(config['rho'] as number));

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

describe('model.fit', () => {
  it('trains with metrics and leaks nothing across fits', async () => {
    const { x, y } = data();
    const m = model(false);
    const optimizer = sharpnessAware({ base: tf.train.sgd(0.1), perturbation: samPerturbation(0.05), seed: 1 });
    m.compile({ optimizer, loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
    const first = await m.fit(x, y, { epochs: 2, batchSize: 8, verbose: 0, shuffle: false });
    const before = tf.memory();
    const second = await m.fit(x, y, { epochs: 3, batchSize: 8, verbose: 0, shuffle: false });
    const after = tf.memory();
    expect(after.numTensors).toBe(before.numTensors);
    expect(after.numBytes).toBe(before.numBytes);
    expect(optimizer.steps).toBe(5 * 4);
    expect(second.history['acc']).toHaveLength(3);
    const losses = [...(first.history['loss'] as number[]), ...(second.history['loss'] as number[])];
    expect(losses.at(-1)!).toBeLessThan(losses[0]!);
    m.dispose();
    optimizer.dispose();
    x.dispose();
    y.dispose();
  });

  it('accumulates gradients over batches: accumulate: 2 makes one update per two batches', async () => {
    const { x, y } = data(32);
    const m = model(false);
    const optimizer = sharpnessAware({ base: tf.train.sgd(0.1), perturbation: samPerturbation(0.05), accumulate: 2 });
    m.compile({ optimizer, loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
    const before = m.getWeights().map((w) => w.arraySync());
    await m.fit(x, y, { epochs: 1, batchSize: 8, verbose: 0, shuffle: false });
    expect(optimizer.steps).toBe(2); // 4 batches
    expect(m.getWeights().map((w) => w.arraySync())).not.toEqual(before);
    m.dispose();
    optimizer.dispose();
    x.dispose();
    y.dispose();
  });

  it('with ρ = 0, accumulate: 2 under fit is plain gradient accumulation: equal to one step on the two batches together', async () => {
    const { x, y } = data(16);
    const accumulated = model(false);
    const together = model(false);
    together.setWeights(accumulated.getWeights());
    accumulated.compile({ optimizer: sharpnessAware({ base: tf.train.sgd(0.5), perturbation: samPerturbation(0), accumulate: 2 }), loss: 'categoricalCrossentropy' });
    together.compile({ optimizer: tf.train.sgd(0.5), loss: 'categoricalCrossentropy' });
    await accumulated.fit(x, y, { epochs: 1, batchSize: 8, shuffle: false, verbose: 0 });
    await together.fit(x, y, { epochs: 1, batchSize: 16, shuffle: false, verbose: 0 });
    const a = accumulated.getWeights().map((w) => Array.from(w.dataSync()));
    const b = together.getWeights().map((w) => Array.from(w.dataSync()));
    for (const [i, values] of a.entries()) for (const [j, v] of values.entries()) expect(v).toBeCloseTo(b[i]![j]!, 5);
    for (const m of [accumulated, together]) m.dispose();
    x.dispose();
    y.dispose();
  });

  it('leaves BatchNorm moving statistics as the clean pass left them', async () => {
    const { x, y } = data(16);
    // Same weights, one step each: plain SGD (one forward) and SAM (clean + adversarial forwards).
    const plain = model(true);
    const sharp = model(true);
    sharp.setWeights(plain.getWeights());
    const sgd = tf.train.sgd(0.1);
    const sam = sharpnessAware({ base: tf.train.sgd(0.1), perturbation: samPerturbation(0.5) });
    plain.compile({ optimizer: sgd, loss: 'categoricalCrossentropy' });
    sharp.compile({ optimizer: sam, loss: 'categoricalCrossentropy' });
    await plain.fit(x, y, { epochs: 1, batchSize: 16, verbose: 0, shuffle: false });
    await sharp.fit(x, y, { epochs: 1, batchSize: 16, verbose: 0, shuffle: false });
    const stats = (m: tfl.LayersModel) =>
      m.layers[1]!.getWeights()
        .filter((_, i) => i >= 2) // moving_mean, moving_variance
        .map((t) => t.arraySync());
    expect(stats(sharp)).toEqual(stats(plain));
    // ...and the clean pass did move them (from mean 0, variance 1), so the check is not vacuous.
    expect(stats(plain)[0]).not.toEqual([0, 0, 0, 0, 0, 0, 0, 0]);
    // The trainable weights did differ: the SAM step took g(w + ε).
    expect(sharp.layers[0]!.getWeights()[0]!.arraySync()).not.toEqual(plain.layers[0]!.getWeights()[0]!.arraySync());
    for (const t of [x, y]) t.dispose();
    plain.dispose();
    sharp.dispose();
    sgd.dispose();
    sam.dispose();
  });
});

describe('serialization', () => {
  it('getConfig → fromConfig rebuilds an equivalent optimizer', () => {
    const optimizer = sharpnessAware({ base: tf.train.momentum(0.05, 0.9), perturbation: samPerturbation(0.1), weightDecay: 1e-4, seed: 9, accumulate: 2 });
    const config = JSON.parse(JSON.stringify(optimizer.getConfig()));
    const rebuilt = SharpnessAwareOptimizer.fromConfig(SharpnessAwareOptimizer, config) as SharpnessAwareOptimizer;
    expect(rebuilt.getConfig()).toEqual(config);
    expect(rebuilt.base.getClassName()).toBe('Momentum');
    expect(rebuilt.perturbation.rho).toBe(0.1);
    optimizer.dispose();
    rebuilt.dispose();
  });

  it('a model saved with includeOptimizer loads back with the optimizer class, config and state', async () => {
    const { x, y } = data(16);
    const m = model(false);
    const optimizer = sharpnessAware({ base: tf.train.momentum(0.05, 0.9), perturbation: samPerturbation(0.1), seed: 4 });
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
    expect(restored.steps).toBe(2);
    expect(restored.seed).toBe(4);
    const savedSlots = (await optimizer.getWeights()).filter((w) => w.name.includes('momentum'));
    const loadedSlots = (await restored.getWeights()).filter((w) => w.name.includes('momentum'));
    expect(loadedSlots.map((w) => w.tensor.arraySync())).toEqual(savedSlots.map((w) => w.tensor.arraySync()));
    for (const t of [x, y]) t.dispose();
    m.dispose();
    loaded.dispose();
    optimizer.dispose();
  });
});
