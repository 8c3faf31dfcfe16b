import * as tf from '@tensorflow/tfjs-core';
import { mulberry32 } from '@flatmin/test-kit';
import { describe, expect, it } from 'vitest';
import { checkDoubleBackward, hessianEigenvalue, hessianTrace } from '../src/index.js';
import { bytesOf, expectBitIdentical, expectClose, expectNoGrowth, matrixWithSpectrum, mlp64, quadraticLoss, variable } from './helpers.js';

const SPECTRUM = [5, 3, 2, 1, 0.5, 0.25];
const A = matrixWithSpectrum(SPECTRUM, 7);
const B = [0.3, -0.2, 0.1, 0.5, -0.4, 0.2];

describe('hessianEigenvalue on ½wᵀAw + bᵀw (H = A, known spectrum)', () => {
  it.each(['exact', 'finite-difference', 'auto'] as const)('hvp %s: λ_max = 5 (the largest eigenvalue of A), to 1e-4', async (hvp) => {
    const w = variable([0.5, -1, 0.25, 2, 1, -0.5]);
    const before = bytesOf([w]);
    const top = await hessianEigenvalue(quadraticLoss(A, B, w), [w], { iterations: 60, tolerance: 0, hvp, seed: 3 });
    expectClose(top, Math.max(...SPECTRUM), 1e-4);
    expectBitIdentical([w], before);
  });

  it('the same seed gives the same estimate bit for bit; a different seed starts elsewhere (a different estimate after 2 iterations)', async () => {
    const w = variable([0.5, -1, 0.25, 2, 1, -0.5]);
    const loss = quadraticLoss(A, B, w);
    const run = (seed: number) => hessianEigenvalue(loss, [w], { iterations: 2, tolerance: 0, seed, hvp: 'exact' });
    expect(await run(4)).toBe(await run(4));
    expect(await run(4)).not.toBe(await run(5));
  });

  it('stops early at the tolerance: fewer iterations give a worse estimate than many', async () => {
    const w = variable([0.5, -1, 0.25, 2, 1, -0.5]);
    const loss = quadraticLoss(A, B, w);
    const one = await hessianEigenvalue(loss, [w], { iterations: 1, seed: 3, hvp: 'exact' });
    const loose = await hessianEigenvalue(loss, [w], { iterations: 60, tolerance: 0.5, seed: 3, hvp: 'exact' });
    const tight = await hessianEigenvalue(loss, [w], { iterations: 60, tolerance: 0, seed: 3, hvp: 'exact' });
    expect(Math.abs(one - 5)).toBeGreaterThan(1e-3);
    expect(Math.abs(loose - 5)).toBeGreaterThan(Math.abs(tight - 5));
  });
});

describe('hessianTrace on ½wᵀAw (Hutchinson, Rademacher vectors)', () => {
  it('is within 4 standard errors of tr(A) = Σλ, the error from the formula Var(zᵀAz) = 2(‖A‖_F² − Σ A_ii²) over m samples', async () => {
    const w = variable([0.5, -1, 0.25, 2, 1, -0.5]);
    const samples = 200;
    const trace = SPECTRUM.reduce((s, l) => s + l, 0);
    const frobenius2 = A.flat().reduce((s, x) => s + x * x, 0);
    const diagonal2 = A.reduce((s, row, i) => s + row[i]! ** 2, 0);
    const standardError = Math.sqrt((2 * (frobenius2 - diagonal2)) / samples);
    expect(standardError).toBeGreaterThan(0.05); // the test problem is not diagonal: the estimate really varies
    const before = bytesOf([w]);
    const estimate = await hessianTrace(quadraticLoss(A, B, w), [w], { samples, seed: 11, hvp: 'exact' });
    expect(Math.abs(estimate - trace)).toBeLessThanOrEqual(4 * standardError);
    expectBitIdentical([w], before);
  });

  it('is exact for a diagonal Hessian (zᵢ² = 1): diag(4, 1, 0.5) over a matrix and a vector variable gives 5.5 + 2·3', async () => {
    const m = variable([1, 2, 3, 4], [2, 2]);
    const v = variable([1, -1, 2]);
    const c = tf.tensor1d([2, 0.5, 0.25]);
    const loss = () => tf.add(tf.sum(tf.mul(c, tf.square(v))), tf.mul(1.5, tf.sum(tf.square(m)))) as tf.Scalar;
    for (const hvp of ['exact', 'finite-difference'] as const) {
      const estimate = await hessianTrace(loss, [m, v], { samples: 7, seed: 2, hvp });
      expectClose(estimate, 4 + 1 + 0.5 + 4 * 3, hvp === 'exact' ? 1e-6 : 1e-3);
    }
  });

  it('same seed → same estimate; different seed → a different one', async () => {
    const w = variable([0.5, -1, 0.25, 2, 1, -0.5]);
    const loss = quadraticLoss(A, B, w);
    expect(await hessianTrace(loss, [w], { samples: 5, seed: 1 })).toBe(await hessianTrace(loss, [w], { samples: 5, seed: 1 }));
    expect(await hessianTrace(loss, [w], { samples: 5, seed: 1 })).not.toBe(await hessianTrace(loss, [w], { samples: 5, seed: 2 }));
  });
});

describe('double backward on dense/relu ops, against a float64 MLP', () => {
  const random = mulberry32(5);
  const sizes = { input: 3, hidden: 4, output: 2 };
  const x = Array.from({ length: 6 }, () => Array.from({ length: 3 }, () => 2 * random() - 1));
  const y = Array.from({ length: 6 }, () => Array.from({ length: 2 }, () => 2 * random() - 1));
  const params = Array.from({ length: 3 * 4 + 4 + 4 * 2 }, () => 2 * random() - 1);
  const ref = mlp64(x, y, sizes);

  function tfMlp() {
    const { w1, b1, w2 } = ref.split(params);
    const W1 = variable(w1, [3, 4]);
    const b = variable(b1, [4]);
    const W2 = variable(w2, [4, 2]);
    const X = tf.tensor2d(x);
    const Y = tf.tensor2d(y);
    const loss = () => tf.mean(tf.square(tf.sub(tf.matMul(tf.relu(tf.add(tf.matMul(X, W1), b)), W2), Y))) as tf.Scalar;
    return { loss, variables: [W1, b, W2] };
  }

  it('the float64 gradient is right (checked against float64 loss differences)', () => {
    const v = params.map((_, i) => Math.sin(i + 1));
    const h = 1e-6;
    const slope = (ref.lossAndGrad(params.map((p, i) => p + h * v[i]!)).loss - ref.lossAndGrad(params.map((p, i) => p - h * v[i]!)).loss) / (2 * h);
    const dot = ref.lossAndGrad(params).grad.reduce((s, g, i) => s + g * v[i]!, 0);
    expectClose(slope, dot, 1e-6);
  });

  it("hvp 'exact' gives the float64 power-iteration eigenvalue; 'auto' keeps the exact products (same bits)", async () => {
    let v = params.map((_, i) => Math.cos(3 * i + 1));
    let lambda = 0;
    for (let k = 0; k < 300; k += 1) {
      const norm = Math.hypot(...v);
      v = v.map((x) => x / norm);
      const hv = ref.hessianVector(params, v);
      lambda = hv.reduce((s, x, i) => s + x * v[i]!, 0);
      v = hv;
    }
    const { loss, variables } = tfMlp();
    const before = bytesOf(variables);
    const exact = await hessianEigenvalue(loss, variables, { iterations: 300, tolerance: 0, hvp: 'exact', seed: 1 });
    expectClose(exact, lambda, 2e-3);
    expect(await hessianEigenvalue(loss, variables, { iterations: 300, tolerance: 0, hvp: 'auto', seed: 1 })).toBe(exact);
    expectBitIdentical(variables, before);
    const check = await checkDoubleBackward(loss, variables);
    expect(check.exact).toBe(true);
    expect(check.relativeDifference!).toBeLessThan(1e-2);
  });
});

describe("hvp 'auto' falls back to finite differences where tfjs cannot take a second derivative", () => {
  // L = Σ cᵢ exp(wᵢ) at w = 0: H = diag(c) (exp's gradient reuses its output: double backward throws).
  const c = [3, 1, 2];
  const make = () => {
    const w = variable([0, 0, 0]);
    const C = tf.tensor1d(c);
    return { w, loss: () => tf.sum(tf.mul(C, tf.exp(w))) as tf.Scalar };
  };

  it('checkDoubleBackward says why; exact throws; auto gives max cᵢ = 3 and Σcᵢ = 6, as finite-difference does bit for bit', async () => {
    const { w, loss } = make();
    const before = bytesOf([w]);
    const check = await checkDoubleBackward(loss, [w]);
    expect(check.exact).toBe(false);
    expect(check.reason).toMatch(/double backward failed/);
    await expect(hessianEigenvalue(loss, [w], { hvp: 'exact' })).rejects.toThrow();
    expectBitIdentical([w], before);
    const auto = await hessianEigenvalue(loss, [w], { iterations: 80, tolerance: 0, seed: 2 });
    expectClose(auto, 3, 2e-3);
    expect(await hessianEigenvalue(loss, [w], { iterations: 80, tolerance: 0, seed: 2, hvp: 'finite-difference' })).toBe(auto);
    expectClose(await hessianTrace(loss, [w], { samples: 4, seed: 1 }), 6, 2e-3);
    expectBitIdentical([w], before);
  });

  it('a custom gradient with a silently wrong second derivative (tf.losses.sigmoidCrossEntropy) is caught by the cross-check', async () => {
    const w = variable([0.3, -0.2, 0.5, 0.1], [2, 2]);
    const x = tf.tensor2d([
      [1, 2],
      [-1, 0.5],
      [0.3, -0.7],
    ]);
    const labels = tf.tensor2d([
      [1, 0],
      [0, 1],
      [1, 1],
    ]);
    const loss = () => tf.losses.sigmoidCrossEntropy(labels, tf.matMul(x, w)) as tf.Scalar;
    const check = await checkDoubleBackward(loss, [w]);
    expect(check.exact).toBe(false);
    expect(check.relativeDifference!).toBeGreaterThan(0.05);
    // 'auto' switched to finite differences after its first product: the same estimate, bit for bit.
    const auto = await hessianEigenvalue(loss, [w], { iterations: 40, tolerance: 0, seed: 1 });
    const fd = await hessianEigenvalue(loss, [w], { iterations: 40, tolerance: 0, seed: 1, hvp: 'finite-difference' });
    expect(auto).toBe(fd);
  });

  it('no tensor growth over repeated measurements, with and without the fallback', async () => {
    const { w, loss } = make();
    await expectNoGrowth(() => hessianEigenvalue(loss, [w], { iterations: 3 }));
    await expectNoGrowth(() => hessianTrace(loss, [w], { samples: 3 }));
    const q = variable([0.5, -1, 0.25, 2, 1, -0.5]);
    const ql = quadraticLoss(A, B, q);
    await expectNoGrowth(() => hessianEigenvalue(ql, [q], { iterations: 3 }));
    await expectNoGrowth(() => hessianTrace(ql, [q], { samples: 3, hvp: 'finite-difference' }));
    await expectNoGrowth(() => checkDoubleBackward(loss, [w]));
  });

  it('a failed double backward through a softmax leaves no tensor behind (tfjs keeps the saved forward tensors when a backward throws)', async () => {
    const w = variable([0.3, -0.2, 0.5, 0.1, 0.2, -0.4], [2, 3]);
    const x = tf.tensor2d([
      [1, 2],
      [-1, 0.5],
      [0.3, -0.7],
      [0.2, 0.1],
    ]);
    const labels = tf.oneHot(tf.tensor1d([0, 2, 1, 2], 'int32'), 3);
    // A model's softmax output and the cross-entropy of its clipped log, as tfjs-layers computes them.
    const loss = () => tf.neg(tf.mean(tf.sum(tf.mul(labels, tf.log(tf.clipByValue(tf.softmax(tf.matMul(x, w)), 1e-7, 1))), 1))) as tf.Scalar;
    expect((await checkDoubleBackward(loss, [w])).exact).toBe(false);
    const before = tf.memory().numTensors;
    await hessianEigenvalue(loss, [w], { iterations: 3, seed: 1 });
    await hessianTrace(loss, [w], { samples: 2, seed: 1 });
    expect(tf.memory().numTensors).toBe(before);
    await expectNoGrowth(() => hessianEigenvalue(loss, [w], { iterations: 3, seed: 1 }));
  });
});
