// Bad configs refused by name at the call (randomly and the p(t) helpers), the defaults, and the
// registry round trip (what getConfig/fromConfig and model.save use).
import { FlatminConfigError, type JsonValue, type Schedule } from '@flatmin/core';
import { lookupComponent } from '@flatmin/core/kit';
import { runFactoryInputSuite, runRefusalTable } from '@flatmin/test-kit';
import { describe, expect, it } from 'vitest';
import { constantP, type LinearPOptions, linearP, probabilityFromConfig, type RandomlyOptions, randomly, type StepPOptions, stepP } from '../src/index.js';

const build = (options?: unknown): Schedule => randomly(options as RandomlyOptions);

runFactoryInputSuite({
  name: 'randomly',
  factory: build,
  keys: ['p'],
  valid: { p: 0.3 },
  invalid: [
    ['p', { p: -0.1 }],
    ['p', { p: 1.1 }],
    ['p', { p: null }],
    ['p', { p: Number.NaN }],
    ['p', { p: '0.5' }],
    ['p', { p: [0.5] }],
    ['p', { p: { schedule: 'function' } }],
  ],
  kind: 'schedule',
});

runRefusalTable('randomly(): p refused naming the key, the value and the range', [
  { title: 'p = -0.1', call: () => randomly({ p: -0.1 }), error: 'FlatminConfigError', key: 'p', message: /randomly.*'p' = -0\.1.*>= 0 and <= 1/ },
  { title: 'p = 1.0001', call: () => randomly({ p: 1.0001 }), error: 'FlatminConfigError', key: 'p', message: />= 0 and <= 1/ },
  { title: 'p = Infinity', call: () => randomly({ p: Number.POSITIVE_INFINITY }), error: 'FlatminConfigError', key: 'p', message: />= 0 and <= 1/ },
  { title: 'p = true', call: () => randomly({ p: true as never }), error: 'FlatminConfigError', key: 'p', message: /a number in \[0, 1\]/ },
  { title: 'a saved custom function', call: () => randomly({ p: { schedule: 'function' } as never }), error: 'FlatminConfigError', key: 'p', message: /cannot be serialized/ },
  { title: 'an unknown description', call: () => randomly({ p: { schedule: 'cosine' } as never }), error: 'FlatminConfigError', key: 'p.schedule', message: /'constant', 'linear' or 'step'/ },
  { title: 'a helper-like function with a bad description', call: () => randomly({ p: Object.assign(() => 0.5, { config: { schedule: 'linear', from: 0, to: 3, totalSteps: 5 } }) as never }), error: 'FlatminConfigError', key: 'to', message: /linearP/ },
  { title: "a typo'd key", call: () => randomly({ prob: 0.5 } as never), error: 'FlatminConfigError', key: 'prob', message: /known keys: p/ },
]);

const linear = (options: unknown) => linearP(options as LinearPOptions);
const steps = (options: unknown) => stepP(options as StepPOptions);
runRefusalTable('the p(t) helpers: bad values refused naming the key', [
  { title: 'constantP(1.5)', call: () => constantP(1.5), error: 'FlatminConfigError', key: 'p', message: /constantP.*>= 0 and <= 1/ },
  { title: 'constantP(NaN)', call: () => constantP(Number.NaN), error: 'FlatminConfigError', key: 'p', message: /constantP/ },
  { title: 'linearP from 2', call: () => linear({ from: 2, to: 1, totalSteps: 10 }), error: 'FlatminConfigError', key: 'from', message: /linearP.*>= 0 and <= 1/ },
  { title: 'linearP to -1', call: () => linear({ from: 0, to: -1, totalSteps: 10 }), error: 'FlatminConfigError', key: 'to', message: />= 0 and <= 1/ },
  { title: 'linearP without from', call: () => linear({ to: 1, totalSteps: 10 }), error: 'FlatminConfigError', key: 'from', message: /linearP/ },
  { title: 'linearP totalSteps 0', call: () => linear({ from: 0, to: 1, totalSteps: 0 }), error: 'FlatminConfigError', key: 'totalSteps', message: /an integer >= 1/ },
  { title: 'linearP totalSteps 2.5', call: () => linear({ from: 0, to: 1, totalSteps: 2.5 }), error: 'FlatminConfigError', key: 'totalSteps', message: /an integer >= 1/ },
  { title: 'linearP(0.5)', call: () => linear(0.5), error: 'FlatminConfigError', key: 'options', message: /linearP/ },
  { title: 'linearP with an unknown key', call: () => linear({ from: 0, to: 1, totalSteps: 5, steps: 5 }), error: 'FlatminConfigError', key: 'steps', message: /known keys: from, to, totalSteps/ },
  { title: 'stepP values one short', call: () => steps({ values: [0.5], boundaries: [10] }), error: 'FlatminConfigError', key: 'values', message: /an array of 2 probabilities/ },
  { title: 'stepP values not an array', call: () => steps({ values: 0.5, boundaries: [] }), error: 'FlatminConfigError', key: 'values', message: /an array of 1 probabilities/ },
  { title: 'stepP a value above 1', call: () => steps({ values: [0.5, 1.2], boundaries: [10] }), error: 'FlatminConfigError', key: 'values', message: />= 0 and <= 1/ },
  { title: 'stepP boundaries not increasing', call: () => steps({ values: [0.1, 0.2, 0.3], boundaries: [10, 10] }), error: 'FlatminConfigError', key: 'boundaries', message: /> 10/ },
  { title: 'stepP a boundary at 0', call: () => steps({ values: [0.1, 0.2], boundaries: [0] }), error: 'FlatminConfigError', key: 'boundaries', message: />= 1/ },
  { title: 'stepP a fractional boundary', call: () => steps({ values: [0.1, 0.2], boundaries: [2.5] }), error: 'FlatminConfigError', key: 'boundaries', message: /an integer/ },
  { title: 'stepP boundaries missing', call: () => steps({ values: [0.1] }), error: 'FlatminConfigError', key: 'boundaries', message: /strictly increasing/ },
  { title: 'probabilityFromConfig constant with an extra key', call: () => probabilityFromConfig({ schedule: 'constant', p: 0.5, q: 1 } as never), error: 'FlatminConfigError', key: 'q', message: /known keys: p/ },
]);

describe('defaults and the registry round trip', () => {
  it('randomly(): p 0.5, no state, no clean gradient needed, nothing to observe or adjust', () => {
    const schedule = randomly();
    expect(schedule.kind).toBe('schedule');
    expect(schedule.name).toBe('randomly');
    expect(schedule.config).toEqual({ p: 0.5 });
    expect(schedule.needsGradient).toBeUndefined();
    expect(schedule.observe).toBeUndefined();
    expect(schedule.adjust).toBeUndefined();
  });

  const rows: Schedule[] = [
    randomly({ p: 0 }),
    randomly({ p: 1 }),
    randomly({ p: constantP(0.25) }),
    randomly({ p: linearP({ from: 0.9, to: 0.1, totalSteps: 100 }) }),
    randomly({ p: stepP({ values: [0.2, 0.4, 0.6], boundaries: [10, 20] }) }),
  ];
  it.each(rows.map((s) => [JSON.stringify(s.config), s] as const))('%s: the registry rebuilds it from its JSON config', (_label, original) => {
    const factory = lookupComponent('schedule', 'randomly');
    expect(factory).toBeDefined();
    const rebuilt = factory!(JSON.parse(JSON.stringify(original.config)) as Record<string, JsonValue>) as Schedule;
    expect(rebuilt.name).toBe('randomly');
    expect(rebuilt.config).toEqual(original.config);
  });

  it('the registry refuses the config of a custom function, naming p', () => {
    const config = randomly({ p: () => 0.5 }).config;
    expect(() => lookupComponent('schedule', 'randomly')!(JSON.parse(JSON.stringify(config)))).toThrow(FlatminConfigError);
  });
});
