// Every factory under model.compile + model.fit with BatchNormalization and a metric: no leak across
// fits, and BatchNorm's moving statistics moved by exactly one pass per step (the noisy, clean or
// forward-only extra passes leave no trace).
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { type Combiner, mix, type Perturbation, sharpnessAware } from '@flatmin/core';
import { fitData as data } from '@flatmin/test-kit';
import { describe, expect, it } from 'vitest';
import { filterNoise, fisherNoise, gaussian, worstOfK } from '../src/index.js';

const CASES: [name: string, make: () => Perturbation, combiner?: () => Combiner][] = [
  ['gaussian (filter)', () => gaussian({ sigma: 0.05, scale: 'filter' })],
  ['gaussian + mix (RWP)', () => gaussian({ sigma: 0.05, scale: 'filter' }), () => mix({ lambda: 0.5 })],
  ['filterNoise (LPF-SGD)', () => filterNoise({ gamma: 0.05, totalSteps: 20 })],
  ['filterNoise (Flat-LoRA)', () => filterNoise({ gamma: 0.5, perInput: true })],
  ['fisherNoise', () => fisherNoise({ sigma: 0.05 })],
  ['fisherNoise + mix (m-ARWP)', () => fisherNoise({ sigma: 0.05 }), () => mix({ lambda: 0.5 })],
  ['worstOfK', () => worstOfK({ k: 3, sigma: 0.05, scale: 'filter' })],
];

function model(): tfl.LayersModel {
  const m = tfl.sequential();
  m.add(tfl.layers.dense({ units: 8, inputShape: [4], kernelInitializer: tfl.initializers.glorotUniform({ seed: 1 }) }));
  m.add(tfl.layers.batchNormalization());
  m.add(tfl.layers.activation({ activation: 'relu' }));
  m.add(tfl.layers.dense({ units: 2, activation: 'softmax', kernelInitializer: tfl.initializers.glorotUniform({ seed: 2 }) }));
  return m;
}

/** BatchNorm's moving mean and variance. */
function stats(m: tfl.LayersModel): number[][] {
  return m.layers[1]!.getWeights().slice(2).map((t) => Array.from(t.dataSync()));
}

describe.each(CASES)('%s under model.fit with BatchNormalization and accuracy', (_name, make, combiner) => {
  it('trains and leaks nothing across fits', async () => {
    const { x, y } = data(32);
    const m = model();
    const optimizer = sharpnessAware({ base: tf.train.sgd(0.1), perturbation: make(), ...(combiner ? { combiner: combiner() } : {}), seed: 3 });
    m.compile({ optimizer, loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
    await m.fit(x, y, { epochs: 1, batchSize: 8, verbose: 0, shuffle: false });
    const before = tf.memory();
    const history = await m.fit(x, y, { epochs: 2, batchSize: 8, verbose: 0, shuffle: false });
    const after = tf.memory();
    expect({ tensors: after.numTensors, bytes: after.numBytes }).toEqual({ tensors: before.numTensors, bytes: before.numBytes });
    expect(optimizer.steps).toBe(12);
    expect(history.history['acc']).toHaveLength(2);
    for (const loss of history.history['loss'] as number[]) expect(Number.isFinite(loss)).toBe(true);
    m.dispose();
    optimizer.dispose();
    tf.dispose([x, y]);
  });

  it("moves BatchNorm's statistics by one pass per step: as plain SGD does when only the head is perturbed", async () => {
    const { x, y } = data(16);
    const plain = model();
    const noisy = model();
    noisy.setWeights(plain.getWeights());
    // The first layer frozen and only the last dense layer perturbed: BatchNorm's input is the same
    // in every pass of every step, so the statistics match plain SGD's exactly iff exactly one pass
    // of each step updated them.
    for (const m of [plain, noisy]) m.layers[0]!.trainable = false;
    const head = new Set(noisy.layers[3]!.trainableWeights.map((w) => w.name));
    const sgd = tf.train.sgd(0.1);
    const optimizer = sharpnessAware({
      base: tf.train.sgd(0.1),
      perturbation: make(),
      ...(combiner ? { combiner: combiner() } : {}),
      scope: (v) => head.has(v.name),
      seed: 4,
    });
    plain.compile({ optimizer: sgd, loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
    noisy.compile({ optimizer, loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
    await plain.fit(x, y, { epochs: 3, batchSize: 16, verbose: 0, shuffle: false });
    await noisy.fit(x, y, { epochs: 3, batchSize: 16, verbose: 0, shuffle: false });
    expect(optimizer.steps).toBe(3);
    expect(stats(noisy)).toEqual(stats(plain));
    expect(stats(plain)[0]).not.toEqual(new Array(8).fill(0)); // they did move
    // ...and the noise did change the update of the head.
    expect(Array.from(noisy.layers[3]!.getWeights()[0]!.dataSync())).not.toEqual(Array.from(plain.layers[3]!.getWeights()[0]!.dataSync()));
    for (const d of [plain, noisy]) d.dispose();
    sgd.dispose();
    optimizer.dispose();
    tf.dispose([x, y]);
  });
});
