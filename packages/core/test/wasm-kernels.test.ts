// flatmin's WebAssembly kernels on the wasm backend's heap: the committed bytes are the module
// text's, each kernel against float64 sums written out here (every loop: the 8-wide body, the tail,
// ragged column counts), the routes flatDot, filterSums and filterNorms take with them, their
// gradients, the shared-memory build, and the fall-backs.
import { readFileSync } from 'node:fs';
import { onBackend } from '@flatmin/test-kit';
import * as tf from '@tensorflow/tfjs-core';
import { afterEach, describe, expect, it } from 'vitest';
import { binarySource, compileKernels } from '../scripts/wasm-kernels.mjs';
import { FILTER_SUMS_KERNEL, filterNorms, filterSums, flatDot } from '../src/tensor-math.js';
import { useWasmKernels, wasmKernels } from '../src/wasm-kernels.js';
import { SHARED_MEMORY_MODULE } from '../src/wasm-kernels-binary.js';

afterEach(() => useWasmKernels(true));

const values = (n: number, seed: number) => Array.from({ length: n }, (_, i) => Math.fround(Math.sin(seed * 7.1 + i * 1.3) * 2.5 + (i % 5) * 0.1));
const dot64 = (x: number[], y: number[]) => x.reduce((sum, v, i) => sum + v * y[i]!, 0);
const columns64 = (x: number[], rows: number, cols: number, square: boolean) =>
  Array.from({ length: cols }, (_, j) => {
    let sum = 0;
    for (let i = 0; i < rows; i += 1) sum += square ? x[i * cols + j]! ** 2 : x[i * cols + j]!;
    return sum;
  });
const info = (t: tf.Tensor) => ({ dataId: t.dataId, shape: t.shape, dtype: t.dtype }) as tf.TensorInfo;

describe('the module', () => {
  it('the committed bytes are what src/wasm-kernels.wat compiles to', async () => {
    const committed = readFileSync(new URL('../src/wasm-kernels-binary.ts', import.meta.url), 'utf8');
    expect(committed).toBe(binarySource(await compileKernels()));
  });

  it('the shared-memory build (the threaded backend) runs on a shared memory', () => {
    const memory = new WebAssembly.Memory({ initial: 1, maximum: 4, shared: true });
    const bytes = Uint8Array.from(atob(SHARED_MEMORY_MODULE), (c) => c.charCodeAt(0));
    const { dot } = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory } }).exports as { dot(a: number, b: number, n: number): number };
    const [p, q] = [values(13, 1), values(13, 2)];
    const heap = new Float32Array(memory.buffer);
    heap.set(p, 0);
    heap.set(q, 16);
    expect(dot(0, 64, 13)).toBeCloseTo(dot64(p, q), 9);
  });
});

describe('on the wasm backend', () => {
  it('dot is the float64 sum of float64 products on every length (the 8-wide loop and its tail), NaN-carrying', async () => {
    await onBackend('wasm', () => {
      const kernels = wasmKernels(tf.backend())!;
      expect(kernels).toBeDefined();
      for (const n of [0, 1, 3, 7, 8, 9, 16, 1000, 1003]) {
        const [p, q] = [values(n, 1), values(n, 2)];
        const [x, y] = [tf.tensor1d(p), tf.tensor1d(q)];
        // float64 accumulation: far closer than any float32 sum could be.
        expect(Math.abs(kernels.dot(info(x), info(y)) - dot64(p, q))).toBeLessThan(1e-9 * (1 + n));
        expect(Math.abs(kernels.dot(info(x), info(x)) - dot64(p, p))).toBeLessThan(1e-9 * (1 + n));
        tf.dispose([x, y]);
      }
      const withNaN = tf.tensor1d([1, 2, 3, 4, 5, 6, 7, 8, Number.NaN]);
      expect(Number.isNaN(kernels.dot(info(withNaN), info(withNaN)))).toBe(true);
      withNaN.dispose();
    });
  });

  it('columnSums sums every column of the rows (of squares when asked), ragged column counts included', async () => {
    await onBackend('wasm', () => {
      const kernels = wasmKernels(tf.backend())!;
      for (const [rows, cols] of [[1, 1], [3, 5], [7, 4], [5, 9], [64, 33]] as const) {
        const p = values(rows * cols, rows + cols);
        const x = tf.tensor2d(p, [rows, cols]);
        for (const square of [false, true]) {
          const out = tf.fill([cols], 123); // overwritten, not added to
          kernels.columnSums(info(x), rows, cols, info(out), square);
          const expected = columns64(p, rows, cols, square);
          // float32 sums of `rows` terms: within rows · 2⁻²⁴ of the sum of |terms|
          const bound = columns64(p.map(Math.abs), rows, cols, square).map((s) => rows * 2 ** -24 * s + 1e-7);
          for (const [j, v] of Array.from(out.dataSync()).entries()) expect(Math.abs(v - expected[j]!)).toBeLessThanOrEqual(bound[j]!);
          out.dispose();
        }
        x.dispose();
      }
    });
  });

  it('keeps working after the heap grows (the module imports the memory, not a view of it)', async () => {
    await onBackend('wasm', () => {
      const kernels = wasmKernels(tf.backend())!;
      const before = (tf.backend() as unknown as { wasm: { HEAPU8: Uint8Array } }).wasm.HEAPU8.buffer.byteLength;
      const big = tf.zeros([before / 4 + 1024]); // more than the whole heap: it must grow
      const p = values(11, 3);
      const x = tf.tensor1d(p);
      expect((tf.backend() as unknown as { wasm: { HEAPU8: Uint8Array } }).wasm.HEAPU8.buffer.byteLength).toBeGreaterThan(before);
      expect(kernels.dot(info(x), info(x))).toBeCloseTo(dot64(p, p), 9);
      tf.dispose([big, x]);
    });
  });

  it('flatDot runs the module (one FlatminDot kernel) and agrees with its JavaScript route', async () => {
    await onBackend('wasm', async () => {
      const [p, q] = [values(1001, 4), values(1001, 5)];
      const [x, y] = [tf.tensor2d(p, [7, 143]), tf.tensor2d(q, [7, 143])];
      const simd = flatDot(x, y).dataSync()[0]!;
      useWasmKernels(false);
      const js = flatDot(x, y).dataSync()[0]!;
      expect(simd).toBeCloseTo(Math.fround(dot64(p, q)), 4);
      expect(simd).toBeCloseTo(js, 5);
      tf.dispose([x, y]);
    });
  });

  it('filterSums and filterNorms are one FlatminFilterSums kernel (no Square, no Sum), equal to float64 sums on ranks 2 and 4', async () => {
    await onBackend('wasm', async () => {
      for (const shape of [[6, 5], [3, 3, 2, 7]]) {
        const size = shape.reduce((a, b) => a * b, 1);
        const cols = shape[shape.length - 1]!;
        const p = values(size, size);
        const w = tf.tensor(p, shape);
        const before = tf.memory().numTensors;
        let sums: tf.Tensor | undefined;
        let norms: tf.Tensor | undefined;
        const profile = await tf.profile(() => {
          sums = filterSums(w);
          norms = filterNorms(w);
        });
        expect(profile.kernels.map((k) => k.name)).toEqual([FILTER_SUMS_KERNEL, FILTER_SUMS_KERNEL, 'Sqrt']);
        expect(tf.memory().numTensors).toBe(before + 2);
        expect(sums!.shape).toEqual([...shape.slice(0, -1).map(() => 1), cols]);
        expect(norms!.shape).toEqual(sums!.shape);
        const plain = columns64(p, size / cols, cols, false);
        const squares = columns64(p, size / cols, cols, true);
        for (const [j, v] of Array.from(sums!.dataSync()).entries()) expect(v).toBeCloseTo(plain[j]!, 4);
        for (const [j, v] of Array.from(norms!.dataSync()).entries()) expect(v).toBeCloseTo(Math.sqrt(squares[j]!), 4);
        tf.dispose([w, sums!, norms!]);
      }
    });
  });

  it('the kernel is differentiable: ∂Σⱼcⱼ·sumⱼ/∂x = c broadcast, ∂Σⱼcⱼ‖wⱼ‖/∂w = cⱼ·w/‖wⱼ‖', async () => {
    await onBackend('wasm', () => {
      const p = values(12, 9);
      const w = tf.tensor2d(p, [4, 3]);
      const c = tf.tensor2d([[0.5, -2, 3]]);
      const dSums = tf.grad((x: tf.Tensor) => tf.sum(tf.mul(filterSums(x), c)))(w);
      expect(Array.from(dSums.dataSync())).toEqual(Array.from({ length: 12 }, (_, i) => [0.5, -2, 3][i % 3]!));
      const dNorms = tf.grad((x: tf.Tensor) => tf.sum(tf.mul(filterNorms(x), c)))(w);
      const norms = columns64(p, 4, 3, true).map(Math.sqrt);
      for (const [i, v] of Array.from(dNorms.dataSync()).entries()) expect(v).toBeCloseTo(([0.5, -2, 3][i % 3]! * p[i]!) / norms[i % 3]!, 4);
      tf.dispose([w, c, dSums, dNorms]);
    });
  });

  it('with the module off, the same kernels take their JavaScript loops and give the same sums', async () => {
    await onBackend('wasm', () => {
      const p = values(300, 2);
      const w = tf.tensor2d(p, [20, 15]);
      const simd = [filterSums(w), filterNorms(w), flatDot(w, w)];
      useWasmKernels(false);
      expect(wasmKernels(tf.backend())).toBeUndefined();
      const js = [filterSums(w), filterNorms(w), flatDot(w, w)];
      for (const [k, t] of simd.entries()) {
        const [a, b] = [Array.from(t.dataSync()), Array.from(js[k]!.dataSync())];
        for (const [i, v] of a.entries()) expect(v).toBeCloseTo(b[i]!, 4);
      }
      tf.dispose([w, ...simd, ...js]);
    });
  });
});

describe('elsewhere', () => {
  it('is undefined for a backend without a wasm heap (cpu, an object that only looks like one)', async () => {
    await tf.setBackend('cpu');
    expect(wasmKernels(tf.backend())).toBeUndefined();
    expect(wasmKernels({ wasm: { asm: { memory: {} } }, typedArrayFromHeap: () => new Float32Array(0) })).toBeUndefined();
    const memory = new WebAssembly.Memory({ initial: 1 });
    // a memory that is not the heap's buffer: refused
    expect(wasmKernels({ wasm: { asm: { memory }, HEAPU8: new Uint8Array(8) }, typedArrayFromHeap: () => new Float32Array(0) })).toBeUndefined();
    expect(wasmKernels(null)).toBeUndefined();
  });

  it('finds the heap memory under a newer Emscripten name (wasmExports) and works on it', () => {
    const memory = new WebAssembly.Memory({ initial: 1 });
    const heap = new Float32Array(memory.buffer);
    const [p, q] = [values(9, 1), values(9, 2)];
    heap.set(p, 0);
    heap.set(q, 16);
    const offsets = new Map<unknown, number>([['a', 0], ['b', 64]]);
    const backend = {
      wasm: { wasmExports: { memory }, HEAPU8: new Uint8Array(memory.buffer) },
      typedArrayFromHeap: (t: tf.TensorInfo) => new Float32Array(memory.buffer, offsets.get(t.dataId)!, 9),
    };
    const kernels = wasmKernels(backend)!;
    expect(kernels).toBeDefined();
    const tensor = (id: string) => ({ dataId: id, shape: [9], dtype: 'float32' }) as unknown as tf.TensorInfo;
    expect(kernels.dot(tensor('a'), tensor('b'))).toBeCloseTo(dot64(p, q), 9);
  });
});
