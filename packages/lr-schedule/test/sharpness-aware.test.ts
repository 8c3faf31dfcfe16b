// With a flatmin SharpnessAwareOptimizer: the rate reaches the base optimizer (float64 SAM
// reference), the step's components see it in context.learningRate before the step (what a ρ
// proportional to the rate needs), under model.fit too, and its save/restore continues the schedule.
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { type Perturbation, sharpnessAware } from '@flatmin/core';
import { gradient } from '@flatmin/perturb-gradient';
import { axpy, expectNoTensorGrowth, type LinearParams, linearGrad64, makeLinearProblem, makeTfLinear, maxRelativeError, norm64 } from '@flatmin/test-kit';
import { describe, expect, it } from 'vitest';
import { cosineWithWarmup, learningRateSchedule } from '../src/index.js';
import { CONSTRUCTED_RATE, COSINE, cosineRate, expectRates, rateField } from './helpers.js';
import { momentum64, run64, runBatches64, sgd64 } from './reference.js';

const RHO = 0.05;

/** SAM's perturbation, recording the learning rate each step's context carries. */
function recording(seen: number[]): Perturbation {
  const inner = gradient({ rho: RHO });
  return {
    ...inner,
    compute: (context, state) => {
      seen.push(context.learningRate);
      return inner.compute(context, state);
    },
  };
}

/** g_adv = ∇L(w + ρ g/‖g‖) in float64 (the SAM update direction), over `rows`. */
function samGrad(problem: ReturnType<typeof makeLinearProblem>, rows?: number[]) {
  return (w: LinearParams): LinearParams => {
    const g = linearGrad64(problem, w, rows);
    return linearGrad64(problem, axpy(RHO / norm64(g), g, w), rows);
  };
}

describe('a SharpnessAwareOptimizer in a custom loop', () => {
  const problem = makeLinearProblem({ n: 8, d: 3, k: 2, seed: 5 });

  it('update t is w − η_t-momentum of g_adv with η_t = schedule(t), and context.learningRate is η_t (float64 reference)', () => {
    const seen: number[] = [];
    const model = makeTfLinear(problem);
    const optimizer = sharpnessAware({ base: tf.train.momentum(CONSTRUCTED_RATE, 0.9), perturbation: recording(seen) });
    const scheduler = learningRateSchedule(optimizer, cosineWithWarmup(COSINE));
    for (let t = 0; t < 12; t++) {
      scheduler.step();
      optimizer.minimize(model.loss(), false, model.variables);
    }
    const rates = Array.from({ length: 12 }, (_, t) => cosineRate(t));
    expectRates(seen, rates);
    expect(rateField(optimizer.base)).toBe(seen[11]);
    expect(maxRelativeError(model.read(), run64(problem, momentum64(0.9), rates, samGrad(problem)))).toBeLessThan(1e-5);
    model.dispose();
    optimizer.dispose();
  });

  it('100 scheduled sharp steps leave no tensor behind', async () => {
    const model = makeTfLinear(problem);
    const optimizer = sharpnessAware({ base: tf.train.sgd(CONSTRUCTED_RATE), perturbation: gradient({ rho: RHO }) });
    const scheduler = learningRateSchedule(optimizer, cosineWithWarmup({ peak: 0.01, warmupSteps: 10, totalSteps: 400 }));
    await expectNoTensorGrowth(() => {
      scheduler.step();
      optimizer.minimize(model.loss(), false, model.variables);
    });
    model.dispose();
    optimizer.dispose();
  });

  it('10 steps, getWeights, a fresh optimizer with setWeights, 10 more = 20 steps without a break (bit-identical)', async () => {
    const schedule = cosineWithWarmup({ peak: 0.1, warmupSteps: 4, totalSteps: 25 });
    const make = () => sharpnessAware({ base: tf.train.momentum(CONSTRUCTED_RATE, 0.9), perturbation: gradient({ rho: RHO }), seed: 1 });
    const train = (optimizer: ReturnType<typeof make>, model: ReturnType<typeof makeTfLinear>, steps: number) => {
      const scheduler = learningRateSchedule(optimizer, schedule);
      for (let t = 0; t < steps; t++) {
        scheduler.step();
        optimizer.minimize(model.loss(), false, model.variables);
      }
    };
    const straight = makeTfLinear(problem);
    const straightOptimizer = make();
    train(straightOptimizer, straight, 20);
    const first = makeTfLinear(problem);
    const firstOptimizer = make();
    train(firstOptimizer, first, 10);
    const saved = (await firstOptimizer.getWeights()).map(({ name, tensor }) => ({ name, tensor: tf.clone(tensor) }));
    expect(saved.map((w) => w.name)).toContain('base/iter');
    const resumed = makeTfLinear(problem, { params: first.read() });
    const resumedOptimizer = make();
    await resumedOptimizer.setWeights(saved);
    expect(resumedOptimizer.iterations).toBe(10);
    train(resumedOptimizer, resumed, 10);
    expect(resumed.read()).toEqual(straight.read());
    tf.dispose(saved.map((w) => w.tensor));
    for (const m of [straight, first, resumed]) m.dispose();
    for (const o of [straightOptimizer, firstOptimizer, resumedOptimizer]) o.dispose();
  });

  it('with accumulate: the micro-batches of one update share its rate (the position counts updates)', () => {
    const seen: number[] = [];
    const model = makeTfLinear(problem);
    const optimizer = sharpnessAware({ base: tf.train.sgd(CONSTRUCTED_RATE), perturbation: recording(seen), accumulate: { steps: 2 } });
    const scheduler = learningRateSchedule(optimizer, cosineWithWarmup(COSINE));
    const set: number[] = [];
    for (let call = 0; call < 8; call++) {
      set.push(scheduler.step());
      optimizer.minimize(model.loss(call % 2 === 0 ? [0, 1, 2, 3] : [4, 5, 6, 7]), false, model.variables);
    }
    expect(optimizer.iterations).toBe(4);
    const rates = [0, 1, 2, 3].map(cosineRate);
    expectRates(set, [0, 0, 1, 1, 2, 2, 3, 3].map(cosineRate));
    expectRates(seen, rates);
    model.dispose();
    optimizer.dispose();
  });
});

describe('a SharpnessAwareOptimizer under model.fit', () => {
  const problem = makeLinearProblem({ n: 8, d: 3, k: 1, seed: 13 });

  it('per batch: update t is w − η_t g_adv with η_t = schedule(t), seen in context.learningRate (float64 reference); no leak across fits', async () => {
    const seen: number[] = [];
    const model = tfl.sequential({ layers: [tfl.layers.dense({ units: 1, inputShape: [3] })] });
    model.setWeights([tf.tensor2d(problem.init.w), tf.tensor1d(problem.init.b)]);
    const optimizer = sharpnessAware({ base: tf.train.sgd(CONSTRUCTED_RATE), perturbation: recording(seen) });
    model.compile({ optimizer, loss: 'meanSquaredError', metrics: ['mae'] });
    const callback = learningRateSchedule(model, cosineWithWarmup(COSINE)).callback();
    const x = tf.tensor2d(problem.x);
    const y = tf.tensor2d(problem.y);
    await model.fit(x, y, { batchSize: 4, epochs: 3, shuffle: false, verbose: 0, callbacks: [callback] });
    const rates = Array.from({ length: 6 }, (_, t) => cosineRate(t));
    expectRates(seen, rates);
    const [kernel, bias] = model.getWeights();
    const params = { w: kernel!.arraySync() as number[][], b: bias!.arraySync() as number[] };
    // Each batch's SAM gradient: ε and g_adv from the batch's rows.
    let w = problem.init;
    rates.forEach((rate, t) => {
      const rows = t % 2 === 0 ? [0, 1, 2, 3] : [4, 5, 6, 7];
      w = run64(problem, sgd64(), [rate], samGrad(problem, rows), w);
    });
    expect(maxRelativeError(params, w)).toBeLessThan(1e-5);
    // Sanity of the reference: plain SGD with the same rates is another trajectory.
    expect(maxRelativeError(runBatches64(problem, sgd64(), rates, [[0, 1, 2, 3], [4, 5, 6, 7]]), w)).toBeGreaterThan(1e-4);

    const before = tf.memory();
    await model.fit(x, y, { batchSize: 4, epochs: 2, shuffle: false, verbose: 0, callbacks: [callback] });
    const after = tf.memory();
    expect({ tensors: after.numTensors, bytes: after.numBytes }).toEqual({ tensors: before.numTensors, bytes: before.numBytes });
    tf.dispose([x, y]);
    model.dispose();
    optimizer.dispose();
  });
});
