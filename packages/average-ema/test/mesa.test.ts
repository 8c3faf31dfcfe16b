// mesa(): the trajectory loss and its gradient against float64, the teacher wiring under model.fit
// (three steps of SGD on a linear softmax model against a float64 reference of base + λτ²KL with
// the EMA teacher), and model.fit with sharpnessAware, BatchNormalization and a metric.
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { sharpnessAware } from '@flatmin/core';
import { mulberry32 } from '@flatmin/test-kit';
import { describe, expect, it } from 'vitest';
import { gradient } from '../../perturb-gradient/src/index.js';
import { mesa } from '../src/index.js';
import { bnStudent } from './models.js';
import { ema64, relativeError } from './reference.js';

const softmax64 = (z: readonly number[], tau: number) => {
  const m = Math.max(...z.map((v) => v / tau));
  const e = z.map((v) => Math.exp(v / tau - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
};

/** λτ² · mean_b Σ_k p_k (log p_k − log q_k), p = softmax(teacher/τ), q = softmax(student/τ), float64. */
function trajectory64(student: number[][], teacher: number[][], lambda: number, tau: number): number {
  const kl = student.map((s, b) => {
    const q = softmax64(s, tau);
    const p = softmax64(teacher[b]!, tau);
    return p.reduce((sum, pk, k) => sum + pk * (Math.log(pk) - Math.log(q[k]!)), 0);
  });
  return (lambda * tau * tau * kl.reduce((a, b) => a + b, 0)) / student.length;
}

/** ∂/∂student of trajectory64: λτ (q − p) / B per row. */
function trajectoryGrad64(student: number[][], teacher: number[][], lambda: number, tau: number): number[][] {
  return student.map((s, b) => {
    const q = softmax64(s, tau);
    const p = softmax64(teacher[b]!, tau);
    return q.map((qk, k) => (lambda * tau * (qk - p[k]!)) / student.length);
  });
}

const rand = mulberry32(21);
/** Softmax cross-entropy on logits, mean over the batch. */
const crossEntropy = (yt: tf.Tensor, z: tf.Tensor) => tf.neg(tf.mean(tf.sum(tf.mul(yt, tf.logSoftmax(z)), -1)));
const matrix = (rows: number, cols: number, scale = 3) => Array.from({ length: rows }, () => Array.from({ length: cols }, () => (rand() * 2 - 1) * scale));

describe('trajectoryLoss', () => {
  const student = matrix(3, 4);
  const teacher = matrix(3, 4);
  it.each([
    [0.8, 5],
    [0.3, 1],
    [2, 0.5],
  ])('λ = %s, τ = %s: value and gradient match float64', (lambda, tau) => {
    const m = mesa({ lambda, tau });
    const s = tf.tensor2d(student);
    const t = tf.tensor2d(teacher);
    const value = m.trajectoryLoss(s, t);
    expect(value.shape).toEqual([]);
    expect(Math.abs(value.dataSync()[0]! - trajectory64(student, teacher, lambda, tau))).toBeLessThan(1e-5 * Math.max(1, trajectory64(student, teacher, lambda, tau)));
    const [gs, gt] = tf.grads((a: tf.Tensor, b: tf.Tensor) => m.trajectoryLoss(a, b))([s, t]);
    expect(relativeError(Array.from(gs!.dataSync()), trajectoryGrad64(student, teacher, lambda, tau).flat())).toBeLessThan(1e-6);
    expect(Array.from(gt!.dataSync()).every((v) => v === 0)).toBe(true); // no gradient into the teacher
    // The analytic float64 gradient is itself the derivative of the float64 loss (central differences).
    const h = 1e-6;
    const plus = student.map((r) => [...r]);
    const minus = student.map((r) => [...r]);
    plus[1]![2]! += h;
    minus[1]![2]! -= h;
    const numeric = (trajectory64(plus, teacher, lambda, tau) - trajectory64(minus, teacher, lambda, tau)) / (2 * h);
    expect(Math.abs(numeric - trajectoryGrad64(student, teacher, lambda, tau)[1]![2]!)).toBeLessThan(1e-7);
    tf.dispose([s, t, value, gs!, gt!]);
  });

  it('is zero when the teacher equals the student, and λ = 0 turns it off', () => {
    const s = tf.tensor2d(student);
    expect(mesa().trajectoryLoss(s, s).dataSync()[0]).toBeCloseTo(0, 6);
    expect(mesa({ lambda: 0 }).trajectoryLoss(s, tf.tensor2d(teacher)).dataSync()[0]).toBe(0);
    s.dispose();
  });
});

/** Cross-entropy of softmax(z) against one-hot y, mean over the batch, and its gradient (s − y)/B. */
function crossEntropy64(z: number[][], y: number[][]): { value: number; grad: number[][] } {
  const value = z.reduce((sum, row, b) => sum - y[b]!.reduce((t, yk, k) => t + yk * Math.log(softmax64(row, 1)[k]!), 0), 0) / z.length;
  return { value, grad: z.map((row, b) => softmax64(row, 1).map((sk, k) => (sk - y[b]![k]!) / z.length)) };
}

/** Count the teacher's forward passes. */
function countForwards(teacher: tfl.LayersModel): { count: number } {
  const counter = { count: 0 };
  const apply = teacher.apply.bind(teacher);
  teacher.apply = ((...args: Parameters<typeof apply>) => {
    counter.count += 1;
    return apply(...args);
  }) as typeof teacher.apply;
  return counter;
}

const matMul = (x: number[][], w: number[][]) => x.map((row) => w[0]!.map((_, j) => row.reduce((s, v, i) => s + v * w[i]![j]!, 0)));

describe('the teacher under model.fit (linear softmax model, SGD, a standalone handle)', () => {
  it('three steps: each update is w − η(∇CE + ∇λτ²KL) with the EMA teacher, in float64; one teacher forward per step', async () => {
    const [n, d, k, lr, lambda, tau, decay] = [6, 3, 3, 0.5, 0.8, 2, 0.5];
    const x = matrix(n, d, 1);
    const labels = x.map((row) => (row[0]! > 0 ? 0 : row[1]! > 0 ? 1 : 2));
    const y = labels.map((l) => Array.from({ length: k }, (_, j) => (j === l ? 1 : 0)));
    const student = tfl.sequential({ layers: [tfl.layers.dense({ units: k, inputShape: [d], useBias: false, kernelInitializer: tfl.initializers.randomUniform({ minval: -1, maxval: 1, seed: 3 }) })] });
    const m = mesa({ decay, lambda, tau });
    const { model, teacher } = m.teach(student);
    const handle = m.attach(student);
    const forwards = countForwards(teacher);
    model.compile({ optimizer: tf.train.sgd(lr), loss: m.loss(crossEntropy) });
    const kernel = () => student.getWeights()[0]!.arraySync() as number[][];
    const trajectory: number[][][] = [kernel()];
    const losses: number[] = [];
    const recorder = { onBatchEnd: async (_batch: number, logs?: tfl.Logs) => {
      trajectory.push(kernel());
      losses.push(logs!['loss'] as number);
    } };
    const xs = tf.tensor2d(x);
    const ys = tf.tensor2d(y);
    await model.fit(xs, ys, { epochs: 3, batchSize: n, shuffle: false, verbose: 0, callbacks: [handle.callback({ applyOnTrainEnd: false }), recorder] });
    for (let t = 0; t < 3; t += 1) {
      const w = trajectory[t]!;
      // The teacher at step t: the student's initial weights before any update, then the EMA of w_1..w_t.
      const teacherW = t === 0 ? w : (() => {
        const flat = ema64(trajectory.slice(1, t + 1).map((m2) => m2.flat()), decay, false);
        return Array.from({ length: d }, (_, i) => flat.slice(i * k, (i + 1) * k));
      })();
      const z = matMul(x, w);
      const zt = matMul(x, teacherW);
      const ce = crossEntropy64(z, y);
      const kl = trajectoryGrad64(z, zt, lambda, tau);
      const dz = ce.grad.map((row, b) => row.map((v, j) => v + kl[b]![j]!));
      const expected = w.map((row, i) => row.map((v, j) => v - lr * x.reduce((s, xr, b) => s + xr[i]! * dz[b]![j]!, 0)));
      expect(relativeError(trajectory[t + 1]!.flat(), expected.flat())).toBeLessThan(1e-5);
      expect(Math.abs(losses[t]! - (ce.value + trajectory64(z, zt, lambda, tau)))).toBeLessThan(1e-5);
    }
    expect(forwards.count).toBe(3);
    expect(trajectory64(matMul(x, trajectory[2]!), matMul(x, trajectory[1]!), lambda, tau)).toBeGreaterThan(1e-4); // the KL term was live
    // The teacher ends holding the averages.
    expect(relativeError((teacher.getWeights()[0]!.arraySync() as number[][]).flat(), ema64(trajectory.slice(1).map((w) => w.flat()), decay, false))).toBeLessThan(1e-6);
    handle.dispose();
    for (const t of [xs, ys]) t.dispose();
    model.dispose();
    teacher.dispose();
  });

  it('compiling the student itself with mesa(...).loss throws a FlatminError naming teach()', async () => {
    const student = tfl.sequential({ layers: [tfl.layers.dense({ units: 2, inputShape: [2] })] });
    const m = mesa();
    student.compile({ optimizer: tf.train.sgd(0.1), loss: m.loss(crossEntropy) });
    const xs = tf.ones([2, 2]);
    await expect(student.fit(xs, xs, { epochs: 1, verbose: 0 })).rejects.toThrow(/teach\(student\)/);
    xs.dispose();
    student.dispose();
  });
});

describe('model.fit with sharpnessAware({ averager: mesa() }), BatchNormalization and a metric', () => {
  it('trains, counts two loss evaluations and two teacher forwards per step, BatchNorm moved by the clean pass only, no leak across fits', async () => {
    const xs = tf.randomNormal([16, 4], 0, 1, 'float32', 1);
    const ys = tf.tidy(() => tf.cast(tf.oneHot(tf.cast(tf.greater(tf.sum(xs, 1), 0), 'int32'), 2), 'float32'));
    const build = bnStudent;
    const m = mesa({ decay: 0.9 });
    const student = build();
    const { model, teacher } = m.teach(student);
    const forwards = countForwards(teacher);
    const optimizer = sharpnessAware({ base: tf.train.sgd(0.1), perturbation: gradient({ rho: 0.05 }), averager: m });
    const loss = m.loss(crossEntropy);
    model.compile({ optimizer, loss, metrics: ['accuracy'] });
    // BatchNorm: one step from the same weights moves the moving statistics as one plain forward does.
    const plain = build();
    plain.setWeights(student.getWeights());
    const plainMesa = mesa({ decay: 0.9 });
    const plainTrainer = plainMesa.teach(plain);
    plainTrainer.model.compile({ optimizer: tf.train.sgd(0.1), loss: plainMesa.loss(crossEntropy) });
    await plainTrainer.model.fit(xs, ys, { epochs: 1, batchSize: 16, shuffle: false, verbose: 0 });
    await model.fit(xs, ys, { epochs: 1, batchSize: 16, shuffle: false, verbose: 0 });
    const stats = (s: tfl.LayersModel) => s.layers[1]!.getWeights().slice(2).map((t) => t.arraySync());
    expect(stats(student)).toEqual(stats(plain));
    expect(optimizer.lossEvaluations).toBe(2);
    const callback = optimizer.averager!.callback({ applyOnTrainEnd: false });
    const first = await model.fit(xs, ys, { epochs: 2, batchSize: 8, shuffle: false, verbose: 0, callbacks: callback });
    const before = tf.memory();
    const second = await model.fit(xs, ys, { epochs: 2, batchSize: 8, shuffle: false, verbose: 0, callbacks: callback });
    const after = tf.memory();
    expect({ n: after.numTensors, b: after.numBytes }).toEqual({ n: before.numTensors, b: before.numBytes });
    expect(optimizer.steps).toBe(1 + 8);
    expect(optimizer.lossEvaluations).toBe(2 * 9);
    expect(forwards.count).toBe(2 * 9); // one teacher forward per loss evaluation
    expect(second.history['acc']).toHaveLength(2);
    expect((second.history['loss'] as number[]).at(-1)!).toBeLessThan((first.history['loss'] as number[])[0]!);
    // The teacher holds the optimizer's averages.
    optimizer.averager!.apply();
    const averaged = student.getWeights().map((w) => w.arraySync());
    optimizer.averager!.restore();
    const trainable = [0, 1, 2, 3, 6, 7]; // kernels, biases, γ, β (not the moving statistics)
    const teacherWeights = teacher.getWeights().map((w) => w.arraySync());
    for (const i of trainable) expect(teacherWeights[i]).toEqual(averaged[i]);
    for (const t of [xs, ys]) t.dispose();
    for (const mm of [model, teacher, plainTrainer.model, plainTrainer.teacher]) mm.dispose();
    optimizer.dispose();
  });
});
