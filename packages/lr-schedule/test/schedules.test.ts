// Each schedule at many steps against its formula written out here in float64, the ends, and
// the JSON description.
import { describe, expect, it } from 'vitest';
import { cosineWithWarmup, linearDecay, scheduleFromDescription, stepDecay } from '../src/index.js';

/** |a − b| ≤ 1e-15 · max(1, |b|): float64 rounding only. */
function expectClose(actual: number, expected: number): void {
  expect(Math.abs(actual - expected)).toBeLessThanOrEqual(1e-15 * Math.max(1, Math.abs(expected)));
}

const STEPS = [...Array.from({ length: 130 }, (_, t) => t), 0.5, 2.25, 7.75, 99.5, 101.5];

describe('cosineWithWarmup', () => {
  const peak = 0.3;
  const warmupSteps = 12;
  const totalSteps = 110;
  const floor = 0.004;
  const schedule = cosineWithWarmup({ peak, warmupSteps, totalSteps, floor });
  // η(t) = peak·t/W before W; floor + (peak − floor)(1 + cos(π(t − W)/(T − W)))/2 up to T; floor after.
  const formula = (t: number): number => {
    if (t < 12) return (0.3 * t) / 12;
    if (t > 110) return 0.004;
    const progress = (t - 12) / 98;
    return 0.004 + 0.5 * (0.3 - 0.004) * (1 + Math.cos(Math.PI * progress));
  };

  it.each(STEPS)('step %d follows the formula', (t) => expectClose(schedule(t), formula(t)));

  it('starts at 0, reaches peak at warmupSteps, is halfway at the middle of the cosine, floor at totalSteps and after', () => {
    expect(schedule(0)).toBe(0);
    expectClose(schedule(6), 0.15);
    expectClose(schedule(12), peak);
    expectClose(schedule(12 + 49), (peak + floor) / 2);
    expectClose(schedule(110), floor);
    expect(schedule(111)).toBe(floor);
    expect(schedule(1e9)).toBe(floor);
    expect(schedule(Number.POSITIVE_INFINITY)).toBe(floor);
  });

  it('holds its first value before the start (a negative step counts as 0)', () => {
    expect(schedule(-1)).toBe(0);
    expect(schedule(Number.NEGATIVE_INFINITY)).toBe(0);
    const noWarmup = cosineWithWarmup({ peak, totalSteps: 10 });
    expect(noWarmup(-5)).toBe(peak);
  });

  it('decreases monotonically after the warmup and increases during it', () => {
    for (let t = 1; t <= 12; t++) expect(schedule(t)).toBeGreaterThan(schedule(t - 1));
    for (let t = 13; t <= 110; t++) expect(schedule(t)).toBeLessThan(schedule(t - 1));
  });

  it('without warmup starts at peak; defaults are warmupSteps 0 and floor 0', () => {
    const plain = cosineWithWarmup({ peak: 2, totalSteps: 8 });
    expect(plain.description).toEqual({ name: 'cosineWithWarmup', config: { peak: 2, warmupSteps: 0, totalSteps: 8, floor: 0 } });
    for (let t = 0; t <= 10; t++) expectClose(plain(t), t >= 8 ? 0 : 1 + Math.cos((Math.PI * t) / 8));
  });

  it('a one-step cosine after the warmup: peak at W, floor at W + 1', () => {
    const short = cosineWithWarmup({ peak: 1, warmupSteps: 4, totalSteps: 5, floor: 0.5 });
    expect([0, 1, 2, 3, 4, 5, 6].map((t) => short(t))).toEqual([0, 0.25, 0.5, 0.75, 1, 0.5, 0.5]);
  });

  it('floor = peak without warmup is a constant rate', () => {
    const constant = cosineWithWarmup({ peak: 0.1, totalSteps: 50, floor: 0.1 });
    for (const t of STEPS) expectClose(constant(t), 0.1);
  });

  it('reports its range', () => {
    expect(schedule.range).toEqual({ min: 0, max: peak });
    expect(cosineWithWarmup({ peak, totalSteps: 10, floor }).range).toEqual({ min: floor, max: peak });
  });
});

describe('stepDecay', () => {
  const schedule = stepDecay({ initial: 0.2, factor: 0.5, every: 7 });
  const formula = (t: number): number => 0.2 * 0.5 ** Math.floor(t / 7);

  it.each(STEPS)('step %d follows the formula', (t) => expectClose(schedule(t), formula(t)));

  it('is constant within each stretch and multiplied by factor at each boundary', () => {
    expect([0, 6, 7, 13, 14, 21].map((t) => schedule(t))).toEqual([0.2, 0.2, 0.1, 0.1, 0.05, 0.025]);
    expect(schedule(-3)).toBe(0.2);
    expect(schedule(Number.POSITIVE_INFINITY)).toBe(0);
  });

  it('defaults to factor 0.1; factor 1 is a constant rate', () => {
    const decay = stepDecay({ initial: 1, every: 3 });
    expect(decay.description.config.factor).toBe(0.1);
    expectClose(decay(6), 0.01);
    const constant = stepDecay({ initial: 0.3, factor: 1, every: 1 });
    for (const t of STEPS) expect(constant(t)).toBe(0.3);
    expect(constant(Number.POSITIVE_INFINITY)).toBe(0.3);
    expect(constant.range).toEqual({ min: 0.3, max: 0.3 });
    expect(schedule.range).toEqual({ min: 0, max: 0.2 });
  });
});

describe('linearDecay', () => {
  const schedule = linearDecay({ initial: 0.5, final: 0.02, totalSteps: 100 });
  const formula = (t: number): number => (t >= 100 ? 0.02 : 0.5 - (0.48 * t) / 100);

  it.each(STEPS)('step %d follows the formula', (t) => expectClose(schedule(t), formula(t)));

  it('ends: initial before and at 0, final at totalSteps and after', () => {
    expect(schedule(-1)).toBe(0.5);
    expect(schedule(0)).toBe(0.5);
    expect(schedule(100)).toBe(0.02);
    expect(schedule(Number.POSITIVE_INFINITY)).toBe(0.02);
    expect(schedule.range).toEqual({ min: 0.02, max: 0.5 });
  });

  it('defaults final to 0; a larger final is a linear increase', () => {
    const toZero = linearDecay({ initial: 1, totalSteps: 4 });
    expect([0, 1, 2, 3, 4, 5].map((t) => toZero(t))).toEqual([1, 0.75, 0.5, 0.25, 0, 0]);
    const up = linearDecay({ initial: 0.1, final: 0.3, totalSteps: 2 });
    expectClose(up(1), 0.2);
    expect(up.range).toEqual({ min: 0.1, max: 0.3 });
  });
});

describe('a step that is not a number', () => {
  it.each([
    ['cosineWithWarmup', cosineWithWarmup({ peak: 1, totalSteps: 2 })],
    ['stepDecay', stepDecay({ initial: 1, every: 2 })],
    ['linearDecay', linearDecay({ initial: 1, totalSteps: 2 })],
  ] as const)('%s refuses NaN and non-numbers with a FlatminError', (name, schedule) => {
    for (const bad of [Number.NaN, '3', undefined, null]) {
      expect(() => schedule(bad as number)).toThrow(expect.objectContaining({ name: 'FlatminError', message: expect.stringContaining(name) }));
    }
  });
});

describe('descriptions', () => {
  const schedules = [
    cosineWithWarmup({ peak: 0.1, warmupSteps: 5, totalSteps: 40, floor: 0.001 }),
    stepDecay({ initial: 0.1, factor: 0.2, every: 9 }),
    linearDecay({ initial: 0.1, final: 0.05, totalSteps: 30 }),
  ];

  it.each(schedules.map((s) => [s.description.name, s] as const))('%s: JSON round trip rebuilds the same rates', (_name, schedule) => {
    const json = JSON.parse(JSON.stringify(schedule.description));
    expect(json).toEqual(schedule.description);
    const rebuilt = scheduleFromDescription(json);
    expect(rebuilt.description).toEqual(schedule.description);
    for (const t of STEPS) expect(rebuilt(t)).toBe(schedule(t));
  });

  it('a schedule and its description are frozen', () => {
    const schedule = schedules[0]!;
    expect(Object.isFrozen(schedule)).toBe(true);
    expect(Object.isFrozen(schedule.description.config)).toBe(true);
    expect(() => {
      (schedule.description.config as { peak: number }).peak = 5;
    }).toThrow();
  });
});
