// Tests that kill what `pnpm mutate` found surviving in the combiners, state encoding, the guard,
// weight decay and accumulation: each pins down a branch the broader tests did not reach.
import * as tf from '@tensorflow/tfjs-core';
import { axpy, linearGrad64, linearLoss64, makeLinearProblem, makeTfLinear, maxRelativeError, scale64 } from '@flatmin/test-kit';
import { describe, expect, it } from 'vitest';
import { gradient } from '../../perturb-gradient/src/index.js';
import { adversarial, type Averager, type CombineContext, FlatminError, mix, SharpnessAwareOptimizer, sharpnessAware, surrogateGap } from '../src/index.js';
import { decodeNumber, lookupComponent, replaceState, SeededRandom, variableKey } from '../src/kit.js';
import { meanAverager, samPerturbation } from './helpers.js';

const problem = makeLinearProblem({ seed: 61 });

function combineContext(grads: Record<string, number[]> | null, gradsAdv: Record<string, number[]>): CombineContext {
  const t = (m: Record<string, number[]>) => Object.fromEntries(Object.entries(m).map(([k, v]) => [k, tf.tensor1d(v)]));
  return { step: 0, random: new SeededRandom(0), normEpsilon: 1e-12, learningRate: 0.1, variables: [], grads: grads === null ? null : t(grads), gradsAdv: t(gradsAdv), rho: tf.scalar(0.1) };
}
const read = (m: Record<string, tf.Tensor>) => Object.fromEntries(Object.entries(m).map(([k, v]) => [k, Array.from(v.dataSync())]));

describe('combiners, entry by entry (float64 references)', () => {
  const g = { a: [1, -2], b: [0.5] };
  const gAdv = { a: [2, 1], b: [-1], c: [3] }; // 'c' has no clean gradient

  it('mix: λ g_adv + (1 − λ) g, and λ g_adv where no clean gradient exists', () => {
    const out = read(mix({ lambda: 0.25 }).combine(combineContext(g, gAdv), {}).grads);
    expect(out['a']![0]).toBeCloseTo(0.25 * 2 + 0.75 * 1, 6);
    expect(out['a']![1]).toBeCloseTo(0.25 * 1 + 0.75 * -2, 6);
    expect(out['b']![0]).toBeCloseTo(0.25 * -1 + 0.75 * 0.5, 6);
    expect(out['c']![0]).toBeCloseTo(0.25 * 3, 6);
    // Without a clean pass, and with λ = 1, the direction is g_adv itself.
    expect(read(mix({ lambda: 0.25 }).combine(combineContext(null, gAdv), {}).grads)).toEqual(read(combineContext(null, gAdv).gradsAdv));
    expect(read(mix({ lambda: 1 }).combine(combineContext(g, gAdv), {}).grads)).toEqual(read(combineContext(null, gAdv).gradsAdv));
  });

  it('surrogateGap: g_adv − α (g − (g·g_adv/‖g_adv‖²) g_adv); an entry without g is g_adv', () => {
    const alpha = 0.5;
    const dot = 1 * 2 + -2 * 1 + 0.5 * -1;
    const sq = 4 + 1 + 1 + 9;
    const c = dot / (sq + 1e-12);
    const out = read(surrogateGap({ alpha }).combine(combineContext(g, gAdv), {}).grads);
    expect(out['a']![0]).toBeCloseTo(2 - alpha * (1 - c * 2), 6);
    expect(out['a']![1]).toBeCloseTo(1 - alpha * (-2 - c * 1), 6);
    expect(out['b']![0]).toBeCloseTo(-1 - alpha * (0.5 - c * -1), 6);
    expect(out['c']).toEqual([3]);
    expect(read(surrogateGap({ alpha }).combine(combineContext(null, gAdv), {}).grads)).toEqual(read(combineContext(null, gAdv).gradsAdv));
  });

  it('needsGradient says whether the clean pass is needed', () => {
    expect(adversarial().needsGradient).toBe(false);
    expect(mix().needsGradient).toBe(true);
    expect(mix({ lambda: 1 }).needsGradient).toBe(false);
    expect(surrogateGap().needsGradient).toBe(true);
    expect(surrogateGap({ alpha: 0 }).needsGradient).toBe(false);
  });

  it('names, configs and the registry rebuild the same combiner; errors name the factory', () => {
    for (const c of [adversarial(), mix({ lambda: 0.3 }), surrogateGap({ alpha: 0.2 })]) {
      const rebuilt = lookupComponent('combiner', c.name)!(JSON.parse(JSON.stringify(c.config)));
      expect({ kind: rebuilt.kind, name: rebuilt.name, config: rebuilt.config }).toEqual({ kind: c.kind, name: c.name, config: c.config });
    }
    expect(mix({ lambda: 0.3 }).config).toEqual({ lambda: 0.3 });
    expect(surrogateGap({ alpha: 0.2 }).config).toEqual({ alpha: 0.2 });
    expect(() => adversarial({ lambda: 1 } as never)).toThrow(/^adversarial: invalid config 'lambda'/);
    expect(() => mix({ alpha: 1 } as never)).toThrow(/^mix: invalid config 'alpha'/);
    expect(() => mix({ lambda: 2 })).toThrow(/^mix: invalid config 'lambda'/);
    expect(() => surrogateGap({ lambda: 1 } as never)).toThrow(/^surrogateGap: invalid config 'lambda'/);
    expect(() => surrogateGap({ alpha: -1 })).toThrow(/^surrogateGap: invalid config 'alpha'/);
  });
});

describe('state encoding', () => {
  it('variableKey joins name and slot, and refuses a slot with a colon', () => {
    expect(variableKey('dense/kernel', 'm')).toBe('dense/kernel:m');
    expect(() => variableKey('w', 'a:b')).toThrow(/no ':'/);
  });

  it('decodeNumber refuses anything but two int32 words', async () => {
    await expect(decodeNumber(tf.tensor1d([1, 2, 3], 'int32'))).rejects.toThrow(/2 int32 words, got 3/);
  });

  it('replaceState disposes what the new state no longer holds, and nothing it still holds', () => {
    const kept = tf.scalar(1);
    const dropped = tf.scalar(2);
    const fresh = tf.scalar(3);
    replaceState({ kept, dropped, n: 1 }, { kept, fresh, n: 2 });
    expect([kept.isDisposed, dropped.isDisposed, fresh.isDisposed]).toEqual([false, true, false]);
    tf.dispose([kept, fresh]);
  });
});

describe('the guard and weight decay, corner by corner', () => {
  it("'throw' names the step in its message", () => {
    const model = makeTfLinear(problem);
    const optimizer = sharpnessAware({ base: tf.train.sgd(0.1), perturbation: samPerturbation(0.1), onNonFinite: 'throw' });
    optimizer.minimize(model.loss(), false, model.variables);
    expect(() => optimizer.minimize(() => tf.mul(model.loss()(), Number.NaN) as tf.Scalar, false, model.variables)).toThrow(/non-finite loss or gradient at step 1 \(onNonFinite: 'throw'\)/);
    optimizer.dispose();
    model.dispose();
  });

  it("'ignore' lets NaN through and still commits component state (from: 'previous')", () => {
    const model = makeTfLinear(problem);
    const optimizer = sharpnessAware({ base: tf.train.sgd(0.1), perturbation: gradient({ rho: 0.1, from: 'previous' }), onNonFinite: 'ignore' });
    optimizer.minimize(model.loss(), false, model.variables);
    optimizer.minimize(() => tf.mul(model.loss()(), Number.NaN) as tf.Scalar, false, model.variables);
    expect(Number.isNaN(model.w.dataSync()[0])).toBe(true);
    optimizer.dispose();
    model.dispose();
  });

  it('weightDecay skips a variable the loss does not reach (no gradient, no decay, no update)', () => {
    const model = makeTfLinear(problem);
    const unreached = tf.variable(tf.tensor1d([5, 5]));
    const optimizer = sharpnessAware({ base: tf.train.sgd(0.1), perturbation: samPerturbation(0), weightDecay: 0.5 });
    optimizer.minimize(model.loss(), false, [...model.variables, unreached]);
    expect(Array.from(unreached.dataSync())).toEqual([5, 5]);
    const expected = axpy(-0.1, axpy(0.5, problem.init, linearGrad64(problem, problem.init)), problem.init);
    expect(maxRelativeError(model.read(), expected)).toBeLessThan(1e-6);
    optimizer.dispose();
    model.dispose();
    unreached.dispose();
  });

  it('decoupledWeightDecay with a base optimizer that has no learningRate is refused by name, and nothing moves', () => {
    class Plain extends tf.Optimizer {
      static get className() {
        return 'PlainForTest';
      }
      applyGradients(grads: tf.NamedTensorMap | Array<{ name: string; tensor: tf.Tensor }>): void {
        const list = Array.isArray(grads) ? grads : Object.entries(grads).map(([name, tensor]) => ({ name, tensor }));
        for (const { name, tensor } of list) {
          const v = tf.engine().registeredVariables[name]!;
          tf.tidy(() => v.assign(tf.sub(v, tensor)));
        }
      }
      getConfig() {
        return {};
      }
    }
    const model = makeTfLinear(problem);
    const before = model.read();
    const optimizer = sharpnessAware({ base: new Plain(), perturbation: samPerturbation(0.1), decoupledWeightDecay: 0.1 });
    expect(() => optimizer.minimize(model.loss(), false, model.variables)).toThrow(/decoupledWeightDecay needs the base optimizer's learningRate/);
    expect(model.read()).toEqual(before);
    optimizer.dispose();
    model.dispose();
  });

  it('an averager that throws after the base update: weights, momentum slots and iterations are put back', async () => {
    const model = makeTfLinear(problem);
    let fail = false;
    const base = meanAverager();
    const failing: Averager = {
      ...base,
      update: (context, state) => {
        if (fail) throw new Error('averager failed');
        return base.update(context, state);
      },
    };
    const optimizer = sharpnessAware({ base: tf.train.momentum(0.1, 0.9), perturbation: samPerturbation(0.1), averager: failing });
    optimizer.minimize(model.loss(), false, model.variables);
    const before = { params: model.read(), iterations: optimizer.iterations, slots: await Promise.all((await optimizer.base.getWeights()).slice(1).map((w) => w.tensor.array())) };
    fail = true;
    expect(() => optimizer.minimize(model.loss(), false, model.variables)).toThrow('averager failed');
    const after = { params: model.read(), iterations: optimizer.iterations, slots: await Promise.all((await optimizer.base.getWeights()).slice(1).map((w) => w.tensor.array())) };
    expect(after).toEqual(before);
    optimizer.dispose();
    model.dispose();
  });
});

describe('accumulation over three micro-batches', () => {
  const batches = [
    [0, 1, 2],
    [3, 4, 5],
    [6, 7],
  ];
  it('with ρ = 0: one update with the mean of the three gradients; the update call returns the mean loss of all three', () => {
    const model = makeTfLinear(problem);
    const optimizer = sharpnessAware({ base: tf.train.sgd(0.1), perturbation: samPerturbation(0), accumulate: 3 });
    const costs = batches.map((rows) => optimizer.minimize(model.loss(rows), true, model.variables)!);
    const mean = scale64(1 / 3, batches.map((rows) => linearGrad64(problem, problem.init, rows)).reduce((a, b) => axpy(1, a, b)));
    expect(maxRelativeError(model.read(), axpy(-0.1, mean, problem.init))).toBeLessThan(1e-6);
    const meanLoss = batches.reduce((s, rows) => s + linearLoss64(problem, problem.init, rows), 0) / 3;
    expect(costs[2]!.dataSync()[0]).toBeCloseTo(meanLoss, 5);
    expect(costs[0]!.dataSync()[0]).toBeCloseTo(linearLoss64(problem, problem.init, batches[0]), 5);
    tf.dispose(costs);
    expect(optimizer).toBeInstanceOf(SharpnessAwareOptimizer);
    optimizer.dispose();
    model.dispose();
  });

  it('minimizeMicroBatches returns the mean clean loss and refuses a non-array', () => {
    const model = makeTfLinear(problem);
    const optimizer = sharpnessAware({ base: tf.train.sgd(0.1), perturbation: samPerturbation(0.1) });
    const cost = optimizer.minimizeMicroBatches(batches.map((rows) => model.loss(rows)), true, model.variables)!;
    expect(cost.dataSync()[0]).toBeCloseTo(batches.reduce((s, rows) => s + linearLoss64(problem, problem.init, rows), 0) / 3, 5);
    expect(() => optimizer.minimizeMicroBatches('x' as never)).toThrow(FlatminError);
    cost.dispose();
    optimizer.dispose();
    model.dispose();
  });
});
