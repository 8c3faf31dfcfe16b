// Float64 references written from the formulas (independent of src/).
import { expect } from 'vitest';

/** The 1-based update indices SWA averages in `steps` updates: start + every, start + 2·every, … */
export function averagedIndices(steps: number, start: number, every: number): number[] {
  const out: number[] = [];
  for (let k = start + every; k <= steps; k += every) out.push(k);
  return out;
}

/** The float64 mean of the vectors `trajectory[k − 1]` for k in `indices`. */
export function mean64(trajectory: readonly (readonly number[])[], indices: readonly number[]): number[] {
  const picked = indices.map((k) => trajectory[k - 1]!);
  return picked[0]!.map((_, j) => picked.reduce((s, w) => s + w[j]!, 0) / picked.length);
}

/** max |a − b| / max(1, |b|). */
export function maxRelative(actual: readonly number[], expected: readonly number[]): number {
  expect(actual.length).toBe(expected.length);
  return actual.reduce((m, v, i) => Math.max(m, Math.abs(v - expected[i]!) / Math.max(1, Math.abs(expected[i]!))), 0);
}

/** x·W + b in float64 for rows x. */
export function dense64(x: readonly (readonly number[])[], kernel: readonly (readonly number[])[], bias: readonly number[]): number[][] {
  return x.map((row) => bias.map((b, j) => row.reduce((s, xi, i) => s + xi * kernel[i]![j]!, b)));
}

/** Per-column batch mean and biased variance (divided by N), float64: what tfjs' BatchNormalization uses in training. */
export function moments64(rows: readonly (readonly number[])[]): { mean: number[]; variance: number[] } {
  const n = rows.length;
  const mean = rows[0]!.map((_, j) => rows.reduce((s, r) => s + r[j]!, 0) / n);
  const variance = mean.map((m, j) => rows.reduce((s, r) => s + (r[j]! - m) ** 2, 0) / n);
  return { mean, variance };
}
