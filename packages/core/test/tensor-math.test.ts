// The shared tensor helpers on both of their paths (the kernels of the host-memory backends and the
// element-wise forms every other backend takes), against float64 sums written out here.
import { onBackend } from '@flatmin/test-kit';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, describe, expect, it } from 'vitest';
import { elementSum, filterNorms, filterSums, flatDot, globalDot, globalNorm, lastAxisVector, normalizeGlobal, scaleBy, sumOfSquares } from '../src/tensor-math.js';
import { useWasmKernels } from '../src/wasm-kernels.js';

// A second backend with the cpu kernels under another name: the helpers take their generic path there.
const ALIAS = 'cpu-generic-path';
tf.registerBackend(ALIAS, () => new (tf.findBackendFactory('cpu')!().constructor as new () => tf.KernelBackend)());
for (const kernel of tf.getKernelsForBackend('cpu')) tf.registerKernel({ ...kernel, backendName: ALIAS });
afterAll(async () => {
  await tf.setBackend('cpu');
});

const a = [1.5, -2.25, 0.5, 3, -0.75, 2];
const b = [0.25, 4, -1.5, 0.5, 2.5, -3];
const dot64 = (x: number[], y: number[]) => x.reduce((sum, v, i) => sum + v * y[i]!, 0);

describe.each(['cpu', ALIAS])('on the %s backend', (backend) => {
  it('flatDot, sumOfSquares, globalNorm, globalDot and elementSum equal their float64 sums', async () => {
    await tf.setBackend(backend);
    expect(tf.getBackend()).toBe(backend);
    const x = tf.tensor2d(a, [2, 3]);
    const y = tf.tensor2d(b, [2, 3]);
    const z = tf.tensor1d([2, -1]);
    expect(flatDot(x, y).dataSync()[0]).toBeCloseTo(dot64(a, b), 5);
    expect(sumOfSquares([x, z]).dataSync()[0]).toBeCloseTo(dot64(a, a) + 5, 5);
    expect(globalNorm({ x, z }).dataSync()[0]).toBeCloseTo(Math.sqrt(dot64(a, a) + 5), 5);
    expect(globalDot({ x, z }, { x: y }).dataSync()[0]).toBeCloseTo(dot64(a, b), 5);
    expect(elementSum([x, z]).dataSync()[0]).toBeCloseTo(a.reduce((s, v) => s + v, 0) + 1, 5);
    expect(elementSum([]).dataSync()[0]).toBe(0);
    tf.dispose([x, y, z]);
  });

  it('scaleBy is x·s element by element, keeps the shape, and carries NaN; normalizeGlobal uses it', async () => {
    await tf.setBackend(backend);
    const x = tf.tensor2d(a, [3, 2]);
    const s = tf.scalar(-0.5);
    const scaled = scaleBy(x, s);
    expect(scaled.shape).toEqual([3, 2]);
    expect(Array.from(scaled.dataSync())).toEqual(a.map((v) => v * -0.5));
    expect(Array.from(scaleBy(x, tf.scalar(Number.NaN)).dataSync()).every(Number.isNaN)).toBe(true);
    const rho = 0.2;
    const eps = normalizeGlobal({ x }, rho, 0);
    const norm = Math.sqrt(dot64(a, a));
    for (const [i, v] of Array.from(eps.x!.dataSync()).entries()) expect(v).toBeCloseTo((rho * a[i]!) / norm, 6);
    tf.dispose([x, s, scaled, eps.x!]);
  });

  it('filterSums: Σ over every axis but the last, kept broadcastable (rank 4, 2, 1, 0), as float64 sums', async () => {
    await tf.setBackend(backend);
    // A conv-like kernel [2, 2, 3, 4]: filter j sums the 12 values whose last index is j.
    const values = Array.from({ length: 48 }, (_, i) => Math.sin(i + 1) * (i % 5) - 0.3);
    const kernel = tf.tensor4d(values, [2, 2, 3, 4]);
    const sums = filterSums(kernel);
    expect(sums.shape).toEqual([1, 1, 1, 4]);
    const expected = [0, 1, 2, 3].map((j) => values.filter((_, i) => i % 4 === j).reduce((t, v) => t + v, 0));
    for (const [j, v] of Array.from(sums.dataSync()).entries()) expect(v).toBeCloseTo(expected[j]!, 5);
    const dense = tf.tensor2d(a, [3, 2]);
    expect(filterSums(dense).shape).toEqual([1, 2]);
    expect(Array.from(filterSums(dense).dataSync())).toEqual([a[0]! + a[2]! + a[4]!, a[1]! + a[3]! + a[5]!]);
    const bias = tf.tensor1d([1, 2, 3]);
    expect(filterSums(bias).shape).toEqual([1]);
    expect(filterSums(bias).dataSync()[0]).toBe(6);
    const scalar = tf.scalar(2.5);
    expect(filterSums(scalar)).toBe(scalar);
    // An int32 tensor takes tf.sum on every backend (a matrix product needs floats).
    const ints = tf.tensor2d([1, 2, 3, 4], [2, 2], 'int32');
    expect(Array.from(filterSums(ints).dataSync())).toEqual([4, 6]);
    expect(filterSums(ints).dtype).toBe('int32');
    tf.dispose([kernel, sums, dense, bias, scalar, ints]);
  });
});

describe.each([
  ['cpu', 'cpu', true],
  ['wasm without the WebAssembly module (its JavaScript loop)', 'wasm', false],
] as const)('filterSums and filterNorms on %s', (_label, backend, module) => {
  it('are one FlatminFilterSums kernel over the buffer (no Square; no Sum, whose leading-axis reduction transposes first), equal to float64 sums, with nothing left over', async () => {
    await onBackend(backend, async () => {
      useWasmKernels(module);
      try {
        const p = Array.from({ length: 60 }, (_, i) => Math.fround(Math.sin(i * 0.7) * 2));
        const kernel = tf.tensor(p, [3, 4, 5]);
        const before = tf.memory().numTensors;
        let sums: tf.Tensor | undefined;
        let norms: tf.Tensor | undefined;
        const profile = await tf.profile(() => {
          sums = filterSums(kernel);
          norms = filterNorms(kernel);
        });
        expect(tf.memory().numTensors).toBe(before + 2);
        expect(profile.kernels.map((k) => k.name)).toEqual(['FlatminFilterSums', 'FlatminFilterSums', 'Sqrt']);
        expect(sums!.shape).toEqual([1, 1, 5]);
        const column = (j: number, f: (v: number) => number) => p.filter((_, i) => i % 5 === j).reduce((s, v) => s + f(v), 0);
        for (const [j, v] of Array.from(sums!.dataSync()).entries()) expect(v).toBeCloseTo(column(j, (x) => x), 5);
        for (const [j, v] of Array.from(norms!.dataSync()).entries()) expect(v).toBeCloseTo(Math.sqrt(column(j, (x) => x * x)), 5);
        tf.dispose([kernel, sums!, norms!]);
      } finally {
        useWasmKernels(true);
      }
    });
  });
});

describe.each(['cpu', 'wasm'] as const)('flatDot on the %s backend', (backend) => {
  it('equals the float64 sum on an odd and an even length (both accumulators and the tail)', async () => {
    await onBackend(backend, () => {
      for (const n of [1, 2, 7, 1000, 1001]) {
        const p = Array.from({ length: n }, (_, i) => Math.fround(Math.sin(i + 1) * 3));
        const q = Array.from({ length: n }, (_, i) => Math.fround(Math.cos(2 * i) - 0.25));
        const [x, y] = [tf.tensor1d(p), tf.tensor1d(q)];
        expect(flatDot(x, y).dataSync()[0]).toBeCloseTo(Math.fround(dot64(p, q)), 4);
        expect(flatDot(x, x).dataSync()[0]).toBeCloseTo(Math.fround(dot64(p, p)), 3);
        tf.dispose([x, y]);
      }
    });
  });

  it('is one kernel over both buffers where the backend keeps them (no temporaries), NaN-carrying, and differentiable: ∂(a·b)/∂a = b', async () => {
    await onBackend(backend, async () => {
      const x = tf.tensor2d(a, [2, 3]);
      const y = tf.tensor2d(b, [2, 3]);
      const before = tf.memory().numTensors;
      const profile = await tf.profile(() => {
        tf.dispose(flatDot(x, y));
      });
      expect(tf.memory().numTensors).toBe(before);
      expect(profile.kernels.map((k) => k.name)).toEqual(['FlatminDot']);
      const withNaN = tf.tensor1d([1, Number.NaN]);
      expect(Number.isNaN(flatDot(withNaN, withNaN).dataSync()[0])).toBe(true);
      const gradient = tf.grad((v: tf.Tensor) => flatDot(v, y))(x);
      expect(Array.from(gradient.dataSync())).toEqual(Array.from(y.dataSync()));
      const both = tf.grads((p: tf.Tensor, q: tf.Tensor) => flatDot(p, q))([x, y]);
      expect(Array.from(both[1]!.dataSync())).toEqual(Array.from(x.dataSync()));
      tf.dispose([x, y, withNaN, gradient, ...both]);
    });
  });
});

describe('filterNorms and lastAxisVector', () => {
  it('filterNorms is √(Σ over each filter of w²) (float64), |w| for a scalar; lastAxisVector flattens only [1, …, 1, out]', async () => {
    await tf.setBackend('cpu');
    const kernel = tf.tensor2d([3, 0, 4, 1, 12, 2], [3, 2]);
    const norms = filterNorms(kernel);
    expect(norms.shape).toEqual([1, 2]);
    const expected = [Math.sqrt(9 + 16 + 144), Math.sqrt(0 + 1 + 4)];
    for (const [j, v] of Array.from(norms.dataSync()).entries()) expect(v).toBeCloseTo(expected[j]!, 5);
    expect(filterNorms(tf.scalar(-2.5)).dataSync()[0]).toBe(2.5);
    expect(Array.from(filterNorms(tf.tensor1d([3, 4])).dataSync())).toEqual([5]);
    expect(lastAxisVector(norms).shape).toEqual([2]);
    expect(lastAxisVector(tf.zeros([1, 1, 3])).shape).toEqual([3]);
    const full = tf.zeros([2, 3]);
    expect(lastAxisVector(full)).toBe(full);
    const bias = tf.zeros([3]);
    expect(lastAxisVector(bias)).toBe(bias);
    tf.dispose([kernel, norms, full, bias]);
  });
});

describe.each(['cpu', 'wasm'] as const)('hostMemory on %s', (backend) => {
  it('values is a view of the data where the backend keeps it; output copies; other backends get undefined', async () => {
    const { hostMemory } = await import('../src/kit.js');
    expect(hostMemory('webgl')).toBeUndefined();
    await onBackend(backend, () => {
      const memory = hostMemory(backend)!;
      const x = tf.tensor1d([1.5, -2, 3]);
      const engineBackend = tf.backend();
      const info = { dataId: x.dataId, shape: x.shape, dtype: x.dtype } as tf.TensorInfo;
      expect(Array.from(memory.values(engineBackend, info))).toEqual([1.5, -2, 3]);
      const source = new Float32Array([4, 5, 6, 7]);
      const made = memory.output(engineBackend, [2, 2], source.subarray(0, 4));
      source[0] = 99; // the output holds a copy
      const y = tf.engine().makeTensorFromTensorInfo(made);
      expect(y.shape).toEqual([2, 2]);
      expect(Array.from(y.dataSync())).toEqual([4, 5, 6, 7]);
      tf.dispose([x, y]);
    });
  });
});
