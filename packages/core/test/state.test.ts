// State across steps and processes: telemetry's cosine without float cancellation, scopes that do
// not see unrelated variables, resume after tf.loadLayersModel renamed the variables, and the
// averager across repeated fit() calls.
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { makeLinearProblem, makeTfLinear } from '@flatmin/test-kit';
import { describe, expect, it } from 'vitest';
import { gradient } from '../../perturb-gradient/src/index.js';
import { FlatminError, sharpnessAware } from '../src/index.js';
import { meanAverager, noisePerturbation, samPerturbation } from './helpers.js';

const problem = makeLinearProblem({ seed: 41 });

describe('telemetry', () => {
  it('cos(g, g_adv) ≈ 1 for |w| ≈ 1000 and ρ = 1e-5 (computed from g and g_adv, not from (w + ε) − w)', async () => {
    // L = ½ Σ (w − c)² has g = w − c and g_adv = g + ε, so cos(g, g_adv) = 1 exactly in float64.
    const c = tf.tensor1d([1000.5, -999.25, 1001, 998]);
    const w = tf.variable(tf.tensor1d([1003, -1002, 1000, 1001.5]));
    const loss = () => tf.mul(0.5, tf.sum(tf.square(tf.sub(w, c)))) as tf.Scalar;
    for (const rho of [1e-5, 1e-3]) {
      const optimizer = sharpnessAware({ base: tf.train.sgd(0.01), perturbation: samPerturbation(rho) });
      optimizer.minimize(loss, false, [w]);
      const t = await optimizer.telemetry();
      expect(t.cosine).toBeGreaterThan(0.99999);
      expect(t.cosine).toBeLessThanOrEqual(1.000001);
      expect(t.epsilonNorm).toBeCloseTo(rho, 8);
      optimizer.dispose();
    }
    tf.dispose([c, w]);
  });
});

describe('scopes never read the process-wide variable registry', () => {
  it('creating unrelated variables (another model, optimizer slots) does not change a noise step', () => {
    const runOnce = (extra: boolean) => {
      const model = makeTfLinear(problem);
      const unrelated = extra ? [tf.variable(tf.ones([3, 3]), false), tf.variable(tf.zeros([5]), true)] : [];
      const optimizer = sharpnessAware({ base: tf.train.sgd(0.1), perturbation: noisePerturbation(0.2), seed: 9 });
      optimizer.minimize(model.loss(), false, model.variables);
      const params = model.read();
      const others = unrelated.map((v) => v.arraySync());
      optimizer.dispose();
      model.dispose();
      for (const v of unrelated) v.dispose();
      return { params, others };
    };
    const alone = runOnce(false);
    const crowded = runOnce(true);
    expect(crowded.params).toEqual(alone.params);
    expect(crowded.others).toEqual([tf.tidy(() => tf.ones([3, 3]).arraySync()), [0, 0, 0, 0, 0]]);
  });

  it('a frozen scope names its variables: a model frozen elsewhere is not perturbed', () => {
    const model = makeTfLinear(problem);
    const other = tf.variable(tf.ones([2]), false);
    const seen: number[][] = [];
    const optimizer = sharpnessAware({ base: tf.train.sgd(0.1), perturbation: noisePerturbation(0.5), scope: { frozen: [], trainable: true } });
    optimizer.minimize(() => {
      seen.push(other.arraySync() as number[]);
      return model.loss()();
    }, false, model.variables);
    expect(seen).toEqual([[1, 1]]);
    optimizer.dispose();
    model.dispose();
    other.dispose();
  });
});

describe('resume after tf.loadLayersModel in the same process (variables renamed)', () => {
  it("OG-SAM's per-variable state follows the renamed variables; the resumed run equals the uninterrupted one", async () => {
    const x = tf.tensor2d(problem.x);
    const y = tf.tensor2d(problem.y);
    const build = () =>
      tfl.sequential({
        layers: [tfl.layers.dense({ units: problem.k, inputShape: [problem.d], weights: [tf.tensor2d(problem.init.w), tf.tensor1d(problem.init.b)] })],
      });
    const optimizer = () => sharpnessAware({ base: tf.train.momentum(0.05, 0.9), perturbation: gradient({ rho: 0.05, from: 'previous' }), seed: 1 });
    const fit = (m: tfl.LayersModel, epochs: number) => m.fit(x, y, { epochs, batchSize: 4, shuffle: false, verbose: 0 });

    const straight = build();
    straight.compile({ optimizer: optimizer(), loss: 'meanSquaredError' });
    await fit(straight, 4);
    const expected = straight.getWeights().map((w) => w.arraySync());

    const first = build();
    first.compile({ optimizer: optimizer(), loss: 'meanSquaredError' });
    await fit(first, 2);
    let saved: tf.io.ModelArtifacts | undefined;
    await first.save(tf.io.withSaveHandler(async (artifacts) => {
      saved = artifacts;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }), { includeOptimizer: true });
    const loaded = await tfl.loadLayersModel(tf.io.fromMemory(saved!));
    expect((loaded.trainableWeights[0]!.read() as tf.Variable).name).not.toBe((first.trainableWeights[0]!.read() as tf.Variable).name);
    await fit(loaded, 2);
    const resumed = loaded.getWeights().map((w) => w.arraySync());
    expect(resumed).toEqual(expected);
    // Only the new names are carried: saving again holds one entry per variable, not two.
    const weights = await (loaded.optimizer as ReturnType<typeof optimizer>).getWeights();
    const previous = weights.filter((w) => w.name.endsWith(':previous'));
    expect(previous.map((w) => w.name.slice('flatmin/perturbation/'.length, -':previous'.length))).toEqual(loaded.trainableWeights.map((w) => (w.read() as tf.Variable).name));
    for (const m of [straight, first, loaded]) m.dispose();
    tf.dispose([x, y]);
  });
});

describe('the averager across repeated fit() calls', () => {
  it('the callback puts the training weights back when a fit begins, and minimize refuses while averaged weights are applied', async () => {
    const x = tf.tensor2d(problem.x);
    const y = tf.tensor2d(problem.y);
    const model = tfl.sequential({ layers: [tfl.layers.dense({ units: problem.k, inputShape: [problem.d] })] });
    const optimizer = sharpnessAware({ base: tf.train.sgd(0.05), perturbation: samPerturbation(0.05), averager: meanAverager() });
    model.compile({ optimizer, loss: 'meanSquaredError' });
    const callback = optimizer.averager!.callback();
    await model.fit(x, y, { epochs: 2, verbose: 0, callbacks: callback });
    expect(optimizer.averager!.applied).toBe(true);
    expect(() => optimizer.minimize(() => tf.mean(tf.square(model.predict(x) as tf.Tensor)) as tf.Scalar)).toThrow(FlatminError);
    const averagedAfterFirst = model.getWeights().map((w) => w.arraySync());
    await model.fit(x, y, { epochs: 2, verbose: 0, callbacks: callback });
    expect(optimizer.averager!.applied).toBe(true);
    expect(optimizer.steps).toBe(4);
    expect(model.getWeights().map((w) => w.arraySync())).not.toEqual(averagedAfterFirst);
    optimizer.averager!.restore();
    expect(optimizer.averager!.applied).toBe(false);
    model.dispose();
    tf.dispose([x, y]);
  });
});
