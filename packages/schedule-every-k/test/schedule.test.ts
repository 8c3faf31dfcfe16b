// What everyK decides and costs, step by step; the degenerate settings (k = 1, α = 0) bit for bit;
// the stored g_v (keys, values, variables without one); and a skipped non-finite step.
import * as tf from '@tensorflow/tfjs-core';
import { type ComponentState, type NamedTensors, type Perturbation, type Schedule, sharpnessAware } from '@flatmin/core';
import { SeededRandom } from '@flatmin/core/kit';
import { gradient } from '@flatmin/perturb-gradient';
import { axpy, linearGrad64, makeLinearProblem, makeTfLinear, norm64, type TfLinear } from '@flatmin/test-kit';
import { afterEach, describe, expect, it } from 'vitest';
import { everyK } from '../src/index.js';

const problem = makeLinearProblem({ seed: 7 });
const rho = 0.3;
const lr = 0.05;
const cleanup: Array<{ dispose(): void }> = [];
afterEach(() => {
  for (const item of cleanup.splice(0)) item.dispose();
});

function setup(schedule: Schedule | undefined, options: { base?: tf.Optimizer; perturbation?: Perturbation } = {}) {
  const model = makeTfLinear(problem);
  const optimizer = sharpnessAware({
    base: options.base ?? tf.train.sgd(lr),
    perturbation: options.perturbation ?? gradient({ rho }),
    ...(schedule === undefined ? {} : { schedule }),
  });
  cleanup.push(model, optimizer);
  return { model, optimizer };
}

/** The schedule's saved tensors by slot (`<variable>:gv`), read on the host. */
async function scheduleState(optimizer: tf.Optimizer, model: TfLinear): Promise<Record<string, number[]>> {
  const out: Record<string, number[]> = {};
  for (const { name, tensor } of await optimizer.getWeights()) {
    if (!name.startsWith('flatmin/schedule/')) continue;
    out[name.slice('flatmin/schedule/'.length).replace(model.w.name, 'W').replace(model.b.name, 'b')] = Array.from(await tensor.data());
  }
  return out;
}

/** ε = a constant offset on every entry: a perturbation that needs no clean gradient. */
function fixedOffset(offset: number): Perturbation {
  return {
    kind: 'perturbation',
    name: 'fixedOffset',
    config: {},
    rho: 0.1,
    needsGradient: false,
    compute: (context) => ({ epsilon: Object.fromEntries(context.variables.map((v) => [v.name, tf.fill(v.shape, offset)])) }),
  };
}

describe('decisions, ρ and loss evaluations, step by step', () => {
  it('k = 3 over 21 steps: sharp exactly when t mod 3 = 0, ρ the perturbation\'s, 2 evaluations on sharp steps and 1 otherwise', async () => {
    const { model, optimizer } = setup(everyK({ k: 3, alpha: 0.7 }));
    const expected = [1, 0, 0, 1, 0, 0, 1, 0, 0, 1, 0, 0, 1, 0, 0, 1, 0, 0, 1, 0, 0].map(Boolean); // written out by hand
    const seen: boolean[] = [];
    let evaluations = 0;
    for (let t = 0; t < expected.length; t += 1) {
      optimizer.minimize(model.loss(), false, model.variables);
      const telemetry = await optimizer.telemetry();
      seen.push(telemetry.sharp);
      expect(telemetry.rho).toBe(Math.fround(rho));
      expect(telemetry.lossEvaluations - evaluations).toBe(telemetry.sharp ? 2 : 1);
      evaluations = telemetry.lossEvaluations;
    }
    expect(seen).toEqual(expected);
    expect(optimizer.sharpSteps).toBe(7);
    expect(optimizer.lossEvaluations).toBe(21 + 7);
  });

  it('restartEvery 4, k = 3 over 21 steps: sharp when (t mod 4) mod 3 = 0 (t = 0, 3 of every 4), written out by hand', async () => {
    const { model, optimizer } = setup(everyK({ k: 3, alpha: 0.7, restartEvery: 4 }));
    const expected = [1, 0, 0, 1, 1, 0, 0, 1, 1, 0, 0, 1, 1, 0, 0, 1, 1, 0, 0, 1, 1].map(Boolean);
    const seen: boolean[] = [];
    for (let t = 0; t < expected.length; t += 1) {
      optimizer.minimize(model.loss(), false, model.variables);
      seen.push((await optimizer.telemetry()).sharp);
    }
    expect(seen).toEqual(expected);
    expect(optimizer.sharpSteps).toBe(11);
    expect(optimizer.lossEvaluations).toBe(21 + 11);
  });

  it('k = 5, 10 steps: 12 loss evaluations (the non-sharp steps really cost one pass)', () => {
    const { model, optimizer } = setup(everyK({ k: 5 }));
    for (let t = 0; t < 10; t += 1) optimizer.minimize(model.loss(), false, model.variables);
    expect(optimizer.lossEvaluations).toBe(12);
    expect(optimizer.sharpSteps).toBe(2);
  });

  it("a perturbation that needs no clean gradient: everyK still gets g on sharp steps (2 passes) and g_v matches float64", async () => {
    const offset = 0.01;
    const fixed = fixedOffset(offset);
    const { model, optimizer } = setup(everyK({ k: 2, alpha: 0.7 }), { perturbation: fixed });
    for (let t = 0; t < 4; t += 1) optimizer.minimize(model.loss(), false, model.variables);
    expect(optimizer.lossEvaluations).toBe(2 + 1 + 2 + 1);
    // g_v of the first sharp step, recomputed: it was replaced at step 2, so run one step only.
    const { model: one, optimizer: single } = setup(everyK({ k: 2, alpha: 0.7 }), { perturbation: fixed });
    single.minimize(one.loss(), false, one.variables);
    const g = linearGrad64(problem, problem.init);
    const shifted = { w: problem.init.w.map((row) => row.map((x) => x + offset)), b: problem.init.b.map((x) => x + offset) };
    const gAdv = linearGrad64(problem, shifted);
    const flat = (p: { w: number[][]; b: number[] }) => [...p.w.flat(), ...p.b];
    const c = flat(g).reduce((s, x, i) => s + x * flat(gAdv)[i]!, 0) / norm64(g) ** 2;
    const gv = axpy(-c, g, gAdv);
    const state = await scheduleState(single, one);
    const size = norm64(gAdv);
    expect(norm64(gv)).toBeGreaterThan(1e-3 * size); // not all cancelled
    expectClose(state['W:gv']!, gv.w.flat(), size);
    expectClose(state['b:gv']!, gv.b, size);
  });
});

/** To 1e-5 of `scale` (default the vector's largest entry): g_v comes out of a float32 cancellation g_adv − c·g. */
function expectClose(actual: readonly number[], expected: readonly number[], scale = Math.max(...expected.map(Math.abs))) {
  expect(actual.length).toBe(expected.length);
  actual.forEach((a, i) => {
    expect(Math.abs(a - expected[i]!)).toBeLessThanOrEqual(1e-5 * scale);
  });
}

describe('degenerate settings, bit for bit', () => {
  it('k = 1 is SAM exactly: the same weights as no schedule (momentum, 6 steps)', () => {
    const runs = [everyK({ k: 1 }), everyK({ k: 1, alpha: 3, granularity: 'tensor' }), undefined].map((schedule) => {
      const { model, optimizer } = setup(schedule, { base: tf.train.momentum(lr, 0.9) });
      for (let t = 0; t < 6; t += 1) optimizer.minimize(model.loss(t % 2 === 0 ? [0, 1, 2, 3] : [4, 5, 6, 7]), false, model.variables);
      return { params: model.read(), evaluations: optimizer.lossEvaluations };
    });
    expect(runs[0]).toEqual(runs[2]);
    expect(runs[1]).toEqual(runs[2]);
    expect(runs[2]!.evaluations).toBe(12);
  });

  it('α = 0 is plain every-k: the same weights as a schedule that only decides t mod k = 0', () => {
    const plainEveryK: Schedule = { kind: 'schedule', name: 'plainEveryK', config: {}, decide: (context) => ({ decision: { sharp: context.step % 3 === 0 } }) };
    const runs = [everyK({ k: 3, alpha: 0 }), plainEveryK].map((schedule) => {
      const { model, optimizer } = setup(schedule, { base: tf.train.momentum(lr, 0.9) });
      for (let t = 0; t < 7; t += 1) optimizer.minimize(model.loss(t % 2 === 0 ? [0, 1, 2, 3] : [4, 5, 6, 7]), false, model.variables);
      return { params: model.read(), evaluations: optimizer.lossEvaluations };
    });
    expect(runs[0]).toEqual(runs[1]);
    expect(runs[0]!.evaluations).toBe(7 + 3);
  });

  it('restartEvery a multiple of k (6, k = 3) is no restart at all: the same weights and evaluations as without it (13 steps)', () => {
    const runs = [everyK({ k: 3, alpha: 0.7, restartEvery: 6 }), everyK({ k: 3, alpha: 0.7 })].map((schedule) => {
      const { model, optimizer } = setup(schedule, { base: tf.train.momentum(lr, 0.9) });
      for (let t = 0; t < 13; t += 1) optimizer.minimize(model.loss(t % 2 === 0 ? [0, 1, 2, 3] : [4, 5, 6, 7]), false, model.variables);
      return { params: model.read(), evaluations: optimizer.lossEvaluations };
    });
    expect(runs[0]).toEqual(runs[1]);
    expect(runs[0]!.evaluations).toBe(13 + 5);
  });

  it('restartEvery 1 is SAM exactly: every step sharp, the same weights as no schedule (5 steps)', () => {
    const runs = [everyK({ k: 3, alpha: 0.7, restartEvery: 1 }), undefined].map((schedule) => {
      const { model, optimizer } = setup(schedule);
      for (let t = 0; t < 5; t += 1) optimizer.minimize(model.loss(t % 2 === 0 ? [0, 1, 2, 3] : [4, 5, 6, 7]), false, model.variables);
      return { params: model.read(), evaluations: optimizer.lossEvaluations };
    });
    expect(runs[0]).toEqual(runs[1]);
    expect(runs[0]!.evaluations).toBe(10);
  });

  it('α > 0 does change the reusing steps (the two runs above would not be equal with α = 0.7)', () => {
    const runs = [everyK({ k: 3, alpha: 0 }), everyK({ k: 3, alpha: 0.7 })].map((schedule) => {
      const { model, optimizer } = setup(schedule);
      for (let t = 0; t < 2; t += 1) optimizer.minimize(model.loss(), false, model.variables);
      return model.read();
    });
    expect(runs[0]).not.toEqual(runs[1]);
  });
});

describe('the stored g_v', () => {
  it('is kept per updated variable under <name>:gv, replaced at every sharp step, and unchanged by the steps between', async () => {
    const { model, optimizer } = setup(everyK({ k: 2, alpha: 0.7 }));
    optimizer.minimize(model.loss([0, 1, 2, 3]), false, model.variables);
    const first = await scheduleState(optimizer, model);
    expect(Object.keys(first).sort()).toEqual(['W:gv', 'b:gv', 'gvNorm']);
    expect(first['W:gv']).toHaveLength(problem.d * problem.k);
    optimizer.minimize(model.loss([4, 5, 6, 7]), false, model.variables);
    expect(await scheduleState(optimizer, model)).toEqual(first);
    optimizer.minimize(model.loss([4, 5, 6, 7]), false, model.variables);
    expect(await scheduleState(optimizer, model)).not.toEqual(first);
  });

  it("'global': g_v ⟂ g over all variables together; 'tensor': per variable (float64 check of both projections)", async () => {
    const g = linearGrad64(problem, problem.init);
    const gAdv = linearGrad64(problem, axpy(rho / norm64(g), g, problem.init));
    const dot = (a: number[], b: number[]) => a.reduce((s, x, i) => s + x * b[i]!, 0);
    const parts = (p: { w: number[][]; b: number[] }) => [p.w.flat(), p.b];
    for (const granularity of ['global', 'tensor'] as const) {
      const { model, optimizer } = setup(everyK({ k: 2, alpha: 0.7, granularity }));
      optimizer.minimize(model.loss(), false, model.variables);
      const state = await scheduleState(optimizer, model);
      const gv = [state['W:gv']!, state['b:gv']!];
      const [gw, gb] = parts(g);
      const [aw, ab] = parts(gAdv);
      const length = (x: number[]) => Math.sqrt(dot(x, x));
      if (granularity === 'global') {
        const c = (dot(gw!, aw!) + dot(gb!, ab!)) / norm64(g) ** 2;
        const expected = [aw!.map((x, i) => x - c * gw![i]!), ab!.map((x, i) => x - c * gb![i]!)];
        expectClose(gv[0]!, expected[0]!);
        expectClose(gv[1]!, expected[1]!);
        // ‖g_v‖ over both variables, stored with g_v for the steps that reuse it.
        expectClose(state['gvNorm']!, [length(expected.flat())]);
        expect(Object.keys(state).sort()).toEqual(['W:gv', 'b:gv', 'gvNorm']);
      } else {
        const expected = [aw!.map((x, i) => x - (dot(gw!, aw!) / dot(gw!, gw!)) * gw![i]!), ab!.map((x, i) => x - (dot(gb!, ab!) / dot(gb!, gb!)) * gb![i]!)];
        expectClose(gv[0]!, expected[0]!);
        expectClose(gv[1]!, expected[1]!);
        expectClose(state['W:gvNorm']!, [length(expected[0]!)]);
        expectClose(state['b:gvNorm']!, [length(expected[1]!)]);
        expect(Object.keys(state).sort()).toEqual(['W:gv', 'W:gvNorm', 'b:gv', 'b:gvNorm']);
      }
    }
  });

  it('adjust: a variable with no stored g_v keeps its gradient as it is; the others get g + α(‖g‖/‖g_v‖)g_v with the norms over those', () => {
    const schedule = everyK({ k: 2, alpha: 0.5 });
    const a = tf.variable(tf.tensor1d([1, 2]), true, 'everyk-adjust/a');
    const b = tf.variable(tf.tensor1d([3]), true, 'everyk-adjust/b');
    const c = tf.variable(tf.tensor1d([0, 0]), true, 'everyk-adjust/c');
    cleanup.push(a, b, c);
    const grads: NamedTensors = { [a.name]: tf.tensor1d([3, 4]), [b.name]: tf.tensor1d([12]), [c.name]: tf.tensor1d([5, -5]) };
    const state: ComponentState = { [`${a.name}:gv`]: tf.tensor1d([0, 2]), [`${b.name}:gv`]: tf.tensor1d([-1]) };
    const out = tf.tidy(() => {
      const r = schedule.adjust!({ step: 1, random: new SeededRandom(0), normEpsilon: 1e-12, learningRate: lr, variables: [a, b, c], grads, loss: null }, state);
      return r.grads;
    });
    // ‖g‖ over a and b = √(9 + 16 + 144) = 13, ‖g_v‖ = √(4 + 1) = √5.
    const scale = (0.5 * 13) / Math.sqrt(5);
    expectClose(Array.from(out[a.name]!.dataSync()), [3, 4 + 2 * scale]);
    expectClose(Array.from(out[b.name]!.dataSync()), [12 - scale]);
    expect(out[c.name]).toBe(grads[c.name]);
    const perTensor = tf.tidy(() => everyK({ k: 2, alpha: 0.5, granularity: 'tensor' }).adjust!({ step: 1, random: new SeededRandom(0), normEpsilon: 1e-12, learningRate: lr, variables: [a, b, c], grads, loss: null }, state).grads);
    expectClose(Array.from(perTensor[a.name]!.dataSync()), [3, 4 + 0.5 * (5 / 2) * 2]);
    expectClose(Array.from(perTensor[b.name]!.dataSync()), [12 - 0.5 * 12]);
    tf.dispose([...Object.values(grads), ...(Object.values(state) as tf.Tensor[]), out[a.name]!, out[b.name]!, perTensor[a.name]!, perTensor[b.name]!]);
  });

  it('a reusing step takes one norm, ‖g‖, shared with the telemetry (‖g_v‖ was stored at the sharp step)', async () => {
    const { model, optimizer } = setup(everyK({ k: 3, alpha: 0.7 }));
    optimizer.minimize(model.loss([0, 1, 2, 3]), false, model.variables); // sharp: stores g_v and ‖g_v‖
    const profile = await tf.profile(() => void optimizer.minimize(model.loss([4, 5, 6, 7]), false, model.variables));
    expect(profile.kernels.filter((k) => k.name === 'Sqrt')).toHaveLength(1);
    expect((await optimizer.telemetry()).gradNorm).toBeGreaterThan(0);
  });

  it("adjust uses the step's shared ‖g‖ and the stored ‖g_v‖ only where they are over the same variables as the pairs", () => {
    const schedule = everyK({ k: 2, alpha: 0.5 });
    const a = tf.variable(tf.tensor1d([1, 2]), true, 'everyk-shared/a');
    const b = tf.variable(tf.tensor1d([3]), true, 'everyk-shared/b');
    cleanup.push(a, b);
    const grads: NamedTensors = { [a.name]: tf.tensor1d([3, 4]), [b.name]: tf.tensor1d([12]) };
    const gv = { [`${a.name}:gv`]: tf.tensor1d([0, 2]), [`${b.name}:gv`]: tf.tensor1d([-1]) };
    // Marker values (not the true norms 13 and √5), so the test sees which ones were used.
    const sharedNorm = tf.scalar(26);
    const storedNorm = tf.scalar(10);
    const base = { step: 1, random: new SeededRandom(0), normEpsilon: 1e-12, learningRate: lr, variables: [a, b], loss: null };
    const bOf = (context: Parameters<NonNullable<typeof schedule.adjust>>[0], state: ComponentState) =>
      tf.tidy(() => Array.from(schedule.adjust!(context, state).grads[b.name]!.dataSync()));
    // Both cover every pair: the shared ‖g‖ and the stored ‖g_v‖.
    expectClose(bOf({ ...base, grads, gradNorm: () => sharedNorm }, { ...gv, gvNorm: storedNorm }), [12 - (0.5 * 26) / 10]);
    // Without them: computed over the pairs.
    expectClose(bOf({ ...base, grads }, gv), [12 - (0.5 * 13) / Math.sqrt(5)]);
    // A gradient without a stored g_v: the shared ‖g‖ (over every gradient) is not the pairs' norm.
    const c = tf.variable(tf.tensor1d([0]), true, 'everyk-shared/c');
    cleanup.push(c);
    const withC = { ...grads, [c.name]: tf.tensor1d([100]) };
    expectClose(bOf({ ...base, variables: [a, b, c], grads: withC, gradNorm: () => sharedNorm }, { ...gv, gvNorm: storedNorm }), [12 - (0.5 * 13) / 10]);
    // A stored g_v of a variable not in this step: the stored ‖g_v‖ (over every stored one) is not the pairs'.
    const stale = { ...gv, 'everyk-shared/gone:gv': tf.tensor1d([7]), gvNorm: storedNorm };
    expectClose(bOf({ ...base, grads, gradNorm: () => sharedNorm }, stale), [12 - (0.5 * 26) / Math.sqrt(5)]);
    tf.dispose([...Object.values(grads), ...Object.values(gv), withC[c.name]!, stale['everyk-shared/gone:gv']!, sharedNorm, storedNorm]);
  });

  it('a zero clean gradient gives a finite g_v (= g_adv: nothing to project out) and finite steps, never NaN', async () => {
    const w = tf.variable(tf.tensor1d([0, 0]), true, 'everyk-zero/w');
    const optimizer = sharpnessAware({ base: tf.train.sgd(lr), perturbation: fixedOffset(0.01), schedule: everyK({ k: 2, alpha: 0.7 }) });
    cleanup.push(w, optimizer);
    optimizer.minimize(() => tf.sum(tf.square(w)) as tf.Scalar, false, [w]); // g = 0 at w = 0; g_adv = 2·0.01
    const saved = (await optimizer.getWeights()).filter((x) => x.name.startsWith('flatmin/schedule/'));
    expect(saved.map((x) => x.name)).toEqual(['flatmin/schedule/everyk-zero/w:gv', 'flatmin/schedule/gvNorm']);
    expectClose(Array.from(await saved[0]!.tensor.data()), [0.02, 0.02]);
    for (let t = 1; t < 4; t += 1) optimizer.minimize(() => tf.sum(tf.square(w)) as tf.Scalar, false, [w]);
    expect(Array.from(w.dataSync()).every(Number.isFinite)).toBe(true);
    expect(Array.from(w.dataSync())).not.toEqual([0, 0]);
  });
});

describe("onNonFinite: 'skip'", () => {
  const nan = (model: TfLinear) => () => tf.mul(model.loss()(), Number.NaN) as tf.Scalar;

  it('a NaN sharp step leaves g_v and the weights exactly as they were', async () => {
    const { model, optimizer } = setup(everyK({ k: 2, alpha: 0.7 }));
    optimizer.minimize(model.loss([0, 1, 2, 3]), false, model.variables);
    optimizer.minimize(model.loss([4, 5, 6, 7]), false, model.variables);
    const before = { state: await scheduleState(optimizer, model), params: model.read() };
    optimizer.minimize(nan(model), false, model.variables); // t = 2: sharp
    const telemetry = await optimizer.telemetry();
    expect([telemetry.sharp, telemetry.skippedSteps]).toEqual([true, 1]);
    expect({ state: await scheduleState(optimizer, model), params: model.read() }).toEqual(before);
  });

  it('a NaN first step (no g_v yet): the reusing steps after it are plain SGD steps, bit for bit', () => {
    const { model, optimizer } = setup(everyK({ k: 5, alpha: 0.7 }));
    optimizer.minimize(nan(model), false, model.variables);
    for (let t = 1; t < 4; t += 1) optimizer.minimize(model.loss(), false, model.variables);
    const plain = makeTfLinear(problem);
    const sgd = tf.train.sgd(lr);
    cleanup.push(plain, sgd);
    for (let t = 1; t < 4; t += 1) sgd.minimize(plain.loss(), false, plain.variables);
    expect(model.read()).toEqual(plain.read());
  });
});
