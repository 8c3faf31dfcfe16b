// learningRateSchedule(...).step() in a hand-written loop: the update each optimizer really
// takes at step t is the one with the scheduled rate (float64 references), no tensor growth,
// no host read, and a save/restore that continues the schedule exactly.
import * as tf from '@tensorflow/tfjs-core';
import { countHostReads, expectNoTensorGrowth, linearGrad64, makeLinearProblem, makeTfLinear, maxRelativeError } from '@flatmin/test-kit';
import { describe, expect, it } from 'vitest';
import { cosineWithWarmup, learningRateSchedule, linearDecay, stepDecay } from '../src/index.js';
import { CONSTRUCTED_RATE, COSINE, cosineRate, expectRates, MAIN_OPTIMIZERS, OPTIMIZERS, rateField } from './helpers.js';
import { run64, sgd64 } from './reference.js';

const problem = makeLinearProblem({ n: 8, d: 3, k: 2, seed: 7 });
const STEPS = 12;
const RATES = Array.from({ length: STEPS }, (_, t) => cosineRate(t));

describe.each(OPTIMIZERS)('$name: step() before each minimize', ({ make, reference }) => {
  it(`the ${STEPS} updates use the scheduled rates (float64 reference, 1e-5)`, () => {
    const model = makeTfLinear(problem);
    const optimizer = make();
    const scheduler = learningRateSchedule(optimizer, cosineWithWarmup(COSINE));
    const applied: number[] = [];
    for (let t = 0; t < STEPS; t++) {
      applied.push(scheduler.step());
      expect(scheduler.rate).toBe(applied[t]);
      optimizer.minimize(model.loss(), false, model.variables);
    }
    expect(optimizer.iterations).toBe(STEPS);
    expectRates(applied, RATES);
    const expected = run64(problem, reference(), RATES);
    expect(maxRelativeError(model.read(), expected)).toBeLessThan(1e-5);
    // The constructor's rate would have given another trajectory: the check can fail.
    const unscheduled = run64(problem, reference(), RATES.map(() => CONSTRUCTED_RATE));
    expect(maxRelativeError(unscheduled, expected)).toBeGreaterThan(1e-3);
    model.dispose();
    optimizer.dispose();
  });

  it('makes zero host reads per step', () => {
    const model = makeTfLinear(problem);
    const optimizer = make();
    const scheduler = learningRateSchedule(optimizer, cosineWithWarmup(COSINE));
    scheduler.step();
    optimizer.minimize(model.loss(), false, model.variables); // slots created
    const { reads } = countHostReads(() => {
      for (let t = 1; t < 6; t++) {
        scheduler.step();
        optimizer.minimize(model.loss(), false, model.variables);
      }
    });
    expect(reads).toBe(0);
    expect(countHostReads(() => model.w.dataSync()).reads).toBeGreaterThan(0);
    model.dispose();
    optimizer.dispose();
  });

  it('100 scheduled steps (a new rate each step) leave no tensor behind', async () => {
    const model = makeTfLinear(problem);
    const optimizer = make();
    const scheduler = learningRateSchedule(optimizer, cosineWithWarmup({ peak: 0.01, warmupSteps: 20, totalSteps: 500 }));
    await expectNoTensorGrowth(() => {
      scheduler.step();
      optimizer.minimize(model.loss(), false, model.variables);
    });
    model.dispose();
    optimizer.dispose();
  });
});

describe.each(MAIN_OPTIMIZERS)('$name: the position is optimizer.iterations, saved with its weights', ({ make }) => {
  const schedule = cosineWithWarmup({ peak: 0.1, warmupSteps: 4, totalSteps: 25, floor: 0.005 });
  const train = (optimizer: tf.Optimizer, model: ReturnType<typeof makeTfLinear>, steps: number) => {
    const scheduler = learningRateSchedule(optimizer, schedule);
    for (let t = 0; t < steps; t++) {
      scheduler.step();
      optimizer.minimize(model.loss(), false, model.variables);
    }
  };

  it('10 steps, getWeights, a fresh optimizer with setWeights, 10 more = 20 steps without a break (bit-identical)', async () => {
    const straight = makeTfLinear(problem);
    const straightOptimizer = make();
    train(straightOptimizer, straight, 20);

    const first = makeTfLinear(problem);
    const firstOptimizer = make();
    train(firstOptimizer, first, 10);
    const saved = (await firstOptimizer.getWeights()).map(({ name, tensor }) => ({ name, tensor: tf.clone(tensor) }));
    expect(saved[0]!.name).toBe('iter');
    const resumed = makeTfLinear(problem, { params: first.read() });
    const resumedOptimizer = make();
    await resumedOptimizer.setWeights(saved);
    expect(resumedOptimizer.iterations).toBe(10);
    const scheduler = learningRateSchedule(resumedOptimizer, schedule);
    expect(scheduler.step()).toBe(schedule(10));
    train(resumedOptimizer, resumed, 10);

    expect(resumed.read()).toEqual(straight.read());
    tf.dispose(saved.map((w) => w.tensor));
    for (const m of [straight, first, resumed]) m.dispose();
    for (const o of [straightOptimizer, firstOptimizer, resumedOptimizer]) o.dispose();
  });
});

describe('SGD and momentum: the cached rate scalar', () => {
  it('is replaced (the old one disposed) when the rate changes, and kept when it does not', () => {
    const optimizer = tf.train.momentum(CONSTRUCTED_RATE, 0.9) as unknown as tf.Optimizer & { c: tf.Scalar };
    const scheduler = learningRateSchedule(optimizer, stepDecay({ initial: 0.1, factor: 0.5, every: 3 }));
    const original = optimizer.c;
    const before = tf.memory().numTensors;
    scheduler.step(0);
    const first = optimizer.c;
    expect(original.isDisposed).toBe(true);
    expect(first.dataSync()[0]).toBeCloseTo(-0.1, 7);
    scheduler.step(1);
    scheduler.step(2);
    expect(optimizer.c).toBe(first); // same rate: no new scalar
    scheduler.step(3);
    expect(first.isDisposed).toBe(true);
    expect(optimizer.c.dataSync()[0]).toBeCloseTo(-0.05, 7);
    expect(tf.memory().numTensors).toBe(before);
    optimizer.dispose();
  });

  it('a rate set behind the scheduler’s back (setLearningRate) is overwritten by the next step()', () => {
    const optimizer = tf.train.sgd(CONSTRUCTED_RATE);
    const scheduler = learningRateSchedule(optimizer, stepDecay({ initial: 0.1, factor: 1, every: 1 }));
    scheduler.step();
    optimizer.setLearningRate(0.3);
    scheduler.step();
    expect(rateField(optimizer)).toBe(0.1);
    expect((optimizer as unknown as { c: tf.Scalar }).c.dataSync()[0]).toBeCloseTo(-0.1, 7);
    optimizer.dispose();
  });
});

describe("every: 'epoch' in a custom loop", () => {
  it('step(epoch) sets schedule(epoch) for every update of the epoch (float64 reference)', () => {
    const model = makeTfLinear(problem);
    const optimizer = tf.train.sgd(CONSTRUCTED_RATE);
    const scheduler = learningRateSchedule(optimizer, linearDecay({ initial: 0.2, final: 0.05, totalSteps: 3 }), { every: 'epoch' });
    const halves = [
      [0, 1, 2, 3],
      [4, 5, 6, 7],
    ];
    for (let epoch = 0; epoch < 4; epoch++) {
      scheduler.step(epoch);
      for (const rows of halves) optimizer.minimize(model.loss(rows), false, model.variables);
    }
    // Rates per epoch: 0.2, 0.15, 0.1, 0.05; two half-batch updates each.
    const epochRates = [0.2, 0.15, 0.1, 0.05];
    let w = problem.init;
    const update = sgd64();
    for (const rate of epochRates) {
      for (const rows of halves) {
        const g = linearGrad64(problem, w, rows);
        const flatW = [...w.w.flat(), ...w.b];
        const flatG = [...g.w.flat(), ...g.b];
        const next = update(flatW, flatG, rate);
        w = { w: [next.slice(0, 2), next.slice(2, 4), next.slice(4, 6)], b: next.slice(6, 8) };
      }
    }
    expect(maxRelativeError(model.read(), w)).toBeLessThan(1e-5);
    model.dispose();
    optimizer.dispose();
  });

  it('an explicit position overrides the counter in batch mode too', () => {
    const optimizer = tf.train.adam(CONSTRUCTED_RATE);
    const scheduler = learningRateSchedule(optimizer, linearDecay({ initial: 1, totalSteps: 10 }));
    expect(scheduler.step(4)).toBeCloseTo(0.6, 15);
    expect(rateField(optimizer)).toBeCloseTo(0.6, 15);
    expect(scheduler.step()).toBe(1); // iterations = 0
    optimizer.dispose();
  });
});
