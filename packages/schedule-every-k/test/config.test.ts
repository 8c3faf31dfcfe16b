// Bad configs refused by name at the call, the defaults, and the config round trip (JSON and the
// component registry, which is what getConfig/fromConfig and model.save use).
import { FlatminConfigError, type JsonValue, type Schedule } from '@flatmin/core';
import { lookupComponent } from '@flatmin/core/kit';
import { runFactoryInputSuite } from '@flatmin/test-kit';
import { describe, expect, it } from 'vitest';
import { type EveryKOptions, everyK } from '../src/index.js';

const build = (options?: unknown): Schedule => everyK(options as EveryKOptions);

runFactoryInputSuite({
  name: 'everyK',
  factory: build,
  keys: ['k', 'alpha', 'granularity', 'restartEvery'],
  valid: { k: 3, alpha: 0.5, granularity: 'tensor', restartEvery: 7 },
  invalid: [
    ['k', { k: 0 }],
    ['k', { k: null }],
    ['alpha', { alpha: -1 }],
    ['alpha', { alpha: null }],
    ['granularity', { granularity: 'layer' }],
    ['granularity', { granularity: null }],
    ['restartEvery', { restartEvery: 0 }],
    ['restartEvery', { restartEvery: null }],
  ],
  kind: 'schedule',
});

function refusal(options: Record<string, unknown>): FlatminConfigError {
  try {
    build(options);
  } catch (error) {
    expect(error).toBeInstanceOf(FlatminConfigError);
    return error as FlatminConfigError;
  }
  throw new Error(`${JSON.stringify(options)} was accepted`);
}

describe('everyK(): every range of the issue, refused naming the key, the value and the range', () => {
  const cases: [key: string, options: Record<string, unknown>, range: RegExp][] = [
    ['k', { k: 0 }, /an integer >= 1/],
    ['k', { k: -3 }, /an integer >= 1/],
    ['k', { k: 2.5 }, /an integer >= 1/],
    ['k', { k: Number.NaN }, /an integer >= 1/],
    ['k', { k: Number.POSITIVE_INFINITY }, /an integer >= 1/],
    ['k', { k: '5' }, /an integer >= 1/],
    ['alpha', { alpha: -0.1 }, />= 0/],
    ['alpha', { alpha: Number.NaN }, />= 0/],
    ['alpha', { alpha: Number.POSITIVE_INFINITY }, />= 0/],
    ['alpha', { alpha: '0.7' }, />= 0/],
    ['granularity', { granularity: 'layer' }, /'global', 'tensor'/],
    ['granularity', { granularity: 'Global' }, /'global', 'tensor'/],
    ['granularity', { granularity: 1 }, /'global', 'tensor'/],
    ['restartEvery', { restartEvery: 0 }, /an integer >= 1/],
    ['restartEvery', { restartEvery: 2.5 }, /an integer >= 1/],
    ['restartEvery', { restartEvery: Number.POSITIVE_INFINITY }, /an integer >= 1/],
    ['restartEvery', { restartEvery: '63' }, /an integer >= 1/],
    ['K', { K: 5 }, /known keys: k, alpha, granularity, restartEvery/],
  ];
  it.each(cases)('%s: %j', (key, options, range) => {
    const error = refusal(options);
    expect(error.key).toBe(key);
    expect(error.message).toContain('everyK');
    expect(error.message).toMatch(range);
    expect(Object.is(error.value, options[key])).toBe(true);
  });

  it('accepts the edges: k = 1, α = 0, a large α', () => {
    expect(everyK({ k: 1 }).config['k']).toBe(1);
    expect(everyK({ alpha: 0 }).config['alpha']).toBe(0);
    expect(everyK({ alpha: 10 }).config['alpha']).toBe(10);
  });
});

describe('defaults, what each setting builds, and the config round trip', () => {
  it('everyK(): k 5, α 0.7, global; reuses g_v, so it observes, adjusts and needs the clean gradient', () => {
    const schedule = everyK();
    expect(schedule.kind).toBe('schedule');
    expect(schedule.name).toBe('everyK');
    expect(schedule.config).toEqual({ k: 5, alpha: 0.7, granularity: 'global' }); // no restartEvery: the counter never restarts
    expect(schedule.needsGradient).toBe(true);
    expect(typeof schedule.observe).toBe('function');
    expect(typeof schedule.adjust).toBe('function');
  });

  it.each([[{ k: 1 }], [{ alpha: 0 }], [{ k: 1, alpha: 0, granularity: 'tensor' as const }]])('%j keeps nothing to reuse: no observe, no adjust, no clean gradient forced', (options) => {
    const schedule = everyK(options);
    expect(schedule.observe).toBeUndefined();
    expect(schedule.adjust).toBeUndefined();
    expect(schedule.needsGradient).toBeUndefined();
  });

  it('restartEvery is in the config when given', () => {
    expect(everyK({ restartEvery: 63 }).config).toEqual({ k: 5, alpha: 0.7, granularity: 'global', restartEvery: 63 });
  });

  const rows: Schedule[] = [everyK({ k: 7, alpha: 0.25, granularity: 'tensor' }), everyK({ k: 1 }), everyK({ alpha: 0 }), everyK({ k: 3, granularity: 'tensor', restartEvery: 63 })];
  it.each(rows.map((s) => [JSON.stringify(s.config), s] as const))('%s: the registry rebuilds it from its JSON config', (_label, original) => {
    const factory = lookupComponent('schedule', 'everyK');
    expect(factory).toBeDefined();
    const rebuilt = factory!(JSON.parse(JSON.stringify(original.config)) as Record<string, JsonValue>) as Schedule;
    expect(rebuilt.name).toBe('everyK');
    expect(rebuilt.config).toEqual(original.config);
    expect(rebuilt.needsGradient).toBe(original.needsGradient);
  });
});
