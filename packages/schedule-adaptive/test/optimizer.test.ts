// adaptivePolicy through sharpnessAware on the linear problem of the test kit: the common matrix
// (float64 reference, convergence, 100-step leak, ONE host read per step, exact round trip, bad
// configs), then the decision sequence against float64 replays, the cost in loss evaluations,
// the state's round trip and its behaviour on skipped steps, and the exact degenerate settings.
import * as tf from '@tensorflow/tfjs-core';
import { always, type NamedWeight, type Schedule, type SharpnessAwareOptimizer, sharpnessAware } from '@flatmin/core';
import { gradient } from '@flatmin/perturb-gradient';
import { countHostReads, type LinearProblem, makeLinearProblem, makeTfLinear, maxRelativeError, runOptimizerSuite, type TfLinear } from '@flatmin/test-kit';
import { afterEach, describe, expect, it } from 'vitest';
import { type AdaptivePolicyOptions, adaptivePolicy } from '../src/index.js';
import { aeSam64, type Rule, replayDecisions } from './reference.js';

const lr = 0.05;
const rho = 0.05;

function make(options: AdaptivePolicyOptions, extra: { base?: tf.Optimizer; seed?: number; onNonFinite?: 'skip' | 'throw' | 'ignore' } = {}): SharpnessAwareOptimizer {
  return sharpnessAware({ base: extra.base ?? tf.train.sgd(lr), perturbation: gradient({ rho }), schedule: adaptivePolicy(options), seed: extra.seed ?? 1, ...(extra.onNonFinite ? { onNonFinite: extra.onNonFinite } : {}) });
}

runOptimizerSuite('adaptivePolicy() through sharpnessAware (AE-SAM)', [
  {
    name: 'defaults, T = 20, SGD + gradient({ rho: 0.05 })',
    make: () => make({ totalSteps: 20 }),
    // Full batch on the suite's problem: S S S S S then a plain step — the state is used 6 times.
    reference: { steps: 6, expected: (p) => aeSam64(p, { steps: 6, lr, rho, rule: { totalSteps: 20 } }).params },
    readsPerStep: 1,
    badConfigs: [
      { key: 'delta', make: () => adaptivePolicy({ delta: 1, totalSteps: 10 }) },
      { key: 'lambda1', make: () => adaptivePolicy({ lambda1: Number.NEGATIVE_INFINITY, totalSteps: 10 }) },
      { key: 'lambda2', make: () => adaptivePolicy({ lambda2: Number.NaN, totalSteps: 10 }) },
      { key: 'totalSteps', make: () => adaptivePolicy({} as AdaptivePolicyOptions) },
      { key: 'totalSteps', make: () => adaptivePolicy({ totalSteps: 0 }) },
    ],
  },
  {
    name: 'δ = 0.5, λ₁ = λ₂ = 0 (sharp iff ‖g‖² ≥ μ), T = 5, momentum',
    make: () => sharpnessAware({ base: tf.train.momentum(lr, 0.9), perturbation: gradient({ rho }), schedule: adaptivePolicy({ delta: 0.5, lambda1: 0, lambda2: 0, totalSteps: 5 }) }),
    readsPerStep: 1,
  },
]);

/** Mini-batches of the 12-row problem: ‖g‖² is noisy, so both kinds of step occur. */
const BATCHES = [
  [0, 1, 2, 3],
  [4, 5, 6, 7],
  [8, 9, 10, 11],
  [0, 3, 6, 9],
  [1, 4, 7, 10],
];
const STEPS = 26;
/** T = 20 < 26 steps: the last six run with c_t held at λ₁. */
const RULE: Rule = { totalSteps: 20 };

const live: Array<{ dispose(): void }> = [];
afterEach(() => {
  for (const x of live.splice(0)) x.dispose();
});

function setup(problem: LinearProblem, options: AdaptivePolicyOptions = RULE, extra: Parameters<typeof make>[1] = {}): { model: TfLinear; optimizer: SharpnessAwareOptimizer } {
  const model = makeTfLinear(problem);
  const optimizer = make(options, extra);
  live.push(model, optimizer);
  return { model, optimizer };
}

/** Run `steps` steps on the rotating batches, recording the telemetry of each (read after the step). */
async function record(optimizer: SharpnessAwareOptimizer, model: TfLinear, steps: number, from = 0): Promise<Array<{ squared: number; sharp: boolean }>> {
  const out: Array<{ squared: number; sharp: boolean }> = [];
  for (let t = from; t < from + steps; t += 1) {
    optimizer.minimize(model.loss(BATCHES[t % BATCHES.length]), false, model.variables);
    const telemetry = await optimizer.telemetry();
    out.push({ squared: telemetry.gradNorm ** 2, sharp: telemetry.sharp });
  }
  return out;
}

const pattern = (steps: ReadonlyArray<{ sharp: boolean }>) => steps.map((s) => (s.sharp ? 'S' : '.')).join('');

describe('the sharp/plain decisions over 26 steps (mini-batches, T = 20)', () => {
  const problem = makeLinearProblem({ seed: 11, n: 12 });

  it('equal the float64 replay of the rule from the recorded ‖g‖², and of a whole float64 run', async () => {
    const { model, optimizer } = setup(problem);
    const recorded = await record(optimizer, model, STEPS);
    const replayed = replayDecisions(
      recorded.map((r) => r.squared),
      RULE,
    );
    expect(pattern(recorded)).toBe(pattern(replayed));
    // No decision of the replay was a near-tie that float32 rounding could flip.
    expect(Math.min(...replayed.map((r) => r.margin))).toBeGreaterThan(1e-3);
    // Both kinds of step happen, and plain steps while c_t > 0 and sharp ones after c_t < 0.
    expect(pattern(recorded)).toMatch(/\./);
    expect(pattern(recorded)).toMatch(/S/);
    // A float64 run of the whole method (its own ‖g‖², its own decisions) agrees step by step.
    const reference = aeSam64(problem, { steps: STEPS, lr, rho, rule: RULE, batches: BATCHES });
    expect(pattern(recorded)).toBe(pattern(reference.steps));
    expect(maxRelativeError(model.read(), reference.params)).toBeLessThan(1e-5);
    for (const [t, r] of recorded.entries()) expect(Math.abs(r.squared - reference.steps[t]!.squared) / reference.steps[t]!.squared).toBeLessThan(1e-4);
  });

  it('use the new μ_t in the σ² update (the replay with μ_{t−1} differs on this run)', async () => {
    const { model, optimizer } = setup(problem);
    const recorded = await record(optimizer, model, STEPS);
    const squares = recorded.map((r) => r.squared);
    const withPrevious = pattern(replayDecisions(squares, { ...RULE, varianceWith: 'previous' }));
    expect(withPrevious).not.toBe(pattern(replayDecisions(squares, RULE)));
    expect(pattern(recorded)).not.toBe(withPrevious);
  });

  it('keep μ and σ² on the device as the float64 recursions give them (state keys mean, variance)', async () => {
    const { model, optimizer } = setup(problem);
    const recorded = await record(optimizer, model, STEPS);
    const last = replayDecisions(
      recorded.map((r) => r.squared),
      RULE,
    ).at(-1)!;
    const state = await scheduleState(optimizer);
    expect(Object.keys(state).sort()).toEqual(['mean', 'variance']);
    expect(Math.abs(state['mean']! - last.mean) / last.mean).toBeLessThan(1e-5);
    expect(Math.abs(state['variance']! - last.variance) / last.variance).toBeLessThan(1e-4);
  });

  it('cost 1 + (sharp fraction) loss evaluations per step: lossEvaluations = steps + sharp steps', async () => {
    const { model, optimizer } = setup(problem);
    const recorded = await record(optimizer, model, STEPS);
    const sharpCount = recorded.filter((r) => r.sharp).length;
    const reference = aeSam64(problem, { steps: STEPS, lr, rho, rule: RULE, batches: BATCHES });
    expect(sharpCount).toBe(reference.steps.filter((s) => s.sharp).length);
    expect(sharpCount).toBeLessThan(STEPS);
    const telemetry = await optimizer.telemetry();
    expect(telemetry.lossEvaluations).toBe(STEPS + sharpCount);
    expect(optimizer.sharpSteps).toBe(sharpCount);
    expect(telemetry.sharpFraction).toBeCloseTo(sharpCount / STEPS, 12);
  });

  it('make exactly one host read per step (the branch), none with a plain step or a sharp one more', () => {
    const { model, optimizer } = setup(problem);
    optimizer.minimize(model.loss(BATCHES[0]), false, model.variables);
    const { reads } = countHostReads(() => {
      for (let t = 1; t <= 12; t += 1) optimizer.minimize(model.loss(BATCHES[t % BATCHES.length]), false, model.variables);
    });
    expect(reads).toBe(12);
    expect(optimizer.sharpSteps).toBeGreaterThan(0);
    expect(optimizer.sharpSteps).toBeLessThan(13);
  });
});

describe('c_t after T', () => {
  it('is held at λ₁ (the decisions differ from continuing the line on this run)', async () => {
    // c_t from 2 to 1 over T = 4, then held at 1; continuing the line would go below 0.
    const rule: Rule = { lambda1: 1, lambda2: 2, totalSteps: 4 };
    const problem = makeLinearProblem({ seed: 13, n: 12 });
    const { model, optimizer } = setup(problem, rule);
    const recorded = await record(optimizer, model, 20);
    const squares = recorded.map((r) => r.squared);
    const held = replayDecisions(squares, rule);
    expect(pattern(recorded)).toBe(pattern(held));
    expect(pattern(replayDecisions(squares, { ...rule, beyond: 'extrapolate' }))).not.toBe(pattern(held));
    expect(Math.min(...held.map((r) => r.margin))).toBeGreaterThan(1e-4);
  });
});

/** The schedule's state as saved by getWeights, as numbers. */
async function scheduleState(optimizer: tf.Optimizer): Promise<Record<string, number>> {
  const weights = await optimizer.getWeights();
  const out: Record<string, number> = {};
  for (const w of weights) if (w.name.startsWith('flatmin/schedule/')) out[w.name.slice('flatmin/schedule/'.length)] = w.tensor.dataSync()[0]!;
  return out;
}

describe('state', () => {
  const problem = makeLinearProblem({ seed: 11, n: 12 });

  it('round-trips through getWeights/setWeights bit for bit: 10 + restore + 16 steps equal 26 steps, decisions too', async () => {
    const straight = setup(problem);
    const all = await record(straight.optimizer, straight.model, STEPS);

    const first = setup(problem);
    const before = await record(first.optimizer, first.model, 10);
    const saved: NamedWeight[] = (await first.optimizer.getWeights()).map((w) => ({ name: w.name, tensor: tf.clone(w.tensor) }));
    const savedState = await scheduleState(first.optimizer);
    const restored = make(RULE);
    live.push(restored);
    await restored.setWeights(saved);
    tf.dispose(saved.map((w) => w.tensor));
    expect(await scheduleState(restored)).toEqual(savedState);
    expect(Object.is(savedState['mean'], (await scheduleState(first.optimizer))['mean'])).toBe(true);
    const model = makeTfLinear(problem, { params: first.model.read() });
    live.push(model);
    const after = await record(restored, model, STEPS - 10, 10);
    expect(pattern([...before, ...after])).toBe(pattern(all));
    expect(model.read()).toEqual(straight.model.read());
    expect(await scheduleState(restored)).toEqual(await scheduleState(straight.optimizer));
  });

  it('is left bit-identical by a step skipped for a non-finite adversarial loss (a sharp step)', async () => {
    const full = makeLinearProblem({ seed: 7 });
    const { model, optimizer } = setup(full);
    for (let t = 0; t < 3; t += 1) optimizer.minimize(model.loss(), false, model.variables);
    const stateBefore = await scheduleState(optimizer);
    const paramsBefore = model.read();
    // Step 3 is sharp (float64 replay: S S S S S .); the adversarial pass returns NaN.
    expect(aeSam64(full, { steps: 4, lr, rho, rule: RULE }).steps[3]!.sharp).toBe(true);
    let calls = 0;
    const clean = model.loss();
    optimizer.minimize(() => (++calls === 2 ? (tf.mul(clean(), Number.NaN) as tf.Scalar) : clean()), false, model.variables);
    const telemetry = await optimizer.telemetry();
    expect(telemetry.sharp).toBe(true);
    expect(telemetry.skippedSteps).toBe(1);
    expect(calls).toBe(2);
    expect(await scheduleState(optimizer)).toEqual(stateBefore);
    expect(model.read()).toEqual(paramsBefore);
  });

  it('is left bit-identical by a step whose clean gradient is NaN (‖g‖² = NaN: a plain, skipped step)', async () => {
    const full = makeLinearProblem({ seed: 7 });
    const { model, optimizer } = setup(full);
    for (let t = 0; t < 3; t += 1) optimizer.minimize(model.loss(), false, model.variables);
    const stateBefore = await scheduleState(optimizer);
    const clean = model.loss();
    optimizer.minimize(() => tf.mul(clean(), Number.NaN) as tf.Scalar, false, model.variables);
    const telemetry = await optimizer.telemetry();
    expect(telemetry.sharp).toBe(false);
    expect(telemetry.skippedSteps).toBe(1);
    expect(telemetry.lossEvaluations).toBe(3 * 2 + 1);
    expect(await scheduleState(optimizer)).toEqual(stateBefore);
  });

  it('holds exactly two scalar tensors however long it runs (no growth)', async () => {
    const { model, optimizer } = setup(problem);
    // Warm up over every batch once (the test model caches each batch's rows as tensors).
    for (let t = 0; t < 5; t += 1) optimizer.minimize(model.loss(BATCHES[t % 5]), false, model.variables);
    const before = tf.memory().numTensors;
    for (let t = 5; t < 105; t += 1) optimizer.minimize(model.loss(BATCHES[t % 5]), false, model.variables);
    expect(tf.memory().numTensors).toBe(before);
    const weights = (await optimizer.getWeights()).filter((w) => w.name.startsWith('flatmin/schedule/'));
    expect(weights.map((w) => [w.name, w.tensor.shape, w.tensor.dtype])).toEqual([
      ['flatmin/schedule/mean', [], 'float32'],
      ['flatmin/schedule/variance', [], 'float32'],
    ]);
  });
});

describe('seeds', () => {
  const problem = makeLinearProblem({ seed: 11, n: 12 });

  it('the same seed gives the same run bit for bit; the schedule draws nothing from the generator', async () => {
    const a = setup(problem, RULE, { seed: 5 });
    const b = setup(problem, RULE, { seed: 5 });
    const c = setup(problem, RULE, { seed: 6 });
    const runs = [await record(a.optimizer, a.model, 15), await record(b.optimizer, b.model, 15), await record(c.optimizer, c.model, 15)];
    expect(runs[1]).toEqual(runs[0]);
    expect(b.model.read()).toEqual(a.model.read());
    // No randomness in AE-SAM (nor in SAM's ε): another seed changes nothing, and the generator is untouched.
    expect(runs[2]).toEqual(runs[0]);
    const randomState = async (o: tf.Optimizer) => Array.from((await o.getWeights()).find((w) => w.name === 'flatmin/optimizer/random')!.tensor.dataSync());
    const fresh = make(RULE, { seed: 5 });
    live.push(fresh);
    expect(await randomState(a.optimizer)).toEqual(await randomState(fresh));
  });
});

describe('degenerate settings reduce exactly', () => {
  const problem = makeLinearProblem({ seed: 11, n: 12 });

  function run(schedule: Schedule | 'base'): { params: ReturnType<TfLinear['read']>; evaluations: number } {
    const model = makeTfLinear(problem);
    live.push(model);
    const optimizer = schedule === 'base' ? tf.train.sgd(lr) : sharpnessAware({ base: tf.train.sgd(lr), perturbation: gradient({ rho }), schedule });
    live.push(optimizer);
    for (let t = 0; t < 15; t += 1) optimizer.minimize(model.loss(BATCHES[t % 5]), false, model.variables);
    return { params: model.read(), evaluations: (optimizer as SharpnessAwareOptimizer).lossEvaluations ?? 0 };
  }

  it('λ₁ = λ₂ = −10⁹ (threshold far below ‖g‖²): every step sharp, bit-identical to always()', () => {
    const policy = run(adaptivePolicy({ lambda1: -1e9, lambda2: -1e9, totalSteps: 15 }));
    const sam = run(always());
    expect(policy.params).toEqual(sam.params);
    expect(policy.evaluations).toBe(30);
  });

  it('λ₁ = λ₂ = 10⁹ (threshold far above ‖g‖²): no step sharp, bit-identical to plain SGD, one pass per step', () => {
    const policy = run(adaptivePolicy({ lambda1: 1e9, lambda2: 1e9, totalSteps: 15 }));
    expect(policy.params).toEqual(run('base').params);
    expect(policy.evaluations).toBe(15);
  });
});
