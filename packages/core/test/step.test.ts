// Behaviour of the step beyond the common matrix: degenerate settings, scopes, accumulation,
// non-finite handling, telemetry, randomness, averagers, kept tensors.
import * as tf from '@tensorflow/tfjs-core';
import {
  axpy,
  countHostReads,
  flatten,
  linearGrad64,
  makeLinearProblem,
  makeTfLinear,
  maxRelativeError,
  norm64,
  scale64,
} from '@flatmin/test-kit';
import { describe, expect, it } from 'vitest';
import { FlatminError, mix, type Scope, sharpnessAware, surrogateGap } from '../src/index.js';
import { meanAverager, noisePerturbation, samPerturbation } from './helpers.js';
import { dot64, samEpsilon64 } from './reference.js';

const problem = makeLinearProblem({ seed: 11 });
const lr = 0.1;

function trainWith(optimizerFactory: () => tf.Optimizer, steps: number) {
  const model = makeTfLinear(problem);
  const optimizer = optimizerFactory();
  for (let i = 0; i < steps; i += 1) optimizer.minimize(model.loss(), false, model.variables);
  const params = model.read();
  optimizer.dispose();
  model.dispose();
  return params;
}

describe('degenerate settings reduce exactly', () => {
  const sam = () => trainWith(() => sharpnessAware({ base: tf.train.sgd(lr), perturbation: samPerturbation(0.1) }), 5);

  it('ρ = 0 is the base optimizer, bit for bit', () => {
    const flat = trainWith(() => sharpnessAware({ base: tf.train.sgd(lr), perturbation: samPerturbation(0) }), 5);
    const model = makeTfLinear(problem);
    const sgd = tf.train.sgd(lr);
    for (let i = 0; i < 5; i += 1) sgd.minimize(model.loss(), false, model.variables);
    expect(flat).toEqual(model.read());
    sgd.dispose();
    model.dispose();
  });

  it('mix({ lambda: 1 }) is SAM and mix({ lambda: 0 }) is the base optimizer', () => {
    expect(trainWith(() => sharpnessAware({ base: tf.train.sgd(lr), perturbation: samPerturbation(0.1), combiner: mix({ lambda: 1 }) }), 5)).toEqual(sam());
    const model = makeTfLinear(problem);
    const sgd = tf.train.sgd(lr);
    for (let i = 0; i < 5; i += 1) sgd.minimize(model.loss(), false, model.variables);
    const plain = model.read();
    sgd.dispose();
    model.dispose();
    const mixed = trainWith(() => sharpnessAware({ base: tf.train.sgd(lr), perturbation: samPerturbation(0.1), combiner: mix({ lambda: 0 }) }), 5);
    expect(maxRelativeError(mixed, plain)).toBeLessThan(1e-6);
  });

  it('surrogateGap({ alpha: 0 }) is SAM', () => {
    expect(trainWith(() => sharpnessAware({ base: tf.train.sgd(lr), perturbation: samPerturbation(0.1), combiner: surrogateGap({ alpha: 0 }) }), 5)).toEqual(sam());
  });

  it('SAM changes the update the way the paper says: toward g(w + ε), not g(w)', () => {
    const g = linearGrad64(problem, problem.init);
    const gAdv = linearGrad64(problem, axpy(1, samEpsilon64(g, 0.1), problem.init));
    const after = trainWith(() => sharpnessAware({ base: tf.train.sgd(lr), perturbation: samPerturbation(0.1) }), 1);
    expect(maxRelativeError(after, axpy(-lr, gAdv, problem.init))).toBeLessThan(1e-6);
    expect(maxRelativeError(after, axpy(-lr, g, problem.init))).toBeGreaterThan(1e-4);
  });
});

describe('weight decay', () => {
  it('weightDecayInPerturbation also adds λw to the gradient ε is built from (the PyTorch ports)', () => {
    const rho = 0.2;
    const decay = 0.1;
    const g = linearGrad64(problem, problem.init);
    const decayed = axpy(decay, problem.init, g);
    const gAdv = linearGrad64(problem, axpy(1, samEpsilon64(decayed, rho), problem.init));
    const expected = axpy(-lr, axpy(decay, problem.init, gAdv), problem.init);
    const both = trainWith(() => sharpnessAware({ base: tf.train.sgd(lr), perturbation: samPerturbation(rho), weightDecay: decay, weightDecayInPerturbation: true }), 1);
    expect(maxRelativeError(both, expected)).toBeLessThan(1e-5);
    // ...which differs from the default, where ε comes from g alone.
    const baseOnly = trainWith(() => sharpnessAware({ base: tf.train.sgd(lr), perturbation: samPerturbation(rho), weightDecay: decay }), 1);
    expect(maxRelativeError(baseOnly, expected)).toBeGreaterThan(1e-4);
  });
});

describe('scopes', () => {
  // W = Wt + Wf with Wf frozen: ∇_{Wf} L = ∇_W L, so references come from the linear gradient.
  function twoPart(scopeOf: (frozen: tf.Variable) => Scope, rho: number) {
    const trainable = tf.variable(tf.tensor2d(problem.init.w), true, `scope-${Math.random()}/wt`);
    const frozen = tf.variable(tf.tensor2d(scale64(0.5, problem.init).w), false, `scope-${Math.random()}/wf`);
    const scope = scopeOf(frozen);
    const b = tf.variable(tf.tensor1d(problem.init.b), true, `scope-${Math.random()}/b`);
    const x = tf.tensor2d(problem.x);
    const y = tf.tensor2d(problem.y);
    const loss = () => tf.mean(tf.sum(tf.square(tf.sub(tf.add(tf.matMul(x, tf.add(trainable, frozen)), b), y)), 1)) as tf.Scalar;
    const optimizer = sharpnessAware({ base: tf.train.sgd(lr), perturbation: samPerturbation(rho), scope });
    optimizer.minimize(loss, false, [trainable, b]);
    const result = { wt: trainable.arraySync() as number[][], wf: frozen.arraySync() as number[][], b: b.arraySync() as number[] };
    optimizer.dispose();
    for (const t of [trainable, frozen, b, x, y]) t.dispose();
    return result;
  }
  const w0 = { w: problem.init.w.map((row) => row.map((v) => 1.5 * v)), b: problem.init.b };

  it('{ frozen, trainable: false } perturbs only the named frozen variables and never updates them', () => {
    const g = linearGrad64(problem, w0);
    const normW = Math.sqrt(g.w.flat().reduce((s, v) => s + v * v, 0));
    const epsW = g.w.map((row) => row.map((v) => (0.2 * v) / (normW + 1e-12)));
    const gAdv = linearGrad64(problem, { w: w0.w.map((row, i) => row.map((v, j) => v + epsW[i]![j]!)), b: w0.b });
    const result = twoPart((frozen) => ({ frozen: [frozen], trainable: false }), 0.2);
    expect(result.wf).toEqual(tf.tidy(() => tf.tensor2d(scale64(0.5, problem.init).w).arraySync()));
    const expected = axpy(-lr, gAdv, problem.init);
    expect(maxRelativeError({ w: result.wt, b: result.b }, expected)).toBeLessThan(1e-5);
  });

  it('{ frozen: (update) => … } is called with the step\'s updated variables and perturbs what it returns', () => {
    const g = linearGrad64(problem, w0);
    const normW = Math.sqrt(g.w.flat().reduce((s, v) => s + v * v, 0));
    const epsW = g.w.map((row) => row.map((v) => (0.2 * v) / (normW + 1e-12)));
    const gAdv = linearGrad64(problem, { w: w0.w.map((row, i) => row.map((v, j) => v + epsW[i]![j]!)), b: w0.b });
    const seen: string[][] = [];
    const result = twoPart((frozen) => ({
      frozen: (update: readonly tf.Variable[]) => {
        seen.push(update.map((v) => v.name.split('/').pop()!));
        return update.some((v) => v.name.endsWith('/wt')) ? [frozen] : [];
      },
      trainable: false,
    }), 0.2);
    expect(seen.length).toBeGreaterThan(0);
    for (const names of seen) expect(names.sort()).toEqual(['b', 'wt']);
    expect(maxRelativeError({ w: result.wt, b: result.b }, axpy(-lr, gAdv, problem.init))).toBeLessThan(1e-5);
  });

  it("a predicate scope selects the perturbed variables ('b' only)", () => {
    const g = linearGrad64(problem, w0);
    const epsB = g.b.map((v) => (0.2 * v) / (Math.hypot(...g.b) + 1e-12));
    const gAdv = linearGrad64(problem, { w: w0.w, b: w0.b.map((v, i) => v + epsB[i]!) });
    const result = twoPart(() => (v) => v.name.endsWith('/b'), 0.2);
    expect(maxRelativeError({ w: result.wt, b: result.b }, axpy(-lr, gAdv, problem.init))).toBeLessThan(1e-5);
  });

  it('{ frozen } perturbs the updated and the named frozen variables with one global norm', () => {
    // Perturbed coordinates: Wt, Wf (both see ∇_W L) and b.
    const g = linearGrad64(problem, w0);
    const n = Math.sqrt(2 * g.w.flat().reduce((s, v) => s + v * v, 0) + g.b.reduce((s, v) => s + v * v, 0));
    const s = 0.2 / (n + 1e-12);
    const gAdv = linearGrad64(problem, { w: w0.w.map((row, i) => row.map((v, j) => v + 2 * s * g.w[i]![j]!)), b: w0.b.map((v, i) => v + s * g.b[i]!) });
    const result = twoPart((frozen) => ({ frozen: [frozen] }), 0.2);
    expect(maxRelativeError({ w: result.wt, b: result.b }, axpy(-lr, gAdv, problem.init))).toBeLessThan(1e-5);
  });
});

describe('a frozen scope with a noise perturbation', () => {
  it('perturbs frozen variables too and restores them exactly', () => {
    const trainable = tf.variable(tf.tensor2d(problem.init.w), true, `noise-all-${Math.random()}/w`);
    const frozen = tf.variable(tf.tensor2d(problem.init.w), false, `noise-all-${Math.random()}/frozen`);
    const x = tf.tensor2d(problem.x);
    const y = tf.tensor2d(problem.y);
    const loss = () => tf.mean(tf.sum(tf.square(tf.sub(tf.matMul(x, tf.add(trainable, frozen)), y)), 1)) as tf.Scalar;
    const frozenBefore = frozen.arraySync();
    const seen: number[][][] = [];
    const optimizer = sharpnessAware({ base: tf.train.sgd(lr), perturbation: noisePerturbation(0.5), scope: { frozen: [frozen] }, seed: 2 });
    // Noise needs no clean pass: the loss is called once, at the perturbed point. Record what it sees.
    const observed = () => {
      seen.push(frozen.arraySync() as number[][]);
      return loss();
    };
    optimizer.minimize(observed, false, [trainable]);
    expect(seen).toHaveLength(1);
    expect(seen[0]).not.toEqual(frozenBefore); // the pass ran at W_f + ε
    expect(frozen.arraySync()).toEqual(frozenBefore); // and W_f is back, bit for bit
    optimizer.dispose();
    for (const t of [trainable, frozen, x, y]) t.dispose();
  });
});

describe('gradient accumulation', () => {
  const first = [0, 1, 2, 3];
  const second = [4, 5, 6, 7];
  const rho = 0.1;
  const clean = () => {
    const g1 = linearGrad64(problem, problem.init, first);
    const g2 = linearGrad64(problem, problem.init, second);
    return { g1, g2, sum: axpy(1, g1, g2) };
  };

  function accumulated(accumulate: number | { steps: number; adversarial: 'last' | 'lastOnly' }, r = rho) {
    const model = makeTfLinear(problem);
    const optimizer = sharpnessAware({ base: tf.train.sgd(lr), perturbation: samPerturbation(r), accumulate });
    optimizer.minimize(model.loss(first), false, model.variables);
    optimizer.minimize(model.loss(second), false, model.variables);
    const params = model.read();
    optimizer.dispose();
    model.dispose();
    return params;
  }

  it("'last' (default): every micro-batch reaches the update, g_adv ≈ ḡ + (∇L₂(w + ε) − ∇L₂(w)), ε from ḡ", () => {
    const { g2, sum } = clean();
    const mean = scale64(0.5, sum);
    const perturbed = axpy(1, samEpsilon64(mean, rho), problem.init);
    const estimate = axpy(1, mean, axpy(-1, g2, linearGrad64(problem, perturbed, second)));
    expect(maxRelativeError(accumulated(2), axpy(-lr, estimate, problem.init))).toBeLessThan(1e-5);
  });

  it('with ρ = 0, accumulate: N is plain gradient accumulation: one update with the mean gradient of all N micro-batches', () => {
    const { sum } = clean();
    expect(maxRelativeError(accumulated(2, 0), axpy(-lr, scale64(0.5, sum), problem.init))).toBeLessThan(1e-6);
    expect(maxRelativeError(accumulated({ steps: 2, adversarial: 'lastOnly' }, 0), axpy(-lr, clean().g2, problem.init))).toBeLessThan(1e-6);
  });

  it("'lastOnly' (the seeds' data-parallel variant): ε from ḡ, the update is the last micro-batch's g_adv alone", () => {
    const { sum } = clean();
    const perturbed = axpy(1, samEpsilon64(sum, rho), problem.init);
    const expected = axpy(-lr, linearGrad64(problem, perturbed, second), problem.init);
    expect(maxRelativeError(accumulated({ steps: 2, adversarial: 'lastOnly' }), expected)).toBeLessThan(1e-5);
  });

  it('calls 1…N−1 only accumulate (no update, no step counted)', () => {
    const model = makeTfLinear(problem);
    const optimizer = sharpnessAware({ base: tf.train.sgd(lr), perturbation: samPerturbation(rho), accumulate: 2 });
    optimizer.minimize(model.loss(first), false, model.variables);
    expect(model.read()).toEqual(tf.tidy(() => ({ w: tf.tensor2d(problem.init.w).arraySync(), b: tf.tensor1d(problem.init.b).arraySync() })));
    expect(optimizer.steps).toBe(0);
    optimizer.minimize(model.loss(second), false, model.variables);
    expect(optimizer.steps).toBe(1);
    optimizer.dispose();
    model.dispose();
  });

  it("'all' through minimizeMicroBatches: g_adv averaged over every micro-batch; mix sees the mean clean gradient", () => {
    const { sum } = clean();
    const perturbed = axpy(1, samEpsilon64(sum, rho), problem.init);
    const gAdv = scale64(0.5, axpy(1, linearGrad64(problem, perturbed, first), linearGrad64(problem, perturbed, second)));
    const meanClean = scale64(0.5, sum);
    const final = axpy(0.5, gAdv, scale64(0.5, meanClean));
    const model = makeTfLinear(problem);
    const optimizer = sharpnessAware({
      base: tf.train.sgd(lr),
      perturbation: samPerturbation(rho),
      combiner: mix({ lambda: 0.5 }),
      accumulate: { steps: 2, adversarial: 'all' },
    });
    const loss = optimizer.minimizeMicroBatches([model.loss(first), model.loss(second)], true, model.variables);
    expect(maxRelativeError(model.read(), axpy(-lr, final, problem.init))).toBeLessThan(1e-5);
    expect(loss?.arraySync()).toBeCloseTo(0.5 * (lossOf(first) + lossOf(second)), 5);
    loss?.dispose();
    expect(() => optimizer.minimize(model.loss(first), false, model.variables)).toThrow(/minimizeMicroBatches/);
    optimizer.dispose();
    model.dispose();
  });

  function lossOf(rows: number[]) {
    return rows.reduce((s, i) => {
      const xi = problem.x[i]!;
      return s + problem.init.b.reduce((t, bj, j) => {
        const r = xi.reduce((u, v, c) => u + v * problem.init.w[c]![j]!, bj) - problem.y[i]![j]!;
        return t + r * r;
      }, 0);
    }, 0) / rows.length;
  }
});

describe('non-finite loss or gradient', () => {
  function nanStep(policy: 'skip' | 'throw' | 'ignore') {
    const model = makeTfLinear(problem);
    const optimizer = sharpnessAware({ base: tf.train.momentum(lr, 0.9), perturbation: samPerturbation(0.05), onNonFinite: policy });
    optimizer.minimize(model.loss(), false, model.variables);
    const before = model.read();
    const nanLoss = () => tf.mul(model.loss()(), Number.NaN) as tf.Scalar;
    return { model, optimizer, before, nanLoss };
  }

  it("'skip' (default) decides on the device: weights and momentum slots stay exactly as they were, the step is counted, no host read", async () => {
    const { model, optimizer, before, nanLoss } = nanStep('skip');
    const slotsBefore = await Promise.all((await optimizer.base.getWeights()).map(async (w) => Array.from(await w.tensor.data())));
    const { reads } = countHostReads(() => optimizer.minimize(nanLoss, false, model.variables));
    expect(reads).toBe(0);
    expect(model.read()).toEqual(before);
    const slotsAfter = await Promise.all((await optimizer.base.getWeights()).map(async (w) => Array.from(await w.tensor.data())));
    // The first entry is the base's host iteration counter, which counts skipped steps too.
    expect(slotsAfter.slice(1)).toEqual(slotsBefore.slice(1));
    expect((await optimizer.telemetry()).skippedSteps).toBe(1);
    optimizer.minimize(model.loss(), false, model.variables);
    expect((await optimizer.telemetry()).skippedSteps).toBe(1);
    optimizer.dispose();
    model.dispose();
  });

  it("'skip' with plain SGD leaves the weights untouched", () => {
    const model = makeTfLinear(problem);
    const optimizer = sharpnessAware({ base: tf.train.sgd(lr), perturbation: samPerturbation(0.05) });
    const before = model.read();
    optimizer.minimize(() => tf.mul(model.loss()(), Number.NaN) as tf.Scalar, false, model.variables);
    expect(model.read()).toEqual(before);
    optimizer.dispose();
    model.dispose();
  });

  it("'throw' throws a FlatminError before any update", () => {
    const { model, optimizer, before, nanLoss } = nanStep('throw');
    expect(() => optimizer.minimize(nanLoss, false, model.variables)).toThrow(FlatminError);
    expect(model.read()).toEqual(before);
    optimizer.dispose();
    model.dispose();
  });

  it("'ignore' lets NaN into the weights (tfjs' own behaviour)", () => {
    const { model, optimizer, nanLoss } = nanStep('ignore');
    optimizer.minimize(nanLoss, false, model.variables);
    expect(flatten(model.read()).some(Number.isNaN)).toBe(true);
    optimizer.dispose();
    model.dispose();
  });
});

describe('telemetry', () => {
  it('reports ‖g‖, ‖ε‖, cos(g, g_adv) and ρ of the last step (float64 reference)', async () => {
    const rho = 0.3;
    const g = linearGrad64(problem, problem.init);
    const gAdv = linearGrad64(problem, axpy(1, samEpsilon64(g, rho), problem.init));
    const model = makeTfLinear(problem);
    const optimizer = sharpnessAware({ base: tf.train.sgd(lr), perturbation: samPerturbation(rho) });
    optimizer.minimize(model.loss(), false, model.variables);
    const t = await optimizer.telemetry();
    expect(t.gradNorm).toBeCloseTo(norm64(g), 5);
    expect(t.epsilonNorm).toBeCloseTo(rho, 5);
    expect(t.cosine).toBeCloseTo(dot64(g, gAdv) / (norm64(g) * norm64(gAdv)), 5);
    expect(t.rho).toBeCloseTo(rho, 6);
    expect(t).toMatchObject({ sharp: true, sharpFraction: 1, skippedSteps: 0, steps: 1 });
    const tensors = optimizer.telemetryTensors();
    expect(tensors.gradNorm?.shape).toEqual([]);
    for (const key of ['gradNorm', 'epsilonNorm', 'cosine', 'rho'] as const) expect(tensors[key]!.dataSync()[0]).toBeCloseTo(t[key], 6);
    // Made once per step: the same handles until the next step, new (and the old ones freed) after it.
    expect(optimizer.telemetryTensors().cosine).toBe(tensors.cosine);
    const count = tf.memory().numTensors;
    optimizer.minimize(model.loss(), false, model.variables);
    expect(tensors.cosine!.isDisposed).toBe(true);
    expect(tf.memory().numTensors).toBe(count - 4);
    optimizer.dispose();
    model.dispose();
  });

  it('a skipped step keeps the previous step\'s telemetry (selected on the device) and counts itself', async () => {
    const model = makeTfLinear(problem);
    const optimizer = sharpnessAware({ base: tf.train.sgd(lr), perturbation: samPerturbation(0.3) });
    optimizer.minimize(model.loss([0, 1, 2]), false, model.variables);
    const first = await optimizer.telemetry();
    // Not even a kernel of the cpu backend reads a buffer (its Tile does: the select avoids tf.where's broadcast).
    const backend = tf.backend() as unknown as { readSync: (...args: unknown[]) => unknown };
    const readSync = backend.readSync;
    let backendReads = 0;
    backend.readSync = (...args: unknown[]) => {
      backendReads += 1;
      return readSync.apply(backend, args);
    };
    try {
      optimizer.minimize(() => tf.mul(model.loss()(), Number.NaN) as tf.Scalar, false, model.variables);
    } finally {
      backend.readSync = readSync;
    }
    expect(backendReads).toBe(0);
    const second = await optimizer.telemetry();
    expect(second).toEqual({ ...first, skippedSteps: 1, steps: 2, lossEvaluations: 4 });
    optimizer.minimize(model.loss([3, 4, 5]), false, model.variables);
    const third = await optimizer.telemetry();
    expect(third.gradNorm).not.toBe(first.gradNorm);
    expect(third.skippedSteps).toBe(1);
    optimizer.dispose();
    model.dispose();
  });

  it('telemetry: false computes none of it', async () => {
    const model = makeTfLinear(problem);
    const optimizer = sharpnessAware({ base: tf.train.sgd(lr), perturbation: samPerturbation(0.1), telemetry: false });
    optimizer.minimize(model.loss(), false, model.variables);
    expect(Number.isNaN((await optimizer.telemetry()).gradNorm)).toBe(true);
    optimizer.dispose();
    model.dispose();
  });
});

describe('seeded randomness', () => {
  const noisy = (seed: number) => trainWith(() => sharpnessAware({ base: tf.train.sgd(lr), perturbation: noisePerturbation(0.5), seed }), 5);

  it('the same seed reproduces a run bit for bit; another seed does not', () => {
    expect(noisy(3)).toEqual(noisy(3));
    expect(noisy(3)).not.toEqual(noisy(4));
  });

  it('getConfig records the seed drawn when none was given', () => {
    const optimizer = sharpnessAware({ base: tf.train.sgd(lr), perturbation: noisePerturbation(0.5) });
    expect(Number.isInteger(optimizer.getConfig()['seed'])).toBe(true);
    optimizer.dispose();
  });
});

describe('averager', () => {
  it('is updated after every step; apply() swaps the running mean in, restore() swaps back', async () => {
    const model = makeTfLinear(problem);
    const optimizer = sharpnessAware({ base: tf.train.sgd(lr), perturbation: samPerturbation(0.1), averager: meanAverager() });
    const trajectory: number[][] = [];
    for (let i = 0; i < 4; i += 1) {
      optimizer.minimize(model.loss(), false, model.variables);
      trajectory.push(flatten(model.read()));
    }
    const mean = trajectory[0]!.map((_, j) => trajectory.reduce((s, w) => s + w[j]!, 0) / trajectory.length);
    const current = model.read();
    const handle = optimizer.averager!;
    handle.apply();
    expect(handle.applied).toBe(true);
    for (const [j, v] of flatten(model.read()).entries()) expect(v).toBeCloseTo(mean[j]!, 6);
    handle.restore();
    expect(model.read()).toEqual(current);
    await handle.callback().onTrainEnd?.();
    for (const [j, v] of flatten(model.read()).entries()) expect(v).toBeCloseTo(mean[j]!, 6);
    handle.restore();
    optimizer.dispose();
    model.dispose();
  });
});

describe('tensors kept by the loss closure', () => {
  function run(policy: 'dispose' | 'keep') {
    const model = makeTfLinear(problem);
    const optimizer = sharpnessAware({ base: tf.train.sgd(lr), perturbation: samPerturbation(0.1), keptInAdversarialPass: policy });
    // Like model.fit's closure: every call keeps a metric; the caller reads and disposes the first call's.
    const cleanKept: tf.Tensor[] = [];
    const adversarialKept: tf.Tensor[] = [];
    let calls = 0;
    const loss = () => {
      const value = model.loss()();
      (calls++ % 2 === 0 ? cleanKept : adversarialKept).push(tf.keep(tf.mul(value, 2)));
      return value;
    };
    const step = () => {
      optimizer.minimize(loss, false, model.variables);
      for (const t of cleanKept.splice(0)) t.dispose();
    };
    step();
    const before = tf.memory().numTensors;
    for (let i = 0; i < 10; i += 1) step();
    const growth = tf.memory().numTensors - before;
    for (const t of adversarialKept) if (!t.isDisposed) t.dispose();
    optimizer.dispose();
    model.dispose();
    return growth;
  }

  it("'dispose' (default) frees what the adversarial call kept, so model.fit's metrics do not leak", () => {
    expect(run('dispose')).toBe(0);
  });

  it("'keep' leaves them to the caller", () => {
    expect(run('keep')).toBe(10);
  });
});

describe('lifecycle', () => {
  it('dispose() frees every tensor the optimizer made and forbids further use', () => {
    const model = makeTfLinear(problem);
    const before = tf.memory().numTensors;
    // (tfjs' own MomentumOptimizer.dispose leaks its learning-rate scalar, so SGD here.)
    const optimizer = sharpnessAware({ base: tf.train.sgd(lr), perturbation: samPerturbation(0.1), averager: meanAverager(), accumulate: 2 });
    for (let i = 0; i < 5; i += 1) optimizer.minimize(model.loss(), false, model.variables);
    optimizer.dispose();
    expect(tf.memory().numTensors).toBe(before);
    expect(() => optimizer.minimize(model.loss(), false, model.variables)).toThrow(/disposed/);
    model.dispose();
  });

  it('a loss that does not reach any variable gives a clear error', () => {
    const model = makeTfLinear(problem);
    const optimizer = sharpnessAware({ base: tf.train.sgd(lr), perturbation: samPerturbation(0.1) });
    expect(() => optimizer.minimize(() => tf.scalar(1), false, model.variables)).toThrow(/connection/);
    optimizer.dispose();
    model.dispose();
  });
});
