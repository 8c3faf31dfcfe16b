// Flat-LoRA's noise on the merged weight: ε/S is the same standard-normal draw as filterNoise's
// (same seed), with S from ‖(W₀ + (α/r)AᵀBᵀ)_:,j‖ in float64 — not from W₀'s own norms.
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { type Perturbation, sharpnessAware } from '@flatmin/core';
import { filterNoise } from '@flatmin/perturb-noise';
import { countHostReads, expectConfigError, expectNoTensorGrowth } from '@flatmin/test-kit';
import { describe, expect, it } from 'vitest';
import { flatLoraNoise, loraDense, loraScope, mergedScope } from '../src/index.js';
import { randomMatrix } from './helpers.js';

const IN = 5;
const OUT = 3;
const R = 2;
const ALPHA = 4;
const X = randomMatrix(8, IN, 11);
const T = randomMatrix(8, OUT, 12);
const W0 = randomMatrix(IN, OUT, 13);
const A = randomMatrix(R, IN, 14);
const B = randomMatrix(OUT, R, 15, 3);

function build() {
  const layer = loraDense({ units: OUT, rank: R, alpha: ALPHA, inputShape: [IN] });
  const model = tfl.sequential({ layers: [layer] });
  layer.kernel.assign(tf.tensor2d(W0));
  layer.loraA.assign(tf.tensor2d(A));
  layer.loraB.assign(tf.tensor2d(B));
  return { model, layer };
}

/** float64 column norms of W₀ + s·AᵀBᵀ (merged) or of W₀ alone. */
function columnNorms64(merged: boolean): number[] {
  const s = ALPHA / R;
  return Array.from({ length: OUT }, (_, j) => {
    let sum = 0;
    for (let i = 0; i < IN; i++) {
      let w = W0[i]![j]!;
      if (merged) for (let k = 0; k < R; k++) w += s * A[k]![i]! * B[j]![k]!;
      sum += w * w;
    }
    return Math.sqrt(sum);
  });
}

/** The ε a perturbation makes at the first step (seed 5), as a matrix. */
function firstEpsilon(perturbation: Perturbation): number[][] {
  const { model, layer } = build();
  let epsilon: number[][] | null = null;
  const recording: Perturbation = {
    ...perturbation,
    compute(context, state) {
      const result = perturbation.compute(context, state);
      epsilon = result.epsilon[layer.kernel.name]!.arraySync() as number[][];
      return result;
    },
  };
  const optimizer = sharpnessAware({ base: tf.train.sgd(0.1), perturbation: recording, scope: loraScope('origin'), seed: 5 });
  const x = tf.tensor2d(X);
  const t = tf.tensor2d(T);
  optimizer.minimize(() => tf.losses.meanSquaredError(t, model.apply(x) as tf.Tensor) as tf.Scalar, false, model.trainableWeights.map((w) => w.read() as tf.Variable));
  tf.dispose([x, t]);
  optimizer.dispose();
  model.dispose();
  return epsilon!;
}

describe('flatLoraNoise', () => {
  it('S_ij = σ/√n · ‖W′_:,j‖ on the merged weight (float64), the same draw as filterNoise({ perInput })', () => {
    const sigma = 0.3;
    const ours = firstEpsilon(flatLoraNoise({ sigma }));
    const own = firstEpsilon(filterNoise({ gamma: sigma, perInput: true }));
    const merged = columnNorms64(true);
    const plain = columnNorms64(false);
    for (let i = 0; i < IN; i++) {
      for (let j = 0; j < OUT; j++) {
        const z = ours[i]![j]! / ((sigma / Math.sqrt(IN)) * merged[j]!);
        const zOwn = own[i]![j]! / ((sigma / Math.sqrt(IN)) * plain[j]!);
        expect(z).toBeCloseTo(zOwn, 4);
      }
    }
    // B ≠ 0: the merged norms differ from W₀'s, so the two ε differ.
    expect(Math.max(...merged.map((m, j) => Math.abs(m - plain[j]!)))).toBeGreaterThan(0.1);
  });

  it('the (1 − cos(πt/T))/2 ramp: ε = 0 at t = 0 and the base optimizer bit for bit; σ = 0 likewise', () => {
    for (const options of [{ sigma: 0.3, totalSteps: 10 }, { sigma: 0 }]) {
      expect(firstEpsilon(flatLoraNoise(options)).flat().every((v) => v === 0)).toBe(true);
    }
  });

  it('one loss evaluation per step, no tensor growth over 100 steps, zero host reads, W₀ never updated', async () => {
    const { model, layer } = build();
    const optimizer = sharpnessAware({ base: tf.train.sgd(0.01), perturbation: flatLoraNoise({ sigma: 0.05 }), scope: loraScope('origin'), seed: 1 });
    const x = tf.tensor2d(X);
    const t = tf.tensor2d(T);
    const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
    const step = () => optimizer.minimize(() => tf.losses.meanSquaredError(t, model.apply(x) as tf.Tensor) as tf.Scalar, false, vars);
    await expectNoTensorGrowth(step, { steps: 100 });
    expect(countHostReads(step).reads).toBe(0);
    const telemetry = await optimizer.telemetry();
    expect(telemetry.lossEvaluations).toBe(telemetry.steps);
    expect(layer.kernel.arraySync()).toEqual(tf.tidy(() => tf.tensor2d(W0).arraySync()));
    tf.dispose([x, t]);
    optimizer.dispose();
    model.dispose();
  });

  it('state round trip: 3 steps + getWeights → a fresh optimizer and model, setWeights + 3 steps equals 6 steps bit for bit', async () => {
    const make = () => sharpnessAware({ base: tf.train.momentum(0.05, 0.9), perturbation: flatLoraNoise({ sigma: 0.2, totalSteps: 4 }), scope: loraScope('origin'), seed: 7 });
    const x = tf.tensor2d(X);
    const t = tf.tensor2d(T);
    const run = (model: tfl.LayersModel, optimizer: tf.Optimizer, steps: number) => {
      const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
      for (let i = 0; i < steps; i += 1) optimizer.minimize(() => tf.losses.meanSquaredError(t, model.apply(x) as tf.Tensor) as tf.Scalar, false, vars);
    };
    const straight = build();
    const whole = make();
    run(straight.model, whole, 6);
    const expected = straight.model.getWeights().map((w) => Array.from(w.dataSync()));

    const first = build();
    const before = make();
    run(first.model, before, 3);
    const saved = await before.getWeights();
    const resumed = build();
    resumed.model.setWeights(first.model.getWeights());
    const after = make();
    await after.setWeights(saved);
    run(resumed.model, after, 3);
    expect(resumed.model.getWeights().map((w) => Array.from(w.dataSync()))).toEqual(expected);
    for (const o of [whole, before, after]) o.dispose();
    for (const m of [straight, first, resumed]) m.model.dispose();
    tf.dispose([x, t]);
  });

  it('round-trips through getConfig/fromConfig and refuses bad keys by name', () => {
    const optimizer = sharpnessAware({ base: tf.train.sgd(0.1), perturbation: flatLoraNoise({ sigma: 0.2, totalSteps: 7 }) });
    const config = optimizer.getConfig() as { perturbation: { name: string; config: unknown } };
    expect(config.perturbation).toEqual({ name: 'flatLoraNoise', config: { sigma: 0.2, totalSteps: 7 } });
    optimizer.dispose();
    expectConfigError(() => flatLoraNoise({ sigma: -1 }), 'sigma');
    expectConfigError(() => flatLoraNoise({ totalSteps: 0 }), 'totalSteps');
    expectConfigError(() => flatLoraNoise({ totalSteps: 1.5 }), 'totalSteps');
    expectConfigError(() => flatLoraNoise({ sigma: null as never }), 'sigma');
    expectConfigError(() => flatLoraNoise({ gamma: 1 } as never), 'gamma');
  });

  it('mergedScope: W₀ of the LoRA layers and the plain layers\' weights, never A, B or the LoRA bias; a plain model: every trainable variable', () => {
    const perturbedBy = (model: tfl.LayersModel) => {
      const seen: string[] = [];
      const inner = flatLoraNoise({ sigma: 0.1 });
      const recording: Perturbation = { ...inner, compute: (context, state) => { seen.push(...context.variables.map((v) => v.name.split('/').pop()!)); return inner.compute(context, state); } };
      const optimizer = sharpnessAware({ base: tf.train.sgd(0.1), perturbation: recording, scope: mergedScope(), seed: 1 });
      const x = tf.tensor2d(X);
      const y = tf.randomNormal([8, 1], 0, 1, 'float32', 3);
      optimizer.minimize(() => tf.losses.meanSquaredError(y, model.apply(x) as tf.Tensor) as tf.Scalar, false, model.trainableWeights.map((w) => w.read() as tf.Variable));
      tf.dispose([x, y]);
      optimizer.dispose();
      return seen.sort();
    };
    const withHead = tfl.sequential({ layers: [loraDense({ units: OUT, rank: R, inputShape: [IN] }), tfl.layers.dense({ units: 1 })] });
    expect(perturbedBy(withHead)).toEqual(['bias', 'kernel', 'kernel']);
    withHead.dispose();
    const plain = tfl.sequential({ layers: [tfl.layers.dense({ units: 2, inputShape: [IN] }), tfl.layers.dense({ units: 1 })] });
    expect(perturbedBy(plain)).toEqual(['bias', 'bias', 'kernel', 'kernel']);
    plain.dispose();
  });
});
