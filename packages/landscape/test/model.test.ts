import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { bnClassifier, fitData, movingStatistics } from '@flatmin/test-kit';
import { describe, expect, it } from 'vitest';
import { flatness, forModel, modelObjective } from '../src/index.js';
import { bytesOf, expectBitIdentical, expectNoGrowth } from './helpers.js';

describe('modelObjective: a tfjs-layers model on a held-out batch', () => {
  const x = tf.randomNormal([12, 4], 0, 1, 'float32', 3);
  const labels = tf.tensor1d([0, 1, 2, 1, 0, 2, 1, 1, 0, 2, 2, 0]);
  const oneHot = tf.oneHot(tf.cast(labels, 'int32'), 3);
  const model = tfl.sequential({ layers: [tfl.layers.dense({ units: 5, inputShape: [4], activation: 'relu' }), tfl.layers.dense({ units: 3, activation: 'softmax' })] });
  const predict = () => model.predict(x) as tf.Tensor;

  it.each([
    ['categoricalCrossentropy', oneHot, () => tfl.metrics.categoricalCrossentropy(oneHot, predict())],
    ['sparseCategoricalCrossentropy', labels, () => tfl.metrics.categoricalCrossentropy(oneHot, predict())],
    ['meanSquaredError', oneHot, () => tfl.metrics.meanSquaredError(oneHot, predict())],
    ['meanAbsoluteError', oneHot, () => tfl.metrics.meanAbsoluteError(oneHot, predict())],
    ['binaryCrossentropy', oneHot, () => tfl.metrics.binaryCrossentropy(oneHot, predict())],
  ] as const)('%s is tfjs-layers’ own loss (mean over the batch)', (name, y, reference) => {
    const { loss, variables } = modelObjective(model, { x, y, loss: name });
    expect(variables).toHaveLength(4);
    expect(loss().dataSync()[0]).toBeCloseTo(tf.mean(reference()).dataSync()[0]!, 5);
  });

  it("takes the compiled model's loss when none is given, and a function of (yTrue, yPred)", () => {
    const compiled = tfl.sequential({ layers: [tfl.layers.dense({ units: 3, inputShape: [4], activation: 'softmax' })] });
    compiled.compile({ optimizer: 'sgd', loss: 'categoricalCrossentropy' });
    const reference = tf.mean(tfl.metrics.categoricalCrossentropy(oneHot, compiled.predict(x) as tf.Tensor)).dataSync()[0]!;
    expect(modelObjective(compiled, { x, y: oneHot }).loss().dataSync()[0]).toBeCloseTo(reference, 5);
    const custom = modelObjective(compiled, { x, y: oneHot, loss: (t, p) => tf.sum(tf.mul(t, p)) });
    expect(custom.loss().dataSync()[0]).toBeCloseTo(tf.sum(tf.mul(oneHot, compiled.predict(x) as tf.Tensor)).dataSync()[0]!, 5);
  });
});

describe('forModel: every measurement on a BatchNormalization model, in inference mode', () => {
  it('leaves the weights and the moving statistics bit-identical, and interpolates to a second model', async () => {
    const model = bnClassifier();
    const { x, y } = fitData(16);
    const measure = forModel(model, { x, y, loss: 'categoricalCrossentropy' });
    const all = model.weights.map((w) => w.read() as tf.Variable);
    const before = bytesOf(all);
    const stats = movingStatistics(model);
    const f = await measure.flatness({ samples: 3 });
    expect(f.average).toBeTypeOf('number');
    await measure.sharpness({ steps: 2 });
    await measure.hessianEigenvalue({ iterations: 3 });
    await measure.hessianTrace({ samples: 2 });
    await measure.surfaceLandscape({ steps: 3 });
    const other = bnClassifier();
    const line = await measure.lineLandscape({ to: other, steps: 5, range: [0, 1] });
    const otherLoss = modelObjective(other, { x, y, loss: 'categoricalCrossentropy' }).loss().dataSync()[0]!;
    expect(line.loss[4]).toBeCloseTo(otherLoss, 4);
    expect(line.loss[0]).toBe(line.base);
    expectBitIdentical(all, before);
    expect(movingStatistics(model)).toEqual(stats);
    await expectNoGrowth(() => flatness(measure.loss, measure.variables, { samples: 2 }), 3);
  });
});
