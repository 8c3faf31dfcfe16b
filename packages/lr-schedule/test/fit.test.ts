// scheduler.callback() under model.fit, per batch and per epoch: the updates use the scheduled
// rates (float64 references), no leak across fits (with a metric), and a save/restore — of the
// optimizer weights, or of the whole model with its optimizer — that continues the schedule exactly.
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { type LinearParams, makeLinearProblem, maxRelativeError, reloaded } from '@flatmin/test-kit';
import { describe, expect, it } from 'vitest';
import { cosineWithWarmup, learningRateSchedule, linearDecay, type ScheduleFunction } from '../src/index.js';
import { CONSTRUCTED_RATE, COSINE, cosineRate, MAIN_OPTIMIZERS, rateField } from './helpers.js';
import { runBatches64 } from './reference.js';

// k = 1: tfjs' meanSquaredError is then the test kit's L = (1/n) Σ ‖xW + b − y‖² over the batch.
const problem = makeLinearProblem({ n: 8, d: 3, k: 1, seed: 11 });
const BATCHES = [
  [0, 1, 2, 3],
  [4, 5, 6, 7],
];

function linearModel(params: LinearParams = problem.init): tfl.LayersModel {
  const model = tfl.sequential({ layers: [tfl.layers.dense({ units: 1, inputShape: [problem.d] })] });
  model.setWeights([tf.tensor2d(params.w), tf.tensor1d(params.b)]);
  return model;
}

function paramsOf(model: tfl.LayersModel): LinearParams {
  const [kernel, bias] = model.getWeights();
  return { w: kernel!.arraySync() as number[][], b: bias!.arraySync() as number[] };
}

function data() {
  return { x: tf.tensor2d(problem.x), y: tf.tensor2d(problem.y) };
}

async function fit(model: tfl.LayersModel, callbacks: tfl.CustomCallbackArgs[], epochs: number, initialEpoch = 0) {
  const { x, y } = data();
  const history = await model.fit(x, y, { batchSize: 4, epochs, initialEpoch, shuffle: false, verbose: 0, callbacks });
  tf.dispose([x, y]);
  return history;
}

describe.each(MAIN_OPTIMIZERS)('$name under model.fit', ({ make, reference }) => {
  it('per batch (the default): update t uses schedule(t) (float64 reference)', async () => {
    const model = linearModel();
    const optimizer = make();
    model.compile({ optimizer, loss: 'meanSquaredError' });
    await fit(model, [learningRateSchedule(optimizer, cosineWithWarmup(COSINE)).callback()], 3);
    expect(optimizer.iterations).toBe(6);
    const rates = Array.from({ length: 6 }, (_, t) => cosineRate(t));
    expect(maxRelativeError(paramsOf(model), runBatches64(problem, reference(), rates, BATCHES))).toBeLessThan(1e-5);
    model.dispose();
  });

  it("per epoch ({ every: 'epoch' }): every update of epoch e uses schedule(e) (float64 reference)", async () => {
    const model = linearModel();
    const optimizer = make();
    model.compile({ optimizer, loss: 'meanSquaredError' });
    const scheduler = learningRateSchedule(optimizer, linearDecay({ initial: 0.08, final: 0.02, totalSteps: 2 }), { every: 'epoch' });
    await fit(model, [scheduler.callback()], 3);
    // Epoch rates 0.08, 0.05, 0.02 (the last is `final`), two updates each.
    const rates = [0.08, 0.08, 0.05, 0.05, 0.02, 0.02];
    expect(maxRelativeError(paramsOf(model), runBatches64(problem, reference(), rates, BATCHES))).toBeLessThan(1e-5);
    model.dispose();
  });

  it('per batch: fit 2 epochs, restore optimizer and weights into a fresh model, fit 2 more = 4 epochs without a break (bit-identical)', async () => {
    const schedule = cosineWithWarmup({ peak: 0.1, warmupSteps: 2, totalSteps: 8 });
    const straight = linearModel();
    const straightOptimizer = make();
    straight.compile({ optimizer: straightOptimizer, loss: 'meanSquaredError' });
    await fit(straight, [learningRateSchedule(straightOptimizer, schedule).callback()], 4);

    const first = linearModel();
    const firstOptimizer = make();
    first.compile({ optimizer: firstOptimizer, loss: 'meanSquaredError' });
    await fit(first, [learningRateSchedule(firstOptimizer, schedule).callback()], 2);
    const saved = (await firstOptimizer.getWeights()).map(({ name, tensor }) => ({ name, tensor: tf.clone(tensor) }));

    const resumed = linearModel(paramsOf(first));
    const resumedOptimizer = make();
    await resumedOptimizer.setWeights(saved);
    resumed.compile({ optimizer: resumedOptimizer, loss: 'meanSquaredError' });
    await fit(resumed, [learningRateSchedule(resumedOptimizer, schedule).callback()], 2);

    expect(resumedOptimizer.iterations).toBe(8);
    expect(paramsOf(resumed)).toEqual(paramsOf(straight));
    tf.dispose(saved.map((w) => w.tensor));
    for (const m of [straight, first, resumed]) m.dispose();
  });

  it("per epoch: fit 2 epochs, restore, fit with initialEpoch: 2 = 4 epochs without a break (bit-identical)", async () => {
    const schedule = linearDecay({ initial: 0.1, final: 0.01, totalSteps: 3 });
    const straight = linearModel();
    const straightOptimizer = make();
    straight.compile({ optimizer: straightOptimizer, loss: 'meanSquaredError' });
    await fit(straight, [learningRateSchedule(straightOptimizer, schedule, { every: 'epoch' }).callback()], 4);

    const first = linearModel();
    const firstOptimizer = make();
    first.compile({ optimizer: firstOptimizer, loss: 'meanSquaredError' });
    await fit(first, [learningRateSchedule(firstOptimizer, schedule, { every: 'epoch' }).callback()], 2);
    const saved = (await firstOptimizer.getWeights()).map(({ name, tensor }) => ({ name, tensor: tf.clone(tensor) }));
    const resumed = linearModel(paramsOf(first));
    const resumedOptimizer = make();
    await resumedOptimizer.setWeights(saved);
    resumed.compile({ optimizer: resumedOptimizer, loss: 'meanSquaredError' });
    await fit(resumed, [learningRateSchedule(resumedOptimizer, schedule, { every: 'epoch' }).callback()], 4, 2);

    expect(paramsOf(resumed)).toEqual(paramsOf(straight));
    tf.dispose(saved.map((w) => w.tensor));
    for (const m of [straight, first, resumed]) m.dispose();
  });

  it('leaks nothing across fits (a new rate every batch, with a metric)', async () => {
    const model = linearModel();
    const optimizer = make();
    model.compile({ optimizer, loss: 'meanSquaredError', metrics: ['mae'] });
    const callback = learningRateSchedule(optimizer, cosineWithWarmup({ peak: 0.05, warmupSteps: 3, totalSteps: 40 })).callback();
    await fit(model, [callback], 1);
    const before = tf.memory();
    const history = await fit(model, [callback], 4);
    const after = tf.memory();
    expect({ tensors: after.numTensors, bytes: after.numBytes }).toEqual({ tensors: before.numTensors, bytes: before.numBytes });
    expect(history.history['mae']).toHaveLength(4);
    model.dispose();
  });
});

describe('a model saved with its optimizer (model.save + tf.loadLayersModel)', () => {
  it('the loaded model continues the per-batch schedule exactly, the scheduler given the model itself', async () => {
    const schedule: ScheduleFunction = cosineWithWarmup({ peak: 0.1, warmupSteps: 2, totalSteps: 8 });
    const straight = linearModel();
    straight.compile({ optimizer: tf.train.momentum(CONSTRUCTED_RATE, 0.9), loss: 'meanSquaredError' });
    await fit(straight, [learningRateSchedule(straight, schedule).callback()], 4);

    const first = linearModel();
    first.compile({ optimizer: tf.train.momentum(CONSTRUCTED_RATE, 0.9), loss: 'meanSquaredError' });
    await fit(first, [learningRateSchedule(first, schedule).callback()], 2);
    const loaded = await reloaded(first, { includeOptimizer: true });
    expect((loaded.optimizer as tf.Optimizer).iterations).toBe(4);
    // The model itself: its optimizer (made by loadLayersModel) is looked up when fit runs.
    await fit(loaded, [learningRateSchedule(loaded, schedule).callback()], 2);
    expect(rateField(loaded.optimizer)).toBe(schedule(7));
    expect(paramsOf(loaded)).toEqual(paramsOf(straight));
    for (const m of [straight, first, loaded]) m.dispose();
  });
});
