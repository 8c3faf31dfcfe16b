// ESAM's sharpness-sensitive data selection: the adversarial gradient over the ⌈γ·n⌉ samples whose
// loss rises most under ε, against a float64 reference; γ = 1 is the inner perturbation exactly.
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { FlatminConfigError, sharpnessAware } from '@flatmin/core';
import { lookupComponent } from '@flatmin/core/kit';
import { gradient } from '@flatmin/perturb-gradient';
import {
  axpy,
  countHostReads,
  expectNoTensorGrowth,
  flatten,
  linearGrad64,
  linearLoss64,
  makeLinearProblem,
  makeTfLinear,
  maxRelativeError,
  norm64,
  runFactoryInputSuite,
  scale64,
} from '@flatmin/test-kit';
import { describe, expect, it } from 'vitest';
import { dataSelection, randomMask, sparse } from '../src/index.js';

const problem = makeLinearProblem({ seed: 83, n: 10 });
const rows = Array.from({ length: problem.n }, (_, i) => i);
const lr = 0.1;
const rho = 0.3;

function closure(linear: ReturnType<typeof makeTfLinear>) {
  const x = tf.keep(tf.tensor2d(problem.x));
  const y = tf.keep(tf.tensor2d(problem.y));
  return () => {
    const perSample = tf.sum(tf.square(tf.sub(tf.add(tf.matMul(x, linear.w), linear.b), y)), 1) as tf.Tensor1D;
    return { loss: tf.mean(perSample) as tf.Scalar, perSample };
  };
}

/** One SGD step of SAM whose adversarial gradient is over the ⌈γ·n⌉ samples with the largest rise, in float64. */
function reference(gamma: number) {
  const w0 = problem.init;
  const g = linearGrad64(problem, w0, rows);
  const perturbed = axpy(1, scale64(rho / norm64(g), g), w0);
  const rise = rows.map((i) => linearLoss64(problem, perturbed, [i]) - linearLoss64(problem, w0, [i]));
  const selected = [...rows].sort((a, b) => rise[b]! - rise[a]! || a - b).slice(0, Math.ceil(gamma * problem.n));
  return { selected, params: axpy(-lr, linearGrad64(problem, perturbed, selected), w0) };
}

describe('dataSelection (ESAM SDS)', () => {
  it.each([0.3, 0.5, 0.75])('γ = %s: the update is SGD on ∇ of the mean loss at w + ε over the top ⌈γ·n⌉ rising samples (float64)', (gamma) => {
    const linear = makeTfLinear(problem);
    const optimizer = sharpnessAware({ base: tf.train.sgd(lr), perturbation: dataSelection(gradient({ rho }), { gamma }), seed: 1 });
    optimizer.minimize(closure(linear), false, linear.variables);
    const { params, selected } = reference(gamma);
    expect(selected.length).toBeLessThan(problem.n);
    expect(maxRelativeError(linear.read(), params)).toBeLessThan(1e-5);
    // The selection matters: plain SAM's update is measurably different.
    const sam = reference(1).params;
    expect(Math.max(...flatten(params).map((v, i) => Math.abs(v - flatten(sam)[i]!)))).toBeGreaterThan(1e-3);
    optimizer.dispose();
    linear.dispose();
  });

  it('γ = 1 is the inner perturbation exactly (bit-identical weights over 5 momentum steps)', () => {
    const run = (withSelection: boolean) => {
      const linear = makeTfLinear(problem);
      const inner = gradient({ rho });
      const optimizer = sharpnessAware({ base: tf.train.momentum(lr, 0.9), perturbation: withSelection ? dataSelection(inner, { gamma: 1 }) : inner, seed: 1 });
      const f = closure(linear);
      for (let i = 0; i < 5; i += 1) optimizer.minimize(f, false, linear.variables);
      const out = flatten(linear.read());
      optimizer.dispose();
      linear.dispose();
      return out;
    };
    expect(run(true)).toEqual(run(false));
  });

  it('ESAM = dataSelection(sparse(gradient, randomMask)): two loss evaluations per step, no host read, no leak', async () => {
    const linear = makeTfLinear(problem);
    const optimizer = sharpnessAware({ base: tf.train.sgd(0.01), perturbation: dataSelection(sparse(gradient({ rho }), randomMask({ keep: 0.5 })), { gamma: 0.5 }), seed: 3 });
    const f = closure(linear);
    optimizer.minimize(f, false, linear.variables);
    expect((await optimizer.telemetry()).lossEvaluations).toBe(2);
    expect(countHostReads(() => optimizer.minimize(f, false, linear.variables)).reads).toBe(0);
    await expectNoTensorGrowth(() => optimizer.minimize(f, false, linear.variables));
    optimizer.dispose();
    linear.dispose();
  });

  it('needs per-sample losses: under model.fit the step names it and the custom-loop call', async () => {
    const model = tfl.sequential({ layers: [tfl.layers.dense({ units: 1, inputShape: [2] })] });
    model.compile({ optimizer: sharpnessAware({ base: tf.train.sgd(0.1), perturbation: dataSelection(gradient()), seed: 1 }), loss: 'meanSquaredError' });
    await expect(model.fit(tf.ones([4, 2]), tf.ones([4, 1]), { epochs: 1, verbose: 0, shuffle: false })).rejects.toThrow(/dataSelection.*perSample.*custom loop/);
    model.dispose();
  });

  it('getConfig → fromConfig rebuilds the composite (inner included), which trains identically', () => {
    const original = dataSelection(sparse(gradient({ rho: 0.2 }), randomMask({ keep: 0.7 })), { gamma: 0.4 });
    const rebuilt = lookupComponent('perturbation', 'dataSelection')!(JSON.parse(JSON.stringify(original.config)));
    expect(rebuilt.config).toEqual(original.config);
    const run = (perturbation: typeof original) => {
      const linear = makeTfLinear(problem);
      const optimizer = sharpnessAware({ base: tf.train.sgd(lr), perturbation, seed: 5 });
      const f = closure(linear);
      for (let i = 0; i < 3; i += 1) optimizer.minimize(f, false, linear.variables);
      const out = flatten(linear.read());
      optimizer.dispose();
      linear.dispose();
      return out;
    };
    expect(run(rebuilt as typeof original)).toEqual(run(original));
  });

  it('refuses an inner that is not a perturbation, naming inner', () => {
    expect(() => dataSelection(randomMask() as never)).toThrow(FlatminConfigError);
    expect(() => dataSelection(null as never)).toThrow(/'inner'/);
  });
});

runFactoryInputSuite({
  name: 'dataSelection',
  // A config with `inner` (what getConfig holds) goes through the registered fromConfig.
  factory: (options?: unknown) =>
    options !== null && typeof options === 'object' && 'inner' in options
      ? lookupComponent('perturbation', 'dataSelection')!(options as never)
      : dataSelection(gradient(), options as never),
  keys: ['gamma'],
  valid: { gamma: 0.6 },
  invalid: [
    ['gamma', { gamma: 0 }],
    ['gamma', { gamma: 1.5 }],
    ['gamma', { gamma: null }],
  ],
  kind: 'perturbation',
});

describe('dataSelection: state round trip', () => {
  it('3 steps + getWeights → a fresh optimizer setWeights + 3 steps equals 6 steps, exactly (random mask inside)', async () => {
    const make = () => sharpnessAware({ base: tf.train.momentum(lr, 0.9), perturbation: dataSelection(sparse(gradient({ rho }), randomMask({ keep: 0.5 })), { gamma: 0.5 }), seed: 11 });
    const straight = makeTfLinear(problem, { names: ['ds-rt/w', 'ds-rt/b'] });
    const whole = make();
    const f = closure(straight);
    for (let i = 0; i < 6; i += 1) whole.minimize(f, false, straight.variables);
    const expected = flatten(straight.read());
    whole.dispose();
    straight.dispose();

    const resumed = makeTfLinear(problem, { names: ['ds-rt/w', 'ds-rt/b'] });
    const first = make();
    const g = closure(resumed);
    for (let i = 0; i < 3; i += 1) first.minimize(g, false, resumed.variables);
    const saved = await first.getWeights();
    const second = make();
    await second.setWeights(saved.map(({ name, tensor }) => ({ name, tensor: tf.clone(tensor) })));
    first.dispose();
    for (let i = 0; i < 3; i += 1) second.minimize(g, false, resumed.variables);
    expect(flatten(resumed.read())).toEqual(expected);
    second.dispose();
    resumed.dispose();
  });
});
