// SWAD's window on synthetic validation-loss curves: t_s and t_e computed by hand (and by the
// brute-force reference), and the averaged weights against the float64 mean over the window.
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { swad } from '../src/index.js';
import { mean64, read, referenceWindow, relativeError, type Settings } from './helpers.js';

const DEFAULTS: Settings = { nConverge: 3, nTolerance: 6, toleranceRatio: 0.3 };

/** w_t for update t: deterministic, different at every update. */
const weightsAt = (t: number): number[] => [Math.sin(t), 0.1 * t, Math.cos(0.3 * t) - 2];

/** Run a standalone SWAD on one variable: `every` updates between evaluations, then `extra` updates. */
function run(losses: number[], settings: Partial<Settings> = {}, every = 2, extra = 0) {
  const v = tf.variable(tf.tensor1d(weightsAt(0)), true, `curve${Math.random()}`);
  const averager = swad(settings);
  const handle = averager.attach([v]);
  const trajectory: number[][] = [];
  const at: number[] = [];
  const step = () => {
    v.assign(tf.tensor1d(weightsAt(trajectory.length + 1)));
    handle.update();
    trajectory.push(read(v));
  };
  for (const loss of losses) {
    for (let i = 0; i < every; i += 1) step();
    averager.observeValidation(loss);
    at.push(trajectory.length);
  }
  for (let i = 0; i < extra; i += 1) step();
  return { v, averager, handle, trajectory, at };
}

const curves: Array<{ name: string; losses: number[]; settings?: Partial<Settings>; window: { start: number | null; end: number | null } }> = [
  // c = 6 (L = 1.0 not beaten by 1.1, 1.05), T = 1.3; the look-back stops at L_5 = 1.5 > T, so
  // t_s = e_6 + 1 = 13; L_12..L_17 all > 1.3, so t_e = e_11 = 22.
  { name: 'converges, then the valley ends', losses: [5, 4, 3, 2, 1.5, 1.0, 1.1, 1.05, 1.2, 1.25, 1.2, 1.4, 1.5, 1.6, 1.7, 1.8, 1.9, 2.0], window: { start: 13, end: 22 } },
  // c = 5 (1.0; 1.05, 1.02), T = 1.3; look back D = 3 evaluations: L_4 = 1.1, L_3 = 1.2, L_2 = 1.25 ≤ T,
  // so the window starts after e_2: t_s = 5 (retroactive), and it never ends.
  { name: 'retroactive start over the whole look-back, never ends', losses: [3, 1.25, 1.2, 1.1, 1.0, 1.05, 1.02], window: { start: 5, end: null } },
  // Same, but L_2 = 1.5 > T stops the look-back at s = 3: t_s = e_3 + 1 = 7.
  { name: 'retroactive start stopped by a loss above the threshold', losses: [3, 1.5, 1.2, 1.1, 1.0, 1.05, 1.02], window: { start: 7, end: null } },
  // Many evaluations inside the valley (segments get confirmed), never ends: t_s = e_2 + 1 = 5.
  { name: 'never ends over many evaluations', losses: [3, 1.25, 1.2, 1.1, 1.0, 1.05, 1.02, 1.1, 1.2, 1.25, 1.29, 1.1, 1.0, 1.2], window: { start: 5, end: null } },
  // Strictly decreasing: never converges.
  { name: 'never converges', losses: [9, 8, 7, 6, 5, 4, 3, 2, 1], window: { start: null, end: null } },
  // nTolerance < nConverge: c = 2 (1; 1.2, 1.1), T = 1.3, no look-back: t_s = e_2 + 1 = 5; L_5 = 1.5 > T
  // for nTolerance = 1 evaluation: t_e = e_4 = 8.
  { name: 'nTolerance < nConverge', losses: [2, 1, 1.2, 1.1, 1.5, 1.0, 1.4], settings: { nTolerance: 1 }, window: { start: 5, end: 8 } },
  // nConverge = nTolerance = 1: converges at the first evaluation (t_s = e_1 + 1 = 3); L_2 = 2 > 1.3:
  // t_e = e_1 = 2 — an empty window; apply() falls back to the converging segment (updates 1..2).
  { name: 'an empty window (nConverge = nTolerance = 1)', losses: [1, 2, 0.5], settings: { nConverge: 1, nTolerance: 1 }, window: { start: 3, end: 2 } },
  // toleranceRatio 0: T = L_c = 1. c = 1, t_s = e_1 + 1 = 3 (nothing before to look back on);
  // L_4 = 1 ≤ T keeps it open, L_5..L_10 are all > 1: t_e = e_4 = 8.
  { name: 'toleranceRatio 0', losses: [1, 1.5, 1.2, 1, 1.1, 1.2, 1.3, 1.4, 1.5, 1.6], settings: { toleranceRatio: 0 }, window: { start: 3, end: 8 } },
];

describe('the window on synthetic validation-loss curves', () => {
  it.each(curves)('$name', ({ losses, settings, window }) => {
    const full = { ...DEFAULTS, ...settings };
    const { v, averager, handle, trajectory, at } = run(losses, settings, 2, 3);
    expect(averager.window()).toEqual(window);
    const reference = referenceWindow(losses, at, full);
    expect({ start: reference.start, end: reference.end }).toEqual(window);

    const before = read(v);
    handle.apply();
    const averaged = read(v);
    if (window.start === null) {
      // Not converged: the official code's last segment (the updates between the last two evaluations).
      expect(relativeError(averaged, mean64(trajectory, at.at(-2)! + 1, at.at(-1)!))).toBeLessThan(1e-6);
    } else if (window.end !== null && window.end < window.start) {
      expect(relativeError(averaged, mean64(trajectory, 1, at[0]!))).toBeLessThan(1e-6);
    } else {
      // The dense mean over [t_s, t_e] (open: up to the last evaluation with a loss ≤ T). The three
      // updates after the last evaluation are never in it.
      const to = reference.averagedTo!;
      expect(to).toBeLessThanOrEqual(at.at(-1)!);
      expect(relativeError(averaged, mean64(trajectory, window.start, to))).toBeLessThan(1e-6);
      // Not the mean over any neighbouring range (one update more or less at either end).
      for (const [a, b] of [[window.start - 1, to], [window.start + 1, to], [window.start, to - 1], [window.start, to + 1]] as const) {
        if (a >= 1 && b <= trajectory.length && a <= b) expect(relativeError(averaged, mean64(trajectory, a, b))).toBeGreaterThan(1e-4);
      }
    }
    handle.restore();
    expect(read(v)).toEqual(before);
    handle.dispose();
    v.dispose();
  });

  it('updates after the window ended are not averaged, and later evaluations change nothing', () => {
    const losses = curves[0]!.losses;
    const { v, averager, handle, trajectory } = run([...losses, 0.1, 0.1, 0.1, 0.1], {}, 2, 5);
    expect(averager.window()).toEqual({ start: 13, end: 22 });
    handle.apply();
    expect(relativeError(read(v), mean64(trajectory, 13, 22))).toBeLessThan(1e-6);
    handle.restore();
    handle.dispose();
    v.dispose();
  });

  it('window() and apply() see an evaluation before the next update', () => {
    const { v, averager, handle, trajectory } = run([5, 4, 3, 2, 1.5, 1.0, 1.1], {}, 2);
    expect(averager.window()).toEqual({ start: null, end: null });
    averager.observeValidation(1.05); // c = 6 → t_s = 13, no update since
    expect(averager.window()).toEqual({ start: 13, end: null });
    handle.apply();
    expect(relativeError(read(v), mean64(trajectory, 13, 16))).toBeLessThan(1e-6);
    handle.restore();
    handle.dispose();
    v.dispose();
  });
});
