// Bad inputs are refused at the call, by name: FlatminConfigError naming the key (each range),
// FlatminError for a bad use.
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { type AnyFactory, expectKeyRefused, expectOptionsRefused, type FactoryInputSpec, NOT_OPTIONS, runRefusalTable } from '@flatmin/test-kit';
import { describe, expect, it } from 'vitest';
import { cosineWithWarmup, learningRateSchedule, linearDecay, type ScheduleDescription, scheduleFromDescription, stepDecay } from '../src/index.js';

interface Spec extends Omit<FactoryInputSpec, 'kind'> {
  valid: Record<string, unknown>;
  required: string[];
  invalid: ReadonlyArray<readonly [key: string, options: Record<string, unknown>]>;
}

const SPECS: Spec[] = [
  {
    name: 'cosineWithWarmup',
    factory: cosineWithWarmup as AnyFactory,
    keys: ['peak', 'warmupSteps', 'totalSteps', 'floor'],
    valid: { peak: 0.1, warmupSteps: 5, totalSteps: 50, floor: 0.001 },
    required: ['peak', 'totalSteps'],
    invalid: [
      ['peak', { peak: 0 }],
      ['peak', { peak: -0.1 }],
      ['peak', { peak: Number.NaN }],
      ['peak', { peak: Number.POSITIVE_INFINITY }],
      ['peak', { peak: '0.1' }],
      ['peak', { peak: null }],
      ['warmupSteps', { warmupSteps: -1 }],
      ['warmupSteps', { warmupSteps: 2.5 }],
      ['warmupSteps', { warmupSteps: null }],
      ['totalSteps', { totalSteps: 0 }],
      ['totalSteps', { totalSteps: 10.5 }],
      ['totalSteps', { totalSteps: 5 }], // = warmupSteps
      ['totalSteps', { totalSteps: 3 }], // < warmupSteps
      ['totalSteps', { totalSteps: null }],
      ['floor', { floor: -0.001 }],
      ['floor', { floor: 0.2 }], // > peak
      ['floor', { floor: null }],
    ],
  },
  {
    name: 'stepDecay',
    factory: stepDecay as AnyFactory,
    keys: ['initial', 'factor', 'every'],
    valid: { initial: 0.1, factor: 0.5, every: 30 },
    required: ['initial', 'every'],
    invalid: [
      ['initial', { initial: 0 }],
      ['initial', { initial: -1 }],
      ['initial', { initial: Number.POSITIVE_INFINITY }],
      ['initial', { initial: null }],
      ['factor', { factor: 0 }],
      ['factor', { factor: -0.5 }],
      ['factor', { factor: 1.5 }],
      ['factor', { factor: Number.NaN }],
      ['factor', { factor: null }],
      ['every', { every: 0 }],
      ['every', { every: 1.5 }],
      ['every', { every: Number.POSITIVE_INFINITY }],
      ['every', { every: null }],
    ],
  },
  {
    name: 'linearDecay',
    factory: linearDecay as AnyFactory,
    keys: ['initial', 'final', 'totalSteps'],
    valid: { initial: 0.1, final: 0.01, totalSteps: 100 },
    required: ['initial', 'totalSteps'],
    invalid: [
      ['initial', { initial: 0 }],
      ['initial', { initial: -0.1 }],
      ['initial', { initial: null }],
      ['final', { final: -0.01 }],
      ['final', { final: Number.POSITIVE_INFINITY }],
      ['final', { final: null }],
      ['totalSteps', { totalSteps: 0 }],
      ['totalSteps', { totalSteps: 2.5 }],
      ['totalSteps', { totalSteps: null }],
    ],
  },
];

describe.each(SPECS)('$name(): inputs refused at the call, by name', (spec) => {
  const full = { ...spec, kind: 'schedule' } as FactoryInputSpec;

  it.each(NOT_OPTIONS)('refuses %s as options', (_label, value) => expectOptionsRefused(full, value));

  it('refuses no argument and {} naming the first required key', () => {
    expectKeyRefused(full, undefined as never, spec.required[0]!);
    expectKeyRefused(full, {}, spec.required[0]!);
  });

  it.each(spec.required)('refuses a missing %s (it has no default)', (key) => {
    const options = { ...spec.valid };
    delete options[key];
    expectKeyRefused(full, options, key);
    expect(() => spec.factory(options)).toThrow(/required/);
  });

  it('refuses an unknown key and a misspelt one by name', () => {
    expectKeyRefused(full, { ...spec.valid, notAnOption: 1 }, 'notAnOption');
    expectKeyRefused(full, { ...spec.valid, [`${spec.keys[0]}0`]: 1 }, `${spec.keys[0]}0`);
  });

  it.each(spec.invalid.map(([key, options]) => [key, JSON.stringify(options), options] as const))('refuses a bad %s: %s', (key, _shown, options) =>
    expectKeyRefused(full, { ...spec.valid, ...options }, key),
  );

  it('accepts its valid options and is rebuilt from its description config', () => {
    const schedule = spec.factory(spec.valid) as { description: { config: unknown } };
    expect(schedule.description.config).toEqual(spec.valid);
    expect((spec.factory(schedule.description.config) as { description: unknown }).description).toEqual(schedule.description);
  });
});

const sgd = () => tf.train.sgd(0.1);
const schedule = linearDecay({ initial: 0.1, totalSteps: 10 });

runRefusalTable('learningRateSchedule(optimizer, schedule, options): refused by name', [
  { title: 'a number as options', call: () => learningRateSchedule(sgd(), schedule, 0.1 as never), error: 'FlatminConfigError', key: 'options', message: /every/ },
  { title: 'null as options', call: () => learningRateSchedule(sgd(), schedule, null as never), error: 'FlatminConfigError', key: 'options', message: /every/ },
  { title: 'an unknown option', call: () => learningRateSchedule(sgd(), schedule, { evry: 'epoch' } as never), error: 'FlatminConfigError', key: 'evry', message: /known keys: every/ },
  { title: "every: 'step'", call: () => learningRateSchedule(sgd(), schedule, { every: 'step' as never }), error: 'FlatminConfigError', key: 'every', message: /'batch', 'epoch'/ },
  { title: 'every: null', call: () => learningRateSchedule(sgd(), schedule, { every: null as never }), error: 'FlatminConfigError', key: 'every', message: /'batch', 'epoch'/ },
  { title: 'a schedule that is not a function', call: () => learningRateSchedule(sgd(), 0.1 as never), error: 'FlatminConfigError', key: 'schedule', message: /a function \(step\)/ },
  { title: 'a description instead of a schedule', call: () => learningRateSchedule(sgd(), schedule.description as never), error: 'FlatminConfigError', key: 'schedule', message: /a function/ },
  { title: 'no optimizer', call: () => learningRateSchedule(undefined as never, schedule), error: 'FlatminConfigError', key: 'optimizer', message: /a tfjs optimizer/ },
  { title: 'a string optimizer', call: () => learningRateSchedule('sgd' as never, schedule), error: 'FlatminConfigError', key: 'optimizer', message: /a tfjs optimizer/ },
  {
    title: 'an optimizer without a numeric learningRate',
    call: () => learningRateSchedule({ minimize() {}, computeGradients() {}, applyGradients() {} } as never, schedule),
    error: 'FlatminError',
    message: /no numeric learningRate/,
  },
]);

runRefusalTable('scheduler.step(...) and the schedules: refused with a FlatminError', [
  { title: "every: 'epoch' without the epoch index", call: () => learningRateSchedule(sgd(), schedule, { every: 'epoch' }).step(), error: 'FlatminError', message: /step\(epoch\) needs the epoch index/ },
  { title: 'a negative position', call: () => learningRateSchedule(sgd(), schedule).step(-1), error: 'FlatminError', message: /finite number ≥ 0/ },
  { title: 'a NaN position', call: () => learningRateSchedule(sgd(), schedule).step(Number.NaN), error: 'FlatminError', message: /finite number ≥ 0/ },
  { title: 'a schedule that returns NaN', call: () => learningRateSchedule(sgd(), () => Number.NaN).step(), error: 'FlatminError', message: /returned NaN for step 0/ },
  { title: 'a schedule that returns a negative rate', call: () => learningRateSchedule(sgd(), () => -0.1).step(), error: 'FlatminError', message: /finite number ≥ 0/ },
  { title: 'a schedule that returns a string', call: () => learningRateSchedule(sgd(), (() => '0.1') as never).step(), error: 'FlatminError', message: /returned 0.1 for step 0/ },
  {
    title: 'a model that is not compiled',
    call: () => learningRateSchedule(tfl.sequential({ layers: [tfl.layers.dense({ units: 1, inputShape: [1] })] }), schedule).step(),
    error: 'FlatminError',
    message: /model.compile/,
  },
]);

runRefusalTable('scheduleFromDescription(description): refused by name', [
  { title: 'null', call: () => scheduleFromDescription(null as never), error: 'FlatminConfigError', key: 'description', message: /name, config/ },
  { title: 'an unknown name', call: () => scheduleFromDescription({ name: 'exponential', config: {} } as never), error: 'FlatminConfigError', key: 'name', message: /'cosineWithWarmup', 'stepDecay', 'linearDecay'/ },
  { title: 'no config', call: () => scheduleFromDescription({ name: 'stepDecay' } as never), error: 'FlatminConfigError', key: 'config', message: /options object/ },
  {
    title: 'a bad config value',
    call: () => scheduleFromDescription({ name: 'stepDecay', config: { initial: 0.1, factor: 2, every: 3 } } as ScheduleDescription),
    error: 'FlatminConfigError',
    key: 'factor',
    message: /<= 1/,
  },
]);

describe('a model compiled later', () => {
  it('is looked up when the rate is set', () => {
    const model = tfl.sequential({ layers: [tfl.layers.dense({ units: 1, inputShape: [1] })] });
    const scheduler = learningRateSchedule(model, schedule);
    const optimizer = tf.train.adam(0.5);
    model.compile({ optimizer, loss: 'meanSquaredError' });
    expect(scheduler.step()).toBe(0.1);
    expect((optimizer as unknown as { learningRate: number }).learningRate).toBe(0.1);
    model.dispose();
  });
});
