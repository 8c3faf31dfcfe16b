/**
 * What flatmin's own kernels share: the memory of the backends that keep their tensors in this
 * process (cpu: host buffers; wasm: its heap), and a once-only registration of a kernel with its
 * gradient.
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';

/** What the kernels use of the cpu backend: its host buffers and its tensor maker. */
interface HostBackend {
  data: { get(id: tf.DataId): { values?: unknown } };
  makeTensorInfo(shape: number[], dtype: tf.DataType, values: Float32Array): tf.TensorInfo;
}

/** The float32 host buffer of a cpu tensor (no read: the cpu backend keeps its data on the host). */
export function hostValues(backend: unknown, t: tf.TensorInfo): Float32Array {
  return (backend as HostBackend).data.get(t.dataId).values as Float32Array;
}

/** A float32 cpu tensor of `shape` holding `values`. */
export function hostTensor(backend: unknown, shape: readonly number[], values: Float32Array): tf.TensorInfo {
  return (backend as HostBackend).makeTensorInfo(shape.slice(), 'float32', values);
}

/** Register a cpu kernel and its gradient, each only if tfjs' registry has none under that name. */
export function registerCpuKernel(kernelName: string, kernelFunc: tf.KernelFunc, gradient: Pick<tf.GradConfig, 'inputsToSave' | 'gradFunc'>): void {
  if (tf.getKernel(kernelName, 'cpu') === undefined) tf.registerKernel({ kernelName, backendName: 'cpu', kernelFunc });
  if (tf.getGradient(kernelName) === undefined) tf.registerGradient({ kernelName, ...gradient });
}

/**
 * How a kernel written in JavaScript gets at a backend's tensors where that backend keeps them:
 * `values` is a float32 view of a tensor's data (no copy, no read back), `output` a new float32
 * tensor holding `values` (copied: the caller may reuse or view its buffer).
 */
export interface HostMemory {
  /** The float32 values of `t`, where the backend keeps them. */
  values(backend: unknown, t: tf.TensorInfo): Float32Array;
  /** A new float32 tensor of `shape` holding a copy of `values`. */
  output(backend: unknown, shape: readonly number[], values: Float32Array): tf.TensorInfo;
}

interface WasmHeap {
  typedArrayFromHeap(info: tf.TensorInfo): Float32Array;
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
}

const HOST_MEMORY: Readonly<Record<string, HostMemory>> = {
  cpu: {
    values: hostValues,
    output: (backend, shape, values) => hostTensor(backend, shape, values.slice()),
  },
  wasm: {
    values: (backend, t) => (backend as WasmHeap).typedArrayFromHeap(t),
    output: (backend, shape, values) => {
      // Allocate first: a growth of the heap detaches every view taken before it.
      const out = (backend as WasmHeap).makeOutput(shape.slice(), 'float32');
      (backend as WasmHeap).typedArrayFromHeap(out).set(values);
      return out;
    },
  },
};

/**
 * The memory access of backend `backendName` when it keeps its tensors in this process (`cpu`,
 * `wasm`), else undefined (webgl, webgpu, tfjs-node: take a device route there). For a component's
 * kernel that works on the values where the backend keeps them: nothing is read back, so the
 * step's host-read count stays 0.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * import { hostMemory } from '@flatmin/core/kit';
 *
 * const memory = hostMemory(tf.getBackend()); // defined on cpu and wasm
 * if (memory !== undefined) {
 *   tf.registerKernel({
 *     kernelName: 'MyNegate',
 *     backendName: tf.getBackend(),
 *     kernelFunc: ({ inputs, backend }) => memory.output(backend, inputs.x!.shape, memory.values(backend, inputs.x!).map((v) => -v)),
 *   });
 * }
 * ```
 */
export function hostMemory(backendName: string): HostMemory | undefined {
  return HOST_MEMORY[backendName];
}

const hostKernels = new Set<string>();

/**
 * Register `kernelName` for the current backend when that backend keeps its tensors in this process
 * (cpu, wasm): the kernel function `make` builds from the backend's {@link HostMemory}, and its
 * gradient, each once and only if tfjs' registry has none. Whether the kernel can be used there
 * (false on webgl, webgpu, tfjs-node: take a device route).
 */
export function registerHostKernel(kernelName: string, make: (memory: HostMemory) => tf.KernelFunc, gradient: Pick<tf.GradConfig, 'inputsToSave' | 'gradFunc'>): boolean {
  const backendName = tf.getBackend();
  const key = `${kernelName} ${backendName}`;
  if (hostKernels.has(key)) return true;
  const memory = hostMemory(backendName);
  if (memory === undefined) return false;
  if (tf.getKernel(kernelName, backendName) === undefined) tf.registerKernel({ kernelName, backendName, kernelFunc: make(memory) });
  if (tf.getGradient(kernelName) === undefined) tf.registerGradient({ kernelName, ...gradient });
  hostKernels.add(key);
  return true;
}
