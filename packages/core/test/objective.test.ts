// Objectives beyond `() => loss`: { loss, perSample, parts }, ImbSAM's sharpOn with classSplit
// (float64 reference), components that require more than a closure, forward-only evaluations.
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { axpy, bnClassifier, countHostReads, expectNoTensorGrowth, fitData, leftByThrowingFit, linearGrad64, linearLoss64, makeLinearProblem, makeTfLinear, maxRelativeError, movingStatistics, scale64 } from '@flatmin/test-kit';
import { describe, expect, it } from 'vitest';
import { classSplit, FlatminError, type Perturbation, sharpnessAware } from '../src/index.js';
import { samPerturbation } from './helpers.js';
import { samEpsilon64 } from './reference.js';

const problem = makeLinearProblem({ seed: 53, n: 9 });
const labels = Array.from({ length: problem.n }, (_, i) => i % 3);
const tailRows = labels.flatMap((c, i) => (c === 2 ? [i] : []));
const headRows = labels.flatMap((c, i) => (c !== 2 ? [i] : []));

/** Per-sample losses ℓᵢ = Σⱼ rᵢⱼ² of the linear model. */
function perSampleLoss(model: ReturnType<typeof makeTfLinear>, x: tf.Tensor2D, y: tf.Tensor2D): tf.Tensor1D {
  return tf.sum(tf.square(tf.sub(tf.add(tf.matMul(x, model.w), model.b), y)), 1) as tf.Tensor1D;
}

describe('classSplit', () => {
  it('head and tail are each Σ of their samples / batch size, for class indices and one-hot labels (float64 reference)', () => {
    const model = makeTfLinear(problem);
    const x = tf.tensor2d(problem.x);
    const y = tf.tensor2d(problem.y);
    const sum64 = (rows: number[]) => (linearLoss64(problem, problem.init, rows) * rows.length) / problem.n;
    for (const labelTensor of [tf.tensor1d(labels, 'int32'), tf.oneHot(tf.tensor1d(labels, 'int32'), 3)]) {
      const split = classSplit(perSampleLoss(model, x, y), labelTensor, { tail: [2] });
      expect(split.parts.tail.dataSync()[0]).toBeCloseTo(sum64(tailRows), 5);
      expect(split.parts.head.dataSync()[0]).toBeCloseTo(sum64(headRows), 5);
      expect(split.loss.dataSync()[0]).toBeCloseTo(linearLoss64(problem, problem.init), 5);
      labelTensor.dispose();
    }
    expect(() => classSplit(tf.zeros([2, 2]) as unknown as tf.Tensor1D, tf.zeros([2]), { tail: [1] })).toThrow(FlatminError);
    expect(() => classSplit(tf.zeros([2]) as tf.Tensor1D, tf.zeros([3], 'int32'), { tail: [1] })).toThrow(/batch size/);
    tf.dispose([x, y]);
    model.dispose();
  });
});

describe("sharpOn: ImbSAM's update", () => {
  it('g = ∇L_head(w) + ∇L_tail(w + ε_tail), ε_tail = ρ ∇L_tail/‖∇L_tail‖ (float64 reference)', () => {
    const rho = 0.3;
    const lr = 0.1;
    const w = problem.init;
    // ∇ of Σ_{i∈S} ℓᵢ / n = (|S|/n) · the mean-over-S gradient.
    const part = (rows: number[], at: typeof w) => scale64(rows.length / problem.n, linearGrad64(problem, at, rows));
    const gTail = part(tailRows, w);
    const expected = axpy(-lr, axpy(1, part(headRows, w), part(tailRows, axpy(1, samEpsilon64(gTail, rho), w))), w);

    const model = makeTfLinear(problem);
    const x = tf.tensor2d(problem.x);
    const y = tf.tensor2d(problem.y);
    const labelTensor = tf.tensor1d(labels, 'int32');
    const optimizer = sharpnessAware({ base: tf.train.sgd(lr), perturbation: samPerturbation(rho), sharpOn: 'tail' });
    const cost = optimizer.minimize(() => classSplit(perSampleLoss(model, x, y), labelTensor, { tail: [2] }), true, model.variables);
    expect(maxRelativeError(model.read(), expected)).toBeLessThan(1e-5);
    // The returned loss is the whole loss at w; three closure calls (tail at w, head at w, tail at w + ε).
    expect(cost!.dataSync()[0]).toBeCloseTo(linearLoss64(problem, w), 5);
    expect(optimizer.lossEvaluations).toBe(3);
    // ...which differs from plain SAM on the whole loss.
    const plain = sharpnessAware({ base: tf.train.sgd(lr), perturbation: samPerturbation(rho) });
    const other = makeTfLinear(problem);
    plain.minimize(other.loss(), false, other.variables);
    expect(maxRelativeError(other.read(), expected)).toBeGreaterThan(1e-4);
    tf.dispose([x, y, labelTensor, cost!]);
    for (const o of [optimizer, plain]) o.dispose();
    model.dispose();
    other.dispose();
  });

  it('leaks nothing over 100 steps, reads nothing from the device, and round-trips getWeights/setWeights exactly', async () => {
    const x = tf.tensor2d(problem.x);
    const y = tf.tensor2d(problem.y);
    const labelTensor = tf.tensor1d(labels, 'int32');
    const make = () => sharpnessAware({ base: tf.train.momentum(0.05, 0.9), perturbation: samPerturbation(0.1), sharpOn: 'tail', seed: 3 });
    const train = (optimizer: ReturnType<typeof make>, model: ReturnType<typeof makeTfLinear>, steps: number) => {
      for (let i = 0; i < steps; i += 1) optimizer.minimize(() => classSplit(perSampleLoss(model, x, y), labelTensor, { tail: [2] }), false, model.variables);
    };
    const model = makeTfLinear(problem);
    const optimizer = make();
    await expectNoTensorGrowth(() => train(optimizer, model, 1));
    expect(countHostReads(() => train(optimizer, model, 10)).reads).toBe(0);
    optimizer.dispose();
    model.dispose();

    const straightModel = makeTfLinear(problem, { names: ['imb-rt/w', 'imb-rt/b'] });
    const straight = make();
    train(straight, straightModel, 6);
    const expected = straightModel.read();
    straight.dispose();
    straightModel.dispose();
    const firstModel = makeTfLinear(problem, { names: ['imb-rt/w', 'imb-rt/b'] });
    const first = make();
    train(first, firstModel, 3);
    const saved = (await first.getWeights()).map((w) => ({ name: w.name, tensor: tf.clone(w.tensor) }));
    const params = firstModel.read();
    first.dispose();
    firstModel.dispose();
    const secondModel = makeTfLinear(problem, { params, names: ['imb-rt/w', 'imb-rt/b'] });
    const second = make();
    await second.setWeights(saved);
    tf.dispose(saved.map((w) => w.tensor));
    train(second, secondModel, 3);
    expect(secondModel.read()).toEqual(expected);
    second.dispose();
    secondModel.dispose();
    tf.dispose([x, y, labelTensor]);
  });

  it('under model.fit (a plain closure) it throws a FlatminError naming sharpOn and the custom-loop call', async () => {
    const model = tfl.sequential({ layers: [tfl.layers.dense({ units: 2, inputShape: [3] })] });
    model.compile({ optimizer: sharpnessAware({ base: tf.train.sgd(0.1), perturbation: samPerturbation(0.05), sharpOn: 'tail' }), loss: 'meanSquaredError' });
    const x = tf.tensor2d(problem.x);
    const y = tf.tensor2d(problem.y);
    await expect(model.fit(x, y, { epochs: 1, verbose: 0, shuffle: false })).rejects.toThrow(/sharpOn \('tail'\) needs the named loss parts 'tail'.*minimize\(\(\) => classSplit/);
    model.dispose();
    tf.dispose([x, y]);
  });

  it('the refusal under model.fit with BatchNorm and a metric leaves nothing behind: weights and moving statistics as before, no tensor beyond tfjs-layers\' own', async () => {
    // What tfjs-layers' fit itself leaves when an optimizer throws (one tensor in tfjs 4.22): the baseline.
    const data = fitData(8);
    const tfjsOwn = await leftByThrowingFit(data.x, data.y, 4);
    tf.dispose([data.x, data.y]);

    const model = bnClassifier();
    const optimizer = sharpnessAware({ base: tf.train.sgd(0.1), perturbation: samPerturbation(0.05), sharpOn: 'tail' });
    model.compile({ optimizer, loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
    const { x, y } = fitData(8);
    const weights = model.getWeights().map((t) => t.arraySync());
    const statistics = movingStatistics(model);
    const before = tf.memory().numTensors;
    await expect(model.fit(x, y, { epochs: 1, batchSize: 4, verbose: 0, shuffle: false })).rejects.toThrow(FlatminError);
    expect(tf.memory().numTensors - before).toBe(tfjsOwn);
    expect(movingStatistics(model)).toEqual(statistics);
    expect(model.getWeights().map((t) => t.arraySync())).toEqual(weights);
    model.dispose();
    optimizer.dispose();
    tf.dispose([x, y]);
  });

  it('a closure returning parts without the named one is refused by name', () => {
    const model = makeTfLinear(problem);
    const optimizer = sharpnessAware({ base: tf.train.sgd(0.1), perturbation: samPerturbation(0.05), sharpOn: ['tail', 'rare'] });
    const before = model.read();
    expect(() => optimizer.minimize(() => ({ parts: { tail: model.loss()() } }), false, model.variables)).toThrow(/without 'rare'/);
    expect(model.read()).toEqual(before);
    optimizer.dispose();
    model.dispose();
  });
});

describe('objectives', () => {
  it('{ perSample } alone stands for loss = mean(perSample); a component that requires it gets it', () => {
    const model = makeTfLinear(problem);
    const x = tf.tensor2d(problem.x);
    const y = tf.tensor2d(problem.y);
    const seen: number[][] = [];
    const needsPerSample: Perturbation = {
      ...samPerturbation(0.1),
      requires: ['perSample'],
      compute: (context, state) => {
        seen.push(Array.from(context.objective.perSample!.dataSync()));
        return samPerturbation(0.1).compute(context, state);
      },
    };
    const optimizer = sharpnessAware({ base: tf.train.sgd(0.1), perturbation: needsPerSample });
    const cost = optimizer.minimize(() => ({ perSample: perSampleLoss(model, x, y) }), true, model.variables);
    expect(cost!.dataSync()[0]).toBeCloseTo(linearLoss64(problem, problem.init), 5);
    expect(seen[0]!.length).toBe(problem.n);
    expect(() => optimizer.minimize(model.loss(), false, model.variables)).toThrow(/perturbation 'test-sam' needs per-sample losses/);
    tf.dispose([x, y, cost!]);
    optimizer.dispose();
    model.dispose();
  });

  it('context.evaluate(δ) is the forward-only loss at w + δ, restores w exactly and counts as a loss evaluation', () => {
    const model = makeTfLinear(problem);
    const values: number[] = [];
    const worstOfTwo: Perturbation = {
      kind: 'perturbation',
      name: 'test-worst-of-two',
      config: {},
      rho: 0.1,
      needsGradient: false,
      compute: (context) => {
        const offsets = [0.1, -0.1].map((s) => Object.fromEntries(context.variables.map((v) => [v.name, tf.fill(v.shape, s)])));
        const losses = offsets.map((o) => context.evaluate(o));
        values.push(...losses.map((l) => l.dataSync()[0]!));
        const pickFirst = tf.greaterEqual(losses[0]!, losses[1]!);
        return { epsilon: Object.fromEntries(context.variables.map((v) => [v.name, tf.where(pickFirst, offsets[0]![v.name]!, offsets[1]![v.name]!)])) };
      },
    };
    const optimizer = sharpnessAware({ base: tf.train.sgd(0.1), perturbation: worstOfTwo });
    optimizer.minimize(model.loss(), false, model.variables);
    const shifted = (s: number) => ({ w: problem.init.w.map((row) => row.map((v) => v + s)), b: problem.init.b.map((v) => v + s) });
    expect(values[0]).toBeCloseTo(linearLoss64(problem, shifted(0.1)), 4);
    expect(values[1]).toBeCloseTo(linearLoss64(problem, shifted(-0.1)), 4);
    const worst = values[0]! >= values[1]! ? 0.1 : -0.1;
    expect(maxRelativeError(model.read(), axpy(-0.1, linearGrad64(problem, shifted(worst)), problem.init))).toBeLessThan(1e-5);
    expect(optimizer.lossEvaluations).toBe(3);
    optimizer.dispose();
    model.dispose();
  });
});
