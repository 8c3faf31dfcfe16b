// Smoke test: after useBestBackend() picks wasm in Node, real kernels (matmul and its gradient)
// run on the wasm backend and agree with the cpu backend.
import * as tf from '@tensorflow/tfjs-core';
import { afterEach, expect, it } from 'vitest';
import { describeBackend, useBestBackend } from '../src/index.js';

afterEach(async () => {
  await tf.setBackend('cpu');
});

const x = [
  [0.5, -1.25, 2, 0.75],
  [1.5, 0.25, -0.5, 3],
  [-2, 1, 0.125, -0.375],
];
const w = [
  [0.1, -0.2],
  [0.3, 0.4],
  [-0.5, 0.6],
  [0.7, -0.8],
];

/** Loss = Σ tanh(x·w)² and its gradient with respect to w, computed on the active backend. */
function lossAndGradient(): { backend: string; loss: number; gradient: number[][] } {
  const { value, grads } = tf.tidy(() => {
    const inputs = tf.tensor2d(x);
    const weights = tf.tensor2d(w);
    const f = (weight: tf.Tensor) => tf.sum(tf.square(tf.tanh(tf.matMul(inputs, weight as tf.Tensor2D))));
    const result = tf.valueAndGrads(f)([weights]);
    return { value: result.value, grads: result.grads };
  });
  const gradient = grads[0]!;
  const result = { backend: tf.getBackend(), loss: value.dataSync()[0]!, gradient: gradient.arraySync() as number[][] };
  tf.dispose([value, gradient]);
  return result;
}

it('a matmul and its gradient run on wasm and equal the cpu result to 1e-5', async () => {
  const onCpu = lossAndGradient();
  expect(onCpu.backend).toBe('cpu');

  const choice = await useBestBackend({ log: false });
  expect(choice.name).toBe('wasm');
  const before = tf.memory().numTensors;
  const onWasm = lossAndGradient();
  expect(onWasm.backend).toBe('wasm');
  expect(tf.memory().numTensors).toBe(before);

  expect(Math.abs(onWasm.loss - onCpu.loss)).toBeLessThan(1e-5);
  for (const [i, row] of onWasm.gradient.entries()) {
    for (const [j, value] of row.entries()) expect(Math.abs(value - onCpu.gradient[i]![j]!)).toBeLessThan(1e-5);
  }
  // The gradient is not trivially zero.
  expect(onCpu.gradient.flat().some((value) => Math.abs(value) > 1e-3)).toBe(true);
});

it('describeBackend reports the backend, Node and the thread count', async () => {
  expect(describeBackend()).toEqual({ name: 'cpu', isNode: true, threads: 1 });
  await useBestBackend({ order: ['wasm'], log: false });
  // tfjs-backend-wasm does not use threads in Node.js.
  expect(describeBackend()).toEqual({ name: 'wasm', isNode: true, threads: 1 });
});

it('documented caveat: wasm has no Conv2DBackpropFilter, so CNNs do not train on it (cpu does)', async () => {
  const filterGradient = () =>
    tf.tidy(() => {
      const image = tf.ones([1, 5, 5, 1]) as tf.Tensor4D;
      const gradient = tf.grad((filter: tf.Tensor) => tf.sum(tf.conv2d(image, filter as tf.Tensor4D, 1, 'same')));
      return Array.from(gradient(tf.ones([3, 3, 1, 1])).dataSync());
    });
  expect(filterGradient()).toHaveLength(9); // cpu
  await useBestBackend({ order: ['wasm'], log: false });
  expect(filterGradient).toThrow(/Kernel 'Conv2DBackpropFilter' not registered for backend 'wasm'/);
});
