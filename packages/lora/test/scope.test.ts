// The three LoRA scopes under SAM, one step against a float64 reference, and under model.fit:
// W₀ perturbed or not as the scope says, but never updated (bit-identical).
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { type Combiner, type Perturbation, sharpnessAware } from '@flatmin/core';
import { gradient } from '@flatmin/perturb-gradient';
import { filterNoise, gaussian } from '@flatmin/perturb-noise';
import { countHostReads, expectConfigError, expectNoTensorGrowth } from '@flatmin/test-kit';
import { describe, expect, it } from 'vitest';
import { type LoraDense, loraDense, loraScope } from '../src/index.js';
import { axpyParts, type LoraParams, maxError, mseGrad64, randomMatrix, read, sumSquares } from './helpers.js';

const IN = 3;
const OUT = 2;
const R = 2;
const ALPHA = 3;
const S = ALPHA / R;
const RHO = 0.2;
const LR = 0.1;
const X = randomMatrix(6, IN, 1, 2);
const T = randomMatrix(6, OUT, 2);
const P0: LoraParams = { w0: randomMatrix(IN, OUT, 3), a: randomMatrix(R, IN, 4), b: randomMatrix(OUT, R, 5), bias: randomMatrix(1, OUT, 6)[0]! };

function lora(trainableBias = false): { model: tfl.Sequential; layer: LoraDense } {
  const layer = loraDense({ units: OUT, rank: R, alpha: ALPHA, inputShape: [IN], trainableBias });
  const model = tfl.sequential({ layers: [layer] });
  layer.kernel.assign(tf.tensor2d(P0.w0));
  layer.loraA.assign(tf.tensor2d(P0.a));
  layer.loraB.assign(tf.tensor2d(P0.b));
  layer.bias!.assign(tf.tensor1d(P0.bias));
  return { model, layer };
}

type Part = keyof LoraParams;
const PERTURBED: Record<'lora' | 'full' | 'origin', Part[]> = { lora: ['a', 'b'], full: ['w0', 'a', 'b'], origin: ['w0'] };

/** SAM on the chosen parts: ε = ρ g_S/‖g_S‖ (one global norm), g_adv at w + ε, SGD on the trainable parts. */
function samReference(perturbed: Part[], trained: Part[]): LoraParams {
  const g = mseGrad64(X, T, P0, S);
  const norm = Math.sqrt(perturbed.reduce((acc, part) => acc + sumSquares(g[part]), 0));
  const gAdv = mseGrad64(X, T, axpyParts(P0, RHO / (norm + 1e-12), g, perturbed), S);
  return axpyParts(P0, -LR, gAdv, trained);
}

/** A perturbation that records which variables it perturbs, around SAM's. */
function recording(inner: Perturbation, seen: string[][]): Perturbation {
  return {
    ...inner,
    compute(context, state) {
      const result = inner.compute(context, state);
      seen.push(Object.keys(result.epsilon).map((name) => name.split('/').pop()!));
      return result;
    },
  };
}

/** The adversarial combiner, recording the clean and adversarial gradients. */
function recordingCombiner(seen: { g: Record<string, number[][]>; gAdv: Record<string, number[][]> }[]): Combiner {
  return {
    kind: 'combiner',
    name: 'recordingCombiner',
    config: {},
    needsGradient: true,
    combine(context) {
      const pick = (grads: Record<string, tf.Tensor>) => Object.fromEntries(Object.entries(grads).map(([k, v]) => [k.split('/').pop()!, v.arraySync() as number[][]]));
      seen.push({ g: pick(context.grads!), gAdv: pick(context.gradsAdv) });
      return { grads: Object.fromEntries(Object.entries(context.gradsAdv).filter(([k]) => context.variables.some((v) => v.name === k))) };
    },
  };
}

const loss = (model: tfl.LayersModel, x: tf.Tensor, t: tf.Tensor) => () => tf.mean(tf.square(tf.sub(model.apply(x) as tf.Tensor, t))) as tf.Scalar;

describe.each(['lora', 'full', 'origin'] as const)("loraScope('%s'), one SAM step", (kind) => {
  it.each([
    ['A, B', false, true],
    ['A, B and the trainable bias', true, true],
    ['A, B; no model named (W₀ found from its A and B)', false, false],
  ] as const)('matches the float64 reference (perturbed: the scope; updated: %s)', (_label, trainableBias, named) => {
    const { model, layer } = lora(trainableBias);
    const seen: string[][] = [];
    const optimizer = sharpnessAware({ base: tf.train.sgd(LR), perturbation: recording(gradient({ rho: RHO }), seen), scope: loraScope(kind, named ? { model } : {}) });
    const x = tf.tensor2d(X);
    const t = tf.tensor2d(T);
    optimizer.minimize(loss(model, x, t), false, model.trainableWeights.map((w) => w.read() as tf.Variable));
    const trained: Part[] = trainableBias ? ['a', 'b', 'bias'] : ['a', 'b'];
    const expected = samReference(PERTURBED[kind], trained);
    expect(seen[0]!.sort()).toEqual(PERTURBED[kind].map((p) => ({ w0: 'kernel', a: 'lora_A', b: 'lora_B', bias: 'bias' })[p]).sort());
    expect(read(layer.kernel)).toEqual(tf.tidy(() => tf.tensor2d(P0.w0).arraySync())); // never updated, restored bit for bit
    expect(maxError(read(layer.loraA), expected.a)).toBeLessThan(1e-5);
    expect(maxError(read(layer.loraB), expected.b)).toBeLessThan(1e-5);
    expect(maxError(layer.bias!.arraySync(), expected.bias)).toBeLessThan(1e-5);
    if (!trainableBias) expect(layer.bias!.arraySync()).toEqual(tf.tidy(() => tf.tensor1d(P0.bias).arraySync()));
    // The reference differs from plain SGD and from the other scopes' (the test can tell them apart).
    const plain = axpyParts(P0, -LR, mseGrad64(X, T, P0, S), trained);
    expect(maxError(expected.a, plain.a) + maxError(expected.b, plain.b)).toBeGreaterThan(1e-3);
    for (const other of (['lora', 'full', 'origin'] as const).filter((k) => k !== kind)) {
      const theirs = samReference(PERTURBED[other], trained);
      expect(maxError(expected.a, theirs.a) + maxError(expected.b, theirs.b)).toBeGreaterThan(1e-4);
    }
    tf.dispose([x, t]);
    optimizer.dispose();
    model.dispose();
  });
});

describe("loraScope('origin')", () => {
  it('perturbs only W₀, yet the adversarial gradient of A and B differs from the clean one (as the float64 reference says)', () => {
    const { model } = lora();
    const seen: { g: Record<string, number[][]>; gAdv: Record<string, number[][]> }[] = [];
    const eps: string[][] = [];
    const optimizer = sharpnessAware({ base: tf.train.sgd(LR), perturbation: recording(gradient({ rho: RHO }), eps), combiner: recordingCombiner(seen), scope: loraScope('origin', { model }) });
    const x = tf.tensor2d(X);
    const t = tf.tensor2d(T);
    optimizer.minimize(loss(model, x, t), false, model.trainableWeights.map((w) => w.read() as tf.Variable));
    expect(eps[0]).toEqual(['kernel']);
    const g = mseGrad64(X, T, P0, S);
    const gAdv = mseGrad64(X, T, axpyParts(P0, RHO / (Math.sqrt(sumSquares(g.w0)) + 1e-12), g, ['w0']), S);
    const { g: clean, gAdv: adversarial } = seen[0]!;
    expect(maxError(clean['lora_A'], g.a)).toBeLessThan(1e-5);
    expect(maxError(adversarial['lora_A'], gAdv.a)).toBeLessThan(1e-5);
    expect(maxError(adversarial['lora_B'], gAdv.b)).toBeLessThan(1e-5);
    expect(maxError(adversarial['lora_A'], clean['lora_A'])).toBeGreaterThan(1e-3);
    expect(maxError(adversarial['lora_B'], clean['lora_B'])).toBeGreaterThan(1e-3);
    tf.dispose([x, t]);
    optimizer.dispose();
    model.dispose();
  });
});

describe('loraScope under model.fit', () => {
  const data = () => ({ x: tf.tensor2d(randomMatrix(8, IN, 11, 2)), y: tf.tensor2d(randomMatrix(8, OUT, 12)) });

  it.each([
    ['lora', () => gradient({ rho: 0.1 })],
    ['full', () => gradient({ rho: 0.1 })],
    ['origin', () => gradient({ rho: 0.1 })],
    ['origin', () => filterNoise({ gamma: 0.5, perInput: true, totalSteps: 4 })],
    ['full', () => gaussian({ sigma: 0.05, scale: 'filter' })],
  ] as const)("scope '%s' (%#): W₀ bit-identical after several steps, A and B move, no leak across fits", async (kind, make) => {
    const { model, layer } = lora();
    const kernel = read(layer.kernel);
    const bias = layer.bias!.arraySync();
    const [a, b] = [read(layer.loraA), read(layer.loraB)];
    const optimizer = sharpnessAware({ base: tf.train.sgd(0.05), perturbation: make(), scope: loraScope(kind, { model }), seed: 1 });
    model.compile({ optimizer, loss: 'meanSquaredError', metrics: ['mse'] });
    const { x, y } = data();
    await model.fit(x, y, { epochs: 1, batchSize: 4, verbose: 0, shuffle: false });
    const before = tf.memory();
    await model.fit(x, y, { epochs: 2, batchSize: 4, verbose: 0, shuffle: false });
    const after = tf.memory();
    expect({ tensors: after.numTensors, bytes: after.numBytes }).toEqual({ tensors: before.numTensors, bytes: before.numBytes });
    expect(optimizer.steps).toBe(6);
    expect(read(layer.kernel)).toEqual(kernel);
    expect(layer.bias!.arraySync()).toEqual(bias);
    expect(maxError(read(layer.loraA), a)).toBeGreaterThan(1e-4);
    expect(maxError(read(layer.loraB), b)).toBeGreaterThan(1e-4);
    tf.dispose([x, y]);
    optimizer.dispose();
    model.dispose();
  });

  it("filterNoise (Flat-LoRA's σ/√n filter noise) with 'origin': one pass per step, noise only on W₀", () => {
    const { model } = lora();
    const eps: string[][] = [];
    const optimizer = sharpnessAware({ base: tf.train.sgd(LR), perturbation: recording(filterNoise({ gamma: 0.5, perInput: true }), eps), scope: loraScope('origin', { model }), seed: 2 });
    const x = tf.tensor2d(X);
    const t = tf.tensor2d(T);
    optimizer.minimize(loss(model, x, t), false, model.trainableWeights.map((w) => w.read() as tf.Variable));
    expect(eps[0]).toEqual(['kernel']);
    return optimizer.telemetry().then((telemetry) => {
      expect(telemetry.lossEvaluations).toBe(1);
      tf.dispose([x, t]);
      optimizer.dispose();
      model.dispose();
    });
  });
});

describe('loraScope in a custom loop', () => {
  it.each(['lora', 'full', 'origin'] as const)("'%s': no tensor growth over 100 steps and zero host reads per step", async (kind) => {
    const { model } = lora();
    const optimizer = sharpnessAware({ base: tf.train.sgd(0.01), perturbation: gradient({ rho: 0.05 }), scope: loraScope(kind, { model }) });
    const x = tf.tensor2d(X);
    const t = tf.tensor2d(T);
    const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
    const step = () => optimizer.minimize(loss(model, x, t), false, vars);
    await expectNoTensorGrowth(step, { steps: 100 });
    expect(countHostReads(step).reads).toBe(0);
    tf.dispose([x, t]);
    optimizer.dispose();
    model.dispose();
  });

  it("'lora' without a model perturbs the A and B among the updated variables, never another trainable layer", () => {
    const layer = loraDense({ units: OUT, rank: R, inputShape: [IN], seed: 1 });
    const model = tfl.sequential({ layers: [layer, tfl.layers.dense({ units: 1 })] });
    const eps: string[][] = [];
    const optimizer = sharpnessAware({ base: tf.train.sgd(LR), perturbation: recording(gradient({ rho: RHO }), eps), scope: loraScope('lora') });
    const x = tf.tensor2d(X);
    const t = tf.ones([6, 1]);
    optimizer.minimize(loss(model, x, t), false, model.trainableWeights.map((w) => w.read() as tf.Variable));
    expect(eps[0]!.sort()).toEqual(['lora_A', 'lora_B']);
    tf.dispose([x, t]);
    optimizer.dispose();
    model.dispose();
  });

  it("a model restricts the scope to its own LoRA layers", () => {
    const mine = lora().model;
    const other = lora().model;
    const scope = loraScope('lora', { model: mine }) as (v: tf.Variable) => boolean;
    expect(mine.trainableWeights.map((w) => scope(w.read() as tf.Variable))).toEqual([true, true]);
    expect(other.trainableWeights.map((w) => scope(w.read() as tf.Variable))).toEqual([false, false]);
    mine.dispose();
    other.dispose();
  });
});

describe('loraScope refuses', () => {
  it('an unknown scope, a non-model', () => {
    expectConfigError(() => loraScope('all' as never), 'scope');
    expectConfigError(() => loraScope('full', { model: {} as never }), 'model');
    expectConfigError(() => loraScope('lora', { model: 3 as never }), 'model');
    expectConfigError(() => loraScope('lora', { modle: 3 } as never), 'modle');
    expectConfigError(() => loraScope('lora', 3 as never), 'options');
  });
});
