// The wrapper acts like the optimizer it wraps: learning rate and iteration count forward to the
// base optimizer; decoupled vs L2 weight decay against float64 references with Adam; the
// computeGradients path refuses; getWeights' tensors are the optimizer's (no leak per save).
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { axpy, flatten, type LinearParams, linearGrad64, makeLinearProblem, makeTfLinear, maxRelativeError, scale64, unflatten } from '@flatmin/test-kit';
import { describe, expect, it } from 'vitest';
import { FlatminError, sharpnessAware } from '../src/index.js';
import { samPerturbation } from './helpers.js';
import { samEpsilon64 } from './reference.js';

const problem = makeLinearProblem({ seed: 31 });

describe('learningRate and iterations forward to the base optimizer', () => {
  it('reads and writes the base rate; the next step really uses the new rate (SGD caches its rate)', () => {
    const model = makeTfLinear(problem);
    const optimizer = sharpnessAware({ base: tf.train.sgd(0.1), perturbation: samPerturbation(0) });
    expect(optimizer.learningRate).toBe(0.1);
    optimizer.learningRate = 0.025;
    expect((optimizer.base as unknown as { learningRate: number }).learningRate).toBe(0.025);
    const g = linearGrad64(problem, problem.init);
    optimizer.minimize(model.loss(), false, model.variables);
    expect(maxRelativeError(model.read(), axpy(-0.025, g, problem.init))).toBeLessThan(1e-6);
    expect(optimizer.iterations).toBe(1);
    expect(optimizer.iterations).toBe(optimizer.base.iterations);
    optimizer.iterations = 10;
    expect(optimizer.base.iterations).toBe(10);
    optimizer.dispose();
    model.dispose();
  });

  it('a model.fit callback that halves model.optimizer.learningRate each epoch changes the steps taken', async () => {
    const x = tf.tensor2d(problem.x);
    const y = tf.tensor2d(problem.y);
    const model = tfl.sequential({ layers: [tfl.layers.dense({ units: problem.k, inputShape: [problem.d], weights: [tf.tensor2d(problem.init.w), tf.tensor1d(problem.init.b)] })] });
    const optimizer = sharpnessAware({ base: tf.train.momentum(0.1, 0.5), perturbation: samPerturbation(0) });
    model.compile({ optimizer, loss: 'meanSquaredError' });
    const rates: number[] = [];
    await model.fit(x, y, {
      epochs: 3,
      batchSize: problem.n,
      shuffle: false,
      verbose: 0,
      callbacks: {
        onEpochBegin: async () => {
          rates.push(optimizer.learningRate);
        },
        onEpochEnd: async () => {
          (model.optimizer as unknown as { learningRate: number }).learningRate /= 2;
        },
      },
    });
    expect(rates).toEqual([0.1, 0.05, 0.025]);
    // The float64 reference of momentum with those rates (mean squared error over all n·k entries).
    let params: LinearParams = problem.init;
    let velocity = scale64(0, params);
    for (const rate of rates) {
      const g = scale64(1 / problem.k, linearGrad64(problem, params));
      velocity = axpy(1, g, scale64(0.5, velocity));
      params = axpy(-rate, velocity, params);
    }
    const [w, b] = model.getWeights();
    const actual = { w: w!.arraySync() as number[][], b: b!.arraySync() as number[] };
    expect(maxRelativeError(actual, params)).toBeLessThan(1e-5);
    expect(optimizer.iterations).toBe(3);
    model.dispose();
    tf.dispose([x, y]);
  });
});

describe('weight decay: L2 (weightDecay) vs decoupled (decoupledWeightDecay), with Adam as the base', () => {
  const lr = 0.01;
  const [beta1, beta2, eps] = [0.9, 0.999, 1e-7];
  const lambda = 0.1;
  const rho = 0.05;

  /** Adam in float64, tfjs' form: m̂ = m/(1−β₁ᵗ), v̂ = v/(1−β₂ᵗ), w ← w − η m̂/(√v̂ + ε). */
  function adam64(steps: number, direction: (w: LinearParams) => LinearParams, decoupled: number): LinearParams {
    let w = problem.init;
    let m = new Array(flatten(w).length).fill(0);
    let v = new Array(flatten(w).length).fill(0);
    for (let t = 1; t <= steps; t += 1) {
      const g = flatten(direction(w));
      if (decoupled > 0) w = scale64(1 - lr * decoupled, w); // w ← w − ηλw, before the update (AdamW's order)
      m = m.map((mi, i) => beta1 * mi + (1 - beta1) * g[i]!);
      v = v.map((vi, i) => beta2 * vi + (1 - beta2) * g[i]! * g[i]!);
      const step = m.map((mi, i) => (lr * (mi / (1 - beta1 ** t))) / (Math.sqrt(v[i]! / (1 - beta2 ** t)) + eps));
      w = unflatten(problem, flatten(w).map((wi, i) => wi - step[i]!));
    }
    return w;
  }
  // The SAM direction at w: ∇L(w + ε), ε = ρ g/‖g‖ from the clean gradient.
  const sam = (w: LinearParams) => linearGrad64(problem, axpy(1, samEpsilon64(linearGrad64(problem, w), rho), w));

  function train(config: { weightDecay?: number; decoupledWeightDecay?: number }, steps: number) {
    const model = makeTfLinear(problem);
    const optimizer = sharpnessAware({ base: tf.train.adam(lr, beta1, beta2, eps), perturbation: samPerturbation(rho), ...config });
    for (let i = 0; i < steps; i += 1) optimizer.minimize(model.loss(), false, model.variables);
    const params = model.read();
    optimizer.dispose();
    model.dispose();
    return params;
  }

  it('weightDecay adds λw to the direction Adam normalizes (L2, not AdamW)', () => {
    const expected = adam64(3, (w) => axpy(lambda, w, sam(w)), 0);
    expect(maxRelativeError(train({ weightDecay: lambda }, 3), expected)).toBeLessThan(1e-5);
  });

  it('decoupledWeightDecay shrinks w by ηλ outside Adam (AdamW)', () => {
    const expected = adam64(3, sam, lambda);
    const actual = train({ decoupledWeightDecay: lambda }, 3);
    expect(maxRelativeError(actual, expected)).toBeLessThan(1e-5);
    // ...and the two differ by more than float noise.
    expect(maxRelativeError(actual, adam64(3, (w) => axpy(lambda, w, sam(w)), 0))).toBeGreaterThan(1e-4);
  });

  it('decoupledWeightDecay follows the learning rate set at step time', () => {
    const model = makeTfLinear(problem);
    const optimizer = sharpnessAware({ base: tf.train.sgd(0.1), perturbation: samPerturbation(0), decoupledWeightDecay: lambda });
    optimizer.learningRate = 0.5;
    optimizer.minimize(model.loss(), false, model.variables);
    const expected = axpy(-0.5, linearGrad64(problem, problem.init), scale64(1 - 0.5 * lambda, problem.init));
    expect(maxRelativeError(model.read(), expected)).toBeLessThan(1e-6);
    optimizer.dispose();
    model.dispose();
  });
});

describe('no plain update under a SAM name', () => {
  it('computeGradients throws a FlatminError that points to minimize', () => {
    const model = makeTfLinear(problem);
    const optimizer = sharpnessAware({ base: tf.train.sgd(0.1), perturbation: samPerturbation(0.1) });
    expect(() => optimizer.computeGradients(model.loss(), model.variables)).toThrow(FlatminError);
    expect(() => optimizer.computeGradients(model.loss(), model.variables)).toThrow(/minimize/);
    optimizer.dispose();
    model.dispose();
  });
});

describe('getWeights ownership', () => {
  it('returns handles owned by the optimizer until the next call: 10 saves with the optimizer leak nothing', async () => {
    const model = tfl.sequential({ layers: [tfl.layers.dense({ units: 2, inputShape: [3] })] });
    const optimizer = sharpnessAware({ base: tf.train.adam(0.01), perturbation: samPerturbation(0.05) });
    model.compile({ optimizer, loss: 'meanSquaredError' });
    const x = tf.tensor2d(problem.x);
    const y = tf.tensor2d(problem.y);
    await model.fit(x, y, { epochs: 1, verbose: 0, shuffle: false });
    const sink = tf.io.withSaveHandler(async () => ({ modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } }));
    await model.save(sink, { includeOptimizer: true });
    const before = tf.memory().numTensors;
    for (let i = 0; i < 10; i += 1) await model.save(sink, { includeOptimizer: true });
    expect(tf.memory().numTensors).toBe(before);
    // Disposing what getWeights returned does not hurt the optimizer's own state.
    for (const w of await optimizer.getWeights()) w.tensor.dispose();
    await model.fit(x, y, { epochs: 1, verbose: 0, shuffle: false });
    model.dispose();
    tf.dispose([x, y]);
  });
});
