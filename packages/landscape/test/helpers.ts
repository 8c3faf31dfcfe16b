// Test problems with float64 references written from the formulas (independent of src/).
import * as tf from '@tensorflow/tfjs-core';
import { mulberry32 } from '@flatmin/test-kit';
import { expect } from 'vitest';

/** A symmetric A = Q diag(λ) Qᵀ with a known spectrum (Q a product of seeded Householder reflections), float64. */
export function matrixWithSpectrum(eigenvalues: readonly number[], seed = 1): number[][] {
  const d = eigenvalues.length;
  const random = mulberry32(seed);
  let q: number[][] = Array.from({ length: d }, (_, i) => Array.from({ length: d }, (_, j) => (i === j ? 1 : 0)));
  for (let r = 0; r < 3; r += 1) {
    const u = Array.from({ length: d }, () => random() - 0.5);
    const n2 = u.reduce((s, x) => s + x * x, 0);
    // Q ← Q (I − 2uuᵀ/uᵀu)
    q = q.map((row) => {
      const dot = row.reduce((s, x, k) => s + x * u[k]!, 0);
      return row.map((x, j) => x - (2 * dot * u[j]!) / n2);
    });
  }
  return Array.from({ length: d }, (_, i) => Array.from({ length: d }, (_, j) => eigenvalues.reduce((s, l, k) => s + q[i]![k]! * l * q[j]![k]!, 0)));
}

/** ½ wᵀAw + bᵀw in float64. */
export function quadratic64(a: number[][], b: readonly number[], w: readonly number[]): number {
  let s = 0;
  for (let i = 0; i < w.length; i += 1) {
    s += b[i]! * w[i]!;
    for (let j = 0; j < w.length; j += 1) s += 0.5 * w[i]! * a[i]![j]! * w[j]!;
  }
  return s;
}

/** A w + b in float64 (the gradient of {@link quadratic64}). */
export function quadraticGrad64(a: number[][], b: readonly number[], w: readonly number[]): number[] {
  return a.map((row, i) => row.reduce((s, x, j) => s + x * w[j]!, 0) + b[i]!);
}

/** The tfjs closure of ½ wᵀAw + bᵀw over a rank-1 variable w. */
export function quadraticLoss(a: number[][], b: readonly number[], w: tf.Variable): () => tf.Scalar {
  const A = tf.tensor2d(a);
  const B = tf.tensor1d(b as number[]);
  return () =>
    tf.tidy(() => {
      const column = tf.reshape(w, [-1, 1]);
      return tf.add(tf.mul(0.5, tf.sum(tf.mul(column, tf.matMul(A, column)))), tf.sum(tf.mul(B, w))) as tf.Scalar;
    });
}

let counter = 0;
/** A fresh float32 variable with a unique name. */
export function variable(values: tf.TensorLike, shape?: number[]): tf.Variable {
  counter += 1;
  return tf.variable(tf.tensor(values, shape, 'float32'), true, `landscape_test_${counter}`);
}

/** The raw float32 bytes of every variable (for bit-identical checks). */
export function bytesOf(variables: readonly tf.Variable[]): Uint8Array[] {
  return variables.map((v) => new Uint8Array((v.dataSync() as Float32Array).slice().buffer));
}

/** Assert that `variables` hold exactly `before`'s bytes. */
export function expectBitIdentical(variables: readonly tf.Variable[], before: Uint8Array[]): void {
  expect(bytesOf(variables)).toEqual(before);
}

/** The float32 value a float64 number becomes (what tfjs stores). */
export const f32 = (x: number) => Math.fround(x);

/** Assert |actual − expected| ≤ tol·max(1, |expected|). */
export function expectClose(actual: number, expected: number, tol: number): void {
  expect(Math.abs(actual - expected), `${actual} vs ${expected}`).toBeLessThanOrEqual(tol * Math.max(1, Math.abs(expected)));
}

/** A tiny dense → relu → dense network with an MSE loss, in float64: loss and analytic gradient (flat parameter vector [W1, b1, W2]). */
export function mlp64(x: number[][], y: number[][], sizes: { input: number; hidden: number; output: number }) {
  const { input, hidden, output } = sizes;
  const split = (p: readonly number[]) => {
    const w1 = p.slice(0, input * hidden);
    const b1 = p.slice(input * hidden, input * hidden + hidden);
    const w2 = p.slice(input * hidden + hidden);
    return { w1, b1, w2 };
  };
  const n = x.length;
  const count = n * output;
  function lossAndGrad(p: readonly number[]): { loss: number; grad: number[] } {
    const { w1, b1, w2 } = split(p);
    const g1 = new Array(w1.length).fill(0);
    const gb = new Array(hidden).fill(0);
    const g2 = new Array(w2.length).fill(0);
    let loss = 0;
    for (let s = 0; s < n; s += 1) {
      const pre = Array.from({ length: hidden }, (_, h) => b1[h]! + x[s]!.reduce((acc, xi, i) => acc + xi * w1[i * hidden + h]!, 0));
      const act = pre.map((z) => Math.max(z, 0));
      const out = Array.from({ length: output }, (_, o) => act.reduce((acc, a, h) => acc + a * w2[h * output + o]!, 0));
      const dOut = out.map((v, o) => (2 * (v - y[s]![o]!)) / count);
      out.forEach((v, o) => {
        loss += (v - y[s]![o]!) ** 2 / count;
      });
      for (let h = 0; h < hidden; h += 1) {
        for (let o = 0; o < output; o += 1) g2[h * output + o] += act[h]! * dOut[o]!;
        const dAct = dOut.reduce((acc, d, o) => acc + d * w2[h * output + o]!, 0);
        const dPre = pre[h]! > 0 ? dAct : 0;
        gb[h] += dPre;
        for (let i = 0; i < input; i += 1) g1[i * hidden + h] += x[s]![i]! * dPre;
      }
    }
    return { loss, grad: [...g1, ...gb, ...g2] };
  }
  /** H v by central differences of the float64 gradient (h = 1e-6). */
  function hessianVector(p: readonly number[], v: readonly number[]): number[] {
    const h = 1e-6;
    const plus = lossAndGrad(p.map((x, i) => x + h * v[i]!)).grad;
    const minus = lossAndGrad(p.map((x, i) => x - h * v[i]!)).grad;
    return plus.map((g, i) => (g - minus[i]!) / (2 * h));
  }
  return { lossAndGrad, hessianVector, split };
}

/** Run `measure` `times` times after one warm-up; assert tf.memory() does not grow. */
export async function expectNoGrowth(measure: () => Promise<unknown>, times = 5): Promise<void> {
  await measure();
  const before = tf.memory();
  for (let i = 0; i < times; i += 1) await measure();
  const after = tf.memory();
  expect({ numTensors: after.numTensors, numBytes: after.numBytes }).toEqual({ numTensors: before.numTensors, numBytes: before.numBytes });
}
