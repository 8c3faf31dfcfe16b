// LETS: the hypergradient the code takes on the device equals central finite differences of
// F(ρ) = ½(L_val(w*(ρ)) − L_train(w*(ρ)))² on the float64 least-squares problem (a quadratic, where
// the Hessian-vector product from (g_adv − g)/ρ is exact); ρ updates every `every` steps; ρ₀ = 0
// is plain SGD exactly; ρ is state and round-trips exactly; the validation pass costs one call.
import * as tf from '@tensorflow/tfjs-core';
import { sharpnessAware } from '@flatmin/core';
import { gradient } from '@flatmin/perturb-gradient';
import { makeLinearProblem, makeTfLinear, maxRelativeError } from '@flatmin/test-kit';
import { describe, expect, it } from 'vitest';
import { learnedRho } from '../src/index.js';
import { expectCloseList, stepsWithTelemetry, validationOf } from './helpers.js';
import { lets64, letsHypergradientFD, TRAIN_ROWS } from './reference.js';

const ETA = 0.1;
const problem = makeLinearProblem({ seed: 7 });

function setup({ rho0, lr, every }: { rho0?: number; lr: number; every?: number; eta?: number }, on = problem) {
  const model = makeTfLinear(on);
  const validate = validationOf(on, model);
  let validationCalls = 0;
  const validation = () => {
    validationCalls += 1;
    return validate();
  };
  const optimizer = sharpnessAware({ base: tf.train.sgd(ETA), perturbation: gradient({ rho: 7 }), schedule: learnedRho({ ...(rho0 === undefined ? {} : { rho0 }), lr, ...(every === undefined ? {} : { every }), validation }) });
  return {
    model,
    optimizer,
    calls: () => validationCalls,
    dispose: () => {
      optimizer.dispose();
      model.dispose();
    },
  };
}

describe('learnedRho (LETS): the hypergradient', () => {
  it('equals central finite differences of ½(L_val(w*(ρ)) − L_train(w*(ρ)))² (one update of ρ)', async () => {
    const rho0 = 0.3;
    const h = letsHypergradientFD(problem, problem.init, rho0, ETA);
    expect(Math.abs(h)).toBeGreaterThan(1e-3); // a test that can fail: the gradient is not ~0 here
    const lr = (0.3 * rho0) / Math.abs(h); // moves ρ by 30 %
    const run = setup({ rho0, lr });
    const { rhos } = await stepsWithTelemetry(run.optimizer, run.model, 2, run.model.loss(TRAIN_ROWS));
    expect(rhos[0]).toBeCloseTo(rho0, 7);
    const hCode = (rhos[0]! - rhos[1]!) / lr;
    expect(Math.abs(hCode - h) / Math.abs(h)).toBeLessThan(2e-4);
    run.dispose();
  });

  it('matches the float64 LETS run (ρ and weights) over 6 steps with every = 1', async () => {
    const o = { rho0: 0.3, lr: 0.5, every: 1, eta: ETA };
    const expected = lets64(problem, 6, o);
    expect(new Set(expected.rhos.map((r) => r.toFixed(6))).size).toBe(6); // ρ moves each step
    const run = setup(o);
    const { rhos } = await stepsWithTelemetry(run.optimizer, run.model, 6, run.model.loss(TRAIN_ROWS));
    expectCloseList(rhos, expected.rhos, 2e-4);
    expect(maxRelativeError(run.model.read(), expected.params)).toBeLessThan(1e-5);
    expect(run.calls()).toBe(5); // one validation pass per update of ρ (steps 1..5)
    expect(run.optimizer.lossEvaluations).toBe(12); // the training closure: clean + adversarial, every step
    run.dispose();
  });

  it('every = 3: ρ changes at steps 3 and 6 only, one validation pass each', async () => {
    const o = { rho0: 0.3, lr: 0.5, every: 3, eta: ETA };
    const expected = lets64(problem, 8, o);
    const run = setup(o);
    const { rhos } = await stepsWithTelemetry(run.optimizer, run.model, 8, run.model.loss(TRAIN_ROWS));
    expectCloseList(rhos, expected.rhos, 2e-4);
    expect(rhos.slice(0, 3)).toEqual([rhos[0], rhos[0], rhos[0]]);
    expect(rhos[3]).not.toBe(rhos[2]);
    expect(rhos[4]).toBe(rhos[3]);
    expect(rhos[6]).not.toBe(rhos[5]);
    expect(run.calls()).toBe(2);
    expect(maxRelativeError(run.model.read(), expected.params)).toBeLessThan(1e-5);
    run.dispose();
  });

  it('ρ is kept ≥ 0: a large lr drives it to 0, where it stays', async () => {
    const widening = makeLinearProblem({ seed: 3 }); // where a larger ρ widens the gap: ∂F/∂ρ > 0 at ρ₀
    const h = letsHypergradientFD(widening, widening.init, 0.3, ETA);
    expect(h).toBeGreaterThan(0);
    const run = setup({ rho0: 0.3, lr: (10 * 0.3) / h }, widening);
    const { rhos } = await stepsWithTelemetry(run.optimizer, run.model, 4, run.model.loss(TRAIN_ROWS));
    expect(rhos.slice(1)).toEqual([0, 0, 0]);
    run.dispose();
  });

  it('ρ₀ = 0 is the base optimizer exactly (bit-identical to plain SGD)', async () => {
    const run = setup({ rho0: 0, lr: 1 });
    await stepsWithTelemetry(run.optimizer, run.model, 5, run.model.loss(TRAIN_ROWS));
    const plain = makeTfLinear(problem);
    const sgd = tf.train.sgd(ETA);
    for (let t = 0; t < 5; t += 1) sgd.minimize(plain.loss(TRAIN_ROWS), false, plain.variables);
    expect(run.model.read()).toEqual(plain.read());
    sgd.dispose();
    plain.dispose();
    run.dispose();
  });
});

describe('learnedRho: ρ is state', () => {
  it('getWeights saves the learned ρ exactly; setWeights restores it (the next step uses the same ρ)', async () => {
    const o = { rho0: 0.3, lr: 0.5 };
    const straight = setup(o);
    const { rhos: straightRhos } = await stepsWithTelemetry(straight.optimizer, straight.model, 8, straight.model.loss(TRAIN_ROWS));

    const first = setup(o);
    await stepsWithTelemetry(first.optimizer, first.model, 4, first.model.loss(TRAIN_ROWS));
    const saved = await first.optimizer.getWeights();
    const rhoWeight = saved.find((w) => w.name === 'flatmin/schedule/rho');
    expect(rhoWeight, saved.map((w) => w.name).join(', ')).toBeDefined();
    expect(rhoWeight!.tensor.dataSync()[0]).toBe(straightRhos[3]);
    const copies = saved.map((w) => ({ name: w.name, tensor: tf.clone(w.tensor) }));

    const second = setup(o);
    second.model.w.assign(first.model.w);
    second.model.b.assign(first.model.b);
    // The directions are keyed by variable name: give the restored model the same names.
    const renamed = copies.map((w) => ({ name: w.name.split(first.model.w.name).join(second.model.w.name).split(first.model.b.name).join(second.model.b.name), tensor: w.tensor }));
    await second.optimizer.setWeights(renamed);
    const { rhos } = await stepsWithTelemetry(second.optimizer, second.model, 4, second.model.loss(TRAIN_ROWS));
    expect(rhos).toEqual(straightRhos.slice(4));
    expect(second.model.read()).toEqual(straight.model.read());
    tf.dispose(copies.map((w) => w.tensor));
    for (const run of [straight, first, second]) run.dispose();
  });
});
