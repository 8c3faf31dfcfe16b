// Bad configs refused by name at the call, the defaults, and the config round trip (JSON and the
// component registry, which is what getConfig/fromConfig and model.save use).
import { FlatminConfigError, type JsonValue, type Perturbation } from '@flatmin/core';
import { lookupComponent } from '@flatmin/core/kit';
import { runFactoryInputSuite } from '@flatmin/test-kit';
import { describe, expect, it } from 'vitest';
import { type FriendlyOptions, friendly, type VarianceSuppressedOptions, varianceSuppressed } from '../src/index.js';

const buildFriendly = (options?: unknown): Perturbation => friendly(options as FriendlyOptions);
const buildVasso = (options?: unknown): Perturbation => varianceSuppressed(options as VarianceSuppressedOptions);

runFactoryInputSuite({
  name: 'friendly',
  factory: buildFriendly,
  keys: ['rho', 'sigma', 'lambda', 'variant'],
  valid: { rho: 0.2, sigma: 0.5, lambda: 0.6, variant: 'official' },
  invalid: [
    ['rho', { rho: -0.01 }],
    ['rho', { rho: null }],
    ['sigma', { sigma: Number.NaN }],
    ['sigma', { sigma: null }],
    ['lambda', { lambda: 1 }],
    ['lambda', { lambda: null }],
    ['variant', { variant: 'paper' }],
    ['variant', { variant: null }],
  ],
  kind: 'perturbation',
});

runFactoryInputSuite({
  name: 'varianceSuppressed',
  factory: buildVasso,
  keys: ['rho', 'theta'],
  valid: { rho: 0.1, theta: 0.4 },
  invalid: [
    ['rho', { rho: -1 }],
    ['rho', { rho: null }],
    ['theta', { theta: 0 }],
    ['theta', { theta: null }],
  ],
  kind: 'perturbation',
});

function refusal(build: (options: unknown) => unknown, options: Record<string, unknown>): FlatminConfigError {
  try {
    build(options);
  } catch (error) {
    expect(error).toBeInstanceOf(FlatminConfigError);
    return error as FlatminConfigError;
  }
  throw new Error(`${JSON.stringify(options)} was accepted`);
}

describe('friendly(): every range of the issue, refused naming the key, the value and the range', () => {
  const cases: [key: string, options: Record<string, unknown>, range: RegExp][] = [
    ['rho', { rho: -0.05 }, />= 0/],
    ['rho', { rho: Number.POSITIVE_INFINITY }, />= 0/],
    ['rho', { rho: Number.NaN }, />= 0/],
    ['rho', { rho: '0.05' }, />= 0/],
    ['lambda', { lambda: 1 }, />= 0 and < 1/],
    ['lambda', { lambda: 1.5 }, />= 0 and < 1/],
    ['lambda', { lambda: -0.1 }, />= 0 and < 1/],
    ['lambda', { lambda: Number.NaN }, />= 0 and < 1/],
    ['sigma', { sigma: Number.POSITIVE_INFINITY }, /finite number/],
    ['sigma', { sigma: Number.NEGATIVE_INFINITY }, /finite number/],
    ['sigma', { sigma: Number.NaN }, /finite number/],
    ['sigma', { sigma: '1' }, /finite number/],
    ['variant', { variant: 'paper' }, /'seed', 'official'/],
    ['variant', { variant: 'Official' }, /'seed', 'official'/],
    ['variant', { variant: 1 }, /'seed', 'official'/],
    ['lmbda', { lmbda: 0.9 }, /known keys: rho, sigma, lambda, variant/],
  ];
  it.each(cases)('%s: %j', (key, options, range) => {
    const error = refusal(buildFriendly, options);
    expect(error.key).toBe(key);
    expect(error.message).toContain('friendly');
    expect(error.message).toMatch(range);
    expect(Object.is(error.value, options[key])).toBe(true);
  });

  it('accepts the edges: ρ = 0, λ = 0, any finite σ (negative too)', () => {
    expect(friendly({ rho: 0 }).rho).toBe(0);
    expect(friendly({ lambda: 0 }).config['lambda']).toBe(0);
    expect(friendly({ lambda: 0.999999 }).config['lambda']).toBe(0.999999);
    expect(friendly({ sigma: -2 }).config['sigma']).toBe(-2);
    expect(friendly({ sigma: 0 }).config['sigma']).toBe(0);
  });
});

describe('varianceSuppressed(): every range of the issue, refused naming the key, the value and the range', () => {
  const cases: [key: string, options: Record<string, unknown>, range: RegExp][] = [
    ['rho', { rho: -1 }, />= 0/],
    ['rho', { rho: Number.NaN }, />= 0/],
    ['theta', { theta: 0 }, /> 0 and <= 1/],
    ['theta', { theta: -0.5 }, /> 0 and <= 1/],
    ['theta', { theta: 1.0000001 }, /> 0 and <= 1/],
    ['theta', { theta: Number.NaN }, /> 0 and <= 1/],
    ['theta', { theta: Number.POSITIVE_INFINITY }, /> 0 and <= 1/],
    ['beta', { beta: 0.9 }, /known keys: rho, theta/],
  ];
  it.each(cases)('%s: %j', (key, options, range) => {
    const error = refusal(buildVasso, options);
    expect(error.key).toBe(key);
    expect(error.message).toContain('varianceSuppressed');
    expect(error.message).toMatch(range);
  });

  it('accepts the edges: ρ = 0, θ = 1, a tiny θ', () => {
    expect(varianceSuppressed({ rho: 0 }).rho).toBe(0);
    expect(varianceSuppressed({ theta: 1 }).config['theta']).toBe(1);
    expect(varianceSuppressed({ theta: 1e-9 }).config['theta']).toBe(1e-9);
  });
});

describe('defaults and the config round trip', () => {
  it('friendly(): ρ 0.05, σ 1, λ 0.9, seed; needs the clean gradient', () => {
    const perturbation = friendly();
    expect(perturbation.config).toEqual({ rho: 0.05, sigma: 1, lambda: 0.9, variant: 'seed' });
    expect(perturbation.rho).toBe(0.05);
    expect(perturbation.needsGradient).toBe(true);
    expect(perturbation.kind).toBe('perturbation');
  });

  it('varianceSuppressed(): ρ 0.05, θ 0.9; needs the clean gradient', () => {
    const perturbation = varianceSuppressed();
    expect(perturbation.config).toEqual({ rho: 0.05, theta: 0.9 });
    expect(perturbation.rho).toBe(0.05);
    expect(perturbation.needsGradient).toBe(true);
  });

  const rows: [string, Perturbation][] = [
    ['friendly', friendly({ rho: 0.3, sigma: 0.5, lambda: 0.2, variant: 'official' })],
    ['friendly', friendly({ lambda: 0 })],
    ['varianceSuppressed', varianceSuppressed({ rho: 0.1, theta: 0.25 })],
  ];
  it.each(rows)('%s: the registry rebuilds it from its JSON config', (name, original) => {
    const factory = lookupComponent('perturbation', name);
    expect(factory).toBeDefined();
    const rebuilt = factory!(JSON.parse(JSON.stringify(original.config)) as Record<string, JsonValue>) as Perturbation;
    expect(rebuilt.name).toBe(name);
    expect(rebuilt.config).toEqual(original.config);
    expect(rebuilt.rho).toBe(original.rho);
  });
});
