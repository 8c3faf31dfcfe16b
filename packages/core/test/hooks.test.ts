// The perturbation hooks beyond ε: `context.gradientOf` (one more gradient of a scalar built from
// the closure's outputs, e.g. one sample's gradient for an empirical Fisher) and `weighSamples`
// (ESAM-style weighting of the adversarial pass's samples), against float64 references.
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import {
  axpy,
  countHostReads,
  expectNoTensorGrowth,
  flatten,
  type LinearParams,
  linearGrad64,
  linearLoss64,
  makeLinearProblem,
  makeTfLinear,
  maxRelativeError,
  norm64,
  scale64,
} from '@flatmin/test-kit';
import { describe, expect, it } from 'vitest';
import { FlatminError, type Perturbation, sharpnessAware } from '../src/index.js';
import { globalNorm, mapNamed, pickNamed } from '../src/kit.js';
import { samEpsilon64 } from './reference.js';

const problem = makeLinearProblem({ seed: 71, n: 10 });
const rows = Array.from({ length: problem.n }, (_, i) => i);
const lr = 0.1;
const rho = 0.2;

type Model = ReturnType<typeof makeTfLinear>;

/** The closure of a custom loop that returns per-sample losses ℓᵢ = Σⱼ rᵢⱼ² (their mean is the loss). */
function perSampleClosure(model: Model): () => { loss: tf.Scalar; perSample: tf.Tensor1D } {
  const x = tf.keep(tf.tensor2d(problem.x));
  const y = tf.keep(tf.tensor2d(problem.y));
  return () => {
    const perSample = tf.sum(tf.square(tf.sub(tf.add(tf.matMul(x, model.w), model.b), y)), 1) as tf.Tensor1D;
    return { loss: tf.mean(perSample) as tf.Scalar, perSample };
  };
}

/** ε = ρ ∇ℓ_n(w + δ)/‖∇ℓ_n(w + δ)‖ with one sample's gradient from context.gradientOf (δ = `shift` · 1 on W). */
function oneSamplePerturbation(n: number, shift: number): Perturbation {
  return {
    kind: 'perturbation',
    name: 'test-one-sample',
    config: {},
    rho,
    needsGradient: false,
    requires: ['perSample'],
    compute: (context) => {
      const [w] = context.variables;
      const offsets = shift === 0 ? undefined : { [w!.name]: tf.fill(w!.shape, shift) };
      const { grads: g } = context.gradientOf(({ perSample }) => tf.sum(tf.slice(perSample!, [n], [1])) as tf.Scalar, offsets);
      const picked = pickNamed(g, context.variables);
      const scale = tf.div(context.rho, tf.add(globalNorm(Object.values(picked)), context.normEpsilon));
      return { epsilon: mapNamed(picked, (t) => tf.mul(t, scale)) };
    },
  };
}

const shifted = (params: LinearParams, shift: number): LinearParams => ({ w: params.w.map((row) => row.map((v) => v + shift)), b: params.b });

describe('context.gradientOf', () => {
  it.each([0, 0.05])('gives one sample’s gradient at w + δ (δ = %s): the update matches float64, the weights are restored exactly', (shift) => {
    const n = 3;
    const model = makeTfLinear(problem);
    const optimizer = sharpnessAware({ base: tf.train.sgd(lr), perturbation: oneSamplePerturbation(n, shift), seed: 1 });
    optimizer.minimize(perSampleClosure(model), false, model.variables);
    const g = linearGrad64(problem, shifted(problem.init, shift), [n]);
    const epsilon = scale64(rho / norm64(g), g);
    const expected = axpy(-lr, linearGrad64(problem, axpy(1, epsilon, problem.init), rows), problem.init);
    expect(maxRelativeError(model.read(), expected)).toBeLessThan(1e-5);
    optimizer.dispose();
    model.dispose();
  });

  it('counts as a loss evaluation (no clean pass: gradientOf + adversarial = 2), makes no host read and leaks nothing', async () => {
    const model = makeTfLinear(problem);
    const optimizer = sharpnessAware({ base: tf.train.sgd(lr), perturbation: oneSamplePerturbation(0, 0.01), seed: 1 });
    const f = perSampleClosure(model);
    optimizer.minimize(f, false, model.variables);
    expect((await optimizer.telemetry()).lossEvaluations).toBe(2);
    expect(countHostReads(() => optimizer.minimize(f, false, model.variables)).reads).toBe(0);
    await expectNoTensorGrowth(() => optimizer.minimize(f, false, model.variables));
    optimizer.dispose();
    model.dispose();
  });

  it('refuses a function that returns no scalar', () => {
    const model = makeTfLinear(problem);
    const bad: Perturbation = { ...oneSamplePerturbation(0, 0), compute: (context) => ({ epsilon: context.gradientOf(({ perSample }) => perSample as unknown as tf.Scalar).grads }) };
    const optimizer = sharpnessAware({ base: tf.train.sgd(lr), perturbation: bad, seed: 1 });
    expect(() => optimizer.minimize(perSampleClosure(model), false, model.variables)).toThrow(/gradientOf: the function must return a scalar/);
    optimizer.dispose();
    model.dispose();
  });
});

/** SAM whose adversarial gradient is taken over the `keep` samples whose loss rises most under ε (weights 1, the rest 0). */
function risingSamples(keep: number): Perturbation {
  return {
    kind: 'perturbation',
    name: 'test-rising',
    config: { keep },
    rho,
    needsGradient: true,
    requires: ['perSample'],
    compute: (context) => {
      const g = context.grads!;
      const scale = tf.div(context.rho, tf.add(context.gradNorm(), context.normEpsilon));
      return { epsilon: mapNamed(g, (t) => tf.mul(t, scale)) };
    },
    weighSamples: ({ perSample, cleanPerSample }) => {
      const rise = tf.sub(perSample, cleanPerSample!);
      const { indices } = tf.topk(rise, keep);
      return tf.sum(tf.oneHot(indices, perSample.shape[0]), 0) as tf.Tensor1D;
    },
  };
}

describe('weighSamples', () => {
  it('the adversarial gradient is the mean over the selected samples at w + ε (float64: top-k by ℓ(w + ε) − ℓ(w))', () => {
    const keep = 4;
    const model = makeTfLinear(problem);
    const optimizer = sharpnessAware({ base: tf.train.sgd(lr), perturbation: risingSamples(keep), seed: 1 });
    optimizer.minimize(perSampleClosure(model), false, model.variables);

    const w0 = problem.init;
    const epsilon = samEpsilon64(linearGrad64(problem, w0, rows), rho);
    const perturbed = axpy(1, epsilon, w0);
    const rise = rows.map((i) => linearLoss64(problem, perturbed, [i]) - linearLoss64(problem, w0, [i]));
    const selected = [...rows].sort((a, b) => rise[b]! - rise[a]!).slice(0, keep);
    const expected = axpy(-lr, linearGrad64(problem, perturbed, selected), w0);
    expect(maxRelativeError(model.read(), expected)).toBeLessThan(1e-5);
    // Not the plain SAM update: the selection changes it.
    const sam = axpy(-lr, linearGrad64(problem, perturbed, rows), w0);
    expect(Math.max(...flatten(expected).map((v, i) => Math.abs(v - flatten(sam)[i]!)))).toBeGreaterThan(1e-3);
    optimizer.dispose();
    model.dispose();
  });

  it('weighting every sample 1 is SAM exactly (same float32 weights)', () => {
    const all: Perturbation = { ...risingSamples(1), weighSamples: ({ perSample }) => tf.onesLike(perSample) };
    const { weighSamples: _unused, ...plain } = risingSamples(1);
    const results = [all, plain as Perturbation].map((perturbation) => {
      const model = makeTfLinear(problem);
      const optimizer = sharpnessAware({ base: tf.train.sgd(lr), perturbation, seed: 1 });
      for (let i = 0; i < 3; i += 1) optimizer.minimize(perSampleClosure(model), false, model.variables);
      const out = flatten(model.read());
      optimizer.dispose();
      model.dispose();
      return out;
    });
    for (let i = 0; i < results[0]!.length; i += 1) expect(results[0]![i]).toBeCloseTo(results[1]![i]!, 6);
  });

  it('no host read, no leak over 100 steps', async () => {
    const model = makeTfLinear(problem);
    const optimizer = sharpnessAware({ base: tf.train.sgd(0.01), perturbation: risingSamples(3), seed: 1 });
    const f = perSampleClosure(model);
    optimizer.minimize(f, false, model.variables);
    expect(countHostReads(() => optimizer.minimize(f, false, model.variables)).reads).toBe(0);
    await expectNoTensorGrowth(() => optimizer.minimize(f, false, model.variables));
    optimizer.dispose();
    model.dispose();
  });

  it('under model.fit (no per-sample losses) the requirement names the component and the custom-loop call', async () => {
    const model = tfl.sequential({ layers: [tfl.layers.dense({ units: 1, inputShape: [2] })] });
    model.compile({ optimizer: sharpnessAware({ base: tf.train.sgd(0.1), perturbation: risingSamples(2), seed: 1 }), loss: 'meanSquaredError' });
    await expect(model.fit(tf.ones([4, 2]), tf.ones([4, 1]), { epochs: 1, verbose: 0, shuffle: false })).rejects.toThrow(/test-rising.*perSample.*custom loop/);
    model.dispose();
  });

  it('is refused with sharpOn and with several adversarial closures', () => {
    const model = makeTfLinear(problem);
    const f = perSampleClosure(model);
    const many = sharpnessAware({ base: tf.train.sgd(lr), perturbation: risingSamples(2), accumulate: { steps: 2, adversarial: 'all' }, seed: 1 });
    expect(() => many.minimizeMicroBatches([f, f], false, model.variables)).toThrow(FlatminError);
    expect(() => many.minimizeMicroBatches([f, f], false, model.variables)).toThrow(/one closure per update and without sharpOn/);
    many.dispose();
    const parted = sharpnessAware({ base: tf.train.sgd(lr), perturbation: risingSamples(2), sharpOn: 'tail', seed: 1 });
    const withParts = () => {
      const { loss, perSample } = f();
      return { loss, perSample, parts: { head: tf.mul(loss, 0.5) as tf.Scalar, tail: tf.mul(loss, 0.5) as tf.Scalar } };
    };
    expect(() => parted.minimize(withParts, false, model.variables)).toThrow(/one closure per update and without sharpOn/);
    parted.dispose();
    model.dispose();
  });
});
