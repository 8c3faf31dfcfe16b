// The one-buffer standard-normal generator: reproducible from its seed, and N(0, 1) by its moments,
// its tail probabilities (against the normal CDF in float64) and no serial correlation.
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { fillNormal, normalDraws } from '../src/index.js';

const N = 400_000;

/** P(|Z| > x) for Z ~ N(0, 1): erfc(x/√2), from the continued fraction-free series of erf (float64). */
function twoSidedTail(x: number): number {
  // erf by its Maclaurin series (converges fast for x/√2 ≤ 3).
  const y = x / Math.SQRT2;
  let term = y;
  let sum = y;
  for (let n = 1; n < 200; n += 1) {
    term *= (-y * y) / n;
    sum += term / (2 * n + 1);
  }
  return 1 - (2 / Math.sqrt(Math.PI)) * sum;
}

describe('fillNormal', () => {
  const z = new Float32Array(N);
  fillNormal(z, 12345);

  it('the same seed gives the same values, another seed others; seeds are taken modulo 2³²', () => {
    const again = new Float32Array(1000);
    fillNormal(again, 12345);
    expect(Array.from(again)).toEqual(Array.from(z.subarray(0, 1000)));
    // A prefix across the generator's blocks of 16,384 draws (their rare draws finished per block).
    const longer = new Float32Array(40_000);
    fillNormal(longer, 12345);
    expect(Array.from(longer)).toEqual(Array.from(z.subarray(0, 40_000)));
    const other = new Float32Array(1000);
    fillNormal(other, 12346);
    expect(other.filter((v, i) => v === z[i]).length).toBeLessThan(5);
    const wrapped = new Float32Array(1000);
    fillNormal(wrapped, 12345 + 2 ** 32);
    expect(Array.from(wrapped)).toEqual(Array.from(again));
  });

  it('mean 0, variance 1, skewness 0 and kurtosis 3, within 5 standard errors', () => {
    let m1 = 0;
    let m2 = 0;
    let m3 = 0;
    let m4 = 0;
    for (const x of z) {
      m1 += x;
      m2 += x * x;
      m3 += x ** 3;
      m4 += x ** 4;
    }
    [m1, m2, m3, m4] = [m1 / N, m2 / N, m3 / N, m4 / N];
    // Standard errors of the sample moments of N(0, 1): √(1/N), √(2/N), √(15/N), √(96/N).
    expect(Math.abs(m1)).toBeLessThan(5 * Math.sqrt(1 / N));
    expect(Math.abs(m2 - 1)).toBeLessThan(5 * Math.sqrt(2 / N));
    expect(Math.abs(m3)).toBeLessThan(5 * Math.sqrt(15 / N));
    expect(Math.abs(m4 - 3)).toBeLessThan(5 * Math.sqrt(96 / N));
  });

  it.each([0.2152, 0.5, 1, 2, 3, 3.654, 4])('P(|z| > %s) matches the normal tail within 5 binomial standard errors (the top layer at 0.2152, the base strip at 3.654)', (x) => {
    const p = twoSidedTail(x);
    const observed = z.filter((v) => Math.abs(v) > x).length / N;
    expect(Math.abs(observed - p)).toBeLessThan(5 * Math.sqrt((p * (1 - p)) / N) + 1e-6);
  });

  it('no lag-1 correlation, and the sign is independent of the magnitude', () => {
    let lag = 0;
    for (let i = 1; i < N; i += 1) lag += z[i]! * z[i - 1]!;
    expect(Math.abs(lag / (N - 1))).toBeLessThan(5 / Math.sqrt(N));
    const large = Array.from(z).filter((v) => Math.abs(v) > 1.5);
    const positive = large.filter((v) => v > 0).length / large.length;
    expect(Math.abs(positive - 0.5)).toBeLessThan(5 * Math.sqrt(0.25 / large.length));
  });
});

describe('normalDraws', () => {
  it('one buffer for every shape, in order: the tensors are consecutive pieces of fillNormal(seed)', () => {
    const shapes = [[3, 4], [5], [], [2, 1, 3]];
    const tensors = normalDraws(9, shapes);
    const whole = new Float32Array(12 + 5 + 1 + 6);
    fillNormal(whole, 9);
    expect(tensors.map((t) => t.shape)).toEqual(shapes);
    expect(tensors.flatMap((t) => Array.from(t.dataSync()))).toEqual(Array.from(whole));
    expect(tensors.every((t) => t.dtype === 'float32')).toBe(true);
    tf.dispose(tensors);
  });
});
