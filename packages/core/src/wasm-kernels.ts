/**
 * flatmin's WebAssembly kernels on the tfjs wasm backend's own memory: a small module (SIMD, its
 * text in `wasm-kernels.wat`) instantiated once per backend against the memory the backend's heap
 * lives in, so a kernel reads and writes tensors where they are — no copy, no read back. Where the
 * module cannot be had (no SIMD, a backend that does not expose its memory), {@link wasmKernels}
 * says undefined and the callers take their JavaScript or tfjs route.
 *
 * @module
 */
import type * as tf from '@tensorflow/tfjs-core';
import { PLAIN_MEMORY_MODULE, SHARED_MEMORY_MODULE } from './wasm-kernels-binary.js';

/** The kernels, on tensors of one wasm backend. */
export interface WasmKernels {
  /** Σᵢ aᵢbᵢ over two float32 tensors of the same size, in float64 (each value promoted, then multiplied). */
  dot(a: tf.TensorInfo, b: tf.TensorInfo): number;
  /**
   * Into `out` (cols float32 values): out[j] = Σᵢ x[i·cols + j] — of x² when `square` — for the
   * float32 tensor `x` read as a rows × cols matrix; float32 sums, row by row.
   */
  columnSums(x: tf.TensorInfo, rows: number, cols: number, out: tf.TensorInfo, square: boolean): void;
  /**
   * The ziggurat's fast path: `count` draws into `out` from element `start` on, from the sfc32
   * words `state` (advanced in place), with the tables `K` (fast-path bounds) and `W` (scales) of
   * 256 layers. A draw that misses the fast path keeps its 32 bits in its place and its index,
   * counted from `start`, goes to `slow`; returns how many did (at most `count`; `slow` must hold
   * them, and `count` may be at most {@link NORMAL_BLOCK}).
   */
  normalFast(out: tf.TensorInfo, start: number, count: number, state: Int32Array, K: Int32Array, W: Float64Array, slow: Int32Array): number;
}

/** The most draws one {@link WasmKernels.normalFast} call may make (the size of its list of slow ones on the heap). */
export const NORMAL_BLOCK = 16384;

/** What the kernels use of the wasm backend. */
interface WasmBackendLike {
  wasm?: { asm?: { memory?: unknown }; wasmExports?: { memory?: unknown }; wasmMemory?: unknown; HEAPU8?: Uint8Array; _malloc?(bytes: number): number };
  typedArrayFromHeap?(info: tf.TensorInfo): Float32Array;
  getMemoryOffset?(dataId: tf.DataId): number;
}

interface Exports {
  dot(a: number, b: number, n: number): number;
  columnSums(x: number, rows: number, cols: number, out: number, square: number): void;
  normalFast(out: number, n: number, state: number, K: number, W: number, list: number): number;
}

let enabled = true;
const instances = new WeakMap<object, WasmKernels | null>();

function decode(base64: string): Uint8Array<ArrayBuffer> {
  const text = atob(base64);
  const bytes = new Uint8Array(new ArrayBuffer(text.length));
  for (let i = 0; i < text.length; i += 1) bytes[i] = text.charCodeAt(i);
  return bytes;
}

/** The backend's heap memory, when it exposes it and it is the buffer its tensors live in. */
function heapMemory(backend: WasmBackendLike): WebAssembly.Memory | undefined {
  const wasm = backend.wasm;
  if (wasm === undefined || typeof backend.typedArrayFromHeap !== 'function' || typeof WebAssembly !== 'object') return undefined;
  // Emscripten keeps the instance's exports as `asm` (the build tfjs 4.22 ships) or `wasmExports` (newer builds).
  const memory = wasm.asm?.memory ?? wasm.wasmExports?.memory ?? wasm.wasmMemory;
  if (!(memory instanceof WebAssembly.Memory)) return undefined;
  return wasm.HEAPU8 !== undefined && wasm.HEAPU8.buffer === memory.buffer ? memory : undefined;
}

function instantiate(backend: WasmBackendLike): WasmKernels | null {
  const memory = heapMemory(backend);
  if (memory === undefined) return null;
  const shared = typeof SharedArrayBuffer === 'function' && memory.buffer instanceof SharedArrayBuffer;
  let exports: Exports;
  try {
    // A module this small may be compiled synchronously on any thread (browsers allow up to 4 KB).
    const module = new WebAssembly.Module(decode(shared ? SHARED_MEMORY_MODULE : PLAIN_MEMORY_MODULE));
    exports = new WebAssembly.Instance(module, { env: { memory } }).exports as unknown as Exports;
  } catch {
    return null; // no SIMD in this engine
  }
  // The backend's own offset lookup where it has one (no view made per call), else a view's offset.
  const offset =
    typeof backend.getMemoryOffset === 'function'
      ? (t: tf.TensorInfo): number => backend.getMemoryOffset!(t.dataId)
      : (t: tf.TensorInfo): number => backend.typedArrayFromHeap!(t).byteOffset;
  // The normal draws' scratch on the heap, allocated on their first use and kept with the backend:
  // the tables (1 + 2 KiB), the generator's state (16 B) and the list of slow draws (64 KiB).
  let scratch = -1;
  let tablesOf: Int32Array | null = null;
  const normalFast = (out: tf.TensorInfo, start: number, count: number, state: Int32Array, K: Int32Array, W: Float64Array, slow: Int32Array): number => {
    if (count > NORMAL_BLOCK) throw new RangeError(`normalFast: at most ${NORMAL_BLOCK} draws per call, got ${count}`);
    if (scratch < 0) {
      if (typeof backend.wasm!._malloc !== 'function') throw new Error('normalFast: this wasm backend does not expose its allocator');
      scratch = backend.wasm!._malloc(1024 + 2048 + 16 + 4 * NORMAL_BLOCK) >>> 0;
    }
    const heap = memory.buffer;
    if (tablesOf !== K) {
      new Int32Array(heap, scratch, 256).set(K);
      new Float64Array(heap, scratch + 1024, 256).set(W);
      tablesOf = K;
    }
    new Int32Array(heap, scratch + 3072, 4).set(state);
    const n = exports.normalFast(offset(out) + 4 * start, count, scratch + 3072, scratch, scratch + 1024, scratch + 3088);
    // The call allocates nothing, so the views taken before it are still attached.
    state.set(new Int32Array(heap, scratch + 3072, 4));
    slow.set(new Int32Array(heap, scratch + 3088, n));
    return n;
  };
  return {
    dot: (a, b) => exports.dot(offset(a), offset(b), Math.min(sizeOf(a), sizeOf(b))),
    columnSums: (x, rows, cols, out, square) => exports.columnSums(offset(x), rows, cols, offset(out), square ? 1 : 0),
    normalFast,
  };
}

function sizeOf(t: tf.TensorInfo): number {
  return t.shape.reduce((p, n) => p * n, 1);
}

/**
 * The kernels for `backend` (the engine's backend object, as a kernel function gets it) when it is
 * a wasm backend whose heap they can work on, else undefined. Instantiated on the first call per
 * backend, then kept with it.
 */
export function wasmKernels(backend: unknown): WasmKernels | undefined {
  if (!enabled || typeof backend !== 'object' || backend === null) return undefined;
  let kernels = instances.get(backend);
  if (kernels === undefined) {
    kernels = instantiate(backend as WasmBackendLike);
    instances.set(backend, kernels);
  }
  return kernels ?? undefined;
}

/**
 * Turn the WebAssembly kernels off (`false`: the callers take their JavaScript route on wasm too)
 * or back on; for tests that compare both routes.
 */
export function useWasmKernels(on: boolean): void {
  enabled = on;
}
