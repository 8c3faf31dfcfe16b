// model.fit with BatchNormalization and a metric (a plain closure: fisherMask's squared
// batch-gradient EMA, the documented fallback), BatchNorm statistics moved by one pass per step,
// loss evaluations counted, no leak across fits; and a custom loop that returns per-sample losses.
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { sharpnessAware } from '@flatmin/core';
import { gradient } from '@flatmin/perturb-gradient';
import { axpy, flatten, linearGrad64, makeLinearProblem, makeTfLinear, maxRelativeError, unflatten } from '@flatmin/test-kit';
import { describe, expect, it } from 'vitest';
import { dynamicMask, fisherMask, type Mask, randomMask, sparse } from '../src/index.js';

function data(n = 32) {
  return tf.tidy(() => {
    const x = tf.randomNormal([n, 4], 0, 1, 'float32', 1);
    const labels = tf.cast(tf.greater(tf.sum(x, 1), 0), 'int32');
    return { x: tf.keep(x), y: tf.keep(tf.cast(tf.oneHot(labels, 2), 'float32')) };
  });
}

function model(batchNorm: boolean) {
  const m = tfl.sequential();
  m.add(tfl.layers.dense({ units: 8, inputShape: [4], kernelInitializer: tfl.initializers.glorotUniform({ seed: 1 }) }));
  if (batchNorm) m.add(tfl.layers.batchNormalization());
  m.add(tfl.layers.activation({ activation: 'relu' }));
  m.add(tfl.layers.dense({ units: 2, activation: 'softmax', kernelInitializer: tfl.initializers.glorotUniform({ seed: 2 }) }));
  return m;
}

const MASKS: [string, () => Mask][] = [
  ['fisherMask (squared batch-gradient EMA fallback)', () => fisherMask({ updateEvery: 2 })],
  ['dynamicMask', () => dynamicMask({ updateEvery: 2, totalSteps: 40 })],
  ['randomMask', () => randomMask({ keep: 0.5 })],
];

const movingStats = (m: tfl.LayersModel) =>
  m.layers[1]!.getWeights()
    .slice(2) // moving_mean, moving_variance
    .map((t) => t.arraySync());

describe.each(MASKS)('model.fit with BatchNormalization and a metric: %s', (_name, mask) => {
  it('trains, leaks nothing across fits, counts two loss evaluations per step', async () => {
    const { x, y } = data();
    const m = model(true);
    const optimizer = sharpnessAware({ base: tf.train.sgd(0.1), perturbation: sparse(gradient({ rho: 0.05 }), mask()), seed: 1 });
    m.compile({ optimizer, loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
    const first = await m.fit(x, y, { epochs: 2, batchSize: 8, verbose: 0, shuffle: false });
    const before = tf.memory();
    const second = await m.fit(x, y, { epochs: 3, batchSize: 8, verbose: 0, shuffle: false });
    const after = tf.memory();
    expect({ numTensors: after.numTensors, numBytes: after.numBytes }).toEqual({ numTensors: before.numTensors, numBytes: before.numBytes });
    expect(optimizer.steps).toBe(20);
    expect((await optimizer.telemetry()).lossEvaluations).toBe(40);
    expect(second.history['acc']).toHaveLength(3);
    const losses = [...(first.history['loss'] as number[]), ...(second.history['loss'] as number[])];
    expect(losses.at(-1)!).toBeLessThan(losses[0]!);
    m.dispose();
    optimizer.dispose();
    tf.dispose([x, y]);
  });

  it('BatchNorm moving statistics move by the clean pass only (equal to one plain SGD step)', async () => {
    const { x, y } = data(16);
    const plain = model(true);
    const sharp = model(true);
    sharp.setWeights(plain.getWeights());
    const sgd = tf.train.sgd(0.1);
    const optimizer = sharpnessAware({ base: tf.train.sgd(0.1), perturbation: sparse(gradient({ rho: 0.5 }), mask()), seed: 2 });
    plain.compile({ optimizer: sgd, loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
    sharp.compile({ optimizer, loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
    await plain.fit(x, y, { epochs: 1, batchSize: 16, verbose: 0, shuffle: false });
    await sharp.fit(x, y, { epochs: 1, batchSize: 16, verbose: 0, shuffle: false });
    expect(movingStats(sharp)).toEqual(movingStats(plain));
    expect(movingStats(plain)[0]).not.toEqual(new Array(8).fill(0)); // the clean pass did move them
    // ...and the step was sharp: the kernel differs from plain SGD's.
    expect(sharp.layers[0]!.getWeights()[0]!.arraySync()).not.toEqual(plain.layers[0]!.getWeights()[0]!.arraySync());
    for (const m of [plain, sharp]) m.dispose();
    sgd.dispose();
    optimizer.dispose();
    tf.dispose([x, y]);
  });
});

describe('a custom loop that returns per-sample losses: the paper\'s empirical Fisher', () => {
  const problem = makeLinearProblem({ seed: 29, n: 8 });
  const rows = Array.from({ length: problem.n }, (_, i) => i);
  const closure = (linear: ReturnType<typeof makeTfLinear>, withPerSample: boolean) => {
    const xs = tf.keep(tf.tensor2d(problem.x));
    const ys = tf.keep(tf.tensor2d(problem.y));
    return () => {
      const perSample = tf.sum(tf.square(tf.sub(tf.add(tf.matMul(xs, linear.w), linear.b), ys)), 1) as tf.Tensor1D;
      const loss = tf.mean(perSample) as tf.Scalar;
      return withPerSample ? { loss, perSample } : loss;
    };
  };

  it('ranks F_i = (1/m) Σ_n (∂ℓ_n/∂w_i)² over the first m = samples per-sample gradients (float64 reference)', () => {
    const samples = 3;
    const rho = 0.1;
    const lr = 0.1;
    const linear = makeTfLinear(problem);
    const optimizer = sharpnessAware({ base: tf.train.sgd(lr), perturbation: sparse(gradient({ rho }), fisherMask({ sparsity: 0.5, updateEvery: 1, samples })), seed: 1 });
    optimizer.minimize(closure(linear, true), false, linear.variables);

    const w0 = problem.init;
    const perSampleGrads = [0, 1, 2].map((n) => flatten(linearGrad64(problem, w0, [n])));
    const fisher = perSampleGrads[0]!.map((_, i) => perSampleGrads.reduce((sum, g) => sum + g[i]! ** 2, 0) / samples);
    const d = fisher.length;
    const kept = new Set([...fisher.keys()].sort((a, b) => fisher[b]! - fisher[a]! || a - b).slice(0, Math.round(0.5 * d)));
    const g = flatten(linearGrad64(problem, w0, rows));
    const masked = g.map((v, i) => (kept.has(i) ? v : 0));
    const norm = Math.sqrt(masked.reduce((sum, v) => sum + v * v, 0));
    const perturbed = unflatten(problem, flatten(w0).map((v, i) => v + (rho * masked[i]!) / norm));
    const expected = axpy(-lr, linearGrad64(problem, perturbed, rows), w0);
    expect(maxRelativeError(linear.read(), expected)).toBeLessThan(1e-5);
    optimizer.dispose();
    linear.dispose();
  });

  it('costs m more loss evaluations on a refresh step only, and differs from the batch-gradient EMA of a plain closure', async () => {
    const runs = [true, false].map((withPerSample) => {
      const linear = makeTfLinear(problem);
      const optimizer = sharpnessAware({ base: tf.train.sgd(0.1), perturbation: sparse(gradient({ rho: 0.1 }), fisherMask({ updateEvery: 2, samples: 4 })), seed: 1 });
      const f = closure(linear, withPerSample);
      const counts: number[] = [];
      return { linear, optimizer, f, counts };
    });
    for (const run of runs) {
      for (let i = 0; i < 3; i += 1) {
        run.optimizer.minimize(run.f, false, run.linear.variables);
        run.counts.push((await run.optimizer.telemetry()).lossEvaluations);
      }
    }
    // Per-sample: steps 0 and 2 refresh (2 + 4 evaluations), step 1 does not (2). Plain closure: 2 per step.
    expect(runs[0]!.counts).toEqual([6, 8, 14]);
    expect(runs[1]!.counts).toEqual([2, 4, 6]);
    expect(maxRelativeError(runs[0]!.linear.read(), runs[1]!.linear.read())).toBeGreaterThan(1e-6);
    expect(sparse(gradient(), fisherMask()).requires).toBeUndefined();
    for (const run of runs) {
      run.optimizer.dispose();
      run.linear.dispose();
    }
  });
});
