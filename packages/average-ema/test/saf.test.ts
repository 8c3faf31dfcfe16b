// saf(): the past-outputs trajectory loss and its gradient against float64 (the memory ring over a
// hand-made visit sequence), what a SAM step records (the clean pass), no tensor growth over 100
// steps and no host reads, the memory's state round trip (10 + save/restore + 10 = 20 steps bit
// for bit), model.fit refused with the custom-loop call shown, and bad options refused by key.
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-layers';
import { FlatminError, sharpnessAware } from '@flatmin/core';
import { countHostReads, expectKeyRefused, expectNoTensorGrowth, expectOptionsRefused, mulberry32, NOT_OPTIONS } from '@flatmin/test-kit';
import { describe, expect, it } from 'vitest';
import { gradient } from '../../perturb-gradient/src/index.js';
import { type SafOptions, saf } from '../src/index.js';
import { relativeError } from './reference.js';

const softmax64 = (z: readonly number[], tau: number) => {
  const m = Math.max(...z.map((v) => v / tau));
  const e = z.map((v) => Math.exp(v / tau - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
};
const kl64 = (past: readonly number[], student: readonly number[], tau: number) => {
  const p = softmax64(past, tau);
  const q = softmax64(student, tau);
  return p.reduce((sum, pk, k) => sum + pk * (Math.log(pk) - Math.log(q[k]!)), 0);
};
const rand = mulberry32(5);
const matrix = (rows: number, cols: number) => Array.from({ length: rows }, () => Array.from({ length: cols }, () => (rand() * 2 - 1) * 3));

describe('trajectoryLoss against float64, over a hand-made visit sequence (Ẽ = 2)', () => {
  it('reads each sample’s output from 2 visits back; samples with fewer visits add 0; gradient λτ(q − p)/B on the others', () => {
    const [lambda, tau] = [0.7, 2];
    const s = saf({ lambda, tau, epochsBack: 2 }); // no `samples`: the memory grows
    const z1 = matrix(3, 3);
    const z2 = matrix(2, 3);
    const z3 = matrix(3, 3);
    const visit = (z: number[][], indices: number[]) => {
      const t = tf.tensor2d(z);
      const loss = s.trajectoryLoss(t, indices);
      s.record();
      const value = loss.dataSync()[0]! + 0; // +0, not -0
      tf.dispose([t, loss]);
      return value;
    };
    expect(visit(z1, [0, 1, 2])).toBe(0); // nothing remembered yet
    expect(visit(z2, [3, 0])).toBe(0); // sample 0: one visit back only
    expect(visit(z3, [1, 2, 3])).toBe(0);
    // Step 4: samples 0, 1, 3 have two visits (their references: z1[0], z1[1], z2[0]); 5 is new.
    const z4 = matrix(4, 3);
    const indices = [0, 1, 3, 5];
    const past = [z1[0]!, z1[1]!, z2[0]!, null];
    const value64 = (lambda * tau * tau * past.reduce((sum, p, b) => sum + (p === null ? 0 : kl64(p, z4[b]!, tau)), 0)) / 4;
    const grad64 = z4.map((row, b) => {
      const p = past[b];
      if (p === undefined || p === null) return row.map(() => 0);
      const q = softmax64(row, tau);
      const pp = softmax64(p, tau);
      return q.map((qk, k) => (lambda * tau * (qk - pp[k]!)) / 4);
    });
    const student = tf.tensor2d(z4);
    const value = s.trajectoryLoss(student, indices);
    expect(Math.abs(value.dataSync()[0]! - value64)).toBeLessThan(1e-5 * Math.max(1, value64));
    expect(value64).toBeGreaterThan(1e-3);
    const g = tf.grad((z: tf.Tensor) => s.trajectoryLoss(z, indices))(student);
    expect(relativeError(Array.from(g.dataSync()), grad64.flat())).toBeLessThan(1e-6);
    s.record();
    expect([0, 1, 2, 3, 5].map((i) => s.visits(i))).toEqual([3, 3, 2, 3, 1]);
    // Step 5: sample 0's third visit reads its first-visit-back-two, z2[1]; sample 2's reads z1[2].
    const z5 = matrix(2, 3);
    const want = (lambda * tau * tau * (kl64(z2[1]!, z5[0]!, tau) + kl64(z1[2]!, z5[1]!, tau))) / 2;
    const t5 = tf.tensor2d(z5);
    const v5 = s.trajectoryLoss(t5, [0, 2]);
    expect(Math.abs(v5.dataSync()[0]! - want)).toBeLessThan(1e-5 * Math.max(1, want));
    tf.dispose([student, value, g, t5, v5]);
    s.dispose();
  });

  it('λ = 0 turns it off', () => {
    const s = saf({ lambda: 0, epochsBack: 1 });
    const z = tf.tensor2d(matrix(2, 3));
    s.trajectoryLoss(z, [0, 1]).dispose();
    s.record();
    const other = tf.tensor2d(matrix(2, 3));
    expect(s.trajectoryLoss(other, [0, 1]).dataSync()[0]).toBe(0);
    tf.dispose([z, other]);
    s.dispose();
  });
});

/** A linear softmax model [features 4 → classes 3] on 8 samples, batches of 4 by index. */
function linearRun(seed: number, epochsBack = 2) {
  const r = mulberry32(seed);
  const xs = Array.from({ length: 8 }, () => Array.from({ length: 4 }, () => r() * 2 - 1));
  const ys = xs.map((row) => [row[0]! > 0 ? 1 : 0, row[1]! > 0 ? 1 : 0, row[0]! <= 0 && row[1]! <= 0 ? 1 : 0]).map((y) => (y.every((v) => v === 0) ? [0, 0, 1] : y));
  const w = tf.variable(tf.tensor2d(Array.from({ length: 12 }, () => r() - 0.5), [4, 3]));
  const batches = [[0, 1, 2, 3], [4, 5, 6, 7]].map((idx) => ({ x: tf.tensor2d(idx.map((i) => xs[i]!)), y: tf.tensor2d(idx.map((i) => ys[i]!)), indices: idx }));
  const trajectory = saf({ lambda: 0.8, tau: 2, epochsBack, samples: 8 });
  const crossEntropy = (y: tf.Tensor, z: tf.Tensor) => tf.neg(tf.mean(tf.sum(tf.mul(y, tf.logSoftmax(z)), -1)));
  return {
    w,
    trajectory,
    batches,
    loss: (b: (typeof batches)[number]) => () => {
      const z = tf.matMul(b.x, w);
      return tf.add(crossEntropy(b.y, z), trajectory.trajectoryLoss(z, b.indices)) as tf.Scalar;
    },
    dispose: () => {
      trajectory.dispose();
      tf.dispose([w, ...batches.flatMap((b) => [b.x, b.y])]);
    },
  };
}

describe('in a custom loop', () => {
  it('under sharpnessAware, records the clean pass (the logits at w before the update), not the adversarial one', async () => {
    const run = linearRun(1, 1);
    const optimizer = sharpnessAware({ base: tf.train.sgd(0.5), perturbation: gradient({ rho: 0.5 }) });
    const before = tf.matMul(run.batches[0]!.x, run.w);
    const expected = Array.from(before.dataSync());
    optimizer.minimize(run.loss(run.batches[0]!), false, [run.w]);
    run.trajectory.record();
    const memory = run.trajectory.getWeights().find((w) => w.name === 'flatmin/saf/memory')!.tensor;
    // Ẽ = 1: sample i's row is i; rows 0..3 hold batch 0's clean logits.
    expect(Array.from(tf.slice(memory, [0, 0], [4, 3]).dataSync())).toEqual(expected);
    expect(Array.from(tf.slice(memory, [4, 0], [4, 3]).dataSync()).every((v) => v === 0)).toBe(true);
    expect(optimizer.lossEvaluations).toBe(2);
    tf.dispose([before, memory]);
    optimizer.dispose();
    run.dispose();
  });

  it('no tensor growth over 100 steps, zero host reads per step', async () => {
    const run = linearRun(2);
    const optimizer = tf.train.sgd(0.1);
    let t = 0;
    const step = () => {
      optimizer.minimize(run.loss(run.batches[t % 2]!), false, [run.w]);
      run.trajectory.record();
      t += 1;
    };
    await expectNoTensorGrowth(step, { steps: 100, warmup: 6 });
    expect(run.trajectory.visits(0)).toBe(53);
    const { reads } = countHostReads(() => {
      for (let i = 0; i < 4; i += 1) step();
    });
    expect(reads).toBe(0);
    optimizer.dispose();
    run.dispose();
  });

  it('the memory round-trips: 10 steps + getWeights + a fresh saf and model + setWeights + 10 steps == 20 steps, bit for bit', async () => {
    const losses = async (run: ReturnType<typeof linearRun>, from: number, steps: number) => {
      const optimizer = tf.train.sgd(0.2);
      const out: number[] = [];
      for (let t = from; t < from + steps; t += 1) {
        const cost = optimizer.minimize(run.loss(run.batches[t % 2]!), true, [run.w])!;
        run.trajectory.record();
        out.push((await cost.data())[0]!);
        cost.dispose();
      }
      optimizer.dispose();
      return out;
    };
    const straight = linearRun(3);
    const expected = await losses(straight, 0, 20);
    const first = linearRun(3);
    const head = await losses(first, 0, 10);
    const saved = first.trajectory.getWeights();
    const weights = tf.clone(first.w);
    first.dispose();
    const second = linearRun(3);
    second.w.assign(weights);
    await second.trajectory.setWeights(saved);
    tf.dispose([weights, ...saved.map((w) => w.tensor)]);
    const tail = await losses(second, 10, 10);
    expect([...head, ...tail]).toEqual(expected);
    expect(Array.from(second.w.dataSync())).toEqual(Array.from(straight.w.dataSync()));
    // The trajectory term was live in the second half (Ẽ = 2: from each sample's third visit).
    expect(second.trajectory.visits(0)).toBe(10);
    straight.dispose();
    second.dispose();
  });

  it('refuses what it cannot use: model.fit (showing the custom-loop call), record() without a loss, bad indices, a foreign weight', async () => {
    const s = saf({ samples: 4 });
    expect(() => s.loss((y) => y)).toThrow(FlatminError);
    expect(() => s.loss((y) => y)).toThrow(/custom loop[\s\S]*trajectoryLoss\(z, indices\)[\s\S]*record\(\)/);
    expect(() => s.record()).toThrow(/trajectoryLoss/);
    const z = tf.zeros([2, 3]);
    expect(() => s.trajectoryLoss(z, [0])).toThrow(/one sample index per row/);
    expect(() => s.trajectoryLoss(z, [0, 4])).toThrow(/index 4/);
    expect(() => s.trajectoryLoss(z, [1, 1])).toThrow(/repeats/);
    await expect(s.setWeights([{ name: 'flatmin/averager/x', tensor: z }])).rejects.toThrow(/flatmin\/averager\/x/);
    const saved = s.getWeights();
    await expect(saf({ epochsBack: 2 }).setWeights(saved)).rejects.toThrow(/epochsBack 3/);
    tf.dispose([z, ...saved.map((w) => w.tensor)]);
    s.dispose();
  });
});

describe('options', () => {
  const spec = { name: 'saf', factory: (o?: unknown) => saf(o as SafOptions), keys: ['lambda', 'tau', 'epochsBack', 'samples'], kind: 'trajectory' };
  it.each(NOT_OPTIONS)('%s is refused as options', (_label, value) => expectOptionsRefused(spec, value));
  it.each([
    ['lambda', { lambda: -0.1 }],
    ['lambda', { lambda: Number.NaN }],
    ['lambda', { lambda: null }],
    ['tau', { tau: 0 }],
    ['tau', { tau: -2 }],
    ['tau', { tau: '5' }],
    ['epochsBack', { epochsBack: 0 }],
    ['epochsBack', { epochsBack: 1.5 }],
    ['epochsBack', { epochsBack: null }],
    ['samples', { samples: 0 }],
    ['samples', { samples: 2.5 }],
    ['samples', { samples: null }],
    ['epochs', { epochs: 3 }],
  ] as const)('%s: %j is refused naming the key', (key, options) => expectKeyRefused(spec, options as Record<string, unknown>, key));
  it('defaults: λ 0.8, τ 5, Ẽ 3, the memory sized on demand', () => {
    expect(saf().config).toEqual({ lambda: 0.8, tau: 5, epochsBack: 3 });
    expect(saf({ lambda: 0.3, tau: 1, epochsBack: 2, samples: 10 }).config).toEqual({ lambda: 0.3, tau: 1, epochsBack: 2, samples: 10 });
  });
});
