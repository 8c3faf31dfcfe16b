// The test functions: the tfjs version, the float64 version and the analytic gradient agree;
// the named minima are minima with the stated sharpness; the sharpness and basin helpers.
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { beale, FUNCTIONS, functionById, seed, seedPolynomial, type TestFunction, twoMinima } from '../src/functions.js';
import { basinOf, eigenvalues2, hessian, sharpnessAt } from '../src/sharpness.js';

function points(fn: TestFunction): [number, number][] {
  const [x0, x1, y0, y1] = fn.domain;
  const out: [number, number][] = [];
  for (const a of [0.1, 0.37, 0.5, 0.81]) for (const b of [0.15, 0.44, 0.9]) out.push([x0 + a * (x1 - x0), y0 + b * (y1 - y0)]);
  return [...out, ...fn.minima.map((m) => [...m.at] as [number, number]), [...fn.start] as [number, number]];
}

describe.each(FUNCTIONS.map((fn) => [fn.id, fn] as const))('%s', (_, fn) => {
  it('the tfjs version equals the float64 one (float32 rounding)', () => {
    for (const [x, y] of points(fn)) {
      const value = tf.tidy(() => fn.tensor(tf.tensor2d([[x, y]])).dataSync()[0]!);
      const exact = fn.value(x, y);
      expect(Math.abs(value - exact), `${fn.id} at (${x}, ${y})`).toBeLessThanOrEqual(1e-5 * Math.max(1, Math.abs(exact)));
    }
  });

  it('the analytic gradient equals central differences of f, and tf.grad of the tfjs version', () => {
    const h = 1e-6;
    for (const [x, y] of points(fn)) {
      const [gx, gy] = fn.gradient(x, y);
      const scale = Math.max(1, Math.abs(gx), Math.abs(gy));
      expect(Math.abs(gx - (fn.value(x + h, y) - fn.value(x - h, y)) / (2 * h))).toBeLessThan(1e-5 * scale);
      expect(Math.abs(gy - (fn.value(x, y + h) - fn.value(x, y - h)) / (2 * h))).toBeLessThan(1e-5 * scale);
      const g = tf.tidy(() => Array.from(tf.grad((w: tf.Tensor) => fn.tensor(w))(tf.tensor2d([[x, y]])).dataSync()));
      expect(Math.abs(g[0]! - gx)).toBeLessThan(1e-4 * scale);
      expect(Math.abs(g[1]! - gy)).toBeLessThan(1e-4 * scale);
    }
  });

  it('every named minimum is a stationary point with a positive definite Hessian, in its own basin', () => {
    for (const m of fn.minima) {
      const [gx, gy] = fn.gradient(...m.at);
      expect(Math.hypot(gx, gy), m.label).toBeLessThan(1e-2 * Math.max(1, sharpnessAt(fn, m.at)));
      expect(eigenvalues2(hessian(fn, m.at))[1], m.label).toBeGreaterThan(0);
      expect(basinOf(fn, m.at)).toBe(m.label);
    }
  });

  it('the default learning rate is stable at every minimum (lr · λmax < 2)', () => {
    for (const m of fn.minima) expect(fn.learningRate * sharpnessAt(fn, m.at)).toBeLessThan(2);
  });
});

describe('the functions', () => {
  it('two minima: the sharp one is deeper and ~30 times sharper than the flat one', () => {
    const [flat, sharp] = twoMinima.minima.map((m) => m.at);
    expect(twoMinima.value(...sharp!)).toBeLessThan(twoMinima.value(...flat!) - 0.15);
    // Flat: the Hessian of ¼(x − 1)² + ¾y² is diag(0.5, 1.5) exactly (the pit's term is ~e⁻⁵⁰ there).
    expect(sharpnessAt(twoMinima, flat!)).toBeCloseTo(1.5, 6);
    expect(sharpnessAt(twoMinima, sharp!)).toBeGreaterThan(40);
  });

  it("Beale's minimum is f(3, 0.5) = 0", () => {
    expect(beale.value(3, 0.5)).toBe(0);
    expect(Math.hypot(...beale.gradient(3, 0.5))).toBe(0);
  });

  it("the seed's p(x) = x⁶ + x⁵ + 5x³ − 30x² + 3x, minima at −2.2404 and 1.4008", () => {
    expect(seedPolynomial(1)).toBe(1 + 1 + 5 - 30 + 3);
    expect(seedPolynomial(-2)).toBe(64 - 32 - 40 - 120 - 6);
    expect(seed.value(1, -2)).toBe(seedPolynomial(1) + seedPolynomial(-2));
    // p''(x) = 30x⁴ + 20x³ + 30x − 60
    const p2 = (x: number) => 30 * x ** 4 + 20 * x ** 3 + 30 * x - 60;
    expect(sharpnessAt(seed, [-2.2404, -2.2404])).toBeCloseTo(p2(-2.2404), 2);
    expect(sharpnessAt(seed, [1.4008, 1.4008])).toBeCloseTo(p2(1.4008), 2);
  });

  it('eigenvalues of a symmetric 2×2 matrix in closed form', () => {
    expect(eigenvalues2([[2, 0], [0, 5]])).toEqual([5, 2]);
    const [a, b] = eigenvalues2([[2, 1], [1, 2]]);
    expect(a).toBeCloseTo(3, 12);
    expect(b).toBeCloseTo(1, 12);
  });

  it('basinOf: a point between the minima goes where gradient descent goes; far away is none', () => {
    expect(basinOf(twoMinima, [0.5, 0])).toBe('flat');
    expect(basinOf(twoMinima, [-0.45, 0.62])).toBe('sharp');
    expect(() => functionById('nosuch')).toThrow(/nosuch/);
  });
});
