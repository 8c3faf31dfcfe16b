// The kit's attachAverager (a standalone averager next to any tfjs optimizer) with a test-only
// running mean, against a float64 mean of the weight sequence; apply/restore exactness (BatchNorm
// statistics included); the model.fit callback; the state round trip (renamed variables, unknown
// weights, missing variables); and the averager's `restored` hook, standalone and attached.
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { countHostReads } from '@flatmin/test-kit';
import { describe, expect, it } from 'vitest';
import { type Averager, type ComponentState, FlatminError, sharpnessAware } from '../src/index.js';
import { attachAverager } from '../src/kit.js';
import { meanAverager, samPerturbation } from './helpers.js';

/** Four fixed weight vectors for a 2-element kernel and a 1-element bias. */
const SEQUENCE = [
  [0.5, -1, 2],
  [1.5, -0.5, 1],
  [-0.25, 2, 0.5],
  [0.75, 1, -1.5],
];
const mean64 = (rows: readonly number[][]) => rows[0]!.map((_, j) => rows.reduce((s, r) => s + r[j]!, 0) / rows.length);
const expectClose = (got: readonly number[], want: readonly number[], tol: number) => {
  expect(got).toHaveLength(want.length);
  for (const [j, w] of want.entries()) expect(Math.abs(got[j]! - w)).toBeLessThan(tol);
};
const read = (vs: readonly tf.Variable[]) => vs.flatMap((v) => Array.from(v.dataSync()));

function variables(values: readonly number[], names?: [string, string]): tf.Variable[] {
  return [tf.variable(tf.tensor1d(values.slice(0, 2)), true, names?.[0]), tf.variable(tf.tensor1d(values.slice(2)), true, names?.[1])];
}
function setTo(vs: tf.Variable[], values: readonly number[]): void {
  tf.tidy(() => {
    vs[0]!.assign(tf.tensor1d(values.slice(0, 2)));
    vs[1]!.assign(tf.tensor1d(values.slice(2)));
  });
}

/** A mean averager that records what its `restored` hook saw (the keys). */
function recording(): Averager & { seen: string[][] } {
  const seen: string[][] = [];
  return { ...meanAverager(), seen, restored: (state: ComponentState) => void seen.push(Object.keys(state).sort()) };
}

describe('attachAverager (the kit)', () => {
  it('update() averages the sequence as float64 does; apply()/restore() are exact; no host reads', () => {
    const vs = variables(SEQUENCE[0]!);
    const handle = attachAverager(meanAverager(), vs);
    expect(() => handle.apply()).toThrow(FlatminError);
    const { reads } = countHostReads(() => {
      for (const w of SEQUENCE) {
        setTo(vs, w);
        handle.update();
      }
    });
    expect(reads).toBe(0);
    expect(handle.steps).toBe(4);
    const before = read(vs);
    handle.apply();
    expect(handle.applied).toBe(true);
    const got = read(vs);
    expectClose(got, mean64(SEQUENCE), 1e-6);
    expect(() => handle.update()).toThrow(/restore\(\)/);
    handle.restore();
    expect(read(vs)).toEqual(before);
    handle.dispose();
    expect(() => handle.update()).toThrow(/after dispose/);
    tf.dispose(vs);
  });

  it('a function target is read at every call; a bad target throws naming attach', () => {
    const vs = variables(SEQUENCE[0]!);
    let list: tf.Variable[] = [vs[0]!];
    const handle = attachAverager(meanAverager(), () => list);
    handle.update();
    list = vs;
    handle.update();
    expect(Object.keys(handle.averaged()).sort()).toEqual(vs.map((v) => v.name).sort());
    expect(() => attachAverager(meanAverager(), 3 as never)).toThrow(/attach\(target\)/);
    handle.dispose();
    tf.dispose(vs);
  });

  it('round trip: 2 updates + save + a fresh handle on renamed variables + 2 updates = 4 updates exactly; restored() sees the re-keyed state', async () => {
    const straightVs = variables(SEQUENCE[0]!);
    const straight = attachAverager(meanAverager(), straightVs);
    for (const w of SEQUENCE) {
      setTo(straightVs, w);
      straight.update();
    }
    straight.apply();
    const expected = read(straightVs);

    const firstVs = variables(SEQUENCE[0]!);
    const first = attachAverager(meanAverager(), firstVs);
    for (const w of SEQUENCE.slice(0, 2)) {
      setTo(firstVs, w);
      first.update();
    }
    const saved = first.getWeights();
    const secondVs = variables(SEQUENCE[1]!);
    const averager = recording();
    const second = attachAverager(averager, secondVs);
    await second.setWeights(saved);
    tf.dispose(saved.map((w) => w.tensor));
    expect(second.steps).toBe(2);
    expect(averager.seen).toEqual([['count', ...secondVs.map((v) => `${v.name}:mean`)].sort()]);
    for (const w of SEQUENCE.slice(2)) {
      setTo(secondVs, w);
      second.update();
    }
    second.apply();
    expect(read(secondVs)).toEqual(expected);
    for (const h of [straight, first, second]) h.dispose();
    tf.dispose([...straightVs, ...firstVs, ...secondVs]);
  });

  it('setWeights refuses a foreign weight, a missing count and state of a variable that is not attached, keeping its own state', async () => {
    const vs = variables(SEQUENCE[0]!);
    const handle = attachAverager(meanAverager(), vs);
    handle.update();
    const saved = handle.getWeights();
    const other = attachAverager(meanAverager(), [vs[0]!]);
    await expect(other.setWeights(saved)).rejects.toThrow(/no attached variable/);
    await expect(handle.setWeights([{ name: 'base/iter', tensor: saved[0]!.tensor }])).rejects.toThrow(/base\/iter/);
    await expect(handle.setWeights(saved.filter((w) => !w.name.includes('steps')))).rejects.toThrow(/steps/);
    expect(handle.steps).toBe(1);
    tf.dispose(saved.map((w) => w.tensor));
    for (const h of [handle, other]) h.dispose();
    tf.dispose(vs);
  });

  it('model.fit: updates on each batch end, ends holding the mean, BatchNorm statistics put back by restore(), onEpochEnd sees the mean; no growth', async () => {
    const model = tfl.sequential({ layers: [tfl.layers.dense({ units: 2, inputShape: [3], kernelInitializer: 'ones' }), tfl.layers.batchNormalization()] });
    model.compile({ optimizer: tf.train.sgd(0.1), loss: 'meanSquaredError' });
    const x = tf.tensor2d([1, 2, 3, -1, 0, 2, 0.5, 1, -2, 2, 2, 1], [4, 3]);
    const y = tf.tensor2d([1, 0, 0, 1, 1, 1, 0, 0], [4, 2]);
    const handle = attachAverager(meanAverager(), model);
    const trajectory: number[][] = [];
    const atEpochEnd: number[][] = [];
    const trainable = () => model.trainableWeights.flatMap((w) => Array.from(w.read().dataSync()));
    await model.fit(x, y, {
      epochs: 2,
      batchSize: 2,
      shuffle: false,
      verbose: 0,
      callbacks: [{ onBatchEnd: async () => void trajectory.push(trainable()) }, handle.callback({ onEpochEnd: async () => void atEpochEnd.push(trainable()) })],
    });
    expect(handle.steps).toBe(4);
    expect(handle.applied).toBe(true);
    const got = trainable();
    expectClose(got, mean64(trajectory), 1e-5);
    const lastEpoch = atEpochEnd[1]!;
    expectClose(lastEpoch, mean64(trajectory), 1e-5);
    // Change the statistics while applied (as updateBatchNorm would): restore() puts them back.
    const stats = model.nonTrainableWeights.map((w) => Array.from(w.read().dataSync()));
    tf.tidy(() => (model.nonTrainableWeights[0]!.read() as tf.Variable).assign(tf.fill([2], 7)));
    handle.restore();
    expect(model.nonTrainableWeights.map((w) => Array.from(w.read().dataSync()))).toEqual(stats);
    expect(trainable()).toEqual(trajectory[3]);
    const callback = handle.callback({ applyOnTrainEnd: false });
    const fit = () => model.fit(x, y, { epochs: 1, batchSize: 2, shuffle: false, verbose: 0, callbacks: [callback] });
    await fit();
    const memory = tf.memory().numTensors;
    for (let i = 0; i < 5; i += 1) await fit();
    expect(tf.memory().numTensors).toBe(memory);
    expect(handle.steps).toBe(4 + 2 * 6);
    handle.dispose();
    model.dispose();
    tf.dispose([x, y]);
  });
});

describe("the averager's restored() hook, attached to sharpnessAware", () => {
  it('is called right after setWeights with the saved keys, and again before the next step with the re-keyed ones', async () => {
    const loss = (vs: tf.Variable[]) => () => tf.sum(tf.square(tf.add(tf.sum(vs[0]!), tf.sum(vs[1]!)))) as tf.Scalar;
    const firstVs = variables(SEQUENCE[0]!, ['restoredHook/a', 'restoredHook/b']);
    const first = sharpnessAware({ base: tf.train.sgd(0.1), perturbation: samPerturbation(), averager: meanAverager() });
    first.minimize(loss(firstVs), false, firstVs);
    const saved = (await first.getWeights()).map((w) => ({ name: w.name, tensor: tf.clone(w.tensor) }));
    const averager = recording();
    const second = sharpnessAware({ base: tf.train.sgd(0.1), perturbation: samPerturbation(), averager });
    await second.setWeights(saved);
    expect(averager.seen).toEqual([['count', 'restoredHook/a:mean', 'restoredHook/b:mean']]);
    const secondVs = variables(SEQUENCE[1]!);
    second.minimize(loss(secondVs), false, secondVs);
    expect(averager.seen[1]).toEqual(['count', ...secondVs.map((v) => `${v.name}:mean`)].sort());
    expect(averager.seen).toHaveLength(2); // not after ordinary steps
    second.minimize(loss(secondVs), false, secondVs);
    expect(averager.seen).toHaveLength(2);
    tf.dispose(saved.map((w) => w.tensor));
    for (const o of [first, second]) o.dispose();
    tf.dispose([...firstVs, ...secondVs]);
  });
});
