// swa(...).attach(...): by itself next to a plain tfjs optimizer (Adam), no sharpnessAware. The
// average is the float64 mean of the recorded Adam iterates; apply()/restore() are exact; the
// handle's own getWeights/setWeights round trip; no growth over 100 steps; no host read per update.
import * as tf from '@tensorflow/tfjs-core';
import { FlatminError } from '@flatmin/core';
import { countHostReads, expectNoTensorGrowth, flatten, makeLinearProblem, makeTfLinear } from '@flatmin/test-kit';
import { describe, expect, it } from 'vitest';
import { swa } from '../src/index.js';
import { averagedIndices, maxRelative, mean64 } from './reference.js';

const problem = makeLinearProblem({ seed: 5 });

describe('swa().attach(variables) next to tf.train.adam', () => {
  it('averages exactly the documented updates of any optimizer; apply()/restore() are exact', () => {
    const model = makeTfLinear(problem);
    const adam = tf.train.adam(0.05);
    const handle = swa({ start: 2, every: 3 }).attach(model.variables);
    const trajectory: number[][] = [];
    for (let i = 0; i < 12; i += 1) {
      adam.minimize(model.loss(), false, model.variables);
      handle.update();
      trajectory.push(flatten(model.read())); // tests only: the iterates the average must match
    }
    expect(handle.steps).toBe(12);
    const current = model.read();
    handle.apply();
    expect(handle.applied).toBe(true);
    expect(maxRelative(flatten(model.read()), mean64(trajectory, averagedIndices(12, 2, 3)))).toBeLessThan(1e-6);
    expect(() => handle.update()).toThrow(/restore/);
    handle.apply(); // a second apply() is a no-op
    handle.restore();
    expect(handle.applied).toBe(false);
    expect(model.read()).toEqual(current);
    handle.restore(); // and so is a second restore()
    expect(model.read()).toEqual(current);
    handle.dispose();
    expect(() => handle.update()).toThrow(FlatminError);
    adam.dispose();
    model.dispose();
  });

  it('a function target is read again at every update', () => {
    const model = makeTfLinear(problem);
    const handle = swa().attach(() => model.variables);
    handle.update();
    handle.apply();
    handle.restore();
    handle.dispose();
    model.dispose();
  });

  it('refuses apply() before anything is averaged, changing nothing', () => {
    const model = makeTfLinear(problem);
    const handle = swa({ start: 3 }).attach(model.variables);
    for (let i = 0; i < 3; i += 1) handle.update();
    const current = model.read();
    expect(() => handle.apply()).toThrow(/no averaged weights/);
    expect(model.read()).toEqual(current);
    handle.dispose();
    model.dispose();
  });

  it('round-trips its own getWeights/setWeights: 10 + save/restore + 10 = 20 steps exactly, onto renamed variables', async () => {
    const straightModel = makeTfLinear(problem);
    const sgd = tf.train.sgd(0.05);
    const straight = swa({ start: 1, every: 2 }).attach(straightModel.variables);
    for (let i = 0; i < 20; i += 1) {
      sgd.minimize(straightModel.loss(), false, straightModel.variables);
      straight.update();
    }
    straight.apply();
    const expected = straightModel.read();
    straight.dispose();
    straightModel.dispose();

    const first = makeTfLinear(problem);
    const handle = swa({ start: 1, every: 2 }).attach(first.variables);
    for (let i = 0; i < 10; i += 1) {
      sgd.minimize(first.loss(), false, first.variables);
      handle.update();
    }
    const saved = (await handle.getWeights()).map((w) => ({ name: w.name, tensor: tf.clone(w.tensor) }));
    const params = first.read();
    handle.dispose();
    first.dispose();
    // New variable names (as after tf.loadLayersModel): the state follows by position.
    const second = makeTfLinear(problem, { params });
    const restored = swa({ start: 1, every: 2 }).attach(second.variables);
    await restored.setWeights(saved);
    tf.dispose(saved.map((w) => w.tensor));
    expect(restored.steps).toBe(10);
    for (let i = 0; i < 10; i += 1) {
      sgd.minimize(second.loss(), false, second.variables);
      restored.update();
    }
    restored.apply();
    expect(second.read()).toEqual(expected);
    restored.dispose();
    second.dispose();
    sgd.dispose();
  });

  it('leaks no tensors over 100 steps and reads nothing from the device per update', async () => {
    const model = makeTfLinear(problem);
    const sgd = tf.train.sgd(0.05);
    const handle = swa({ every: 2 }).attach(model.variables);
    const step = () => {
      sgd.minimize(model.loss(), false, model.variables);
      handle.update();
    };
    await expectNoTensorGrowth(step);
    const { reads } = countHostReads(() => {
      for (let i = 0; i < 10; i += 1) handle.update();
    });
    expect(reads).toBe(0);
    const before = tf.memory().numTensors;
    handle.apply();
    handle.restore();
    expect(tf.memory().numTensors).toBe(before);
    handle.dispose();
    sgd.dispose();
    model.dispose();
  });
});
