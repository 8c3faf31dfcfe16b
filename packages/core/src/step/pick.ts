/**
 * The guard's choice between a step's new values and the old ones: `ok ? next : previous`, whole
 * tensors, decided by a device scalar.
 *
 * On the backends whose tensors live in this process's memory (`cpu`, `wasm`) the choice is a
 * kernel of its own that looks at the verdict where the backend keeps it and hands back the
 * chosen buffer, shared like a reshape: no element is copied or compared, and nothing crosses a
 * device boundary because there is none (the backend is not asked to read anything: no
 * `readSync`/`read`). On every other backend (webgl, webgpu, tfjs-node) it is `tf.where` with
 * the verdict broadcast, element-wise on the device. Both give the same values bit for bit.
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { hostMemory } from '../cpu-kernel.js';

/** The kernel's name in tfjs' registry. */
export const PICK_KERNEL = 'FlatminPick';

/** Whether the host-memory kernel may be used (tests turn it off to run the element-wise route on cpu). */
let hostKernel = true;

/**
 * Turn the host-memory kernel off (`false`) or on again: the element-wise route then runs on every
 * backend. For tests of the route GPU backends take; returns the previous setting.
 *
 * @internal
 */
export function useHostPick(on: boolean): boolean {
  const previous = hostKernel;
  hostKernel = on;
  return previous;
}

function ensureKernel(backendName: string): boolean {
  const memory = hostMemory(backendName);
  if (memory === undefined || !hostKernel) return false;
  if (tf.getKernel(PICK_KERNEL, backendName) !== undefined) return true;
  tf.registerKernel({
    kernelName: PICK_KERNEL,
    backendName,
    kernelFunc: ({ inputs, backend }) => {
      const { ok, t, e } = inputs as { ok: tf.TensorInfo; t: tf.TensorInfo; e: tf.TensorInfo };
      const chosen = memory.values(backend, ok)[0] === 1 ? t : e;
      (backend as { incRef(id: tf.DataId): void }).incRef(chosen.dataId);
      return { dataId: chosen.dataId, shape: chosen.shape, dtype: chosen.dtype };
    },
  });
  return true;
}

/**
 * `next` when `ok` is 1, `previous` otherwise (`ok` a float32 device scalar, 1 or 0), decided on
 * the device: no host read. `next` and `previous` have the same shape and dtype. The result is a
 * new tensor handle; on cpu and wasm it shares the chosen tensor's buffer (no element is copied or
 * compared), elsewhere it is `tf.where` with `ok` broadcast. Not differentiable: for choices made
 * outside a gradient (the guard, a perturbation keeping the best of its candidates).
 *
 * @example
 * ```ts
 * import { pick } from '@flatmin/core/kit';
 *
 * // Keep the candidate with the higher loss, whole, without reading either loss on the host.
 * const better = tf.cast(tf.greater(lossB, lossA), 'float32') as tf.Scalar;
 * const kept = pick(better, candidateB, candidateA);
 * ```
 */
export function pick(ok: tf.Scalar, next: tf.Tensor, previous: tf.Tensor): tf.Tensor {
  if (next.dtype !== previous.dtype || !tf.util.arraysEqual(next.shape, previous.shape)) {
    throw new Error(`pick: ${next.dtype} [${next.shape}] against ${previous.dtype} [${previous.shape}]`);
  }
  if (ensureKernel(tf.getBackend())) return tf.engine().runKernel(PICK_KERNEL, { ok, t: next, e: previous }) as tf.Tensor;
  return tf.tidy(() => tf.where(tf.cast(ok, 'bool'), next, previous));
}
