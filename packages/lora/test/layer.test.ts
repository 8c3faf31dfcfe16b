import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { expectConfigError } from '@flatmin/test-kit';
import { describe, expect, it } from 'vitest';
import { LoraDense, loraDense, loraRole } from '../src/index.js';
import { forward64, type LoraParams, maxError, randomMatrix, read } from './helpers.js';

const IN = 3;
const OUT = 2;
const R = 2;

function params(seed: number): LoraParams {
  return { w0: randomMatrix(IN, OUT, seed), a: randomMatrix(R, IN, seed + 1), b: randomMatrix(OUT, R, seed + 2), bias: randomMatrix(1, OUT, seed + 3)[0]! };
}

function setParams(layer: LoraDense, p: LoraParams): void {
  layer.kernel.assign(tf.tensor2d(p.w0));
  layer.loraA.assign(tf.tensor2d(p.a));
  layer.loraB.assign(tf.tensor2d(p.b));
  layer.bias!.assign(tf.tensor1d(p.bias));
}

describe('loraDense', () => {
  it('has the weights kernel (W₀, frozen), lora_A [r, in] (Gaussian), lora_B [out, r] (zeros), bias (frozen by default)', () => {
    const layer = loraDense({ units: OUT, rank: R, alpha: 4, inputShape: [IN], seed: 1, initStddev: 0.5 });
    tfl.sequential({ layers: [layer] });
    const byName = Object.fromEntries(layer.weights.map((w) => [w.originalName.split('/').pop(), w]));
    expect(Object.keys(byName).sort()).toEqual(['bias', 'kernel', 'lora_A', 'lora_B']);
    expect(byName['kernel']!.shape).toEqual([IN, OUT]);
    expect(byName['lora_A']!.shape).toEqual([R, IN]);
    expect(byName['lora_B']!.shape).toEqual([OUT, R]);
    expect(layer.trainableWeights.map((w) => w.originalName.split('/').pop())).toEqual(['lora_A', 'lora_B']);
    expect(layer.kernel.trainable).toBe(false);
    expect(layer.bias!.trainable).toBe(false);
    expect(read(layer.loraB).flat().every((v) => v === 0)).toBe(true);
    expect(loraRole(layer.kernel)).toBe('kernel');
    expect(loraRole(layer.loraA)).toBe('lora_A');
    expect(loraRole(layer.loraB)).toBe('lora_B');
    expect(loraRole(layer.bias!)).toBe('bias');
    // Gaussian with the given stddev: 6 draws, none all-equal, sample std within a loose band.
    const a = read(layer.loraA).flat();
    const std = Math.sqrt(a.reduce((s, v) => s + v * v, 0) / a.length);
    expect(std).toBeGreaterThan(0.1);
    expect(std).toBeLessThan(1.5);
  });

  it('A is seeded: the same seed gives the same A, another seed a different one', () => {
    const make = (seed: number) => {
      const layer = loraDense({ units: OUT, rank: R, inputShape: [IN], seed });
      tfl.sequential({ layers: [layer] });
      return read(layer.loraA);
    };
    expect(make(7)).toEqual(make(7));
    expect(make(7)).not.toEqual(make(8));
  });

  it('a trainable bias is trained with A and B; W₀ still is not', () => {
    const layer = loraDense({ units: OUT, rank: R, inputShape: [IN], trainableBias: true });
    tfl.sequential({ layers: [layer] });
    expect(layer.trainableWeights.map((w) => w.originalName.split('/').pop())).toEqual(['lora_A', 'lora_B', 'bias']);
    expect(layer.kernel.trainable).toBe(false);
  });

  it.each(['linear', 'relu', 'tanh'] as const)('forward (%s) equals the float64 x(W₀ + (α/r)AᵀBᵀ) + b', (activation) => {
    const layer = loraDense({ units: OUT, rank: R, alpha: 3, activation, inputShape: [IN] });
    const model = tfl.sequential({ layers: [layer] });
    const p = params(11);
    setParams(layer, p);
    const x = randomMatrix(5, IN, 5, 2);
    const act = { linear: (v: number) => v, relu: (v: number) => Math.max(0, v), tanh: Math.tanh }[activation];
    const expected = forward64(x, p, 3 / R).map((row) => row.map(act));
    const y = tf.tidy(() => (model.predict(tf.tensor2d(x)) as tf.Tensor).arraySync());
    expect(maxError(y, expected)).toBeLessThan(1e-6);
    model.dispose();
  });

  it('a rank-3 input is adapted along its last axis', () => {
    const layer = loraDense({ units: OUT, rank: R, alpha: 2, inputShape: [2, IN] });
    const model = tfl.sequential({ layers: [layer] });
    const p = params(21);
    setParams(layer, p);
    const x = [randomMatrix(2, IN, 1), randomMatrix(2, IN, 2)];
    const y = tf.tidy(() => (model.predict(tf.tensor3d(x)) as tf.Tensor).arraySync()) as number[][][];
    expect(y.map((v) => v.length)).toEqual([2, 2]);
    expect(maxError(y, x.map((xi) => forward64(xi, p, 1)))).toBeLessThan(1e-6);
    model.dispose();
  });

  it('getConfig / fromConfig round-trip the LoRA keys', () => {
    const layer = loraDense({ units: 4, rank: 3, alpha: 6, activation: 'relu', useBias: false, trainableBias: true, seed: 9, initStddev: 0.2, name: 'adapted' });
    const config = layer.getConfig();
    expect(config).toMatchObject({ units: 4, rank: 3, alpha: 6, activation: 'relu', useBias: false, trainableBias: true, seed: 9, initStddev: 0.2, name: 'adapted' });
    const again = LoraDense.fromConfig(LoraDense, config) as LoraDense;
    expect(again.getConfig()).toEqual(config);
    expect(again.scale).toBe(2);
  });

  it('alpha defaults to rank (scale 1) and rank to 8', () => {
    const layer = loraDense({ units: 2 });
    expect([layer.rank, layer.alpha, layer.scale]).toEqual([8, 8, 1]);
  });

  it('refuses bad options by key', () => {
    expectConfigError(() => loraDense({ units: 2, rank: 0 }), 'rank');
    expectConfigError(() => loraDense({ units: 2, rank: 1.5 }), 'rank');
    expectConfigError(() => loraDense({ units: 2, alpha: 0 }), 'alpha');
    expectConfigError(() => loraDense({ units: 2, alpha: -1 }), 'alpha');
    expectConfigError(() => loraDense({ units: 0 }), 'units');
    expectConfigError(() => loraDense({} as never), 'units');
    expectConfigError(() => loraDense({ units: 2, activation: 'relu7' as never }), 'activation');
    expectConfigError(() => loraDense({ units: 2, useBias: 'yes' as never }), 'useBias');
    expectConfigError(() => loraDense({ units: 2, trainableBias: 1 as never }), 'trainableBias');
    expectConfigError(() => loraDense({ units: 2, initStddev: 0 }), 'initStddev');
    expectConfigError(() => loraDense({ units: 2, seed: 0.5 }), 'seed');
    expectConfigError(() => loraDense({ units: 2, rank: null as never }), 'rank');
    expectConfigError(() => loraDense({ units: 2, rnak: 2 } as never), 'rnak');
    expectConfigError(() => loraDense(4 as never), 'options');
  });
});

describe('save and load', () => {
  it('round-trips a LoRA model through model.save / tf.loadLayersModel with identical predictions', async () => {
    const model = tfl.sequential({
      layers: [loraDense({ units: 4, rank: 2, alpha: 4, activation: 'relu', inputShape: [IN], seed: 1 }), loraDense({ units: OUT, rank: 2, seed: 2, trainableBias: true })],
    });
    for (const [i, layer] of (model.layers as LoraDense[]).entries()) layer.loraB.assign(tf.tensor2d(randomMatrix(layer.units, 2, 40 + i)));
    let artifacts: tf.io.ModelArtifacts | undefined;
    await model.save(tf.io.withSaveHandler(async (a) => {
      artifacts = a;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }));
    const names = artifacts!.weightSpecs!.map((s) => s.name.split('/').pop()).sort();
    expect(names).toEqual(['bias', 'bias', 'kernel', 'kernel', 'lora_A', 'lora_A', 'lora_B', 'lora_B']);
    const loaded = await tfl.loadLayersModel(tf.io.fromMemory(artifacts!));
    expect(loaded.layers.every((l) => l instanceof LoraDense)).toBe(true);
    expect(loaded.trainableWeights.map((w) => w.originalName.split('/').pop())).toEqual(['lora_A', 'lora_B', 'lora_A', 'lora_B', 'bias']);
    const x = tf.tensor2d(randomMatrix(6, IN, 3));
    const before = tf.tidy(() => (model.predict(x) as tf.Tensor).arraySync());
    const after = tf.tidy(() => (loaded.predict(x) as tf.Tensor).arraySync());
    expect(after).toEqual(before);
    for (const [i, layer] of (loaded.layers as LoraDense[]).entries()) {
      const original = model.layers[i] as LoraDense;
      expect(read(layer.kernel)).toEqual(read(original.kernel));
      expect(read(layer.loraA)).toEqual(read(original.loraA));
      expect(read(layer.loraB)).toEqual(read(original.loraB));
      expect(loraRole(layer.loraA)).toBe('lora_A');
    }
    x.dispose();
    model.dispose();
    loaded.dispose();
  });
});
