// Each helper's ρ over 25 steps of a real optimizer equals the value computed by hand from its
// formula (read from the telemetry after each step), and the weights follow the float64 SAM
// reference run with those radii. GSAM's rule follows the learning rate as the user changes it.
import * as tf from '@tensorflow/tfjs-core';
import { sharpnessAware } from '@flatmin/core';
import { gradient } from '@flatmin/perturb-gradient';
import { type LinearParams, makeLinearProblem, makeTfLinear, maxRelativeError } from '@flatmin/test-kit';
import { describe, expect, it } from 'vitest';
import { cosineIncrease, inverseSqrt, makeRhoRule, proportionalToLearningRate, type RhoFunction, rhoSchedule } from '../src/index.js';
import { samRun64, samStep64 } from './reference.js';
import { expectCloseList, stepsWithTelemetry } from './helpers.js';

const STEPS = 25;
const ETA = 0.05;
const problem = makeLinearProblem({ seed: 7 });
const steps = Array.from({ length: STEPS }, (_, t) => t);

async function run(rho: RhoFunction) {
  const model = makeTfLinear(problem);
  const optimizer = sharpnessAware({ base: tf.train.sgd(ETA), perturbation: gradient({ rho: 9 }), schedule: rhoSchedule(rho) });
  const { rhos, sharp } = await stepsWithTelemetry(optimizer, model, STEPS);
  const params = model.read();
  optimizer.dispose();
  model.dispose();
  return { rhos, sharp, params };
}

function expectRun(result: { rhos: number[]; sharp: boolean[]; params: LinearParams }, byHand: number[]) {
  expectCloseList(result.rhos, byHand.map(Math.fround), 1e-6);
  expect(result.sharp.every(Boolean)).toBe(true);
  expect(maxRelativeError(result.params, samRun64(problem, byHand, ETA))).toBeLessThan(1e-5);
}

describe('ρ rules over 25 steps, by hand', () => {
  it('inverseSqrt: ρ_t = c/√(t + 1) (the first step uses c)', async () => {
    const byHand = steps.map((t) => 0.3 / Math.sqrt(t + 1));
    expectRun(await run(inverseSqrt({ rho: 0.3 })), byHand);
    expect(byHand[0]).toBe(0.3);
  });

  it('inverseSqrt with offset t₀ = 4: ρ_t = c/√(t + 4)', async () => {
    expectRun(await run(inverseSqrt({ rho: 0.3, offset: 4 })), steps.map((t) => 0.3 / Math.sqrt(t + 4)));
  });

  it('inverseSqrt defaults: c = 0.05', () => {
    expect(inverseSqrt()(8, Number.NaN)).toBeCloseTo(0.05 / 3, 15);
  });

  it('cosineIncrease: ρ (1 + (inc − 1)(1 − cos(π t/T))/2), held at ρ·inc after T', async () => {
    const T = 16;
    const byHand = steps.map((t) => {
      const s = Math.min(t, T);
      return 0.05 * (1 + (4 - 1) * (1 - Math.cos((Math.PI * s) / T)) / 2);
    });
    expectRun(await run(cosineIncrease({ rho: 0.05, increase: 4, totalSteps: T })), byHand);
    expect(byHand[0]).toBeCloseTo(0.05, 15);
    expect(byHand[T]).toBeCloseTo(0.2, 15);
    expect(byHand[STEPS - 1]).toBeCloseTo(0.2, 15);
  });

  it('cosineIncrease with increase 1 is the constant ρ', async () => {
    expectRun(await run(cosineIncrease({ rho: 0.07, increase: 1, totalSteps: 5 })), steps.map(() => 0.07));
  });

  it('a plain (step) => number function, and a custom rule from makeRhoRule', async () => {
    const halving = (t: number) => 0.2 * 0.5 ** Math.floor(t / 10);
    expectRun(await run(halving), steps.map(halving));
    expectRun(await run(makeRhoRule('halving', {}, halving)), steps.map(halving));
  });

  it('ρ = 0 on every step is the base optimizer exactly (bit-identical to plain SGD)', async () => {
    const { params } = await run(() => 0);
    const model = makeTfLinear(problem);
    const sgd = tf.train.sgd(ETA);
    for (let t = 0; t < STEPS; t += 1) sgd.minimize(model.loss(), false, model.variables);
    expect(params).toEqual(model.read());
    sgd.dispose();
    model.dispose();
  });
});

describe('proportionalToLearningRate (GSAM) follows the learning rate as it changes', () => {
  const rule = { rhoMin: 0.02, rhoMax: 0.2, lrMin: 0.01, lrMax: 0.1 };
  const byHand = (eta: number) => 0.02 + ((0.2 - 0.02) * (eta - 0.01)) / (0.1 - 0.01);

  it('ρ_t = ρ_min + (ρ_max − ρ_min)(η_t − η_min)/(η_max − η_min) with η_t set before each step', async () => {
    // A cosine decay of η from 0.1 to 0.01 over the run, set on the optimizer between steps.
    const etas = steps.map((t) => 0.01 + (0.1 - 0.01) * (1 + Math.cos((Math.PI * t) / (STEPS - 1))) / 2);
    const model = makeTfLinear(problem);
    const optimizer = sharpnessAware({ base: tf.train.sgd(0.1), perturbation: gradient(), schedule: rhoSchedule(proportionalToLearningRate(rule)) });
    const { rhos } = await stepsWithTelemetry(optimizer, model, STEPS, model.loss(), (t) => {
      optimizer.learningRate = etas[t]!;
    });
    // η as the base optimizer holds it (float64 field): ρ by hand from it.
    expectCloseList(rhos, etas.map((eta) => Math.fround(byHand(eta))), 1e-6);
    expect(rhos[0]).toBeCloseTo(0.2, 6);
    expect(rhos[STEPS - 1]).toBeCloseTo(0.02, 6);
    let w = problem.init;
    etas.forEach((eta) => {
      w = samStep64(problem, w, byHand(eta), eta);
    });
    expect(maxRelativeError(model.read(), w)).toBeLessThan(1e-5);
    optimizer.dispose();
    model.dispose();
  });

  it('a change of the base optimizer’s own learningRate is seen at the next step, not before', async () => {
    const model = makeTfLinear(problem);
    const base = tf.train.sgd(0.1);
    const optimizer = sharpnessAware({ base, perturbation: gradient(), schedule: rhoSchedule(proportionalToLearningRate(rule)) });
    const { rhos } = await stepsWithTelemetry(optimizer, model, 3, model.loss(), (t) => {
      // What a learning-rate schedule written against the base optimizer does (the field is protected in the types).
      if (t === 2) (base as unknown as { learningRate: number }).learningRate = 0.055;
    });
    expectCloseList(rhos, [0.2, 0.2, byHand(0.055)].map(Math.fround), 1e-6);
    optimizer.dispose();
    model.dispose();
  });

  it('defaults: ρ_min 0, ρ_max 0.05, η_min 0', () => {
    const r = proportionalToLearningRate({ lrMax: 0.4 });
    expect(r.config).toEqual({ rhoMin: 0, rhoMax: 0.05, lrMin: 0, lrMax: 0.4 });
    expect(r(0, 0.1)).toBeCloseTo(0.0125, 15);
  });
});
