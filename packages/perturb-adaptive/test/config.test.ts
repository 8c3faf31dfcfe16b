// Bad configs refused by name; configs rebuilt through JSON, the registry and the optimizer's
// getConfig/fromConfig; a custom adaptWhere predicate saved as 'custom' and refused on rebuild.
import * as tf from '@tensorflow/tfjs-core';
import { FlatminConfigError, type JsonValue, SharpnessAwareOptimizer, sharpnessAware } from '@flatmin/core';
import { lookupComponent } from '@flatmin/core/kit';
import { runFactoryInputSuite } from '@flatmin/test-kit';
import { describe, expect, it } from 'vitest';
import { type AdaptiveOptions, adaptive, type FisherOptions, fisher } from '../src/index.js';

function thrown(call: () => unknown): FlatminConfigError {
  try {
    call();
  } catch (error) {
    expect(error).toBeInstanceOf(FlatminConfigError);
    return error as FlatminConfigError;
  }
  throw new Error('expected a FlatminConfigError');
}

const buildAdaptive = (options: unknown) => adaptive(options as AdaptiveOptions);
const buildFisher = (options: unknown) => fisher(options as FisherOptions);

describe('invalid configs throw a FlatminConfigError naming the key, the value and the range', () => {
  const cases: [factory: string, key: string, options: Record<string, unknown>, message: RegExp][] = [
    ['adaptive', 'rho', { rho: -0.5 }, /-0\.5.*>= 0/],
    ['adaptive', 'rho', { rho: Number.NaN }, /NaN/],
    ['adaptive', 'rho', { rho: Number.POSITIVE_INFINITY }, /Infinity/],
    ['adaptive', 'rho', { rho: null }, /null/],
    ['adaptive', 'eta', { eta: -0.01 }, /-0\.01.*>= 0/],
    ['adaptive', 'eta', { eta: '0.01' }, /"0\.01"/],
    ['adaptive', 'eta', { eta: null }, /null/],
    ['adaptive', 'granularity', { granularity: 'row' }, /"row".*'element', 'filter'/],
    ['adaptive', 'granularity', { granularity: 'Filter' }, /"Filter"/],
    ['adaptive', 'granularity', { granularity: null }, /null/],
    ['adaptive', 'adaptWhere', { adaptWhere: 42 }, /42.*predicate/],
    ['adaptive', 'adaptWhere', { adaptWhere: 'rank>=1' }, /"rank>=1".*'rank>=2', 'all'/],
    ['adaptive', 'adaptWhere', { adaptWhere: true }, /true/],
    ['adaptive', 'adaptWhere', { adaptWhere: null }, /null/],
    ['adaptive', 'adaptWhere', { adaptWhere: 'custom' }, /cannot be serialized.*adaptive\(\{ adaptWhere \}\)/],
    ['adaptive', 'radius', { radius: 1 }, /known keys: rho, eta, granularity, adaptWhere/],
    ['fisher', 'rho', { rho: -0.1 }, /-0\.1.*>= 0/],
    ['fisher', 'rho', { rho: null }, /null/],
    ['fisher', 'eta', { eta: -1 }, /-1.*>= 0/],
    ['fisher', 'eta', { eta: Number.POSITIVE_INFINITY }, /Infinity/],
    ['fisher', 'eta', { eta: null }, /null/],
    ['fisher', 'gamma', { gamma: 0.1 }, /known keys: rho, eta/],
  ];

  it.each(cases)('%s: %s in %j', (factory, key, options, message) => {
    const error = thrown(() => (factory === 'adaptive' ? buildAdaptive : buildFisher)(options));
    expect(error.key).toBe(key);
    expect(error.message).toContain(factory);
    expect(error.message).toMatch(message);
  });

  it('accepts the edges of the valid ranges', () => {
    expect(() => adaptive({ rho: 0, eta: 0 })).not.toThrow();
    expect(() => adaptive({ granularity: 'filter', adaptWhere: 'all' })).not.toThrow();
    expect(() => adaptive({ adaptWhere: () => true })).not.toThrow();
    expect(() => fisher({ rho: 0, eta: 0 })).not.toThrow();
    expect(() => fisher({ rho: 1e6, eta: 1e6 })).not.toThrow();
  });
});

runFactoryInputSuite({
  name: 'adaptive',
  factory: buildAdaptive,
  keys: ['rho', 'eta', 'granularity', 'adaptWhere'],
  valid: { rho: 1, eta: 0.1, granularity: 'filter', adaptWhere: 'all' },
  invalid: [
    ['rho', { rho: -1 }],
    ['eta', { eta: -1 }],
    ['granularity', { granularity: 'row' }],
    ['adaptWhere', { adaptWhere: 1 }],
    ['adaptWhere', { adaptWhere: 'custom' }],
  ],
  kind: 'perturbation',
});

runFactoryInputSuite({
  name: 'fisher',
  factory: buildFisher,
  keys: ['rho', 'eta'],
  valid: { rho: 0.2, eta: 0 },
  invalid: [
    ['rho', { rho: -1 }],
    ['eta', { eta: -1 }],
    ['eta', { eta: null }],
  ],
  kind: 'perturbation',
});

describe('config: defaults, JSON and the registry', () => {
  it('defaults', () => {
    expect(adaptive().config).toEqual({ rho: 0.5, eta: 0.01, granularity: 'element', adaptWhere: 'rank>=2' });
    expect(adaptive().rho).toBe(0.5);
    expect(adaptive().needsGradient).toBe(true);
    expect(fisher().config).toEqual({ rho: 0.1, eta: 1 });
    expect(fisher().rho).toBe(0.1);
    expect(fisher().needsGradient).toBe(true);
  });

  it.each([
    ['adaptive', adaptive({ rho: 0.2, eta: 0, granularity: 'filter' })],
    ['adaptive', adaptive({ adaptWhere: 'all' })],
    ['fisher', fisher({ rho: 0.05, eta: 3 })],
  ] as const)('%s survives JSON and the component registry', (name, original) => {
    const json = JSON.parse(JSON.stringify(original.config)) as Record<string, JsonValue>;
    const rebuilt = lookupComponent('perturbation', name)!(json);
    expect(rebuilt.name).toBe(name);
    expect(rebuilt.config).toEqual(original.config);
  });

  it.each([
    ['adaptive', () => adaptive({ rho: 0.3, granularity: 'filter' })],
    ['fisher', () => fisher({ rho: 0.2, eta: 2 })],
  ] as const)('%s: the optimizer getConfig → fromConfig rebuilds the same perturbation', (_name, perturbation) => {
    const optimizer = sharpnessAware({ base: tf.train.sgd(0.1), perturbation: perturbation() });
    const config = JSON.parse(JSON.stringify(optimizer.getConfig()));
    const rebuilt = SharpnessAwareOptimizer.fromConfig(SharpnessAwareOptimizer, config) as SharpnessAwareOptimizer;
    expect(rebuilt.perturbation.config).toEqual(perturbation().config);
    expect(rebuilt.getConfig()).toEqual(config);
    optimizer.dispose();
    rebuilt.dispose();
  });

  it("a custom adaptWhere predicate is stored as 'custom': getConfig works, rebuilding it refuses adaptWhere by name", () => {
    const perturbation = adaptive({ adaptWhere: (v) => v.name.endsWith('/kernel') });
    expect(perturbation.config['adaptWhere']).toBe('custom');
    const optimizer = sharpnessAware({ base: tf.train.sgd(0.1), perturbation });
    const config = JSON.parse(JSON.stringify(optimizer.getConfig()));
    expect(config.perturbation).toEqual({ name: 'adaptive', config: { rho: 0.5, eta: 0.01, granularity: 'element', adaptWhere: 'custom' } });
    const error = thrown(() => SharpnessAwareOptimizer.fromConfig(SharpnessAwareOptimizer, config));
    expect(error.key).toBe('adaptWhere');
    expect(error.message).toMatch(/custom predicate/);
    optimizer.dispose();
  });
});
