import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { lineLandscape, surfaceLandscape } from '../src/index.js';
import { bytesOf, expectBitIdentical, expectClose, expectNoGrowth, variable } from './helpers.js';

// A known function of two variables: a kernel K [3, 2] (two filters of three elements) and a bias b [2].
// L = Σ c_ij K_ij² + Σ K_ij⁴/4 + Σ (b − 1)² — not quadratic, so a wrong step shows.
const K0 = [0.5, -1, 0.25, 2, 1, -0.5];
const B0 = [0.2, -0.4];
const C = [1, 2, 0.5, 3, 1.5, 0.25];
const loss64 = (k: readonly number[], b: readonly number[]) => k.reduce((s, x, i) => s + C[i]! * x * x + x ** 4 / 4, 0) + b.reduce((s, x) => s + (x - 1) ** 2, 0);

function problem() {
  const k = variable(K0, [3, 2]);
  const b = variable(B0);
  const c = tf.tensor2d(C, [3, 2]);
  const loss = () => tf.tidy(() => tf.add(tf.sum(tf.add(tf.mul(c, tf.square(k)), tf.div(tf.pow(k, 4), 4))), tf.sum(tf.square(tf.sub(b, 1))))) as tf.Scalar;
  return { k, b, loss };
}

/** ‖filter j‖ of a flat row-major [rows, cols] array (filter = column, the last axis). */
const columnNorm = (flat: readonly number[], cols: number, j: number) => Math.hypot(...flat.filter((_, i) => i % cols === j));
const dot = (a: readonly number[], b: readonly number[]) => a.reduce((s, x, i) => s + x * b[i]!, 0);

describe('lineLandscape', () => {
  it('along a given direction (normalization none): L(w + sV) on the grid, against float64', async () => {
    const { k, b, loss } = problem();
    const before = bytesOf([k, b]);
    const vk = [1, 0, -1, 0.5, 0.5, 2];
    const vb = [0.3, -0.3];
    const line = await lineLandscape(loss, [k, b], { direction: [tf.tensor2d(vk, [3, 2]), tf.tensor1d(vb)], normalization: 'none', steps: 9, range: [-0.5, 0.5] });
    expect(line.s).toEqual([-0.5, -0.375, -0.25, -0.125, 0, 0.125, 0.25, 0.375, 0.5]);
    for (const [i, s] of line.s.entries()) expectClose(line.loss[i]!, loss64(K0.map((x, j) => x + s * vk[j]!), B0.map((x, j) => x + s * vb[j]!)), 1e-5);
    expectClose(line.base, loss64(K0, B0), 1e-6);
    expect(line.direction).toBe('given');
    expectBitIdentical([k, b], before);
  });

  it("a random direction is filter-normalized (every column of V has its column's norm of w; the bias is one filter) and the losses match it", async () => {
    const { k, b, loss } = problem();
    const line = await lineLandscape(loss, [k, b], { seed: 3, steps: 5, keepDirection: true });
    const [vk, vb] = line.vector!;
    for (const j of [0, 1]) expectClose(columnNorm(vk!, 2, j), columnNorm(K0, 2, j), 1e-5);
    expectClose(Math.hypot(...vb!), Math.hypot(...B0), 1e-5);
    for (const [i, s] of line.s.entries()) expectClose(line.loss[i]!, loss64(K0.map((x, j) => x + s * vk![j]!), B0.map((x, j) => x + s * vb![j]!)), 1e-5);
    // 'layer': the whole kernel's norm; 'zero' biases: the bias does not move.
    const layer = await lineLandscape(loss, [k, b], { seed: 3, steps: 2, normalization: 'layer', biases: 'zero', keepDirection: true });
    expectClose(Math.hypot(...layer.vector![0]!), Math.hypot(...K0), 1e-5);
    expect(layer.vector![1]).toEqual([0, 0]);
  });

  it('interpolates between two solutions: s = 0 is w₁, s = 1 is w₂ (range [−0.5, 1.5] by default)', async () => {
    const { k, b, loss } = problem();
    const k2 = [1, 1, 0, 0, -1, 0.5];
    const b2 = [1, 1];
    const line = await lineLandscape(loss, [k, b], { to: [tf.tensor2d(k2, [3, 2]), tf.tensor1d(b2)], steps: 9 });
    expect(line.s[0]).toBe(-0.5);
    expect(line.s[8]).toBe(1.5);
    expect(line.direction).toBe('interpolation');
    for (const [i, s] of line.s.entries()) expectClose(line.loss[i]!, loss64(K0.map((x, j) => x + s * (k2[j]! - x)), B0.map((x, j) => x + s * (b2[j]! - x))), 1e-5);
    expectClose(line.loss[2]!, loss64(K0, B0), 1e-6);
    expectClose(line.loss[6]!, loss64(k2, b2), 1e-5);
  });

  it('same seed → the same line; another seed → another; plain JSON', async () => {
    const { k, b, loss } = problem();
    const one = await lineLandscape(loss, [k, b], { seed: 1, steps: 7 });
    expect(await lineLandscape(loss, [k, b], { seed: 1, steps: 7 })).toEqual(one);
    expect((await lineLandscape(loss, [k, b], { seed: 2, steps: 7 })).loss).not.toEqual(one.loss);
    expect(JSON.parse(JSON.stringify(one))).toEqual(one);
  });
});

describe('surfaceLandscape', () => {
  it('matches the known function on the grid (float64, from the returned directions), with orthogonal filter-normalized directions', async () => {
    const { k, b, loss } = problem();
    const before = bytesOf([k, b]);
    const seen: number[] = [];
    const surface = await surfaceLandscape(loss, [k, b], { seed: 4, steps: 5, keepDirections: true, onProgress: (done, total) => seen.push(done / total) });
    const [[v1k, v1b], [v2k, v2b]] = surface.vectors!;
    // Orthogonal inside every filter, so globally; each filter keeps the weights' filter norm.
    for (const j of [0, 1]) {
      const col = (v: number[]) => v.filter((_, i) => i % 2 === j);
      expect(Math.abs(dot(col(v1k!), col(v2k!)))).toBeLessThan(1e-5);
      expectClose(columnNorm(v2k!, 2, j), columnNorm(K0, 2, j), 1e-5);
      expectClose(columnNorm(v1k!, 2, j), columnNorm(K0, 2, j), 1e-5);
    }
    expect(Math.abs(dot(v1b!, v2b!))).toBeLessThan(1e-5);
    expect(Math.abs(surface.cosine)).toBeLessThan(1e-5);
    expect(surface.loss).toHaveLength(5);
    for (const [j, bj] of surface.b.entries()) {
      for (const [i, ai] of surface.a.entries()) {
        const kk = K0.map((x, n) => x + ai * v1k![n]! + bj * v2k![n]!);
        const bb = B0.map((x, n) => x + ai * v1b![n]! + bj * v2b![n]!);
        expectClose(surface.loss[j]![i]!, loss64(kk, bb), 1e-5);
      }
    }
    expectClose(surface.loss[2]![2]!, surface.base, 1e-7);
    expect(seen).toHaveLength(26);
    expect(seen.at(-1)).toBe(1);
    expectBitIdentical([k, b], before);
  });

  it('given directions, unnormalized and not orthogonalized: exactly L(w + aV₁ + bV₂)', async () => {
    const { k, b, loss } = problem();
    const v1 = [1, 0, 0, 0, 0, 0];
    const v2 = [0, 1, 0, 0, 0, 0];
    const surface = await surfaceLandscape(loss, [k, b], {
      directions: [
        [tf.tensor2d(v1, [3, 2]), tf.zeros([2])],
        [tf.tensor2d(v2, [3, 2]), tf.ones([2])],
      ],
      normalization: 'none',
      orthogonalize: false,
      steps: 3,
      range: [-1, 1],
    });
    for (const [j, bj] of surface.b.entries()) for (const [i, ai] of surface.a.entries()) expectClose(surface.loss[j]![i]!, loss64(K0.map((x, n) => x + ai * v1[n]! + bj * v2[n]!), B0.map((x) => x + bj)), 1e-5);
  });

  it('same seed → the same surface; plain JSON; no tensor growth for lines and surfaces', async () => {
    const { k, b, loss } = problem();
    const one = await surfaceLandscape(loss, [k, b], { seed: 1, steps: 3 });
    expect(await surfaceLandscape(loss, [k, b], { seed: 1, steps: 3 })).toEqual(one);
    expect((await surfaceLandscape(loss, [k, b], { seed: 9, steps: 3 })).loss).not.toEqual(one.loss);
    expect(JSON.parse(JSON.stringify(one))).toEqual(one);
    await expectNoGrowth(() => surfaceLandscape(loss, [k, b], { steps: 3 }));
    await expectNoGrowth(() => lineLandscape(loss, [k, b], { steps: 4 }));
    const to = [tf.zeros([3, 2]), tf.zeros([2])];
    await expectNoGrowth(() => lineLandscape(loss, [k, b], { steps: 4, to }));
  });

  it('puts the weights back bit-identically when the loss throws in the middle of a grid', async () => {
    const { k, b, loss } = problem();
    const before = bytesOf([k, b]);
    let calls = 0;
    const failing = () => {
      calls += 1;
      if (calls === 4) throw new Error('boom');
      return loss();
    };
    await expect(surfaceLandscape(failing, [k, b], { steps: 3 })).rejects.toThrow('boom');
    expectBitIdentical([k, b], before);
  });
});
