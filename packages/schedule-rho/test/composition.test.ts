// rhoSchedule around an inner schedule: the inner one decides (sharp or not, its adjust on plain
// steps, its observe after sharp ones, its own state), the rule gives ρ. State and config nest the
// inner schedule's, and fromConfig rebuilds both.
import * as tf from '@tensorflow/tfjs-core';
import { always, SharpnessAwareOptimizer, sharpnessAware } from '@flatmin/core';
import { gradient } from '@flatmin/perturb-gradient';
import { axpy, linearGrad64, makeLinearProblem, makeTfLinear, maxRelativeError, scale64 } from '@flatmin/test-kit';
import { describe, expect, it } from 'vitest';
import { inverseSqrt, rhoSchedule } from '../src/index.js';
import { alternating, expectCloseList, stepsWithTelemetry } from './helpers.js';
import { samRun64, samStep64 } from './reference.js';

const ETA = 0.05;
const STEPS = 21;
const problem = makeLinearProblem({ seed: 7 });
const byHand = Array.from({ length: STEPS }, (_, t) => 0.4 / Math.sqrt(t + 1));

describe('rhoSchedule(rule, inner)', () => {
  it('with always(): every step sharp, ρ from the rule (the same as no inner)', async () => {
    const model = makeTfLinear(problem);
    const optimizer = sharpnessAware({ base: tf.train.sgd(ETA), perturbation: gradient(), schedule: rhoSchedule(inverseSqrt({ rho: 0.4 }), always()) });
    const { rhos, sharp } = await stepsWithTelemetry(optimizer, model, STEPS);
    expectCloseList(rhos, byHand.map(Math.fround), 1e-6);
    expect(sharp.every(Boolean)).toBe(true);
    expect(optimizer.lossEvaluations).toBe(2 * STEPS);
    expect(maxRelativeError(model.read(), samRun64(problem, byHand, ETA))).toBeLessThan(1e-5);
    expect(optimizer.schedule.config).toEqual({ rho: { name: 'inverseSqrt', config: { rho: 0.4, offset: 1 } }, inner: { name: 'always', config: {} } });
    optimizer.dispose();
    model.dispose();
  });

  it('with an alternating inner schedule: its decisions and adjust, the rule’s ρ (not the inner’s 123)', async () => {
    const model = makeTfLinear(problem);
    const optimizer = sharpnessAware({ base: tf.train.sgd(ETA), perturbation: gradient(), schedule: rhoSchedule(inverseSqrt({ rho: 0.4 }), alternating({ scale: 0.5 })) });
    const { rhos, sharp } = await stepsWithTelemetry(optimizer, model, STEPS);
    expect(sharp).toEqual(Array.from({ length: STEPS }, (_, t) => t % 2 === 0));
    expectCloseList(rhos, byHand.map(Math.fround), 1e-6);
    const sharpSteps = Math.ceil(STEPS / 2);
    expect(optimizer.lossEvaluations).toBe(2 * sharpSteps + (STEPS - sharpSteps));
    // Float64: SAM with ρ_t on even steps, w − η·(0.5 g) on odd ones (the inner adjust).
    let w = problem.init;
    byHand.forEach((rho, t) => {
      w = t % 2 === 0 ? samStep64(problem, w, rho, ETA) : axpy(-ETA, scale64(0.5, linearGrad64(problem, w)), w);
    });
    expect(maxRelativeError(model.read(), w)).toBeLessThan(1e-5);
    optimizer.dispose();
    model.dispose();
  });

  it('nests the inner state under inner- (its counter and its per-variable observe slots) and saves it', async () => {
    const model = makeTfLinear(problem);
    const optimizer = sharpnessAware({ base: tf.train.sgd(ETA), perturbation: gradient(), schedule: rhoSchedule(inverseSqrt(), alternating()) });
    for (let t = 0; t < 3; t += 1) optimizer.minimize(model.loss(), false, model.variables);
    const names = (await optimizer.getWeights()).map((w) => w.name);
    expect(names).toContain('flatmin#/schedule/inner-count'); // a host number
    expect(names.some((name) => name.endsWith(`${model.w.name}:inner-lastAdv`))).toBe(true);
    expect(names.some((name) => name.endsWith(`${model.b.name}:inner-lastAdv`))).toBe(true);
    optimizer.dispose();
    model.dispose();
  });

  it('getConfig/fromConfig rebuild the rule and the inner schedule (and the rebuilt run is the same)', async () => {
    const make = () => sharpnessAware({ base: tf.train.sgd(ETA), perturbation: gradient(), schedule: rhoSchedule(inverseSqrt({ rho: 0.4, offset: 2 }), alternating({ scale: 0.25 })) });
    const original = make();
    const rebuilt = SharpnessAwareOptimizer.fromConfig(SharpnessAwareOptimizer, original.getConfig()) as SharpnessAwareOptimizer;
    expect(rebuilt.schedule.name).toBe('rhoSchedule');
    expect(rebuilt.schedule.config).toEqual({ rho: { name: 'inverseSqrt', config: { rho: 0.4, offset: 2 } }, inner: { name: 'alternatingForTests', config: { scale: 0.25 } } });
    const a = makeTfLinear(problem);
    const b = makeTfLinear(problem);
    const runA = await stepsWithTelemetry(original, a, 6);
    const runB = await stepsWithTelemetry(rebuilt, b, 6);
    expect(runB).toEqual(runA);
    expect(b.read()).toEqual(a.read());
    for (const x of [original, rebuilt, a, b]) x.dispose();
  });

  it('a rhoSchedule inside a rhoSchedule: the outer ρ wins, the innermost decides', async () => {
    const model = makeTfLinear(problem);
    const schedule = rhoSchedule(() => 0.1, rhoSchedule(() => 0.9, alternating()));
    const optimizer = sharpnessAware({ base: tf.train.sgd(ETA), perturbation: gradient(), schedule });
    const { rhos, sharp } = await stepsWithTelemetry(optimizer, model, 4);
    expectCloseList(rhos, [0.1, 0.1, 0.1, 0.1].map(Math.fround), 1e-7);
    expect(sharp).toEqual([true, false, true, false]);
    const names = (await optimizer.getWeights()).map((w) => w.name);
    expect(names).toContain('flatmin#/schedule/inner-inner-count');
    optimizer.dispose();
    model.dispose();
  });
});
