// SWA as a component and through sharpnessAware: the average of a known weight sequence is its
// float64 mean, start/every pick exactly the documented updates, apply()/restore() are exact, the
// common optimizer matrix (float64 SAM reference, leaks, host reads, round trip, bad configs), and
// the saved averaged state.
import * as tf from '@tensorflow/tfjs-core';
import { FlatminError, SharpnessAwareOptimizer, sharpnessAware } from '@flatmin/core';
import { SeededRandom } from '@flatmin/core/kit';
import { gradient } from '@flatmin/perturb-gradient';
import {
  axpy,
  countHostReads,
  expectConfigError,
  flatten,
  type LinearParams,
  type LinearProblem,
  linearGrad64,
  makeLinearProblem,
  makeTfLinear,
  runFactoryInputSuite,
  runOptimizerSuite,
  unflatten,
} from '@flatmin/test-kit';
import { describe, expect, it } from 'vitest';
import { swa } from '../src/index.js';
import { averagedIndices, maxRelative, mean64 } from './reference.js';

const lr = 0.05;
const rho = 0.05;

/** SAM SGD (p = 2) in float64: the trajectory w_1 … w_steps. */
function samTrajectory64(p: LinearProblem, steps: number): LinearParams[] {
  let w = p.init;
  const out: LinearParams[] = [];
  for (let i = 0; i < steps; i += 1) {
    const g = flatten(linearGrad64(p, w));
    const norm = Math.sqrt(g.reduce((s, x) => s + x * x, 0));
    const epsilon = unflatten(p, g.map((x) => (rho * x) / (norm + 1e-12)));
    w = axpy(-lr, linearGrad64(p, axpy(1, epsilon, w)), w);
    out.push(w);
  }
  return out;
}

runFactoryInputSuite({
  name: 'swa',
  factory: swa as (options?: unknown) => unknown,
  keys: ['start', 'every'],
  kind: 'averager',
  valid: { start: 3, every: 2 },
  invalid: [
    ['start', { start: -1 }],
    ['start', { start: 1.5 }],
    ['start', { start: null }],
    ['start', { start: Number.POSITIVE_INFINITY }],
    ['every', { every: 0 }],
    ['every', { every: 2.5 }],
    ['every', { every: null }],
    ['every', { every: '2' }],
  ],
});

runOptimizerSuite('swa() attached to sharpnessAware (the training trajectory is SAM\'s, untouched)', [
  {
    name: 'swa({ start: 1, every: 2 })',
    make: () => sharpnessAware({ base: tf.train.sgd(lr), perturbation: gradient({ rho }), averager: swa({ start: 1, every: 2 }) }),
    reference: { steps: 3, expected: (p) => samTrajectory64(p, 3).at(-1)! },
    badConfigs: [
      { key: 'start', make: () => swa({ start: -1 }) },
      { key: 'start', make: () => swa({ start: 0.5 }) },
      { key: 'every', make: () => swa({ every: 0 }) },
    ],
  },
]);

/** A context with the given variables at update index `step` (0-based). */
function context(variables: tf.Variable[], step: number) {
  return { step, random: new SeededRandom(1), normEpsilon: 1e-12, learningRate: 0.1, variables };
}

describe('the average of a known weight sequence', () => {
  // Values with many significant bits, exactly representable in float32.
  const sequence = Array.from({ length: 12 }, (_, t) => [Math.fround(Math.sin(t + 1) * 3.7), Math.fround(1 / (t + 3)), Math.fround(-2.5 + t * 0.3137)]);

  it.each([
    [0, 1],
    [2, 3],
    [5, 1],
    [0, 4],
    [11, 1],
  ])('start %i, every %i: the float64 mean of exactly the updates start + every, start + 2·every, …', (start, every) => {
    const averager = swa({ start, every });
    const v = tf.variable(tf.zeros([3]), true, `seq-${start}-${every}`);
    let state = {};
    for (let t = 0; t < sequence.length; t += 1) {
      v.assign(tf.tensor1d(sequence[t]!));
      const next = tf.tidy(() => averager.update(context([v], t), state) as never);
      for (const x of Object.values(next)) if (x instanceof tf.Tensor) tf.keep(x);
      for (const [key, x] of Object.entries(state)) if (x instanceof tf.Tensor && (next as Record<string, unknown>)[key] !== x) x.dispose();
      state = next;
    }
    const indices = averagedIndices(sequence.length, start, every);
    const averaged = averager.averaged(state)[v.name]!;
    expect(maxRelative(Array.from(averaged.dataSync()), mean64(sequence, indices))).toBeLessThan(1e-6);
    expect((state as Record<string, tf.Tensor>)['count']!.dataSync()[0]).toBe(indices.length);
    for (const x of Object.values(state)) if (x instanceof tf.Tensor) x.dispose();
    v.dispose();
  });

  it('holds nothing before its first averaged update (start = 4: updates 1–4 are left out)', () => {
    const averager = swa({ start: 4 });
    const v = tf.variable(tf.ones([2]), true, 'seq-before');
    let state = {};
    for (let t = 0; t < 4; t += 1) state = tf.tidy(() => averager.update(context([v], t), state));
    expect(averager.averaged(state)).toEqual({});
    const after = tf.tidy(() => averager.update(context([v], 4), state) as Record<string, tf.Tensor>);
    expect(Array.from(averager.averaged(after)[v.name]!.dataSync())).toEqual([1, 1]); // the first one is copied exactly
    tf.dispose(Object.values(after));
    v.dispose();
  });
});

describe('attached to sharpnessAware', () => {
  const problem = makeLinearProblem({ seed: 3 });

  it.each([
    [0, 1, 5],
    [1, 2, 6],
    [3, 1, 6],
  ])('start %i, every %i: after %i steps apply() holds the float64 mean of the averaged SAM iterates; restore() is exact', (start, every, steps) => {
    const model = makeTfLinear(problem);
    const optimizer = sharpnessAware({ base: tf.train.sgd(lr), perturbation: gradient({ rho }), averager: swa({ start, every }) });
    for (let i = 0; i < steps; i += 1) optimizer.minimize(model.loss(), false, model.variables);
    const current = model.read();
    const expected = mean64(samTrajectory64(problem, steps).map(flatten), averagedIndices(steps, start, every));
    const handle = optimizer.averager!;
    handle.apply();
    expect(handle.applied).toBe(true);
    expect(maxRelative(flatten(model.read()), expected)).toBeLessThan(1e-5);
    expect(() => optimizer.minimize(model.loss(), false, model.variables)).toThrow(/restore/);
    handle.restore();
    expect(model.read()).toEqual(current);
    optimizer.dispose();
    model.dispose();
  });

  it('apply() before anything is averaged is refused and changes nothing', () => {
    const model = makeTfLinear(problem);
    const optimizer = sharpnessAware({ base: tf.train.sgd(lr), perturbation: gradient({ rho }), averager: swa({ start: 5 }) });
    for (let i = 0; i < 5; i += 1) optimizer.minimize(model.loss(), false, model.variables);
    const current = model.read();
    expect(() => optimizer.averager!.apply()).toThrow(FlatminError);
    expect(model.read()).toEqual(current);
    optimizer.dispose();
    model.dispose();
  });

  it('the averaged state round-trips through getWeights/setWeights: 10 + save/restore + 10 = 20 steps exactly', async () => {
    const make = () => sharpnessAware({ base: tf.train.sgd(lr), perturbation: gradient({ rho }), averager: swa({ start: 3, every: 2 }) });
    const names: [string, string] = ['swa-rt/w', 'swa-rt/b'];
    const straightModel = makeTfLinear(problem);
    const straight = make();
    for (let i = 0; i < 20; i += 1) straight.minimize(straightModel.loss(), false, straightModel.variables);
    straight.averager!.apply();
    const expected = straightModel.read();
    straight.dispose();
    straightModel.dispose();

    const first = makeTfLinear(problem, { names });
    const before = make();
    for (let i = 0; i < 10; i += 1) before.minimize(first.loss(), false, first.variables);
    const saved = (await before.getWeights()).map((w) => ({ name: w.name, tensor: tf.clone(w.tensor) }));
    expect(saved.some((w) => w.name === 'flatmin/averager/count')).toBe(true);
    const params = first.read();
    before.dispose();
    first.dispose();
    const second = makeTfLinear(problem, { params, names });
    const after = make();
    await after.setWeights(saved);
    tf.dispose(saved.map((w) => w.tensor));
    for (let i = 0; i < 10; i += 1) after.minimize(second.loss(), false, second.variables);
    after.averager!.apply();
    expect(second.read()).toEqual(expected);
    after.dispose();
    second.dispose();
  });

  it('getConfig/fromConfig rebuild swa with its keys', () => {
    const optimizer = sharpnessAware({ base: tf.train.sgd(lr), perturbation: gradient({ rho }), averager: swa({ start: 7, every: 3 }) });
    const rebuilt = SharpnessAwareOptimizer.fromConfig(SharpnessAwareOptimizer, optimizer.getConfig()) as SharpnessAwareOptimizer;
    expect(rebuilt.averager!.component.name).toBe('swa');
    expect(rebuilt.averager!.component.config).toEqual({ start: 7, every: 3 });
    optimizer.dispose();
    rebuilt.dispose();
  });

  it('a skipped (non-finite) step leaves the average and its count bit-identical', () => {
    const run = (poison: boolean) => {
      const model = makeTfLinear(problem);
      const optimizer = sharpnessAware({ base: tf.train.sgd(lr), perturbation: gradient({ rho }), averager: swa() });
      for (let i = 0; i < 4; i += 1) {
        if (poison && i === 2) optimizer.minimize(() => tf.mul(model.loss()(), Number.NaN) as tf.Scalar, false, model.variables);
        optimizer.minimize(model.loss(), false, model.variables);
      }
      optimizer.averager!.apply();
      const out = model.read();
      optimizer.dispose();
      model.dispose();
      return out;
    };
    expect(run(true)).toEqual(run(false));
  });

  it('makes no host read in the step and leaks nothing with the averager on', () => {
    const model = makeTfLinear(problem);
    const optimizer = sharpnessAware({ base: tf.train.sgd(lr), perturbation: gradient({ rho }), averager: swa({ every: 2 }) });
    for (let i = 0; i < 3; i += 1) optimizer.minimize(model.loss(), false, model.variables);
    const before = tf.memory().numTensors;
    const { reads } = countHostReads(() => {
      for (let i = 0; i < 10; i += 1) optimizer.minimize(model.loss(), false, model.variables);
    });
    expect(reads).toBe(0);
    expect(tf.memory().numTensors).toBe(before);
    optimizer.dispose();
    model.dispose();
  });

  it('names the bad key', () => {
    expectConfigError(() => swa({ every: -3 }), 'every');
    expectConfigError(() => swa({ start: '5' as never }), 'start');
  });
});
