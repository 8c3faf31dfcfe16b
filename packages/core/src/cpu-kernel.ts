/**
 * What flatmin's own cpu kernels share: the cpu backend's host buffers and tensor maker, and a
 * once-only registration of a kernel with its gradient.
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
