// A float64 reference of SWAD's window written from the rules (METHODS.md + the official
// LossValley's retroactive start), by brute force over the whole loss curve — independent of
// src/valley.ts's incremental bookkeeping.
import type * as tf from '@tensorflow/tfjs-core';

export interface Settings {
  nConverge: number;
  nTolerance: number;
  toleranceRatio: number;
}

/**
 * losses[k-1] = L_k, at[k-1] = e_k (update count of evaluation k). Returns the window and the
 * updates apply() averages at the end of the curve (`last`: the flushed end while open).
 */
export function referenceWindow(losses: number[], at: number[], s: Settings): { start: number | null; end: number | null; averagedTo: number | null } {
  const L = (k: number) => losses[k - 1]!;
  const e = (k: number) => (k === 0 ? 0 : at[k - 1]!);
  const K = losses.length;
  for (let k = s.nConverge; k <= K; k += 1) {
    const c = k - s.nConverge + 1;
    const window = losses.slice(c - 1, k);
    if (Math.min(...window) !== L(c) || window.indexOf(Math.min(...window)) !== 0) continue;
    const T = L(c) + s.toleranceRatio * Math.abs(L(c));
    const D = Math.max(0, s.nTolerance - s.nConverge);
    let first = c;
    for (let j = c - 1; j >= Math.max(1, c - D) && L(j) <= T; j -= 1) first = j;
    const start = e(first) + 1;
    for (let m = k + 1; m <= K; m += 1) {
      const oldest = m - s.nTolerance + 1;
      if (oldest < c) continue;
      if (losses.slice(oldest - 1, m).every((l) => l > T)) return { start, end: e(m - s.nTolerance), averagedTo: e(m - s.nTolerance) };
    }
    let lastLow = c;
    for (let m = c; m <= K; m += 1) if (L(m) <= T) lastLow = m;
    return { start, end: null, averagedTo: e(lastLow) };
  }
  return { start: null, end: null, averagedTo: null };
}

/** The float64 mean of trajectory[from-1 .. to-1] (updates counted from 1). */
export function mean64(trajectory: number[][], from: number, to: number): number[] {
  const rows = trajectory.slice(from - 1, to);
  return rows[0]!.map((_, i) => rows.reduce((sum, r) => sum + r[i]!, 0) / rows.length);
}

/** The values of a variable as float64 numbers (read in the test only). */
export const read = (v: tf.Tensor): number[] => Array.from(v.dataSync());

/** Max |a − b| / max(1, |b|). */
export function relativeError(a: readonly number[], b: readonly number[]): number {
  return a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i]!) / Math.max(1, Math.abs(b[i]!))), 0);
}
