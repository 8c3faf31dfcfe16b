// ema(): the float64 recurrence with and without warmup (standalone and attached to sharpnessAware),
// apply/restore exactness, the common optimizer matrix, the state round trip, leaks and host reads.
import * as tf from '@tensorflow/tfjs-core';
import { sharpnessAware } from '@flatmin/core';
import { countHostReads, expectNoTensorGrowth, flatten, makeLinearProblem, makeTfLinear, runOptimizerSuite } from '@flatmin/test-kit';
import { afterEach, describe, expect, it } from 'vitest';
import { gradient } from '../../perturb-gradient/src/index.js';
import { ema } from '../src/index.js';
import { decay64, ema64, relativeError, samTrajectory64 } from './reference.js';

const created: tf.Tensor[] = [];
afterEach(() => {
  tf.dispose(created.splice(0));
});

/** Six fixed weight vectors w_0..w_5 (two variables: a 2×2 kernel and a bias of 2). */
const SEQUENCE = [
  [0.5, -1, 2, 0.25, 1, -0.5],
  [1.5, -0.5, 1, 0.75, 0.5, 0.5],
  [-0.25, 2, 0.5, -1, 1.25, 0],
  [0.75, 1, -1.5, 2, -0.5, 1],
  [2, -2, 0.25, 0.5, 0, -1],
  [-1, 0.5, 1.75, -0.25, 1.5, 2],
];

function variablesAt(values: readonly number[]): tf.Variable[] {
  const kernel = tf.variable(tf.tensor2d(values.slice(0, 4), [2, 2]));
  const bias = tf.variable(tf.tensor1d(values.slice(4)));
  created.push(kernel, bias);
  return [kernel, bias];
}

function setTo(variables: tf.Variable[], values: readonly number[]): void {
  variables[0]!.assign(tf.tensor2d(values.slice(0, 4), [2, 2]));
  variables[1]!.assign(tf.tensor1d(values.slice(4)));
}

const read = (variables: tf.Variable[]) => variables.flatMap((v) => Array.from(v.dataSync()));
const averagedOf = (averaged: Readonly<Record<string, tf.Tensor>>, variables: tf.Variable[]) => variables.flatMap((v) => Array.from(averaged[v.name]!.dataSync()));

describe('the recurrence against float64', () => {
  it('warmup schedule: d_0 = 0, d_t = min(decay, 1 − (1 + t)^(−2/3)) (the reference itself)', () => {
    expect(decay64(0, 0.6, true)).toBe(0);
    expect(decay64(1, 0.6, true)).toBeCloseTo(1 - 2 ** (-2 / 3), 15);
    expect(decay64(3, 0.6, true)).toBe(0.6); // 1 − 4^(−2/3) = 0.603 > 0.6
    expect(decay64(2, 0.6, false)).toBe(0.6);
  });

  it.each([
    ['warmup, decay 0.6 (the cap binds from t = 3)', 0.6, true],
    ['warmup, decay 0.999 (the warmup binds throughout)', 0.999, true],
    ['no warmup, decay 0.6', 0.6, false],
    ['no warmup, decay 0.9', 0.9, false],
  ] as const)('%s: six updates of a standalone handle match float64', (_name, decay, warmup) => {
    const variables = variablesAt(SEQUENCE[0]!);
    const handle = ema({ decay, warmup }).attach(variables);
    for (let t = 0; t < SEQUENCE.length; t += 1) {
      setTo(variables, SEQUENCE[t]!);
      handle.update();
      const expected = ema64(SEQUENCE.slice(0, t + 1), decay, warmup);
      expect(relativeError(averagedOf(handle.averaged(), variables), expected)).toBeLessThan(1e-6);
    }
    expect(handle.steps).toBe(6);
    handle.dispose();
  });

  it('the first update copies w bit for bit', () => {
    const variables = variablesAt(SEQUENCE[1]!);
    const handle = ema({ warmup: false }).attach(variables);
    handle.update();
    expect(averagedOf(handle.averaged(), variables)).toEqual(read(variables));
    handle.dispose();
  });

  it('warmup and no warmup differ (the option is not ignored)', () => {
    const runs = [true, false].map((warmup) => {
      const variables = variablesAt(SEQUENCE[0]!);
      const handle = ema({ decay: 0.9, warmup }).attach(variables);
      for (const w of SEQUENCE.slice(0, 3)) {
        setTo(variables, w);
        handle.update();
      }
      const out = averagedOf(handle.averaged(), variables);
      handle.dispose();
      return out;
    });
    expect(runs[0]).not.toEqual(runs[1]);
  });

  it.each([true, false])('attached to sharpnessAware (SAM + SGD), warmup %s: three steps match the float64 EMA of the SAM trajectory', (warmup) => {
    const problem = makeLinearProblem({ seed: 3 });
    const model = makeTfLinear(problem);
    const optimizer = sharpnessAware({ base: tf.train.sgd(0.1), perturbation: gradient({ rho: 0.05 }), averager: ema({ decay: 0.5, warmup }) });
    for (let t = 0; t < 3; t += 1) optimizer.minimize(model.loss(), false, model.variables);
    const trajectory = samTrajectory64(problem, 3, 0.1, 0.05);
    const training = flatten(model.read());
    expect(relativeError(training, trajectory[2]!)).toBeLessThan(1e-5); // the averager does not touch the trajectory
    optimizer.averager!.apply();
    expect(relativeError(flatten(model.read()), ema64(trajectory, 0.5, warmup))).toBeLessThan(1e-5);
    optimizer.averager!.restore();
    expect(flatten(model.read())).toEqual(training);
    optimizer.dispose();
    model.dispose();
  });
});

describe('apply() and restore()', () => {
  it('apply() puts the averages in exactly; restore() leaves the variables bit-identical to before', () => {
    const variables = variablesAt(SEQUENCE[0]!);
    const handle = ema({ decay: 0.7 }).attach(variables);
    for (const w of SEQUENCE.slice(0, 4)) {
      setTo(variables, w);
      handle.update();
    }
    const before = read(variables);
    const averages = averagedOf(handle.averaged(), variables);
    handle.apply();
    expect(handle.applied).toBe(true);
    expect(read(variables)).toEqual(averages);
    expect(averages).not.toEqual(before);
    handle.apply(); // a second apply() is a no-op: restore still brings back the training weights
    handle.restore();
    expect(handle.applied).toBe(false);
    expect(read(variables)).toEqual(before);
    expect(() => {
      handle.apply();
      handle.update();
    }).toThrow(/restore\(\)/);
    handle.restore();
    handle.dispose();
  });

  it('apply() before any update throws a FlatminError', () => {
    const handle = ema().attach(variablesAt(SEQUENCE[0]!));
    expect(() => handle.apply()).toThrow(/no averaged weights yet/);
    handle.dispose();
  });
});

describe('standalone next to tf.train.adam (a custom loop)', () => {
  it('averages the Adam trajectory (float64 recurrence of the recorded weights), with no host read and no tensor growth', async () => {
    const problem = makeLinearProblem({ seed: 5 });
    const model = makeTfLinear(problem);
    const adam = tf.train.adam(0.05);
    const handle = ema({ decay: 0.8 }).attach(model.variables);
    const trajectory: number[][] = [];
    for (let t = 0; t < 5; t += 1) {
      adam.minimize(model.loss(), false, model.variables);
      handle.update();
      trajectory.push(flatten(model.read()));
    }
    expect(relativeError(averagedOf(handle.averaged(), model.variables), ema64(trajectory, 0.8, true))).toBeLessThan(1e-6);
    const { reads } = countHostReads(() => {
      for (let t = 0; t < 10; t += 1) handle.update();
    });
    expect(reads).toBe(0);
    await expectNoTensorGrowth(() => {
      adam.minimize(model.loss(), false, model.variables);
      handle.update();
    });
    handle.dispose();
    adam.dispose();
    model.dispose();
  });
});

describe('the standalone state round trip', () => {
  it('10 updates + getWeights + a fresh handle + setWeights + 10 updates equals 20 updates exactly', async () => {
    const problem = makeLinearProblem({ seed: 9 });
    const run = (model: ReturnType<typeof makeTfLinear>, handle: ReturnType<ReturnType<typeof ema>['attach']>, sgd: tf.Optimizer, steps: number) => {
      for (let t = 0; t < steps; t += 1) {
        sgd.minimize(model.loss(), false, model.variables);
        handle.update();
      }
    };
    const straightModel = makeTfLinear(problem, { names: ['ema-rt/w', 'ema-rt/b'] });
    const straight = ema({ decay: 0.9 }).attach(straightModel.variables);
    const sgdA = tf.train.sgd(0.05);
    run(straightModel, straight, sgdA, 20);
    const expected = averagedOf(straight.averaged(), straightModel.variables);
    straight.dispose();
    straightModel.dispose();

    const firstModel = makeTfLinear(problem, { names: ['ema-rt/w', 'ema-rt/b'] });
    const first = ema({ decay: 0.9 }).attach(firstModel.variables);
    const sgdB = tf.train.sgd(0.05);
    run(firstModel, first, sgdB, 10);
    const saved = first.getWeights();
    const params = firstModel.read();
    first.dispose();
    firstModel.dispose();
    const secondModel = makeTfLinear(problem, { params, names: ['ema-rt/w', 'ema-rt/b'] });
    const second = ema({ decay: 0.9 }).attach(secondModel.variables);
    await second.setWeights(saved);
    tf.dispose(saved.map((w) => w.tensor));
    expect(second.steps).toBe(10);
    run(secondModel, second, sgdB, 10);
    expect(averagedOf(second.averaged(), secondModel.variables)).toEqual(expected);
    second.dispose();
    secondModel.dispose();
    sgdA.dispose();
    sgdB.dispose();
  });

  it('a saved average of a variable that is not attached throws a FlatminError (never silently fresh)', async () => {
    const a = ema().attach(variablesAt(SEQUENCE[0]!));
    a.update();
    const saved = a.getWeights();
    // Another list (one variable instead of two): nothing to follow by position.
    const b = ema().attach(variablesAt(SEQUENCE[1]!).slice(0, 1));
    await expect(b.setWeights(saved)).rejects.toThrow(/no attached variable/);
    tf.dispose(saved.map((w) => w.tensor));
    a.dispose();
    b.dispose();
  });
});

describe('attached: the optimizer saves the averages', () => {
  it('SAM + ema: 10 steps + getWeights/setWeights + 10 steps gives the same averages as 20 steps', async () => {
    const problem = makeLinearProblem({ seed: 4 });
    const names: [string, string] = ['ema-opt/w', 'ema-opt/b'];
    const make = () => sharpnessAware({ base: tf.train.momentum(0.05, 0.9), perturbation: gradient({ rho: 0.05 }), averager: ema({ decay: 0.9 }) });
    const averaged = (optimizer: ReturnType<typeof make>, model: ReturnType<typeof makeTfLinear>) => {
      optimizer.averager!.apply();
      const out = flatten(model.read());
      optimizer.averager!.restore();
      return out;
    };
    const straightModel = makeTfLinear(problem, { names });
    const straight = make();
    for (let t = 0; t < 20; t += 1) straight.minimize(straightModel.loss(), false, straightModel.variables);
    const expected = averaged(straight, straightModel);
    straight.dispose();
    straightModel.dispose();

    const firstModel = makeTfLinear(problem, { names });
    const first = make();
    for (let t = 0; t < 10; t += 1) first.minimize(firstModel.loss(), false, firstModel.variables);
    const saved = (await first.getWeights()).map((w) => ({ name: w.name, tensor: tf.clone(w.tensor) }));
    expect(saved.some((w) => w.name.endsWith(':ema'))).toBe(true);
    const params = firstModel.read();
    first.dispose();
    firstModel.dispose();
    const secondModel = makeTfLinear(problem, { params, names });
    const second = make();
    await second.setWeights(saved);
    tf.dispose(saved.map((w) => w.tensor));
    for (let t = 0; t < 10; t += 1) second.minimize(secondModel.loss(), false, secondModel.variables);
    expect(averaged(second, secondModel)).toEqual(expected);
    second.dispose();
    secondModel.dispose();
  });

  it('a skipped non-finite step leaves the averages and the warmup counter exactly as they were', () => {
    const problem = makeLinearProblem({ seed: 6 });
    const train = (withNaN: boolean) => {
      const model = makeTfLinear(problem);
      const optimizer = sharpnessAware({ base: tf.train.sgd(0.05), perturbation: gradient({ rho: 0.05 }), averager: ema({ decay: 0.9 }) });
      for (let t = 0; t < 4; t += 1) {
        optimizer.minimize(model.loss(), false, model.variables);
        if (withNaN && t === 1) optimizer.minimize(() => tf.mul(model.loss()(), Number.NaN) as tf.Scalar, false, model.variables);
      }
      optimizer.averager!.apply();
      const out = flatten(model.read());
      optimizer.dispose();
      model.dispose();
      return out;
    };
    expect(train(true)).toEqual(train(false));
  });
});

const lr = 0.05;
runOptimizerSuite('sharpnessAware with an ema() averager', [
  {
    name: 'SAM + ema({ decay: 0.9 })',
    make: () => sharpnessAware({ base: tf.train.sgd(lr), perturbation: gradient({ rho: 0.05 }), averager: ema({ decay: 0.9 }) }),
    reference: {
      steps: 1,
      expected: (problem) => {
        const w = samTrajectory64(problem, 1, lr, 0.05)[0]!;
        return { w: Array.from({ length: problem.d }, (_, c) => w.slice(c * problem.k, (c + 1) * problem.k)), b: w.slice(problem.d * problem.k) };
      },
    },
    badConfigs: [
      { make: () => ema({ decay: 1 }), key: 'decay' },
      { make: () => ema({ decay: 0 }), key: 'decay' },
      { make: () => ema({ warmup: 'yes' as unknown as boolean }), key: 'warmup' },
    ],
  },
]);
