// adaptivePolicy's options: each bad value refused at construction by a FlatminConfigError naming
// its key (and the value and range), the factory input table, and the config round trip
// (JSON, the registry, getConfig/fromConfig).
import * as tf from '@tensorflow/tfjs-core';
import { FlatminConfigError, type JsonValue, type Schedule, SharpnessAwareOptimizer, sharpnessAware } from '@flatmin/core';
import { lookupComponent } from '@flatmin/core/kit';
import { gradient } from '@flatmin/perturb-gradient';
import { runFactoryInputSuite } from '@flatmin/test-kit';
import { describe, expect, it } from 'vitest';
import { type AdaptivePolicyOptions, adaptivePolicy } from '../src/index.js';

/** Call `adaptivePolicy` with an arbitrary (possibly ill-typed) value, as plain JS or a JSON config would. */
function build(options: unknown): Schedule {
  return adaptivePolicy(options as AdaptivePolicyOptions);
}

describe('adaptivePolicy(): invalid config throws FlatminConfigError naming the key and the value', () => {
  const cases: [key: string, options: Record<string, unknown>, shown: string][] = [
    ['delta', { delta: 0, totalSteps: 10 }, '0'],
    ['delta', { delta: 1, totalSteps: 10 }, '1'],
    ['delta', { delta: -0.5, totalSteps: 10 }, '-0.5'],
    ['delta', { delta: 1.5, totalSteps: 10 }, '1.5'],
    ['delta', { delta: Number.NaN, totalSteps: 10 }, 'NaN'],
    ['delta', { delta: '0.9', totalSteps: 10 }, '"0.9"'],
    ['delta', { delta: null, totalSteps: 10 }, 'null'],
    ['lambda1', { lambda1: Number.NEGATIVE_INFINITY, totalSteps: 10 }, '-Infinity'],
    ['lambda1', { lambda1: Number.NaN, totalSteps: 10 }, 'NaN'],
    ['lambda1', { lambda1: '-1', totalSteps: 10 }, '"-1"'],
    ['lambda1', { lambda1: null, totalSteps: 10 }, 'null'],
    ['lambda2', { lambda2: Number.POSITIVE_INFINITY, totalSteps: 10 }, 'Infinity'],
    ['lambda2', { lambda2: Number.NaN, totalSteps: 10 }, 'NaN'],
    ['lambda2', { lambda2: true, totalSteps: 10 }, 'true'],
    ['totalSteps', {}, 'undefined'],
    ['totalSteps', { delta: 0.5 }, 'undefined'],
    ['totalSteps', { totalSteps: 0 }, '0'],
    ['totalSteps', { totalSteps: -3 }, '-3'],
    ['totalSteps', { totalSteps: 2.5 }, '2.5'],
    ['totalSteps', { totalSteps: Number.POSITIVE_INFINITY }, 'Infinity'],
    ['totalSteps', { totalSteps: Number.NaN }, 'NaN'],
    ['totalSteps', { totalSteps: '100' }, '"100"'],
    ['totalSteps', { totalSteps: null }, 'null'],
    ['totalStep', { totalStep: 100 }, '100'],
    ['lamda1', { lamda1: -1, totalSteps: 10 }, '-1'],
  ];

  it.each(cases)('%s: %j', (key, options, shown) => {
    let error: unknown;
    try {
      build(options);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(FlatminConfigError);
    const configError = error as FlatminConfigError;
    expect(configError.key).toBe(key);
    expect(configError.message).toContain(shown);
    expect(configError.message).toContain('adaptivePolicy');
  });

  it('messages state the valid range', () => {
    expect(() => build({ delta: 1, totalSteps: 10 })).toThrow(/> 0 and < 1/);
    expect(() => build({ lambda1: Number.NaN, totalSteps: 10 })).toThrow(/a finite number/);
    expect(() => build({})).toThrow(/an integer >= 1, and it is required/);
    expect(() => build({ totalSteps: 0.5 })).toThrow(/an integer >= 1/);
    expect(() => build({ totalSteps: 10, rho: 0.1 })).toThrow(/known keys: delta, lambda1, lambda2, totalSteps/);
  });

  it('refuses no argument and a positional argument (totalSteps is required)', () => {
    expect(() => build(undefined)).toThrow(FlatminConfigError);
    expect(() => build(100)).toThrow(FlatminConfigError);
    expect(() => build([{ totalSteps: 100 }])).toThrow(FlatminConfigError);
  });

  it('accepts the edges of the valid ranges', () => {
    expect(() => adaptivePolicy({ totalSteps: 1 })).not.toThrow();
    expect(() => adaptivePolicy({ delta: 1e-9, totalSteps: 1 })).not.toThrow();
    expect(() => adaptivePolicy({ delta: 1 - 1e-9, totalSteps: 1 })).not.toThrow();
    expect(() => adaptivePolicy({ lambda1: -1e9, lambda2: 1e9, totalSteps: 1e9 })).not.toThrow();
    expect(() => adaptivePolicy({ lambda1: 3, lambda2: -3, totalSteps: 5 })).not.toThrow();
    expect(() => build({ delta: undefined, lambda1: undefined, lambda2: undefined, totalSteps: 7 })).not.toThrow();
  });
});

// totalSteps is required, so the table's "no argument / {} take the defaults" rows run with it
// supplied (T = 100); its absence is refused above. Every other row sees the factory as it is.
runFactoryInputSuite({
  name: 'adaptivePolicy',
  factory: (options) => build(options === undefined || isEmptyObject(options) ? { totalSteps: 100 } : options),
  keys: ['delta', 'lambda1', 'lambda2', 'totalSteps'],
  valid: { delta: 0.8, lambda1: -2, lambda2: 0.5, totalSteps: 500 },
  invalid: [
    ['delta', { delta: 1 }],
    ['delta', { delta: null }],
    ['lambda1', { lambda1: Number.NaN }],
    ['lambda2', { lambda2: Number.POSITIVE_INFINITY }],
    ['totalSteps', { totalSteps: 0 }],
    ['totalSteps', { totalSteps: 1.5 }],
    ['totalSteps', { totalSteps: null }],
  ],
  kind: 'schedule',
});

function isEmptyObject(value: unknown): boolean {
  return value !== null && typeof value === 'object' && !Array.isArray(value) && Object.keys(value).length === 0;
}

describe('adaptivePolicy(): the component and its config', () => {
  it('is a schedule that needs the clean gradient, with its resolved config', () => {
    const schedule = adaptivePolicy({ totalSteps: 40 });
    expect(schedule.kind).toBe('schedule');
    expect(schedule.name).toBe('adaptivePolicy');
    expect(schedule.needsGradient).toBe(true);
    expect(schedule.adjust).toBeUndefined();
    expect(schedule.observe).toBeUndefined();
    expect(schedule.config).toEqual({ delta: 0.9, lambda1: -1, lambda2: 1, totalSteps: 40 });
  });

  const optionsList: AdaptivePolicyOptions[] = [{ totalSteps: 1 }, { delta: 0.5, totalSteps: 20 }, { lambda1: 0.25, lambda2: -0.75, totalSteps: 3 }];

  it.each(optionsList)('%j survives JSON, adaptivePolicy(config) and the component registry', (options) => {
    const original = adaptivePolicy(options);
    const json = JSON.parse(JSON.stringify(original.config)) as Record<string, JsonValue>;
    expect(json).toEqual(original.config);
    expect(adaptivePolicy(json as unknown as AdaptivePolicyOptions).config).toEqual(original.config);
    const rebuilt = lookupComponent('schedule', 'adaptivePolicy')!(json);
    expect(rebuilt.kind).toBe('schedule');
    expect(rebuilt.name).toBe('adaptivePolicy');
    expect(rebuilt.config).toEqual(original.config);
  });

  it('round-trips through getConfig/fromConfig of the optimizer', () => {
    const optimizer = sharpnessAware({ base: tf.train.sgd(0.1), perturbation: gradient({ rho: 0.1 }), schedule: adaptivePolicy({ delta: 0.8, totalSteps: 64 }), seed: 2 });
    const config = optimizer.getConfig();
    const restored = SharpnessAwareOptimizer.fromConfig(SharpnessAwareOptimizer, config) as SharpnessAwareOptimizer;
    expect(restored.schedule.name).toBe('adaptivePolicy');
    expect(restored.schedule.config).toEqual({ delta: 0.8, lambda1: -1, lambda2: 1, totalSteps: 64 });
    expect(restored.schedule.needsGradient).toBe(true);
    optimizer.dispose();
    restored.dispose();
  });
});
