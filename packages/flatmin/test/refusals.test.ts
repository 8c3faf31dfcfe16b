// Bad options are refused with a FlatminConfigError naming the key, in the preset's own words:
// an unknown key, no base, a positional argument, and a bad value of one of the paper's keys.
// LETS without a validation batch is a FlatminError that shows the call.
import * as tf from '@tensorflow/tfjs-core';
import { FlatminError } from '@flatmin/core';
import { type Refusal, runRefusalTable } from '@flatmin/test-kit';
import { expect, it } from 'vitest';
import * as flatmin from '../src/index.js';

type Make = (options: Record<string, unknown>) => unknown;
const make = (name: string) => flatmin.presets[name]!.create as unknown as Make;
const base = () => tf.train.sgd(0.1);

/** One bad value of a paper key per preset (with the required keys the preset needs besides). */
const badValues: Record<string, [key: string, options: Record<string, unknown>]> = {
  sam: ['rho', { rho: -1 }],
  asam: ['eta', { eta: -1 }],
  fisherSam: ['eta', { eta: Number.NaN }],
  fsam: ['lambda', { lambda: 1 }],
  vasso: ['theta', { theta: 0 }],
  ssamF: ['sparsity', { sparsity: 1 }],
  ssamD: ['dropRate', { dropRate: 2 }],
  esam: ['beta', { beta: 0 }],
  gsam: ['rhoMax', { rhoMax: -1 }],
  rwp: ['lambda', { lambda: 2 }],
  lpfSgd: ['increase', { increase: 0.5 }],
  flatLora: ['sigma', { sigma: -1 }],
  marwp: ['decay', { decay: 1 }],
  lookSam: ['k', { k: 0 }],
  rst: ['p', { p: 2 }],
  aeSam: ['totalSteps', { totalSteps: 0 }],
  lets: ['lr', { lr: 0, validation: () => tf.scalar(0) }],
  imbSam: ['rho', { rho: null }],
  swa: ['start', { start: -1 }],
  swad: ['nConverge', { nConverge: 0 }],
  ema: ['decay', { decay: 1 }],
  mesa: ['tau', { tau: 0 }],
  ogSam: ['p', { p: 0.5 }],
};

it('the table covers every preset', () => {
  expect(Object.keys(badValues).sort()).toEqual(Object.keys(flatmin.presets).sort());
});

const refusals: Refusal[] = Object.keys(flatmin.presets).flatMap((name): Refusal[] => {
  const [key, options] = badValues[name]!;
  const required = name === 'aeSam' ? { totalSteps: 10 } : name === 'lets' ? { validation: () => tf.scalar(0) } : {};
  return [
    { title: `${name}: an unknown key`, call: () => make(name)({ base: base(), ...required, rh0: 0.1 }), error: 'FlatminConfigError', key: 'rh0', message: new RegExp(`^${name}: .*rh0`) },
    { title: `${name}: no base`, call: () => make(name)({ ...required }), error: 'FlatminConfigError', key: 'base', message: /tfjs optimizer/ },
    { title: `${name}: no options at all`, call: () => (make(name) as () => unknown)(), error: 'FlatminConfigError', key: 'base', message: /base/ },
    { title: `${name}: a positional number`, call: () => (make(name) as unknown as (x: number) => unknown)(0.05), error: 'FlatminConfigError', key: 'options', message: /base/ },
    { title: `${name}: a bad ${key}`, call: () => make(name)({ base: base(), ...required, ...options }), error: 'FlatminConfigError', key, message: new RegExp(key) },
  ];
});

runRefusalTable('every preset refuses bad options by name', [
  ...refusals,
  { title: 'an averager preset refuses rho without sam: true', call: () => flatmin.swa({ base: base(), rho: 0.1 }), error: 'FlatminConfigError', key: 'rho', message: /sam: true/ },
  { title: 'an averager preset refuses a sam that is not a boolean', call: () => make('ema')({ base: base(), sam: 'yes' }), error: 'FlatminConfigError', key: 'sam', message: /boolean/ },
  { title: 'an averager preset takes no other averager', call: () => make('ema')({ base: base(), averager: {} }), error: 'FlatminConfigError', key: 'averager', message: /ema/ },
  {
    title: 'gsam refuses a base with no learning rate to take lrMax from',
    call: () => flatmin.gsam({ base: { minimize: () => null } as unknown as tf.Optimizer }),
    error: 'FlatminConfigError',
    key: 'lrMax',
    message: /learning rate/,
  },
  {
    title: 'lets without a validation batch says so and shows the call',
    call: () => make('lets')({ base: base() }),
    error: 'FlatminError',
    message: /^lets \(LETS.*validation: \(\) => lossOf\(model\.apply\(xVal\), yVal\)/,
  },
]);

it('a FlatminError is what lets throws (not a config error): it needs a batch, not a value', () => {
  expect(() => make('lets')({ base: base() })).toThrow(FlatminError);
});
