// Bad configs refused by name at the call, the defaults, and the registry round trip (getConfig/fromConfig, model.save).
import { FlatminConfigError, type JsonValue } from '@flatmin/core';
import { lookupComponent } from '@flatmin/core/kit';
import { runFactoryInputSuite } from '@flatmin/test-kit';
import { describe, expect, it } from 'vitest';
import { type EmaOptions, ema, type MesaOptions, mesa } from '../src/index.js';

runFactoryInputSuite({
  name: 'ema',
  factory: (options?: unknown) => ema(options as EmaOptions),
  keys: ['decay', 'warmup'],
  valid: { decay: 0.99, warmup: false },
  invalid: [
    ['decay', { decay: 0 }],
    ['decay', { decay: 1 }],
    ['decay', { decay: -0.5 }],
    ['decay', { decay: 1.5 }],
    ['decay', { decay: Number.NaN }],
    ['decay', { decay: null }],
    ['decay', { decay: '0.9' }],
    ['warmup', { warmup: 1 }],
    ['warmup', { warmup: 'true' }],
    ['warmup', { warmup: null }],
  ],
  kind: 'averager',
});

runFactoryInputSuite({
  name: 'mesa',
  factory: (options?: unknown) => mesa(options as MesaOptions),
  keys: ['decay', 'lambda', 'tau', 'warmup'],
  valid: { decay: 0.99, lambda: 0.3, tau: 2, warmup: true },
  invalid: [
    ['decay', { decay: 0 }],
    ['decay', { decay: 1 }],
    ['decay', { decay: null }],
    ['lambda', { lambda: -0.1 }],
    ['lambda', { lambda: Number.POSITIVE_INFINITY }],
    ['lambda', { lambda: null }],
    ['tau', { tau: 0 }],
    ['tau', { tau: -1 }],
    ['tau', { tau: null }],
    ['warmup', { warmup: 0 }],
  ],
  kind: 'averager',
});

describe('ranges in the messages, defaults, the registry', () => {
  it.each([
    ['decay', () => ema({ decay: 1 }), /> 0 and < 1/],
    ['warmup', () => ema({ warmup: 'no' as unknown as boolean }), /true or false/],
    ['lambda', () => mesa({ lambda: -1 }), />= 0/],
    ['tau', () => mesa({ tau: 0 }), /> 0/],
  ] as const)('%s: the message names the range', (key, make, range) => {
    try {
      make();
      throw new Error('accepted');
    } catch (error) {
      expect(error).toBeInstanceOf(FlatminConfigError);
      expect((error as FlatminConfigError).key).toBe(key);
      expect((error as Error).message).toMatch(range);
    }
  });

  it('defaults: ema 0.999 with warmup; mesa 0.9998, λ 0.8, τ 5, no warmup; λ = 0 is accepted', () => {
    expect(ema().config).toEqual({ decay: 0.999, warmup: true });
    expect(mesa().config).toEqual({ decay: 0.9998, lambda: 0.8, tau: 5, warmup: false });
    expect(mesa({ lambda: 0 }).config['lambda']).toBe(0);
  });

  it.each([
    ['ema', ema({ decay: 0.95, warmup: false })],
    ['mesa', mesa({ decay: 0.95, lambda: 0.3, tau: 3 })],
  ] as const)('%s: the registry rebuilds it from its JSON config', (name, original) => {
    const factory = lookupComponent('averager', name);
    const rebuilt = factory!(JSON.parse(JSON.stringify(original.config)) as Record<string, JsonValue>);
    expect(rebuilt.name).toBe(name);
    expect(rebuilt.config).toEqual(original.config);
  });
});
