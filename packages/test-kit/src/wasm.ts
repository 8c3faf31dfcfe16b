/**
 * Backend smoke tests: the same few steps of a small dense model run on the `cpu` backend and on
 * `@tensorflow/tfjs-backend-wasm` (loaded in Node with its binaries from its own `dist/`), so a
 * package can check that its components compute the same update on wasm, without tensor growth and
 * without host reads.
 */
import { createRequire } from 'node:module';
import * as tf from '@tensorflow/tfjs-core';
import { expect } from 'vitest';
import { countHostReads } from './harness.js';

let wasmReady: Promise<void> | null = null;

/**
 * Register and initialize the wasm backend once per process (in Node: `setWasmPaths` pointed at the
 * package's `dist/` folder, as `@flatmin/backend` does), then switch back to the backend that was
 * active, so a test file still starts on `cpu`.
 */
export function loadWasm(): Promise<void> {
  wasmReady ??= (async () => {
    const wasm = await import('@tensorflow/tfjs-backend-wasm');
    const main = createRequire(import.meta.url).resolve('@tensorflow/tfjs-backend-wasm');
    wasm.setWasmPaths(main.replace(/[^\\/]*$/, ''));
    const previous = tf.getBackend();
    if (!(await tf.setBackend('wasm'))) throw new Error('test-kit: the wasm backend failed to initialize');
    await tf.setBackend(previous);
  })();
  return wasmReady;
}

/** Run `fn` with `backend` active, then switch back to the backend that was active before. */
export async function onBackend<T>(backend: 'cpu' | 'wasm', fn: () => T | Promise<T>): Promise<T> {
  if (backend === 'wasm') await loadWasm();
  const previous = tf.getBackend();
  await tf.setBackend(backend);
  try {
    return await fn();
  } finally {
    await tf.setBackend(previous);
  }
}

/** The small dense model of {@link denseRun}: 4 → 6 (tanh) → 3, mean squared error over 8 samples. */
export interface DenseModel {
  readonly variables: tf.Variable[];
  /** The loss closure for `minimize`: a scalar, or `{ loss, perSample }` with `perSample: true`. */
  loss(): tf.Scalar | { loss: tf.Scalar; perSample: tf.Tensor1D };
  /** The current weights, flat per variable (host values; a test-side read). */
  read(): number[][];
  dispose(): void;
}

let denseCounter = 0;

/** Deterministic values in [−1, 1) (a small LCG), the same on every backend. */
function fixedValues(count: number, seed: number): number[] {
  let s = seed >>> 0 || 1;
  return Array.from({ length: count }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return (s / 4294967296) * 2 - 1;
  });
}

/**
 * A dense 4 → 6 → 3 model (tanh hidden layer: no dead units, so no ties among gradient scores) with
 * fixed weights and fixed data on the active backend; unique variable names per call.
 */
export function denseModel(options: { perSample?: boolean } = {}): DenseModel {
  denseCounter += 1;
  const shapes: [string, number[]][] = [
    ['w1', [4, 6]],
    ['b1', [6]],
    ['w2', [6, 3]],
    ['b2', [3]],
  ];
  const variables = shapes.map(([name, shape], i) =>
    tf.variable(tf.tensor(fixedValues(shape.reduce((a, b) => a * b, 1), 10 + i).map((v) => v * 0.8), shape), true, `dense${denseCounter}/${name}`),
  );
  const x = tf.tensor2d(fixedValues(32, 3), [8, 4]);
  const y = tf.tensor2d(fixedValues(24, 4), [8, 3]);
  const [w1, b1, w2, b2] = variables as [tf.Variable, tf.Variable, tf.Variable, tf.Variable];
  const perSampleLoss = () => tf.mean(tf.square(tf.sub(tf.add(tf.matMul(tf.tanh(tf.add(tf.matMul(x, w1), b1)), w2), b2), y)), 1) as tf.Tensor1D;
  return {
    variables,
    loss() {
      const perSample = perSampleLoss();
      const loss = tf.mean(perSample) as tf.Scalar;
      return options.perSample === true ? { loss, perSample } : loss;
    },
    read: () => variables.map((v) => Array.from(v.dataSync())),
    dispose: () => tf.dispose([...variables, x, y]),
  };
}

/** What {@link denseRun} measured on one backend. */
export interface DenseRun {
  readonly backend: string;
  /** The weights after every step (flat per variable). */
  readonly weights: number[][][];
  /** Host reads (`readSync`/`read` of the engine) during the steps after the first. */
  readonly reads: number;
  /** Change of `tf.memory()` tensors and bytes over the steps after the first (the first makes lazy state). */
  readonly tensorGrowth: number;
  readonly byteGrowth: number;
}

/** `steps` `minimize` calls of `make()` on {@link denseModel} with `backend` active. */
export async function denseRun(make: () => tf.Optimizer, backend: 'cpu' | 'wasm', options: { steps?: number; perSample?: boolean } = {}): Promise<DenseRun> {
  const steps = options.steps ?? 3;
  return onBackend(backend, () => {
    const model = denseModel({ perSample: options.perSample ?? false });
    const optimizer = make();
    try {
      const step = () => optimizer.minimize(model.loss as () => tf.Scalar, false, model.variables);
      step();
      const weights = [model.read()];
      const before = tf.memory();
      let reads = 0;
      for (let i = 1; i < steps; i += 1) {
        reads += countHostReads(step).reads;
        weights.push(model.read());
      }
      const after = tf.memory();
      return { backend: tf.getBackend(), weights, reads, tensorGrowth: after.numTensors - before.numTensors, byteGrowth: after.numBytes - before.numBytes };
    } finally {
      optimizer.dispose();
      model.dispose();
    }
  });
}

/**
 * Run `make()` for a few steps on cpu and on wasm and assert: every step's weights agree to float32
 * tolerance (`tolerance`, absolute on weights of size ~1, default 2e-5), zero host reads per step and
 * no tensor growth on wasm (and on cpu), and — so the check cannot pass with a perturbation that does
 * nothing on both — the weights differ from those of `plain()` (the base optimizer alone) by more than
 * 100× the tolerance on cpu. Returns both runs.
 */
export async function expectSameOnWasm(
  make: () => tf.Optimizer,
  options: { plain: () => tf.Optimizer; steps?: number; tolerance?: number; perSample?: boolean },
): Promise<{ cpu: DenseRun; wasm: DenseRun }> {
  const tolerance = options.tolerance ?? 2e-5;
  const run = { steps: options.steps ?? 3, perSample: options.perSample ?? false };
  const cpu = await denseRun(make, 'cpu', run);
  const wasm = await denseRun(make, 'wasm', run);
  const plain = await denseRun(options.plain, 'cpu', { steps: run.steps }); // a base optimizer takes a scalar loss
  expect([cpu.backend, wasm.backend]).toEqual(['cpu', 'wasm']);
  const gap = (a: number[][], b: number[][]) => Math.max(...a.flatMap((row, i) => row.map((v, j) => Math.abs(v - b[i]![j]!))));
  cpu.weights.forEach((weights, step) => {
    expect(gap(wasm.weights[step]!, weights), `step ${step + 1}: wasm vs cpu`).toBeLessThanOrEqual(tolerance);
  });
  expect(gap(cpu.weights.at(-1)!, plain.weights.at(-1)!), 'the perturbation changes the update').toBeGreaterThan(100 * tolerance);
  for (const r of [cpu, wasm]) {
    expect({ backend: r.backend, reads: r.reads, tensors: r.tensorGrowth, bytes: r.byteGrowth }).toEqual({ backend: r.backend, reads: 0, tensors: 0, bytes: 0 });
  }
  return { cpu, wasm };
}

/**
 * On wasm, which has no `Conv2DBackpropFilter` kernel: a `minimize` of `make()` on a tiny conv2d
 * model, twice. Returns the error the second call threw (or null), whether the weights are what they
 * were before the calls, and the `tf.memory()` tensors the second call left behind.
 */
export async function convStepOnWasm(make: () => tf.Optimizer): Promise<{ error: Error | null; weightsUnchanged: boolean; tensorGrowth: number }> {
  return onBackend('wasm', () => {
    denseCounter += 1;
    const filter = tf.variable(tf.tensor4d(fixedValues(18, 5), [3, 3, 1, 2]), true, `conv${denseCounter}/kernel`);
    const bias = tf.variable(tf.tensor1d([0.1, -0.2]), true, `conv${denseCounter}/bias`);
    const image = tf.tensor4d(fixedValues(25, 6), [1, 5, 5, 1]);
    const optimizer = make();
    const before = [Array.from(filter.dataSync()), Array.from(bias.dataSync())];
    const step = (): Error | null => {
      try {
        optimizer.minimize(() => tf.mean(tf.square(tf.add(tf.conv2d(image, filter, 1, 'same'), bias))) as tf.Scalar, false, [filter, bias]);
        return null;
      } catch (caught) {
        return caught as Error;
      }
    };
    step(); // the first call may make the optimizer's lazy state
    const tensors = tf.memory().numTensors;
    const error = step();
    const after = [Array.from(filter.dataSync()), Array.from(bias.dataSync())];
    const tensorGrowth = tf.memory().numTensors - tensors;
    optimizer.dispose();
    tf.dispose([filter, bias, image]);
    return { error, weightsUnchanged: JSON.stringify(after) === JSON.stringify(before), tensorGrowth };
  });
}
