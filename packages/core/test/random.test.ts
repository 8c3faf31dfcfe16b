// The seeded random source's uniform tensors: reproducible from the generator state (and they advance
// it by one seed), in [min, max) without ever reaching max, U(0, 1) by their moments and a
// goodness-of-fit count against the uniform CDF, no lag-1 correlation, exact float32 multiples of 2⁻²⁴.
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { SeededRandom } from '../src/kit.js';

const N = 200_000;

describe('SeededRandom.uniformTensor', () => {
  const random = new SeededRandom(12345);
  const t = random.uniformTensor([N]);
  const u = Array.from(t.dataSync());
  t.dispose();

  it('the same state gives the same values; each call takes one seed; another seed gives others', () => {
    const a = new SeededRandom(7);
    const b = new SeededRandom(7);
    const x = a.uniformTensor([2, 50]);
    const y = b.uniformTensor([2, 50]);
    expect(x.shape).toEqual([2, 50]);
    expect(Array.from(x.dataSync())).toEqual(Array.from(y.dataSync()));
    // One seed per call: both generators stay in step with one that only drew a seed.
    const c = new SeededRandom(7);
    c.nextSeed();
    expect(a.getState()).toEqual(c.getState());
    const z = new SeededRandom(8).uniformTensor([100]);
    expect(Array.from(z.dataSync()).filter((v, i) => v === x.dataSync()[i]).length).toBeLessThan(3);
    tf.dispose([x, y, z]);
  });

  it('values in [0, 1), multiples of 2⁻²⁴; mean 1/2 and variance 1/12 within 5 standard errors', () => {
    let m1 = 0;
    let m2 = 0;
    for (const v of u) {
      expect(v >= 0 && v < 1).toBe(true);
      expect(Number.isInteger(v * 2 ** 24)).toBe(true);
      m1 += v;
      m2 += (v - 0.5) ** 2;
    }
    expect(Math.abs(m1 / N - 0.5)).toBeLessThan(5 * Math.sqrt(1 / 12 / N));
    // Var of (u − 1/2)² for U(0, 1): 1/80 − 1/144.
    expect(Math.abs(m2 / N - 1 / 12)).toBeLessThan(5 * Math.sqrt((1 / 80 - 1 / 144) / N));
  });

  it('20 equal bins: a χ² below the 99.9 % point of 19 degrees of freedom (43.8); no lag-1 correlation', () => {
    const bins = new Array<number>(20).fill(0);
    for (const v of u) bins[Math.floor(v * 20)]! += 1;
    const expected = N / 20;
    const chi2 = bins.reduce((s, n) => s + (n - expected) ** 2 / expected, 0);
    expect(chi2).toBeLessThan(43.8);
    let lag = 0;
    for (let i = 1; i < N; i += 1) lag += (u[i]! - 0.5) * (u[i - 1]! - 0.5);
    expect(Math.abs(lag / (N - 1) / (1 / 12))).toBeLessThan(5 / Math.sqrt(N));
  });

  it('[min, max): scaled into the interval, and max is never reached (even where float32 rounding would reach it)', () => {
    const r = new SeededRandom(3);
    const scaled = Array.from(r.uniformTensor([10_000], -2, 6).dataSync());
    expect(Math.min(...scaled)).toBeGreaterThanOrEqual(-2);
    expect(Math.max(...scaled)).toBeLessThan(6);
    expect(Math.max(...scaled)).toBeGreaterThan(5.9);
    // A width of one float32 ulp near 1: every draw rounds to 1 − ulp or 1; 1 is excluded.
    const narrow = Array.from(r.uniformTensor([1000], 1 - 2 ** -24, 1).dataSync());
    expect(narrow.every((v) => v === 1 - 2 ** -24)).toBe(true);
    const atZero = Array.from(r.uniformTensor([100], -1e-30, 0).dataSync());
    expect(atZero.every((v) => v < 0)).toBe(true);
  });
});
