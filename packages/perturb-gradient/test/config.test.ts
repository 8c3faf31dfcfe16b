import * as tf from '@tensorflow/tfjs-core';
import { FlatminConfigError, type JsonValue, type Perturbation } from '@flatmin/core';
import { lookupComponent } from '@flatmin/core/kit';
import { runFactoryInputSuite } from '@flatmin/test-kit';
import { describe, expect, it } from 'vitest';
import { type GradientOptions, gradient } from '../src/index.js';
import { makeVariables, namedTensors, perturbationContext, testValues } from './helpers.js';

/** Call `gradient` with an arbitrary (possibly ill-typed) value, as plain JS or a JSON config would. */
function build(options: unknown): Perturbation {
  return gradient(options as GradientOptions);
}

describe('gradient(): invalid config throws FlatminConfigError naming the key and the value', () => {
  const cases: [key: string, options: Record<string, unknown>, shown: string][] = [
    ['rho', { rho: -0.05 }, '-0.05'],
    ['rho', { rho: -1 }, '-1'],
    ['rho', { rho: Number.NaN }, 'NaN'],
    ['rho', { rho: Number.POSITIVE_INFINITY }, 'Infinity'],
    ['rho', { rho: '0.05' }, '"0.05"'],
    ['rho', { rho: null }, 'null'],
    ['p', { p: 0.5 }, '0.5'],
    ['p', { p: 0 }, '0'],
    ['p', { p: -2 }, '-2'],
    ['p', { p: Number.NEGATIVE_INFINITY }, '-Infinity'],
    ['p', { p: Number.NaN }, 'NaN'],
    ['p', { p: '2' }, '"2"'],
    ['p', { p: 'infinity' }, '"infinity"'],
    ['p', { p: null }, 'null'],
    ['from', { from: 'next' }, '"next"'],
    ['from', { from: 'Previous' }, '"Previous"'],
    ['from', { from: 1 }, '1'],
    ['from', { from: null }, 'null'],
    ['rh0', { rh0: 0.1 }, '0.1'],
    ['radius', { rho: 0.1, radius: 2 }, '2'],
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
    expect(configError.message).toContain('gradient');
    expect(Object.is(configError.value, options[key]) || configError.value === options[key]).toBe(true);
  });

  it('messages state the valid range', () => {
    expect(() => build({ rho: -1 })).toThrow(/>= 0/);
    expect(() => build({ p: 0.5 })).toThrow(/>= 1/);
    expect(() => build({ p: null })).toThrow(/'inf'/);
    expect(() => build({ from: 'x' })).toThrow(/'current', 'previous'/);
    expect(() => build({ rh0: 1 })).toThrow(/known keys: rho, p, from/);
  });

  it('rejects a non-object options argument', () => {
    expect(() => build(0.05)).toThrow(FlatminConfigError);
    expect(() => build([0.05])).toThrow(FlatminConfigError);
  });

  it('accepts the edges of the valid ranges', () => {
    expect(() => gradient({ rho: 0 })).not.toThrow();
    expect(() => gradient({ rho: 1e6 })).not.toThrow();
    expect(() => gradient({ p: 1 })).not.toThrow();
    expect(() => gradient({ p: 1 + 1e-9 })).not.toThrow();
    expect(() => gradient({ p: Number.POSITIVE_INFINITY })).not.toThrow();
    expect(() => gradient({ p: 'inf' })).not.toThrow();
    expect(() => gradient({ from: 'previous' })).not.toThrow();
    expect(() => build(undefined)).not.toThrow();
    expect(() => build({ rho: undefined, p: undefined, from: undefined })).not.toThrow();
  });
});

runFactoryInputSuite({
  name: 'gradient',
  factory: build,
  keys: ['rho', 'p', 'from'],
  valid: { rho: 0.1, p: 'inf', from: 'previous' },
  invalid: [
    ['rho', { rho: -1 }],
    ['rho', { rho: null }],
    ['p', { p: 0.5 }],
    ['from', { from: 'next' }],
  ],
  kind: 'perturbation',
});

describe('gradient(): config round trip', () => {
  const optionsList: GradientOptions[] = [
    {},
    { rho: 0.1 },
    { rho: 0, p: 1 },
    { p: 3 },
    { p: 1.5, from: 'previous' },
    { p: Number.POSITIVE_INFINITY },
    { p: 'inf', rho: 0.01, from: 'previous' },
  ];

  it.each(optionsList)('%j survives JSON and gradient(gradient(x).config)', (options) => {
    const original = gradient(options);
    const json = JSON.parse(JSON.stringify(original.config)) as Record<string, JsonValue>;
    expect(json).toEqual(original.config);
    const rebuilt = gradient(json as GradientOptions);
    expect(rebuilt.config).toEqual(original.config);
    expect(rebuilt.rho).toBe(original.rho);
    expect(rebuilt.needsGradient).toBe(original.needsGradient);
    expect(gradient(original.config as GradientOptions).config).toEqual(original.config);
  });

  it.each(optionsList)('%j survives the component registry', (options) => {
    const original = gradient(options);
    const factory = lookupComponent('perturbation', original.name);
    expect(factory).toBeDefined();
    const rebuilt = factory!(JSON.parse(JSON.stringify(original.config)) as Record<string, JsonValue>);
    expect(rebuilt.kind).toBe('perturbation');
    expect(rebuilt.name).toBe('gradient');
    expect(rebuilt.config).toEqual(original.config);
  });

  it("p: Infinity is stored as 'inf' and the rebuilt perturbation computes the same ε", () => {
    const original = gradient({ p: Number.POSITIVE_INFINITY, rho: 0.1 });
    expect(original.config['p']).toBe('inf');
    const rebuilt = lookupComponent('perturbation', 'gradient')!(
      JSON.parse(JSON.stringify(original.config)) as Record<string, JsonValue>,
    ) as Perturbation;
    const variables = makeVariables([[3]]);
    const grads = namedTensors(variables, [testValues(3, 3)]);
    const rho = tf.scalar(0.1);
    const a = original.compute(perturbationContext(variables, grads, rho), {}).epsilon;
    const b = rebuilt.compute(perturbationContext(variables, grads, rho), {}).epsilon;
    const name = variables[0]!.name;
    expect(Array.from(b[name]!.dataSync())).toEqual(Array.from(a[name]!.dataSync()));
    tf.dispose([a, b, grads, rho, variables]);
  });
});
