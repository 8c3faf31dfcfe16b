// Bad inputs, refused by name: every factory's options (runFactoryInputSuite), rhoSchedule's
// positional arguments, a rho function that returns a bad value (a FlatminError naming the step,
// the step rolled back), and what fromConfig cannot rebuild (a plain function, a validation closure).
import * as tf from '@tensorflow/tfjs-core';
import { always, FlatminConfigError, FlatminError, SharpnessAwareOptimizer, sharpnessAware } from '@flatmin/core';
import { gradient } from '@flatmin/perturb-gradient';
import { makeLinearProblem, makeTfLinear, runFactoryInputSuite, runRefusalTable } from '@flatmin/test-kit';
import { describe, expect, it } from 'vitest';
import { cosineIncrease, inverseSqrt, learnedRho, proportionalToLearningRate, type RhoRule, rhoSchedule } from '../src/index.js';

const isOptions = (o: unknown): o is Record<string, unknown> => o !== null && typeof o === 'object' && !Array.isArray(o);
const validation = () => tf.scalar(0);
/** A rule is a callable descriptor; the suite checks plain objects, so it gets the descriptor part. */
const descriptor = (rule: RhoRule) => ({ kind: rule.kind, name: rule.name, config: rule.config });

runFactoryInputSuite({
  name: 'inverseSqrt',
  factory: (o) => descriptor(inverseSqrt(o as never)),
  keys: ['rho', 'offset'],
  valid: { rho: 0.1, offset: 10 },
  invalid: [
    ['rho', { rho: -0.1 }],
    ['rho', { rho: Number.NaN }],
    ['rho', { rho: null }],
    ['offset', { offset: 0 }],
    ['offset', { offset: -1 }],
  ],
  kind: 'rho',
});

/** cosineIncrease needs totalSteps: the suite's "no argument" case gets it from here. */
const cosineFactory = (o?: unknown) =>
  descriptor(
    cosineIncrease((o === undefined ? { totalSteps: 100 } : isOptions(o) && !('totalSteps' in o) ? { totalSteps: 100, ...o } : o) as never),
  );
runFactoryInputSuite({
  name: 'cosineIncrease',
  factory: cosineFactory,
  keys: ['rho', 'increase', 'totalSteps'],
  valid: { rho: 0.02, increase: 3, totalSteps: 50 },
  invalid: [
    ['rho', { rho: -1 }],
    ['increase', { increase: 0.5 }],
    ['totalSteps', { totalSteps: 0 }],
    ['totalSteps', { totalSteps: 2.5 }],
    ['totalSteps', { totalSteps: null }],
  ],
  kind: 'rho',
});

const proportionalFactory = (o?: unknown) =>
  descriptor(
    proportionalToLearningRate((o === undefined ? { lrMax: 0.1 } : isOptions(o) && !('lrMax' in o) ? { lrMax: 0.1, ...o } : o) as never),
  );
runFactoryInputSuite({
  name: 'proportionalToLearningRate',
  factory: proportionalFactory,
  keys: ['rhoMin', 'rhoMax', 'lrMin', 'lrMax'],
  valid: { rhoMin: 0.01, rhoMax: 0.04, lrMin: 0.001, lrMax: 0.1 },
  invalid: [
    ['rhoMin', { rhoMin: -0.01 }],
    ['rhoMax', { rhoMin: 0.05, rhoMax: 0.04 }],
    ['lrMin', { lrMin: -1 }],
    ['lrMax', { lrMin: 0.1, lrMax: 0.1 }],
    ['lrMax', { lrMin: 0.1, lrMax: 0.05 }],
    ['lrMax', { lrMax: null }],
  ],
  kind: 'rho',
});

const learnedFactory = (o?: unknown) => learnedRho((o === undefined ? { validation } : isOptions(o) && !('validation' in o) ? { validation, ...o } : o) as never);
runFactoryInputSuite({
  name: 'learnedRho',
  factory: learnedFactory,
  keys: ['rho0', 'lr', 'every', 'validation'],
  valid: { rho0: 0.1, lr: 0.5, every: 2 },
  invalid: [
    ['rho0', { rho0: -0.05 }],
    ['lr', { lr: 0 }],
    ['lr', { lr: Number.POSITIVE_INFINITY }],
    ['every', { every: 0 }],
    ['every', { every: 1.5 }],
    ['validation', { validation: 0.5 }],
    ['validation', { validation: null }],
  ],
  kind: 'schedule',
});

runRefusalTable('required keys', [
  { title: 'cosineIncrease without totalSteps', call: () => cosineIncrease({ rho: 0.1 }), error: 'FlatminConfigError', key: 'totalSteps', message: /required/ },
  { title: 'proportionalToLearningRate without lrMax', call: () => proportionalToLearningRate({}), error: 'FlatminConfigError', key: 'lrMax', message: /required/ },
  { title: 'learnedRho without validation', call: () => learnedRho(), error: 'FlatminConfigError', key: 'validation', message: /function/ },
]);

runRefusalTable('rhoSchedule(rho, inner): the arguments are checked', [
  { title: 'a number as rho', call: () => rhoSchedule(0.05 as never), error: 'FlatminConfigError', key: 'rho', message: /function/ },
  { title: 'no rho', call: () => rhoSchedule(undefined as never), error: 'FlatminConfigError', key: 'rho', message: /function/ },
  { title: 'an options object as rho', call: () => rhoSchedule({ rho: 0.05 } as never), error: 'FlatminConfigError', key: 'rho', message: /function/ },
  { title: 'a perturbation as inner', call: () => rhoSchedule(inverseSqrt(), gradient() as never), error: 'FlatminConfigError', key: 'inner', message: /schedule/ },
  { title: 'null as inner', call: () => rhoSchedule(inverseSqrt(), null as never), error: 'FlatminConfigError', key: 'inner', message: /schedule/ },
]);

describe('a rho function that returns a bad value', () => {
  const problem = makeLinearProblem({ seed: 7 });
  it.each([
    ['a negative number', -0.1],
    ['NaN', Number.NaN],
    ['Infinity', Number.POSITIVE_INFINITY],
    ['a string', '0.1'],
  ])('%s at step 3: a FlatminError naming the step; the step is rolled back', (_label, bad) => {
    const model = makeTfLinear(problem);
    const optimizer = sharpnessAware({ base: tf.train.sgd(0.1), perturbation: gradient(), schedule: rhoSchedule((t) => (t === 3 ? (bad as number) : 0.05)) });
    for (let t = 0; t < 3; t += 1) optimizer.minimize(model.loss(), false, model.variables);
    const before = model.read();
    let caught: unknown;
    try {
      optimizer.minimize(model.loss(), false, model.variables);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(FlatminError);
    expect((caught as Error).message).toMatch(/at step 3/);
    expect((caught as Error).message).toMatch(/finite number >= 0/);
    expect(model.read()).toEqual(before);
    expect(optimizer.steps).toBe(3);
    optimizer.dispose();
    model.dispose();
  });

  it('GSAM’s rule below lrMin gives a negative ρ: refused at that step, naming it', () => {
    const model = makeTfLinear(problem);
    const optimizer = sharpnessAware({ base: tf.train.sgd(0.001), perturbation: gradient(), schedule: rhoSchedule(proportionalToLearningRate({ lrMin: 0.01, lrMax: 0.1 })) });
    expect(() => optimizer.minimize(model.loss(), false, model.variables)).toThrow(/at step 0 \(learning rate 0\.001\)/);
    optimizer.dispose();
    model.dispose();
  });
});

describe('what a saved config cannot hold', () => {
  it('a plain rho function: getConfig saves rho: null, fromConfig refuses it by the key rho', () => {
    const optimizer = sharpnessAware({ base: tf.train.sgd(0.1), perturbation: gradient(), schedule: rhoSchedule((t) => 0.05 / (t + 1), always()) });
    const config = optimizer.getConfig();
    expect((config['schedule'] as { config: unknown }).config).toEqual({ rho: null, inner: { name: 'always', config: {} } });
    let caught: unknown;
    try {
      SharpnessAwareOptimizer.fromConfig(SharpnessAwareOptimizer, config);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(FlatminConfigError);
    expect((caught as FlatminConfigError).key).toBe('rho');
    expect((caught as Error).message).toMatch(/plain function/);
    optimizer.dispose();
  });

  it('an unregistered rule name and an unregistered inner schedule: refused by key', () => {
    const base = { className: 'SGD', config: { learningRate: 0.1 } };
    const perturbation = { name: 'gradient', config: { rho: 0.05, p: 2 } };
    const withSchedule = (config: unknown) => ({ base, perturbation, schedule: { name: 'rhoSchedule', config } }) as never;
    expect(() => SharpnessAwareOptimizer.fromConfig(SharpnessAwareOptimizer, withSchedule({ rho: { name: 'nope', config: {} }, inner: { name: 'always', config: {} } }))).toThrow(
      expect.objectContaining({ name: 'FlatminConfigError', key: 'rho' }),
    );
    expect(() =>
      SharpnessAwareOptimizer.fromConfig(SharpnessAwareOptimizer, withSchedule({ rho: { name: 'inverseSqrt', config: {} }, inner: { name: 'nope', config: {} } })),
    ).toThrow(expect.objectContaining({ name: 'FlatminConfigError', key: 'inner' }));
  });

  it('learnedRho: its config has no validation closure, so fromConfig refuses it by the key validation', () => {
    const optimizer = sharpnessAware({ base: tf.train.sgd(0.1), perturbation: gradient(), schedule: learnedRho({ validation, lr: 0.2 }) });
    const config = optimizer.getConfig();
    expect((config['schedule'] as { config: unknown }).config).toEqual({ rho0: 0.05, lr: 0.2, every: 1 });
    expect(() => SharpnessAwareOptimizer.fromConfig(SharpnessAwareOptimizer, config)).toThrow(expect.objectContaining({ name: 'FlatminConfigError', key: 'validation' }));
    optimizer.dispose();
  });
});
