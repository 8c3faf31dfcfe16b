// What randomly decides and costs, step by step; seeds; p = 0 and p = 1 bit for bit (also next to a
// perturbation that draws from the same generator); p(t) functions, out-of-range values, and the
// config round trip through getConfig/fromConfig.
import * as tf from '@tensorflow/tfjs-core';
import { FlatminConfigError, FlatminError, type Perturbation, type Schedule, SharpnessAwareOptimizer, sharpnessAware } from '@flatmin/core';
import { gradient } from '@flatmin/perturb-gradient';
import { makeLinearProblem, makeTfLinear } from '@flatmin/test-kit';
import { afterEach, describe, expect, it } from 'vitest';
import { constantP, linearP, probabilityFromConfig, randomly, stepP } from '../src/index.js';
import { decisions } from './reference.js';

const problem = makeLinearProblem({ seed: 7 });
const rho = 0.3;
const lr = 0.05;
const cleanup: Array<{ dispose(): void }> = [];
afterEach(() => {
  for (const item of cleanup.splice(0)) item.dispose();
});

function setup(schedule: Schedule | undefined, options: { seed?: number; base?: tf.Optimizer; perturbation?: Perturbation } = {}) {
  const model = makeTfLinear(problem);
  const optimizer = sharpnessAware({
    base: options.base ?? tf.train.sgd(lr),
    perturbation: options.perturbation ?? gradient({ rho }),
    seed: options.seed ?? 3,
    ...(schedule === undefined ? {} : { schedule }),
  });
  cleanup.push(model, optimizer);
  return { model, optimizer };
}

/** The sharp/plain sequence of `steps` steps (read from the telemetry after each). */
async function run(schedule: Schedule, steps: number, seed = 3): Promise<boolean[]> {
  const { model, optimizer } = setup(schedule, { seed });
  const seen: boolean[] = [];
  for (let t = 0; t < steps; t += 1) {
    optimizer.minimize(model.loss(), false, model.variables);
    seen.push((await optimizer.telemetry()).sharp);
  }
  return seen;
}

/** ε = 0.01·Z with Z drawn from the optimizer's generator: a perturbation that shares the stream. */
const noisy: Perturbation = {
  kind: 'perturbation',
  name: 'noisy',
  config: {},
  rho: 0.01,
  needsGradient: false,
  compute: (context) => ({ epsilon: Object.fromEntries(context.variables.map((v) => [v.name, tf.mul(context.random.normal(v.shape), 0.01)])) }),
};

describe('decisions, ρ and loss evaluations, step by step', () => {
  it('p 0.5, 30 steps: the Bernoulli sequence drawn by hand from the seed, ρ the perturbation\'s, 2 or 1 evaluations', async () => {
    const expected = decisions(5, 30, () => 0.5);
    const { model, optimizer } = setup(randomly({ p: 0.5 }), { seed: 5 });
    let evaluations = 0;
    const seen: boolean[] = [];
    for (let t = 0; t < 30; t += 1) {
      optimizer.minimize(model.loss(), false, model.variables);
      const telemetry = await optimizer.telemetry();
      seen.push(telemetry.sharp);
      expect(telemetry.rho).toBe(Math.fround(rho));
      expect(telemetry.lossEvaluations - evaluations).toBe(telemetry.sharp ? 2 : 1);
      evaluations = telemetry.lossEvaluations;
    }
    expect(seen).toEqual(expected);
    const sharpCount = expected.filter(Boolean).length;
    expect(sharpCount).toBeGreaterThan(5);
    expect(sharpCount).toBeLessThan(25);
    expect(optimizer.lossEvaluations).toBe(30 + sharpCount);
  });

  it('linearP 0.1 → 0.9 over 20 steps, then 0.9: 25 steps as drawn by hand', async () => {
    const p = (t: number) => 0.1 + (0.8 * Math.min(t, 20)) / 20;
    expect(await run(randomly({ p: linearP({ from: 0.1, to: 0.9, totalSteps: 20 }) }), 25, 9)).toEqual(decisions(9, 25, p));
  });

  it('a p(t) of only 0s and 1s decides without drawing: exactly the pattern', async () => {
    const p = (t: number) => (t % 3 === 0 ? 1 : 0);
    expect(await run(randomly({ p }), 21)).toEqual(Array.from({ length: 21 }, (_, t) => t % 3 === 0));
  });

  it('same seed → the same decisions; a different seed → different ones', async () => {
    const a = await run(randomly({ p: 0.5 }), 40, 1);
    const b = await run(randomly({ p: 0.5 }), 40, 1);
    const c = await run(randomly({ p: 0.5 }), 40, 2);
    expect(b).toEqual(a);
    expect(c).not.toEqual(a);
    expect(a).toEqual(decisions(1, 40, () => 0.5));
    expect(c).toEqual(decisions(2, 40, () => 0.5));
  });
});

describe('degenerate settings, bit for bit', () => {
  const batches = (t: number) => (t % 2 === 0 ? [0, 1, 2, 3] : [4, 5, 6, 7]);
  const train = (schedule: Schedule | undefined, perturbation: Perturbation) => {
    const { model, optimizer } = setup(schedule, { base: tf.train.momentum(lr, 0.9), perturbation });
    for (let t = 0; t < 6; t += 1) optimizer.minimize(model.loss(batches(t)), false, model.variables);
    return { params: model.read(), evaluations: optimizer.lossEvaluations };
  };

  it.each([
    ['SAM', () => gradient({ rho })],
    ['a perturbation drawing from the same generator', () => noisy],
  ])('p = 1 and constantP(1) are %s with no schedule exactly (no draw is made)', (_label, perturbation) => {
    const none = train(undefined, perturbation());
    expect(train(randomly({ p: 1 }), perturbation())).toEqual(none);
    expect(train(randomly({ p: constantP(1) }), perturbation())).toEqual(none);
  });

  it('p = 0 is the base optimizer exactly (momentum, 6 steps, one pass each)', () => {
    const ours = train(randomly({ p: 0 }), gradient({ rho }));
    const model = makeTfLinear(problem);
    const momentum = tf.train.momentum(lr, 0.9);
    cleanup.push(model, momentum);
    for (let t = 0; t < 6; t += 1) momentum.minimize(model.loss(batches(t)), false, model.variables);
    expect(ours).toEqual({ params: model.read(), evaluations: 6 });
  });
});

describe('p(t) out of range', () => {
  it.each([
    [1.5, /1\.5/],
    [-0.25, /-0\.25/],
    [Number.NaN, /NaN/],
    ['0.5', /0\.5/],
  ])('a function returning %s at step 3 throws a FlatminError naming p(t), the value and the step', (bad, shown) => {
    const { model, optimizer } = setup(randomly({ p: (t) => (t === 3 ? (bad as number) : 0.5) }));
    for (let t = 0; t < 3; t += 1) optimizer.minimize(model.loss(), false, model.variables);
    const before = model.read();
    let caught: unknown;
    try {
      optimizer.minimize(model.loss(), false, model.variables);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(FlatminError);
    const message = (caught as Error).message;
    expect(message).toContain('randomly');
    expect(message).toContain('p(t)');
    expect(message).toContain('step 3');
    expect(message).toMatch(shown);
    expect(message).toContain('[0, 1]');
    // The failed step changed nothing.
    expect(optimizer.steps).toBe(3);
    expect(model.read()).toEqual(before);
  });
});

describe('p(t) helpers', () => {
  it('constantP, linearP and stepP give the values of their formulas and carry their JSON description', () => {
    const constant = constantP(0.3);
    expect([0, 10, 1e6].map(constant)).toEqual([0.3, 0.3, 0.3]);
    const linear = linearP({ from: 0.2, to: 0.8, totalSteps: 10 });
    expect([0, 5, 10, 20].map(linear).map((v) => Number(v.toFixed(12)))).toEqual([0.2, 0.5, 0.8, 0.8]);
    const down = linearP({ from: 1, to: 0, totalSteps: 4 });
    expect([0, 1, 2, 3, 4, 9].map(down)).toEqual([1, 0.75, 0.5, 0.25, 0, 0]);
    const stairs = stepP({ values: [0.1, 0.5, 0.9], boundaries: [3, 7] });
    expect([0, 2, 3, 6, 7, 100].map(stairs)).toEqual([0.1, 0.1, 0.5, 0.5, 0.9, 0.9]);
    expect(constant.config).toEqual({ schedule: 'constant', p: 0.3 });
    expect(linear.config).toEqual({ schedule: 'linear', from: 0.2, to: 0.8, totalSteps: 10 });
    expect(stairs.config).toEqual({ schedule: 'step', values: [0.1, 0.5, 0.9], boundaries: [3, 7] });
    for (const schedule of [constant, linear, stairs]) {
      const rebuilt = probabilityFromConfig(JSON.parse(JSON.stringify(schedule.config)));
      expect(rebuilt.config).toEqual(schedule.config);
      expect([0, 3, 5, 8, 50].map(rebuilt)).toEqual([0, 3, 5, 8, 50].map(schedule));
    }
  });
});

describe('getConfig / fromConfig', () => {
  const restore = (optimizer: SharpnessAwareOptimizer) =>
    SharpnessAwareOptimizer.fromConfig(SharpnessAwareOptimizer, JSON.parse(JSON.stringify(optimizer.getConfig()))) as SharpnessAwareOptimizer;

  it.each([
    ['a number', 0.4, 0.4],
    ['constantP', constantP(0.4), { schedule: 'constant', p: 0.4 }],
    ['linearP', linearP({ from: 0.2, to: 0.7, totalSteps: 50 }), { schedule: 'linear', from: 0.2, to: 0.7, totalSteps: 50 }],
    ['stepP', stepP({ values: [0.9, 0.3], boundaries: [5] }), { schedule: 'step', values: [0.9, 0.3], boundaries: [5] }],
  ])('%s is saved in the config, and the rebuilt optimizer makes the same decisions', async (_label, p, saved) => {
    const { optimizer } = setup(randomly({ p }), { seed: 21 });
    expect(optimizer.schedule.config).toEqual({ p: saved });
    const rebuilt = restore(optimizer);
    cleanup.push(rebuilt);
    expect(rebuilt.schedule.config).toEqual({ p: saved });
    const model = makeTfLinear(problem);
    cleanup.push(model);
    const seen: boolean[] = [];
    for (let t = 0; t < 12; t += 1) {
      rebuilt.minimize(model.loss(), false, model.variables);
      seen.push((await rebuilt.telemetry()).sharp);
    }
    expect(seen).toEqual(await run(randomly({ p }), 12, 21));
  });

  it("a custom function p(t) is recorded as { schedule: 'function' }; rebuilding from it is a FlatminConfigError for 'p' saying why", () => {
    const { optimizer } = setup(randomly({ p: (t) => 1 / (1 + t) }));
    expect(optimizer.schedule.config).toEqual({ p: { schedule: 'function' } });
    let caught: unknown;
    try {
      restore(optimizer);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(FlatminConfigError);
    expect((caught as FlatminConfigError).key).toBe('p');
    expect((caught as Error).message).toMatch(/cannot be serialized/);
    expect((caught as Error).message).toMatch(/randomly\(\{ p \}\)/);
  });
});
