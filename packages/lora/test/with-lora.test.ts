import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { expectConfigError } from '@flatmin/test-kit';
import { describe, expect, it } from 'vitest';
import { LoraDense, loraDense, mergeLora, withLora } from '../src/index.js';
import { add, forward64, matmul, maxError, randomMatrix, read, transpose } from './helpers.js';

/** A "pretrained" 2-layer MLP: dense(5, relu) → dense(2), seeded weights. */
function pretrained(): tfl.Sequential {
  return tfl.sequential({
    layers: [
      tfl.layers.dense({ units: 5, activation: 'relu', inputShape: [3], kernelInitializer: tfl.initializers.glorotUniform({ seed: 1 }), biasInitializer: tfl.initializers.randomNormal({ seed: 2 }), name: 'hidden' }),
      tfl.layers.dense({ units: 2, kernelInitializer: tfl.initializers.glorotUniform({ seed: 3 }), biasInitializer: tfl.initializers.randomNormal({ seed: 4 }), name: 'out' }),
    ],
  });
}

const predict = (m: tfl.LayersModel, x: number[][]) => tf.tidy(() => (m.predict(tf.tensor2d(x)) as tf.Tensor).arraySync() as number[][]);

describe('withLora', () => {
  it('wraps both dense layers of a pretrained MLP, copies W₀ and the biases, and predicts exactly as before (B = 0)', () => {
    const base = pretrained();
    const model = withLora(base, { rank: 2, alpha: 4, seed: 5 });
    expect(model.layers.map((l) => l.getClassName())).toEqual(['LoraDense', 'LoraDense']);
    const [hidden, out] = model.layers as LoraDense[];
    expect(read(hidden!.kernel)).toEqual(base.layers[0]!.getWeights()[0]!.arraySync());
    expect(hidden!.bias!.arraySync()).toEqual(base.layers[0]!.getWeights()[1]!.arraySync());
    expect(read(out!.kernel)).toEqual(base.layers[1]!.getWeights()[0]!.arraySync());
    expect([hidden!.rank, hidden!.alpha, hidden!.activation, out!.activation]).toEqual([2, 4, 'relu', 'linear']);
    // A is initialised, B is zero, and the layers get seeds seed + i (different A's).
    expect(read(hidden!.loraB).flat().every((v) => v === 0)).toBe(true);
    expect([hidden!.seed, out!.seed]).toEqual([5, 6]);
    expect(model.trainableWeights.map((w) => w.originalName.split('/').pop())).toEqual(['lora_A', 'lora_B', 'lora_A', 'lora_B']);
    const x = randomMatrix(7, 3, 9, 2);
    expect(predict(model, x)).toEqual(predict(base, x));
    base.dispose();
    model.dispose();
  });

  it('leaves the original model untouched and shares no variable with it', () => {
    const base = pretrained();
    const kernel = base.layers[0]!.getWeights()[0]!.arraySync();
    const model = withLora(base, { rank: 1 });
    (model.layers[0] as LoraDense).kernel.assign(tf.zerosLike((model.layers[0] as LoraDense).kernel));
    expect(base.layers[0]!.getWeights()[0]!.arraySync()).toEqual(kernel);
    expect(base.layers[0]!.trainable).toBe(true);
    base.dispose();
    model.dispose();
  });

  it('wraps only the named layers and freezes the others (freeze: true), or leaves them trainable (freeze: false)', () => {
    const base = pretrained();
    const frozen = withLora(base, { rank: 1, layers: ['out'] });
    expect(frozen.layers.map((l) => l.getClassName())).toEqual(['Dense', 'LoraDense']);
    expect(frozen.layers[0]!.trainable).toBe(false);
    expect(frozen.trainableWeights.map((w) => w.originalName.split('/').pop())).toEqual(['lora_A', 'lora_B']);
    const open = withLora(base, { rank: 1, layers: (layer) => layer.name === 'hidden', freeze: false });
    expect(open.layers.map((l) => l.getClassName())).toEqual(['LoraDense', 'Dense']);
    expect(open.trainableWeights.map((w) => w.originalName.split('/').pop())).toEqual(['lora_A', 'lora_B', 'kernel', 'bias']);
    for (const m of [base, frozen, open]) m.dispose();
  });

  it('works on a functional model', () => {
    const input = tfl.input({ shape: [3] });
    const h = tfl.layers.dense({ units: 4, activation: 'tanh', name: 'h' }).apply(input) as tfl.SymbolicTensor;
    const y = tfl.layers.dense({ units: 2, name: 'y' }).apply(h) as tfl.SymbolicTensor;
    const base = tfl.model({ inputs: input, outputs: y });
    const model = withLora(base, { rank: 2 });
    expect(model.layers.filter((l) => l instanceof LoraDense).map((l) => l.name)).toEqual(['h', 'y']);
    const x = randomMatrix(4, 3, 2);
    expect(predict(model, x)).toEqual(predict(base, x));
    base.dispose();
    model.dispose();
  });

  it('refuses bad options by key', () => {
    const base = pretrained();
    expectConfigError(() => withLora(base, { rank: 0 }), 'rank');
    expectConfigError(() => withLora(base, { alpha: 0 }), 'alpha');
    expectConfigError(() => withLora(base, { layers: ['nope'] }), 'layers');
    expectConfigError(() => withLora(base, { freeze: 'no' as never }), 'freeze');
    expectConfigError(() => withLora(base, { rnak: 1 } as never), 'rnak');
    expectConfigError(() => withLora({} as never), 'model');
    base.dispose();
  });
});

describe('mergeLora', () => {
  it('folds W₀ + (α/r)AᵀBᵀ into plain Dense layers: outputs kept to 1e-6, kernels equal the float64 merge', () => {
    const model = withLora(pretrained(), { rank: 2, alpha: 3 });
    const layers = model.layers as LoraDense[];
    for (const [i, layer] of layers.entries()) layer.loraB.assign(tf.tensor2d(randomMatrix(layer.units, 2, 30 + i)));
    const merged = mergeLora(model);
    expect(merged.layers.map((l) => l.getClassName())).toEqual(['Dense', 'Dense']);
    expect(merged.layers.every((l) => l.trainable)).toBe(true);
    for (const [i, layer] of layers.entries()) {
      const expected = add(read(layer.kernel), matmul(transpose(read(layer.loraA)), transpose(read(layer.loraB))), 1.5);
      expect(maxError(merged.layers[i]!.getWeights()[0]!.arraySync(), expected)).toBeLessThan(1e-6);
    }
    const x = randomMatrix(6, 3, 8, 2);
    // Reference: the LoRA layers' own float64 forward, relu between.
    const p = (l: LoraDense) => ({ w0: read(l.kernel), a: read(l.loraA), b: read(l.loraB), bias: l.bias!.arraySync() as number[] });
    const hidden = forward64(x, p(layers[0]!), 1.5).map((row) => row.map((v) => Math.max(0, v)));
    const expected = forward64(hidden, p(layers[1]!), 1.5);
    expect(maxError(predict(merged, x), expected)).toBeLessThan(1e-6);
    expect(maxError(predict(merged, x), predict(model, x))).toBeLessThan(1e-6);
    model.dispose();
    merged.dispose();
  });

  it('a layer without bias merges into a Dense without bias', () => {
    const model = tfl.sequential({ layers: [loraDense({ units: 2, rank: 1, useBias: false, inputShape: [3], seed: 1 })] });
    const merged = mergeLora(model);
    expect(merged.layers[0]!.getWeights()).toHaveLength(1);
    model.dispose();
    merged.dispose();
  });
});
