// Every bad input refused at the call, by name: the factories of core, sharpnessAware's config
// (base, components' shape, seeds) and minimize's arguments.
import { createRequire } from 'node:module';
import * as tf from '@tensorflow/tfjs-core';
import { type Refusal, runFactoryInputSuite, runRefusalTable } from '@flatmin/test-kit';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { adversarial, always, mix, type SharpnessAwareConfig, sharpnessAware, surrogateGap } from '../src/index.js';
import { checkOptions } from '../src/kit.js';
import { samPerturbation } from './helpers.js';

runFactoryInputSuite({ name: 'adversarial', factory: adversarial as (o?: unknown) => unknown, keys: [], kind: 'combiner' });
runFactoryInputSuite({ name: 'always', factory: always as (o?: unknown) => unknown, keys: [], kind: 'schedule' });
runFactoryInputSuite({
  name: 'mix',
  factory: mix as (o?: unknown) => unknown,
  keys: ['lambda'],
  valid: { lambda: 0.9 },
  invalid: [
    ['lambda', { lambda: -0.1 }],
    ['lambda', { lambda: 1.5 }],
    ['lambda', { lambda: '0.5' }],
    ['lambda', { lambda: Number.NaN }],
    ['lambda', { lambda: null }],
  ],
  kind: 'combiner',
});
runFactoryInputSuite({
  name: 'surrogateGap',
  factory: surrogateGap as (o?: unknown) => unknown,
  keys: ['alpha'],
  valid: { alpha: 0.2 },
  invalid: [
    ['alpha', { alpha: -1 }],
    ['alpha', { alpha: Number.POSITIVE_INFINITY }],
    ['alpha', { alpha: null }],
  ],
  kind: 'combiner',
});

describe('positional arguments are never silently ignored', () => {
  it('mix(0.9) and surrogateGap(0.2) throw instead of using λ = 0.5 and α = 0.4', () => {
    expect(() => mix(0.9 as never)).toThrow(/mix: invalid config 'options' = 0\.9; expected an options object \{ lambda \}/);
    expect(() => surrogateGap(0.2 as never)).toThrow(/surrogateGap: invalid config 'options' = 0\.2; expected an options object \{ alpha \}/);
    expect(() => surrogateGap(null as never)).toThrow(/'options' = null/);
  });

  it('checkOptions (for component authors) gives {} for undefined and returns the object it checked', () => {
    expect(checkOptions(undefined, ['rho'], 'mine')).toEqual({});
    const options = { rho: 1 };
    expect(checkOptions(options, ['rho'], 'mine')).toBe(options);
    expect(() => checkOptions({ rh0: 1 }, ['rho'], 'mine')).toThrow(/'rh0'.*known keys: rho/);
  });
});

const base = () => tf.train.sgd(0.1);
const build = (config: unknown) => () => sharpnessAware(config as SharpnessAwareConfig);
const fullComponent = (kind: string, extra: Record<string, unknown>) => ({ kind, name: `broken-${kind}`, config: {}, ...extra });

/** A tfjs optimizer of an older tfjs-core copy: a class of its own with no minimize/computeGradients. */
class SGDOptimizer {
  applyGradients(): void {}
  getClassName(): string {
    return 'SGD';
  }
}

const configRefusals: Refusal[] = [
  { title: 'no config', call: build(undefined), error: 'FlatminConfigError', key: 'config', message: /an object with at least \{ base, perturbation \}/ },
  { title: 'an array as config', call: build([]), error: 'FlatminConfigError', key: 'config', message: /an object/ },
  { title: 'no base', call: build({ perturbation: samPerturbation() }), error: 'FlatminConfigError', key: 'base', message: /tf\.train\.sgd\(0\.1\): the config has no base/ },
  { title: 'base: null', call: build({ base: null, perturbation: samPerturbation() }), error: 'FlatminConfigError', key: 'base', message: /a tfjs optimizer/ },
  { title: "base: 'sgd'", call: build({ base: 'sgd', perturbation: samPerturbation() }), error: 'FlatminConfigError', key: 'base', message: /"sgd"; expected a tfjs optimizer/ },
  { title: 'base: a plain object', call: build({ base: {}, perturbation: samPerturbation() }), error: 'FlatminConfigError', key: 'base', message: /a tfjs optimizer such as/ },
  {
    title: 'base from an older tfjs-core copy',
    call: build({ base: new SGDOptimizer(), perturbation: samPerturbation() }),
    error: 'FlatminConfigError',
    key: 'base',
    message: /a SGDOptimizer from another copy; this app loads two copies of @tensorflow\/tfjs-core.*npm ls @tensorflow\/tfjs-core.*dedupe/,
  },
  { title: 'no perturbation', call: build({ base: base() }), error: 'FlatminConfigError', key: 'perturbation', message: /gradient\(\{ rho: 0\.05 \}\)/ },
  { title: 'a perturbation of kind only', call: build({ base: base(), perturbation: { kind: 'perturbation' } }), error: 'FlatminConfigError', key: 'perturbation.compute', message: /a function/ },
  {
    title: 'a combiner as perturbation',
    call: build({ base: base(), perturbation: adversarial() }),
    error: 'FlatminConfigError',
    key: 'perturbation',
    message: /gradient/,
  },
  {
    title: 'a combiner without combine',
    call: build({ base: base(), perturbation: samPerturbation(), combiner: fullComponent('combiner', {}) }),
    error: 'FlatminConfigError',
    key: 'combiner.combine',
    message: /a function/,
  },
  {
    title: 'a schedule without decide',
    call: build({ base: base(), perturbation: samPerturbation(), schedule: fullComponent('schedule', { decide: 1 }) }),
    error: 'FlatminConfigError',
    key: 'schedule.decide',
    message: /a function/,
  },
  {
    title: 'an averager without averaged',
    call: build({ base: base(), perturbation: samPerturbation(), averager: fullComponent('averager', { update: () => ({}) }) }),
    error: 'FlatminConfigError',
    key: 'averager.averaged',
    message: /a function/,
  },
  { title: 'seed −1', call: build({ base: base(), perturbation: samPerturbation(), seed: -1 }), error: 'FlatminConfigError', key: 'seed', message: /an integer >= 0 and < 4294967296/ },
  { title: 'seed 2³²', call: build({ base: base(), perturbation: samPerturbation(), seed: 2 ** 32 }), error: 'FlatminConfigError', key: 'seed', message: /< 4294967296/ },
  { title: 'seed 1.5', call: build({ base: base(), perturbation: samPerturbation(), seed: 1.5 }), error: 'FlatminConfigError', key: 'seed', message: /an integer/ },
  { title: 'a misspelt key', call: build({ base: base(), perturbation: samPerturbation(), sed: 1 }), error: 'FlatminConfigError', key: 'sed', message: /known keys/ },
];
runRefusalTable('sharpnessAware(config): bad configs refused by key', configRefusals);

describe('a base optimizer from a second copy of tfjs-core', () => {
  afterEach(() => vi.restoreAllMocks());

  it('of the same version works, with one warning that says how to dedupe', () => {
    // tfjs-core's UMD bundle is a second copy of the library in this process (its own classes,
    // the shared global engine), as a bundler or a nested node_modules makes one.
    const other = createRequire(import.meta.url)('@tensorflow/tfjs-core/dist/tf-core.js') as typeof tf;
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    const foreign = other.train.sgd(0.1);
    expect(Object.getPrototypeOf(foreign)).not.toBe(tf.SGDOptimizer.prototype);
    const optimizer = sharpnessAware({ base: foreign, perturbation: samPerturbation(), seed: 1 });
    const w = tf.variable(tf.tensor1d([1, 2]));
    optimizer.minimize(() => tf.sum(tf.square(w)) as tf.Scalar, false, [w]);
    expect(Array.from(w.dataSync()).every((x, i) => x < [1, 2][i]!)).toBe(true);
    sharpnessAware({ base: other.train.sgd(0.1), perturbation: samPerturbation(), seed: 1 }).dispose();
    const messages = warn.mock.calls.map((call) => String(call[0])).filter((m) => m.includes('two copies'));
    expect(messages).toHaveLength(1);
    expect(messages[0]).toMatch(/SGDOptimizer from another copy of tfjs-core.*npm ls @tensorflow\/tfjs-core/);
    optimizer.dispose();
    w.dispose();
  });
});

const v = () => tf.variable(tf.tensor1d([1, 2]));
const sam = () => sharpnessAware({ base: base(), perturbation: samPerturbation(), seed: 1 });
const minimizeRefusals: Refusal[] = [
  { title: 'minimize(tensor)', call: () => sam().minimize(tf.scalar(1) as never), error: 'FlatminError', message: /minimize: the loss must be a function .* got object/ },
  { title: 'minimize(null)', call: () => sam().minimize(null as never), error: 'FlatminError', message: /must be a function .* got null/ },
  { title: 'varList not an array', call: () => sam().minimize(() => tf.scalar(1), false, {} as never), error: 'FlatminError', message: /varList must be an array of tf\.Variable, got object/ },
  {
    title: 'varList of a plain tensor',
    call: () => sam().minimize(() => tf.scalar(1), false, [tf.ones([2]) as never]),
    error: 'FlatminError',
    message: /varList\[0\] is a plain tf\.Tensor of shape \[2\], not a tf\.Variable/,
  },
  {
    title: 'a rank-1 loss',
    call: () => {
      const w = v();
      return sam().minimize(() => tf.mul(w, 2) as never, false, [w]);
    },
    error: 'FlatminError',
    message: /must return a scalar \(rank 0.*rank-1 tensor of shape \[2\]/,
  },
  {
    title: 'a loss closure that returns a number',
    call: () => {
      const w = v();
      return sam().minimize(() => 3 as never, false, [w]);
    },
    error: 'FlatminError',
    message: /must return a tf\.Scalar or \{ loss, perSample\?, parts\? \}/,
  },
];
runRefusalTable('minimize(f, returnCost, varList): bad arguments refused by name', minimizeRefusals);
