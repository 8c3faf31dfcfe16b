// The element-wise helpers against float32 arithmetic written out here (a float64 operation rounded
// once to float32 is the correctly rounded float32 operation), on the cpu backend's own kernels and
// on the generic path other backends take; plus their gradients, their fallbacks and their memory.
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, describe, expect, it } from 'vitest';
import { elementwise } from '../src/elementwise.js';

const ALIAS = 'cpu-generic-elementwise';
tf.registerBackend(ALIAS, () => new (tf.findBackendFactory('cpu')!().constructor as new () => tf.KernelBackend)());
for (const kernel of tf.getKernelsForBackend('cpu')) tf.registerKernel({ ...kernel, backendName: ALIAS });
afterAll(async () => {
  await tf.setBackend('cpu');
});

const f32 = Math.fround;
const OPS = {
  add: (x: number, y: number) => f32(x + y),
  sub: (x: number, y: number) => f32(x - y),
  mul: (x: number, y: number) => f32(x * y),
  div: (x: number, y: number) => f32(x / y),
} as const;
type OpName = keyof typeof OPS;
const TF = { add: tf.add, sub: tf.sub, mul: tf.mul, div: tf.div } as const;
const NAMES = Object.keys(OPS) as OpName[];

// Values that are not exact in float32 (so a wrong rounding order shows), a zero, a negative zero and a NaN.
const A = [1.1, -2.3, 0.7, 3.3, -0.9, 2.2, 0, -0, Number.NaN, 5.7, -1.3, 0.3].map(f32);
const B = [0.3, 4.1, -1.7, 0.9, 2.9, -3.1, 1.3, 2.5, 0.6, -0.1, 7.7, -2.2].map(f32);
const ROW = [0.7, -1.9, 3.1].map(f32);

/** The kernels one call ran (tf.profile), by name. */
async function kernelsOf(fn: () => tf.Tensor): Promise<string[]> {
  const info = await tf.profile(() => fn());
  return info.kernels.map((k) => k.name);
}

function same(actual: tf.Tensor, expected: number[], shape: number[]): void {
  expect(actual.shape).toEqual(shape);
  expect(actual.dtype).toBe('float32');
  // Object.is per element: the same bits up to NaN payloads (and +0 and −0 told apart).
  const values = Array.from(actual.dataSync());
  expect(values.length).toBe(expected.length);
  for (const [i, v] of values.entries()) expect(Object.is(v, expected[i]) || (Number.isNaN(v) && Number.isNaN(expected[i]))).toBe(true);
}

describe.each(['cpu', ALIAS])('elementwise on the %s backend', (backend) => {
  it.each(NAMES)('%s: same shape, a scalar on either side, a number, and an [out] row against [..., out]', async (op) => {
    await tf.setBackend(backend);
    const ref = OPS[op];
    const fn = elementwise[op];
    const x = tf.tensor2d(A, [4, 3]);
    const y = tf.tensor2d(B, [4, 3]);
    const s = tf.scalar(f32(-0.7));
    const row = tf.tensor1d(ROW);
    const x3 = tf.tensor3d(A, [2, 2, 3]);
    same(fn(x, y), A.map((v, i) => ref(v, B[i]!)), [4, 3]);
    same(fn(x, s), A.map((v) => ref(v, f32(-0.7))), [4, 3]);
    same(fn(s, x), A.map((v) => ref(f32(-0.7), v)), [4, 3]);
    same(fn(x, 0.45), A.map((v) => ref(v, f32(0.45))), [4, 3]);
    same(fn(1, y), B.map((v) => ref(1, v)), [4, 3]);
    same(fn(x, row), A.map((v, i) => ref(v, ROW[i % 3]!)), [4, 3]);
    same(fn(x3, row), A.map((v, i) => ref(v, ROW[i % 3]!)), [2, 2, 3]);
    // [1, 1] against [4, 3]: a scalar-sized operand of lower rank broadcasts to the larger shape.
    same(fn(tf.tensor2d([f32(1.9)], [1, 1]), x), A.map((v) => ref(f32(1.9), v)), [4, 3]);
    // The same values as tfjs' own op, on every layout.
    for (const [p, q] of [
      [x, y],
      [x, s],
      [s, x],
      [x, row],
    ] as const) {
      expect(Array.from(fn(p, q).dataSync())).toEqual(Array.from(TF[op](p, q).dataSync()));
    }
  });

  it.each(NAMES)('%s: layouts the kernels do not take go to tfjs (a column broadcast, int32, two numbers, an empty tensor)', async (op) => {
    await tf.setBackend(backend);
    const ref = OPS[op];
    const fn = elementwise[op];
    const col = tf.tensor2d([f32(2.1), f32(-0.4)], [2, 1]);
    const wide = tf.tensor2d(A.slice(0, 6), [2, 3]);
    same(fn(wide, col), A.slice(0, 6).map((v, i) => ref(v, i < 3 ? f32(2.1) : f32(-0.4))), [2, 3]);
    const ints = fn(tf.tensor1d([6, 9], 'int32'), tf.tensor1d([3, 3], 'int32'));
    expect(ints.dtype).toBe('int32');
    expect(Array.from(ints.dataSync())).toEqual(Array.from(TF[op](tf.tensor1d([6, 9], 'int32'), tf.tensor1d([3, 3], 'int32')).dataSync()));
    same(fn(3, 4), [ref(3, 4)], []);
    expect(fn(tf.zeros([0, 3]), tf.zeros([0, 3])).shape).toEqual([0, 3]);
  });

  it('axpy is x + (s·y rounded to float32): tf.add(x, tf.mul(s, y)) bit for bit, with a tensor or a number s', async () => {
    await tf.setBackend(backend);
    const x = tf.tensor2d(A, [4, 3]);
    const y = tf.tensor2d(B, [4, 3]);
    const s = f32(0.7);
    same(elementwise.axpy(x, tf.scalar(s), y), A.map((v, i) => f32(v + f32(s * B[i]!))), [4, 3]);
    same(elementwise.axpy(x, 0.7, y), A.map((v, i) => f32(v + f32(s * B[i]!))), [4, 3]);
    expect(Array.from(elementwise.axpy(x, 0.7, y).dataSync())).toEqual(Array.from(tf.add(x, tf.mul(0.7, y)).dataSync()));
    // Shapes that differ go through tfjs' broadcasting.
    same(elementwise.axpy(x, 2, tf.tensor1d(ROW)), A.map((v, i) => f32(v + f32(2 * ROW[i % 3]!))), [4, 3]);
  });

  it('gradients: each op and layout under a tape, against the derivatives written out (with the broadcast sums)', async () => {
    await tf.setBackend(backend);
    const xv = [1.5, -2, 0.5, 3, -1, 2];
    const yv = [0.5, 4, -1.5, 2, 2.5, -3];
    const x = tf.tensor2d(xv, [2, 3]);
    const y = tf.tensor2d(yv, [2, 3]);
    const r = tf.tensor1d([2, -0.5, 1.5]);
    const s = tf.scalar(-1.5);
    const close = (t: tf.Tensor, expected: number[]) => {
      for (const [i, v] of Array.from(t.dataSync()).entries()) expect(v).toBeCloseTo(expected[i]!, 5);
    };
    // d/dx Σ(x ∘ y) and d/dy, same shape.
    const [mx, my] = tf.grads((p: tf.Tensor, q: tf.Tensor) => tf.sum(elementwise.mul(p, q)))([x, y]);
    close(mx!, yv);
    close(my!, xv);
    const [dx, dy] = tf.grads((p: tf.Tensor, q: tf.Tensor) => tf.sum(elementwise.div(p, q)))([x, y]);
    close(dx!, yv.map((q) => 1 / q));
    close(dy!, xv.map((p, i) => -p / (yv[i]! * yv[i]!)));
    // A row: its gradient sums over the leading axis; a scalar: over everything.
    const [ax, ar] = tf.grads((p: tf.Tensor, q: tf.Tensor) => tf.sum(elementwise.mul(p, q)))([x, r]);
    close(ax!, [2, -0.5, 1.5, 2, -0.5, 1.5]);
    close(ar!, [xv[0]! + xv[3]!, xv[1]! + xv[4]!, xv[2]! + xv[5]!]);
    const [ss, sx] = tf.grads((p: tf.Tensor, q: tf.Tensor) => tf.sum(elementwise.sub(p, q)))([s, x]);
    expect(ss!.shape).toEqual([]);
    close(ss!, [6]);
    close(sx!, [-1, -1, -1, -1, -1, -1]);
    const [ox, os] = tf.grads((p: tf.Tensor, q: tf.Tensor) => tf.sum(elementwise.add(p, q)))([x, s]);
    close(ox!, [1, 1, 1, 1, 1, 1]);
    close(os!, [6]);
    const [px, ps, py] = tf.grads((p: tf.Tensor, q: tf.Tensor, w: tf.Tensor) => tf.sum(elementwise.axpy(p, q, w)))([x, s, y]);
    close(px!, [1, 1, 1, 1, 1, 1]);
    close(ps!, [yv.reduce((t, v) => t + v, 0)]);
    close(py!, [-1.5, -1.5, -1.5, -1.5, -1.5, -1.5]);
  });

  it('keeps nothing: number operands and the scalars made of them are disposed', async () => {
    await tf.setBackend(backend);
    const x = tf.tensor2d(A, [4, 3]);
    const y = tf.tensor2d(B, [4, 3]);
    const before = tf.memory().numTensors;
    for (const op of NAMES) {
      elementwise[op](x, 2).dispose();
      elementwise[op](3, y).dispose();
      elementwise[op](x, y).dispose();
    }
    elementwise.axpy(x, 0.5, y).dispose();
    elementwise.axpy(x, 0.5, tf.tensor1d(ROW)).dispose();
    expect(tf.memory().numTensors).toBe(before + 1); // the ROW tensor made in the call above
  });
});

describe('the cpu kernels', () => {
  it('run on cpu for the layouts they take, and the generic path runs tfjs’ own kernels', async () => {
    await tf.setBackend('cpu');
    const x = tf.tensor2d(A, [4, 3]);
    const y = tf.tensor2d(B, [4, 3]);
    expect(await kernelsOf(() => elementwise.mul(x, y))).toEqual(['FlatminMul']);
    expect(await kernelsOf(() => elementwise.add(x, tf.tensor1d(ROW)))).toEqual(['FlatminAdd']);
    expect(await kernelsOf(() => elementwise.sub(2, x))).toEqual(['FlatminSub']);
    expect(await kernelsOf(() => elementwise.div(x, 2))).toEqual(['FlatminDiv']);
    expect(await kernelsOf(() => elementwise.axpy(x, 2, y))).toEqual(['FlatminAxpy']);
    await tf.setBackend(ALIAS);
    expect(await kernelsOf(() => elementwise.mul(x, y))).toEqual(['Multiply']);
    expect(await kernelsOf(() => elementwise.axpy(x, 2, y))).toEqual(['Multiply', 'Add']);
  });
});
