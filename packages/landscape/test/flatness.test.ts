import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { flatness, sharpness } from '../src/index.js';
import { bytesOf, expectBitIdentical, expectClose, expectNoGrowth, matrixWithSpectrum, quadratic64, quadraticGrad64, quadraticLoss, variable } from './helpers.js';

/** c (w − 1)² + k (w − 1)³ of a one-element variable. */
const oneD = (w: tf.Variable, c: number, k = 0) => () =>
  tf.tidy(() => {
    const d = tf.sub(w, 1);
    return tf.sum(tf.add(tf.mul(c, tf.square(d)), tf.mul(k, tf.pow(d, 3)))) as tf.Scalar;
  });

describe('flatness: average and worst case over filter-normalized directions', () => {
  // At w = 1 a one-element variable is one filter of norm 1: V = ±1, so every increase is
  // L(1 ± s) − L(1) = c s² (± k s³), whatever the draw.
  it('orders a sharp and a flat 1-D minimum, with φ_avg = φ_worst = c s² exactly', async () => {
    const radius = 0.05;
    const w = variable([1]);
    const before = bytesOf([w]);
    const sharp = await flatness(oneD(w, 50), [w], { radius, samples: 6, seed: 1 });
    const flat = await flatness(oneD(w, 0.5), [w], { radius, samples: 6, seed: 1 });
    expect(sharp.average).toBeGreaterThan(flat.average);
    expect(sharp.worst).toBeGreaterThan(flat.worst);
    expectClose(sharp.average, 50 * radius ** 2, 1e-4);
    expectClose(flat.worst, 0.5 * radius ** 2, 1e-4);
    expect(sharp.base).toBe(0);
    expectBitIdentical([w], before);
  });

  it('worst is the largest and average the mean of the same draws (a cubic: s² ± s³ by the draw\'s sign)', async () => {
    const radius = 0.2;
    const w = variable([1]);
    const result = await flatness(oneD(w, 1, 1), [w], { radius, samples: 12, seed: 3 });
    const up = radius ** 2 + radius ** 3;
    const down = radius ** 2 - radius ** 3;
    for (const increase of result.increases) expect(Math.min(Math.abs(increase - up), Math.abs(increase - down))).toBeLessThan(1e-5);
    expect(new Set(result.increases.map((x) => x > radius ** 2)).size).toBe(2); // both signs drawn
    expect(result.worst).toBe(Math.max(...result.increases));
    expectClose(result.average, result.increases.reduce((a, b) => a + b, 0) / 12, 1e-12);
    expectClose(result.worst, up, 1e-4);
  });

  it("scales with the weights' filter norms: at w = 2 the step is 2s", async () => {
    const w = variable([2]);
    const loss = () => tf.sum(tf.square(tf.sub(w, 2))) as tf.Scalar;
    expectClose((await flatness(loss, [w], { radius: 0.1, samples: 3 })).average, (2 * 0.1) ** 2, 1e-4);
    // biases: 'zero' (the official code's --xignore biasbn): a rank-1 variable is not moved at all.
    expect((await flatness(loss, [w], { radius: 0.1, samples: 3, biases: 'zero' })).worst).toBe(0);
  });

  it('same seed → same result; a different seed → different draws; JSON round trip', async () => {
    const w = variable([0.5, -1, 2, 0.3], [2, 2]);
    const loss = () => tf.sum(tf.pow(w, 4)) as tf.Scalar;
    const a = await flatness(loss, [w], { seed: 5, samples: 4 });
    expect(await flatness(loss, [w], { seed: 5, samples: 4 })).toEqual(a);
    expect((await flatness(loss, [w], { seed: 6, samples: 4 })).increases).not.toEqual(a.increases);
    expect(JSON.parse(JSON.stringify(a))).toEqual(a);
  });

  it('reports progress and leaks nothing', async () => {
    const w = variable([0.5, -1, 2, 0.3], [2, 2]);
    const loss = () => tf.sum(tf.square(w)) as tf.Scalar;
    const seen: [number, number][] = [];
    await flatness(loss, [w], { samples: 3, onProgress: (done, total) => seen.push([done, total]) });
    expect(seen).toEqual([
      [1, 4],
      [2, 4],
      [3, 4],
      [4, 4],
    ]);
    await expectNoGrowth(() => flatness(loss, [w], { samples: 3 }));
  });
});

describe('sharpness: projected ascent in the ρ-ball', () => {
  const A = matrixWithSpectrum([5, 3, 2, 1, 0.5, 0.25], 7);
  const B = [0.3, -0.2, 0.1, 0.5, -0.4, 0.2];
  const W0 = [0.5, -1, 0.25, 2, 1, -0.5];

  it("one step from ε = 0 is SAM's: L(w + ρ g/‖g‖) − L(w), against float64", async () => {
    const rho = 0.1;
    const w = variable(W0);
    const before = bytesOf([w]);
    const g = quadraticGrad64(A, B, W0);
    const norm = Math.hypot(...g);
    const expected = quadratic64(A, B, W0.map((x, i) => x + (rho * g[i]!) / norm)) - quadratic64(A, B, W0);
    const result = await sharpness(quadraticLoss(A, B, w), [w], { rho, steps: 1 });
    expectClose(result.sharpness, expected, 1e-5);
    expect(result.losses).toHaveLength(2);
    expectBitIdentical([w], before);
    // More steps never report less (the iterates of one step are among those of five).
    expect((await sharpness(quadraticLoss(A, B, w), [w], { rho, steps: 5 })).sharpness).toBeGreaterThanOrEqual(result.sharpness);
  });

  it('at the minimum of ½wᵀAw, a random start and many steps find ½ρ²λ_max; from ε = 0 the gradient is 0 and so is the sharpness', async () => {
    const rho = 0.2;
    const w = variable([0, 0, 0, 0, 0, 0]);
    const loss = quadraticLoss(A, [0, 0, 0, 0, 0, 0], w);
    const found = await sharpness(loss, [w], { rho, steps: 100, init: 'random', seed: 2 });
    expectClose(found.sharpness, 0.5 * rho * rho * 5, 1e-4);
    expect((await sharpness(loss, [w], { rho, steps: 3 })).sharpness).toBe(0);
  });

  it("adaptive, one step: ASAM's ε = ρ T² g/‖T g‖ with T = |w| + η on the kernel and 1 on the bias (element and filter T), against float64", async () => {
    const kernel = [0.5, -1, 0.25, 2, 1, -0.5]; // [2, 3], row-major
    const bias = [0.2, -0.1, 0.4];
    const rho = 0.5;
    const eta = 0.01;
    const loss64 = (k: number[], b: number[]) => quadratic64(A, B, k) + b.reduce((s, x, i) => s + (i + 1) * (x - 1) ** 2, 0);
    const gk = quadraticGrad64(A, B, kernel);
    const gb = bias.map((x, i) => 2 * (i + 1) * (x - 1));
    for (const granularity of ['element', 'filter'] as const) {
      const filterNorm = (j: number) => Math.hypot(kernel[j]!, kernel[3 + j]!);
      const tk = kernel.map((x, i) => (granularity === 'element' ? Math.abs(x) : filterNorm(i % 3)) + eta);
      const norm = Math.hypot(...gk.map((g, i) => tk[i]! * g), ...gb);
      const expected = loss64(
        kernel.map((x, i) => x + (rho * tk[i]! ** 2 * gk[i]!) / norm),
        bias.map((x, i) => x + (rho * gb[i]!) / norm),
      ) - loss64(kernel, bias);
      const k = variable(kernel, [2, 3]);
      const b = variable(bias);
      const loss = () =>
        tf.tidy(() => {
          const column = tf.reshape(k, [-1, 1]);
          const quad = tf.add(tf.mul(0.5, tf.sum(tf.mul(column, tf.matMul(tf.tensor2d(A), column)))), tf.sum(tf.mul(tf.tensor1d(B), tf.reshape(k, [-1]))));
          return tf.add(quad, tf.sum(tf.mul(tf.tensor1d([1, 2, 3]), tf.square(tf.sub(b, 1))))) as tf.Scalar;
        });
      const result = await sharpness(loss, [k, b], { adaptive: true, steps: 1, eta, granularity });
      expect(result.rho).toBe(0.5); // ASAM's default radius
      expectClose(result.sharpness, expected, 1e-5);
    }
  });

  it('same seed → same random start; leaks nothing', async () => {
    const w = variable([0, 0, 0, 0, 0, 0]);
    const loss = quadraticLoss(A, B, w);
    const run = (seed: number) => sharpness(loss, [w], { steps: 2, init: 'random', seed });
    expect(await run(1)).toEqual(await run(1));
    expect((await run(1)).losses).not.toEqual((await run(2)).losses);
    await expectNoGrowth(() => sharpness(loss, [w], { steps: 3 }));
    await expectNoGrowth(() => sharpness(loss, [w], { steps: 2, adaptive: true, init: 'random' }));
  });
});
