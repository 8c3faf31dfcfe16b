import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { sharpnessAware } from '@flatmin/core';
import { gradient } from '@flatmin/perturb-gradient';
import { countHostReads, expectConfigError, expectNoTensorGrowth } from '@flatmin/test-kit';
import { describe, expect, it } from 'vitest';
import { balancedness, type LoraDense, loraDense, loraScope } from '../src/index.js';
import { forward64, maxError, randomMatrix, read, scaleM, sumSquares } from './helpers.js';

/** Two LoRA layers with seeded A and B (‖A‖² > ‖B‖² in the first, < in the second). */
function twoLayers(): { model: tfl.Sequential; layers: LoraDense[] } {
  const model = tfl.sequential({ layers: [loraDense({ units: 4, rank: 2, inputShape: [3], seed: 1 }), loraDense({ units: 2, rank: 2, seed: 2 })] });
  const layers = model.layers as LoraDense[];
  layers[0]!.loraA.assign(tf.tensor2d(randomMatrix(2, 3, 10, 2)));
  layers[0]!.loraB.assign(tf.tensor2d(randomMatrix(4, 2, 11, 0.5)));
  layers[1]!.loraA.assign(tf.tensor2d(randomMatrix(2, 4, 12, 0.3)));
  layers[1]!.loraB.assign(tf.tensor2d(randomMatrix(2, 2, 13, 2)));
  return { model, layers };
}

/** α Σ |‖A‖² − ‖B‖²| and its gradient 2α sign(d)(A, −B), float64. */
function bar64(layers: LoraDense[], alpha: number) {
  let value = 0;
  const grads = layers.map((layer) => {
    const a = read(layer.loraA);
    const b = read(layer.loraB);
    const d = sumSquares(a) - sumSquares(b);
    value += alpha * Math.abs(d);
    return { a: scaleM(a, 2 * alpha * Math.sign(d)), b: scaleM(b, -2 * alpha * Math.sign(d)) };
  });
  return { value, grads };
}

describe('balancedness', () => {
  it('value and gradient match the float64 α Σ |‖A‖² − ‖B‖²| over the LoRA layers', () => {
    const { model, layers } = twoLayers();
    const bar = balancedness({ alpha: 0.3 });
    const expected = bar64(layers, 0.3);
    expect(Math.sign(sumSquares(read(layers[0]!.loraA)) - sumSquares(read(layers[0]!.loraB)))).toBe(1);
    expect(Math.sign(sumSquares(read(layers[1]!.loraA)) - sumSquares(read(layers[1]!.loraB)))).toBe(-1);
    const value = tf.tidy(() => bar(model).arraySync());
    expect(Math.abs(value - expected.value) / expected.value).toBeLessThan(1e-6);
    const vars = layers.flatMap((l) => [l.loraA, l.loraB]);
    const { grads } = tf.variableGrads(() => bar(model), vars);
    layers.forEach((layer, i) => {
      expect(maxError(grads[layer.loraA.name]!.arraySync(), expected.grads[i]!.a)).toBeLessThan(1e-6);
      expect(maxError(grads[layer.loraB.name]!.arraySync(), expected.grads[i]!.b)).toBeLessThan(1e-6);
    });
    // W₀ and the bias are not part of the term.
    layers[0]!.kernel.assign(tf.onesLike(layers[0]!.kernel));
    expect(tf.tidy(() => bar(model).arraySync())).toBe(value);
    tf.dispose(Object.values(grads));
    model.dispose();
  });

  it('α(t) follows the optimizer step (a linear decay, as the BAR code schedules it)', () => {
    const { model, layers } = twoLayers();
    const optimizer = tf.train.sgd(0);
    const bar = balancedness({ alpha: (t) => 0.2 * (1 - t / 4), optimizer });
    const values: number[] = [];
    const vars = layers.flatMap((l) => [l.loraA, l.loraB]);
    for (let t = 0; t < 3; t += 1) {
      values.push(tf.tidy(() => bar(model).arraySync()));
      optimizer.minimize(() => bar(model), false, vars); // lr 0: only the step counter moves
    }
    const expected = [0, 1, 2].map((t) => bar64(layers, 0.2 * (1 - t / 4)).value);
    expect(maxError(values, expected)).toBeLessThan(1e-6);
    optimizer.dispose();
    model.dispose();
  });

  it('attach(model) adds the term to the loss model.fit minimizes', async () => {
    const { model, layers } = twoLayers();
    const x = randomMatrix(5, 3, 20);
    const y = randomMatrix(5, 2, 21);
    const p = (l: LoraDense) => ({ w0: read(l.kernel), a: read(l.loraA), b: read(l.loraB), bias: l.bias!.arraySync() as number[] });
    const out = forward64(forward64(x, p(layers[0]!), 1), p(layers[1]!), 1);
    const mse = out.flat().reduce((s, v, k) => s + (v - y.flat()[k]!) ** 2, 0) / 10;
    const expected = mse + bar64(layers, 0.05).value; // at the weights before the step
    const bar = balancedness({ alpha: 0.05 });
    bar.attach(model);
    model.compile({ optimizer: tf.train.sgd(0.01), loss: 'meanSquaredError' });
    const xs = tf.tensor2d(x);
    const ys = tf.tensor2d(y);
    const history = await model.fit(xs, ys, { epochs: 1, batchSize: 5, verbose: 0, shuffle: false });
    expect(Math.abs((history.history['loss']![0] as number) - expected) / expected).toBeLessThan(1e-5);
    tf.dispose([xs, ys]);
    model.dispose();
  });

  it('with SAM-LoRA in a custom loop: no tensor growth, zero host reads per step', async () => {
    const { model } = twoLayers();
    const bar = balancedness({ alpha: 0.01 });
    const optimizer = sharpnessAware({ base: tf.train.sgd(0.01), perturbation: gradient({ rho: 0.05 }), scope: loraScope('lora') });
    const x = tf.tensor2d(randomMatrix(5, 3, 20));
    const y = tf.tensor2d(randomMatrix(5, 2, 21));
    const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
    const step = () => optimizer.minimize(() => tf.add(tf.mean(tf.square(tf.sub(model.apply(x) as tf.Tensor, y))), bar(model)) as tf.Scalar, false, vars);
    await expectNoTensorGrowth(step, { steps: 100 });
    expect(countHostReads(step).reads).toBe(0);
    tf.dispose([x, y]);
    optimizer.dispose();
    model.dispose();
  });

  it('is 0 for a model without LoRA layers', () => {
    const model = tfl.sequential({ layers: [tfl.layers.dense({ units: 1, inputShape: [2] })] });
    expect(tf.tidy(() => balancedness()(model).arraySync())).toBe(0);
    model.dispose();
  });

  it('refuses bad options by key', () => {
    expectConfigError(() => balancedness({ alpha: -1 }), 'alpha');
    expectConfigError(() => balancedness({ alpha: Number.NaN }), 'alpha');
    expectConfigError(() => balancedness({ alpha: null as never }), 'alpha');
    expectConfigError(() => balancedness({ alpha: () => 1 }), 'optimizer');
    expectConfigError(() => balancedness({ optimizer: {} as never }), 'optimizer');
    expectConfigError(() => balancedness({ alpah: 1 } as never), 'alpah');
    expectConfigError(() => balancedness(0.1 as never), 'options');
    expectConfigError(() => balancedness()({} as never), 'model');
    const bad = balancedness({ alpha: () => -1, optimizer: tf.train.sgd(0.1) });
    const model = twoLayers().model;
    expectConfigError(() => bad(model), 'alpha');
    model.dispose();
  });
});
