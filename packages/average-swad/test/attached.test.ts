// SWAD attached to sharpnessAware and standalone next to tf.train.adam: the window from the
// observed losses, the averaged weights against the float64 mean of the recorded trajectory,
// apply/restore exact, state round trips, no tensor growth, zero host reads per step.
import * as tf from '@tensorflow/tfjs-core';
import { sharpnessAware } from '@flatmin/core';
import { gradient } from '@flatmin/perturb-gradient';
import { countHostReads, expectNoTensorGrowth, makeLinearProblem, makeTfLinear, type TfLinear } from '@flatmin/test-kit';
import { describe, expect, it } from 'vitest';
import { swad } from '../src/index.js';
import { mean64, relativeError } from './helpers.js';

const problem = makeLinearProblem({ seed: 3 });
// c = 6, T = 1.3, t_s = e_6 + 1, t_e = e_11 (see window.test.ts); here e_k = 2k.
const LOSSES = [5, 4, 3, 2, 1.5, 1.0, 1.1, 1.05, 1.2, 1.25, 1.2, 1.4, 1.5, 1.6, 1.7, 1.8, 1.9, 2.0];
const flat = (m: TfLinear) => {
  const p = m.read();
  return [...p.w.flat(), ...p.b];
};

function trainObserving(step: () => void, observe: (loss: number) => void, m: TfLinear, losses: number[], every = 2): number[][] {
  const trajectory: number[][] = [];
  for (const loss of losses) {
    for (let i = 0; i < every; i += 1) {
      step();
      trajectory.push(flat(m));
    }
    observe(loss);
  }
  return trajectory;
}

describe('attached to sharpnessAware', () => {
  it('averages the updates in [t_s, t_e] of the SAM trajectory; apply/restore are exact', async () => {
    const m = makeTfLinear(problem);
    const averager = swad();
    const optimizer = sharpnessAware({ base: tf.train.sgd(0.05), perturbation: gradient({ rho: 0.05 }), averager });
    const trajectory = trainObserving(() => optimizer.minimize(m.loss(), false, m.variables), (l) => averager.observeValidation(l), m, LOSSES);
    optimizer.minimize(m.loss(), false, m.variables); // after the last evaluation: not averaged
    expect(averager.window()).toEqual({ start: 13, end: 22 });
    expect((await optimizer.telemetry()).lossEvaluations).toBe(2 * 37); // SAM's two passes: the averager adds none
    const before = flat(m);
    optimizer.averager!.apply();
    expect(relativeError(flat(m), mean64(trajectory, 13, 22))).toBeLessThan(1e-6);
    expect(relativeError(flat(m), mean64(trajectory, 13, 23))).toBeGreaterThan(1e-6);
    optimizer.averager!.restore();
    expect(flat(m)).toEqual(before);
    optimizer.dispose();
    m.dispose();
  });

  it('round-trips getWeights/setWeights: window and buffers (mid-valley save, fresh optimizer)', async () => {
    const make = () => {
      const averager = swad();
      return { averager, optimizer: sharpnessAware({ base: tf.train.momentum(0.05, 0.9), perturbation: gradient({ rho: 0.05 }), averager }) };
    };
    const names: [string, string] = ['swadRoundTrip/w', 'swadRoundTrip/b'];
    // Straight: all evaluations in one run.
    const straightModel = makeTfLinear(problem);
    const straight = make();
    trainObserving(() => straight.optimizer.minimize(straightModel.loss(), false, straightModel.variables), (l) => straight.averager.observeValidation(l), straightModel, LOSSES);
    straight.optimizer.averager!.apply();
    const expected = flat(straightModel);
    // Saved after 9 evaluations (converged, segments pending), restored into a fresh optimizer.
    const first = makeTfLinear(problem, { names });
    const a = make();
    trainObserving(() => a.optimizer.minimize(first.loss(), false, first.variables), (l) => a.averager.observeValidation(l), first, LOSSES.slice(0, 9));
    a.optimizer.minimize(first.loss(), false, first.variables); // consumes the 9th evaluation
    const saved = (await a.optimizer.getWeights()).map((w) => ({ name: w.name, tensor: tf.clone(w.tensor) }));
    expect(saved.some((w) => w.name.startsWith('flatmin/averager/') && w.name.includes(':segment'))).toBe(true);
    const params = first.read();
    a.optimizer.dispose();
    first.dispose();
    const second = makeTfLinear(problem, { params, names });
    const b = make();
    await b.optimizer.setWeights(saved);
    for (const w of saved) w.tensor.dispose();
    // The step the first run made after its 9th evaluation is already in: continue from update 19.
    let done = 19;
    for (const loss of LOSSES.slice(9)) {
      while (done < 2 * (LOSSES.indexOf(loss, 9) + 1)) {
        b.optimizer.minimize(second.loss(), false, second.variables);
        done += 1;
      }
      b.averager.observeValidation(loss);
    }
    expect(b.averager.window()).toEqual(straight.averager.window());
    b.optimizer.averager!.apply();
    expect(flat(second)).toEqual(expected);
    for (const o of [straight.optimizer, b.optimizer]) o.dispose();
    straightModel.dispose();
    second.dispose();
  });

  it.each([
    ['mid-valley (9 evaluations: converged, open)', 9],
    ['after the window ended (all 18 evaluations)', 18],
  ] as const)('window() right after setWeights, before any step, is the saved one: %s', async (_title, evaluations) => {
    const m = makeTfLinear(problem);
    const a = swad();
    const first = sharpnessAware({ base: tf.train.sgd(0.05), perturbation: gradient({ rho: 0.05 }), averager: a });
    trainObserving(() => first.minimize(m.loss(), false, m.variables), (l) => a.observeValidation(l), m, LOSSES.slice(0, evaluations));
    first.minimize(m.loss(), false, m.variables); // the last evaluation reaches the state
    // By hand (window.test.ts, e_k = 2k): t_s = e_6 + 1 = 13; t_e = e_11 = 22 once evaluation 17 is in.
    const expected = evaluations === 18 ? { start: 13, end: 22 } : { start: 13, end: null };
    expect(a.window()).toEqual(expected);
    const saved = (await first.getWeights()).map((w) => ({ name: w.name, tensor: tf.clone(w.tensor) }));
    const b = swad();
    const second = sharpnessAware({ base: tf.train.sgd(0.05), perturbation: gradient({ rho: 0.05 }), averager: b });
    expect(b.window()).toEqual({ start: null, end: null });
    await second.setWeights(saved);
    expect(b.window()).toEqual(expected);
    // An evaluation after the restore still counts (it waits for the next update, as always).
    b.observeValidation(100);
    second.minimize(m.loss(), false, m.variables);
    expect(b.window().start).toBe(13);
    for (const w of saved) w.tensor.dispose();
    for (const o of [first, second]) o.dispose();
    m.dispose();
  });

  it('leaks no tensors over 100 steps with evaluations, and reads nothing from the device in a step', async () => {
    const m = makeTfLinear(problem);
    const averager = swad({ nConverge: 2, nTolerance: 2 });
    const optimizer = sharpnessAware({ base: tf.train.sgd(0.05), perturbation: gradient({ rho: 0.05 }), averager });
    let t = 0;
    // A loss curve that converges, ends, … (the window ends and later evaluations are ignored).
    const curve = (i: number) => 1 + Math.abs(Math.sin(i / 3));
    const step = () => {
      optimizer.minimize(m.loss(), false, m.variables);
      t += 1;
      if (t % 3 === 0) averager.observeValidation(curve(t / 3));
    };
    await expectNoTensorGrowth(step, { steps: 100, warmup: 3 });
    const { reads } = countHostReads(() => {
      for (let i = 0; i < 30; i += 1) step();
    });
    expect(reads).toBe(0);
    optimizer.averager!.apply();
    optimizer.averager!.restore();
    const before = tf.memory().numTensors;
    for (let i = 0; i < 5; i += 1) {
      optimizer.averager!.apply();
      optimizer.averager!.restore();
    }
    expect(tf.memory().numTensors).toBe(before);
    optimizer.dispose();
    m.dispose();
  });

  it('dispose() after apply() frees everything: the optimizer, and a standalone handle, leave no tensor behind', () => {
    const scenario = () => {
      const start = tf.tensor1d([1, -2, 3]);
      const w = tf.variable(start);
      const target = tf.tensor1d([0.5, 0.5, 0.5]);
      const loss = () => tf.sum(tf.square(tf.sub(w, target))) as tf.Scalar;
      const averager = swad({ nConverge: 1, nTolerance: 1 });
      const optimizer = sharpnessAware({ base: tf.train.sgd(0.05), perturbation: gradient({ rho: 0.05 }), averager });
      for (let t = 1; t <= 6; t += 1) {
        optimizer.minimize(loss, false, [w]);
        averager.observeValidation(2 - t / 10);
      }
      optimizer.averager!.apply();
      optimizer.dispose();
      const standalone = swad({ nConverge: 1, nTolerance: 1 });
      const handle = standalone.attach([w]);
      for (let t = 1; t <= 4; t += 1) {
        const next = tf.tidy(() => tf.mul(w, 0.9));
        w.assign(next as tf.Tensor1D);
        next.dispose();
        handle.update();
        standalone.observeValidation(2 - t / 10);
      }
      handle.apply();
      handle.dispose();
      tf.dispose([start, w, target]);
    };
    // Once first: constants the libraries make on first use and keep for the process are not a leak.
    scenario();
    const before = tf.memory().numTensors;
    scenario();
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('standalone next to tf.train.adam', () => {
  it('swad().attach(variables): the window, the float64 mean, exact restore', () => {
    const m = makeTfLinear(problem);
    const adam = tf.train.adam(0.01);
    const averager = swad();
    const handle = averager.attach(m.variables);
    const trajectory = trainObserving(
      () => {
        adam.minimize(m.loss(), false, m.variables);
        handle.update();
      },
      (l) => averager.observeValidation(l),
      m,
      LOSSES,
    );
    expect(averager.window()).toEqual({ start: 13, end: 22 });
    expect(handle.steps).toBe(36);
    const before = flat(m);
    handle.apply();
    expect(handle.applied).toBe(true);
    expect(relativeError(flat(m), mean64(trajectory, 13, 22))).toBeLessThan(1e-6);
    expect(() => handle.update()).toThrow(/restore/);
    handle.restore();
    expect(flat(m)).toEqual(before);
    handle.dispose();
    adam.dispose();
    m.dispose();
  });

  it('no tensor growth over 100 steps, zero host reads per update, state round trip', async () => {
    const m = makeTfLinear(problem);
    const adam = tf.train.adam(0.01);
    const averager = swad();
    const handle = averager.attach(m.variables);
    let t = 0;
    const step = () => {
      adam.minimize(m.loss(), false, m.variables);
      handle.update();
      t += 1;
      if (t % 2 === 0) averager.observeValidation(LOSSES[(t / 2 - 1) % LOSSES.length]!);
    };
    const { reads } = countHostReads(() => {
      for (let i = 0; i < 20; i += 1) step();
    });
    expect(reads).toBe(0);
    // The buffers follow the valley (bounded by max(nConverge, nTolerance) + 1 segments); after
    // the window ended (evaluation 17, step 34) the state has its final shape: 100 more steps add nothing.
    await expectNoTensorGrowth(step, { steps: 100, warmup: 20 });
    // Round trip mid-valley: a fresh averager restored from the saved state averages the same.
    const fresh = () => {
      const a = swad();
      return { a, h: a.attach(m.variables) };
    };
    const one = fresh();
    const two = fresh();
    for (let i = 0; i < 16; i += 1) {
      one.h.update();
      if (i % 2 === 1) one.a.observeValidation(LOSSES[i >> 1]!);
      m.variables[0]!.assign(tf.add(m.variables[0]!, 0.01));
    }
    one.h.update(); // an evaluation reaches the saved state with the next update
    const saved = one.h.getWeights();
    await two.h.setWeights(saved);
    for (const w of saved) w.tensor.dispose();
    expect(two.a.window()).toEqual(one.a.window());
    expect(one.a.window()).toEqual({ start: 13, end: null });
    one.h.apply();
    const a1 = flat(m);
    one.h.restore();
    two.h.apply();
    expect(flat(m)).toEqual(a1);
    two.h.restore();
    for (const h of [handle, one.h, two.h]) h.dispose();
    adam.dispose();
    m.dispose();
  });
});
