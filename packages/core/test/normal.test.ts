// The kit's seeded normal draws on every route: the wasm backend's kernel (the ziggurat's fast path
// in flatmin's WebAssembly module, the rare draws in JavaScript, filled in place on the heap), the
// same backend without the module, and the cpu backend's host buffer — all the same values as one
// fillNormal(seed) buffer cut into the shapes, bit for bit, across the generator's blocks. (The
// generator's statistics are tested with @flatmin/perturb-noise, whose fillNormal this is.)
import { countHostReads, onBackend } from '@flatmin/test-kit';
import * as tf from '@tensorflow/tfjs-core';
import { afterEach, describe, expect, it } from 'vitest';
import { fillNormal, NORMAL_KERNEL, normalDraws } from '../src/normal.js';
import { NORMAL_BLOCK, useWasmKernels, wasmKernels } from '../src/wasm-kernels.js';

afterEach(() => useWasmKernels(true));

// 20,000 + 300 + 1 + 21 + 40,000 values: the first and last shapes cross blocks of 16,384 draws.
const SHAPES = [[200, 100], [300], [], [7, 3], [160, 250]];
const TOTAL = 20000 + 300 + 1 + 21 + 40000;

const pieces = (seed: number) => {
  const whole = new Float32Array(TOTAL);
  fillNormal(whole, seed);
  let at = 0;
  return SHAPES.map((shape) => {
    const n = shape.reduce((p, k) => p * k, 1);
    at += n;
    return whole.subarray(at - n, at);
  });
};

describe.each([
  ['wasm, the WebAssembly kernel', 'wasm', true],
  ['wasm without the module', 'wasm', false],
  ['cpu', 'cpu', true],
] as const)('normalDraws on %s', (_label, backend, module) => {
  it('gives consecutive pieces of fillNormal(seed), bit for bit, without host reads or leftovers', async () => {
    await onBackend(backend, async () => {
      useWasmKernels(module);
      for (const seed of [1, 12345 + 2 ** 32, 987654321]) {
        const expected = pieces(seed);
        const before = tf.memory().numTensors;
        const { result: draws, reads } = countHostReads(() => normalDraws(seed, SHAPES));
        expect(reads).toBe(0);
        expect(tf.memory().numTensors).toBe(before + SHAPES.length);
        for (const [k, t] of draws.entries()) {
          expect(t.shape).toEqual(SHAPES[k]);
          expect(t.dtype).toBe('float32');
          const got = t.dataSync();
          let same = 0;
          for (let i = 0; i < got.length; i += 1) if (Object.is(got[i], expected[k]![i])) same += 1;
          expect(same).toBe(got.length);
        }
        tf.dispose(draws);
      }
      const profile = await tf.profile(() => {
        tf.dispose(normalDraws(3, SHAPES));
      });
      const names = profile.kernels.map((k) => k.name);
      if (backend === 'wasm' && module) expect(names).toEqual([NORMAL_KERNEL]);
      else expect(names).not.toContain(NORMAL_KERNEL);
    });
  });
});

describe('normalDraws, edge cases', () => {
  it('one shape, an empty list, and a zero-size shape (the host route) on wasm', async () => {
    await onBackend('wasm', () => {
      const [one] = normalDraws(5, [[10]]);
      const expected = new Float32Array(10);
      fillNormal(expected, 5);
      expect(Array.from(one!.dataSync())).toEqual(Array.from(expected));
      expect(normalDraws(5, [])).toEqual([]);
      const [empty, after] = normalDraws(5, [[0, 3], [4]]);
      expect(empty!.shape).toEqual([0, 3]);
      expect(Array.from(after!.dataSync())).toEqual(Array.from(expected.subarray(0, 4)));
      tf.dispose([one!, empty!, after!]);
    });
  });

  it('the fast path refuses more draws per call than its list holds, and marks the slow draws it leaves', async () => {
    await onBackend('wasm', () => {
      const kernels = wasmKernels(tf.backend())!;
      const out = tf.zeros([NORMAL_BLOCK + 1]);
      const info = { dataId: out.dataId, shape: out.shape, dtype: out.dtype } as tf.TensorInfo;
      const K = new Int32Array(256); // every bound 0: no draw takes the fast path
      const W = new Float64Array(256).fill(1);
      const state = new Int32Array([1, 2, 3, 4]);
      const slow = new Int32Array(NORMAL_BLOCK);
      expect(() => kernels.normalFast(info, 0, NORMAL_BLOCK + 1, state, K, W, slow)).toThrow(/at most 16384/);
      expect(kernels.normalFast(info, 1, 5, state, K, W, slow)).toBe(5);
      expect(Array.from(slow.subarray(0, 5))).toEqual([0, 1, 2, 3, 4]);
      // the state advanced by five sfc32 words (its counter word by 5), the first element untouched
      expect(state[3]).toBe(9);
      expect(out.dataSync()[0]).toBe(0);
      out.dispose();
    });
  });
});
