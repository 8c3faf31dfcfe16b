// The non-finite guard and the step as a transaction: a skipped step leaves weights, base slots and
// component state bit-identical (decided on the device); a step that throws leaves everything as before.
import * as tf from '@tensorflow/tfjs-core';
import { countHostReads, makeLinearProblem, makeTfLinear, onBackend, type TfLinear } from '@flatmin/test-kit';
import { describe, expect, it } from 'vitest';
import { gradient } from '../../perturb-gradient/src/index.js';
import { FlatminError, type Perturbation, type SharpnessAwareConfig, sharpnessAware } from '../src/index.js';
import { pick, useHostPick } from '../src/step/pick.js';
import { emaAverager, meanAverager, samPerturbation } from './helpers.js';

const problem = makeLinearProblem({ seed: 23 });
const lr = 0.05;
const bases: Record<string, () => tf.Optimizer> = {
  momentum: () => tf.train.momentum(lr, 0.9),
  adam: () => tf.train.adam(lr, 0.9, 0.999, 1e-7),
};
const perturbations: Record<string, () => Perturbation> = {
  sam: () => samPerturbation(0.1),
  "from: 'previous'": () => gradient({ rho: 0.1, from: 'previous' }),
};

/** Train on batches (row lists); `null` is a batch whose loss (and so every gradient) is NaN. */
function run(config: Omit<SharpnessAwareConfig, 'base' | 'perturbation'>, base: () => tf.Optimizer, perturbation: () => Perturbation, batches: Array<number[] | null>) {
  const model = makeTfLinear(problem);
  const optimizer = sharpnessAware({ base: base(), perturbation: perturbation(), seed: 3, ...config });
  for (const rows of batches) {
    const loss = rows === null ? () => tf.mul(model.loss()(), Number.NaN) as tf.Scalar : model.loss(rows);
    optimizer.minimize(loss, false, model.variables);
  }
  return { model, optimizer };
}

async function stateOf(optimizer: tf.Optimizer, model: TfLinear) {
  const weights = await optimizer.getWeights();
  const state: Record<string, number[]> = {};
  for (const { name, tensor } of weights) {
    // Host counters (steps, iterations) count skipped steps too: the host cannot know without a read.
    if (name.includes('#/') || name.endsWith('/iter') || name.endsWith('iterations') || tensor.dtype === 'string' || name.endsWith('/skipped')) continue;
    state[name.replace(/linear\d+\//g, "linear/")] = Array.from(await tensor.data());
  }
  return { params: model.read(), state };
}

const batchA = [0, 1, 2, 3];
const batchB = [4, 5, 6, 7];

describe("onNonFinite: 'skip' — one NaN batch changes nothing", () => {
  for (const [baseName, base] of Object.entries(bases)) {
    for (const [perturbationName, perturbation] of Object.entries(perturbations)) {
      it(`${perturbationName} on ${baseName}: a run with a NaN batch in the middle ends bit-identical to the run without it`, async () => {
        const clean = run({}, base, perturbation, [batchA, batchB, batchA, batchB, batchA]);
        const withNaN = run({}, base, perturbation, [batchA, batchB, batchA, null, batchB, batchA]);
        const a = await stateOf(clean.optimizer, clean.model);
        const b = await stateOf(withNaN.optimizer, withNaN.model);
        expect(b.params).toEqual(a.params);
        expect(b.state).toEqual(a.state);
        const telemetry = await withNaN.optimizer.telemetry();
        expect(telemetry.skippedSteps).toBe(1);
        expect(telemetry.steps).toBe(6);
        expect(telemetry.sharpFraction).toBeLessThanOrEqual(1);
        for (const r of [clean, withNaN]) {
          r.optimizer.dispose();
          r.model.dispose();
        }
      });
    }
  }

  it('the verdict is made on the device: no host read on a skipped step', () => {
    const { model, optimizer } = run({}, bases['adam']!, perturbations['sam']!, [batchA]);
    const { reads } = countHostReads(() => optimizer.minimize(() => tf.mul(model.loss()(), Number.NaN) as tf.Scalar, false, model.variables));
    expect(reads).toBe(0);
    optimizer.dispose();
    model.dispose();
  });

  it('a finite loss with a NaN gradient is skipped too (the guard checks the gradient, not only the loss)', async () => {
    const model = makeTfLinear(problem);
    const optimizer = sharpnessAware({ base: tf.train.sgd(lr), perturbation: samPerturbation(0.1) });
    const before = model.read();
    // d/dw sqrt(|w − w|) is 0·∞ = NaN, while the loss 0·sqrt(0) = 0 stays finite.
    const nanGradient = () => tf.add(model.loss()(), tf.sum(tf.mul(0, tf.sqrt(tf.abs(tf.sub(model.w, tf.clone(model.w))))))) as tf.Scalar;
    optimizer.minimize(nanGradient, false, model.variables);
    expect(model.read()).toEqual(before);
    expect((await optimizer.telemetry()).skippedSteps).toBe(1);
    optimizer.dispose();
    model.dispose();
  });

  it('a non-finite term only weight decay adds is caught: the guard checks the final direction', async () => {
    const model = makeTfLinear(problem);
    const optimizer = sharpnessAware({ base: tf.train.sgd(lr), perturbation: samPerturbation(0.1), weightDecay: 0.1 });
    // One weight is +Inf but masked out of the forward pass: the loss and every gradient are finite,
    // only λw is not. Without the guard on the decayed direction the weight would become Inf − Inf = NaN.
    const w = problem.init.w.map((row) => [...row]);
    w[0]![0] = Number.POSITIVE_INFINITY;
    model.w.assign(tf.tensor2d(w));
    const mask = tf.tensor2d(w.map((row) => row.map((v) => (Number.isFinite(v) ? 1 : 0))), undefined, 'bool');
    const x = tf.tensor2d(problem.x);
    const y = tf.tensor2d(problem.y);
    const loss = () => tf.mean(tf.sum(tf.square(tf.sub(tf.add(tf.matMul(x, tf.where(mask, model.w, tf.zerosLike(model.w))), model.b), y)), 1)) as tf.Scalar;
    const before = model.read();
    optimizer.minimize(loss, false, model.variables);
    expect(model.read()).toEqual(before);
    expect((await optimizer.telemetry()).skippedSteps).toBe(1);
    tf.dispose([mask, x, y]);
    optimizer.dispose();
    model.dispose();
  });

  it('an averager keeps its tensor state on a skipped step (host numbers in a state advance: see emaAverager)', async () => {
    const clean = run({ averager: emaAverager() }, bases['momentum']!, perturbations['sam']!, [batchA, batchB]);
    const withNaN = run({ averager: emaAverager() }, bases['momentum']!, perturbations['sam']!, [batchA, null, batchB]);
    const a = (await stateOf(clean.optimizer, clean.model)).state;
    const b = (await stateOf(withNaN.optimizer, withNaN.model)).state;
    const averaged = (s: Record<string, number[]>) => Object.fromEntries(Object.entries(s).filter(([k]) => k.startsWith('flatmin/averager/')));
    expect(Object.keys(averaged(a)).length).toBeGreaterThan(0);
    expect(averaged(b)).toEqual(averaged(a));
    for (const r of [clean, withNaN]) {
      r.optimizer.dispose();
      r.model.dispose();
    }
  });
});

describe('the choice between new and old values: the same on every route', () => {
  // cpu and wasm keep tensors in host memory: a kernel of flatmin's own picks the buffer. Every other
  // backend takes the element-wise route (tf.where); on cpu it can be forced with useHostPick(false).
  const routes: Array<[string, 'cpu' | 'wasm', boolean]> = [
    ['cpu, host kernel', 'cpu', true],
    ['cpu, element-wise route', 'cpu', false],
    ['wasm, host kernel', 'wasm', true],
  ];
  for (const [label, backend, host] of routes) {
    it(`${label}: a NaN batch in the middle (SAM on Adam) ends bit-identical to the run without it`, async () => {
      const previous = useHostPick(host);
      try {
        await onBackend(backend, async () => {
          const clean = run({}, bases['adam']!, perturbations['sam']!, [batchA, batchB, batchA]);
          const withNaN = run({}, bases['adam']!, perturbations['sam']!, [batchA, null, batchB, batchA]);
          const a = await stateOf(clean.optimizer, clean.model);
          const b = await stateOf(withNaN.optimizer, withNaN.model);
          expect(b).toEqual(a);
          expect((await withNaN.optimizer.telemetry()).skippedSteps).toBe(1);
          for (const r of [clean, withNaN]) {
            r.optimizer.dispose();
            r.model.dispose();
          }
        });
      } finally {
        useHostPick(previous);
      }
    });

    it(`${label}: pick gives next for ok = 1 and previous for ok = 0 (NaN and −0 kept exactly), no read, no leak`, async () => {
      const previous = useHostPick(host);
      try {
        await onBackend(backend, async () => {
          const next = tf.tensor2d([[Number.NaN, -0, 3]]);
          const old = tf.tensor2d([[1, 2, Number.POSITIVE_INFINITY]]);
          const verdicts = [tf.scalar(1), tf.scalar(0)];
          const before = tf.memory().numTensors;
          const { result: chosen, reads } = countHostReads(() => verdicts.map((ok) => pick(ok, next, old)));
          expect(reads).toBe(0);
          expect(tf.memory().numTensors).toBe(before + 2);
          expect(Array.from(await chosen[0]!.data())).toEqual([Number.NaN, -0, 3]);
          expect(Array.from(await chosen[1]!.data())).toEqual([1, 2, Number.POSITIVE_INFINITY]);
          // The host kernel shares the chosen buffer (no copy); the element-wise route makes a new one.
          expect(chosen[0]!.dataId === next.dataId).toBe(host);
          expect(chosen[1]!.dataId === old.dataId).toBe(host);
          tf.dispose(chosen);
          expect(tf.memory().numTensors).toBe(before);
          expect(Array.from(await next.data())).toEqual([Number.NaN, -0, 3]);
          expect(() => pick(verdicts[0]!, next, tf.zeros([3]))).toThrow(/pick: float32 \[1,3\] against float32 \[3\]/);
          tf.dispose([next, old, ...verdicts]);
        });
      } finally {
        useHostPick(previous);
      }
    });
  }
});

describe('a step that throws leaves everything as it was', () => {
  const throwers: Record<string, (model: TfLinear, calls: { n: number }) => () => tf.Scalar> = {
    'the clean pass': (model, calls) => () => {
      calls.n += 1;
      if (calls.n === 1) throw new Error('boom');
      return model.loss()();
    },
    'the adversarial pass': (model, calls) => () => {
      calls.n += 1;
      if (calls.n === 2) throw new Error('boom');
      return model.loss()();
    },
  };
  for (const [where, makeLoss] of Object.entries(throwers)) {
    it(`the closure throwing in ${where}: weights, optimizer state, counters and tf.memory() unchanged`, async () => {
      const { model, optimizer } = run({ averager: meanAverager() }, bases['adam']!, perturbations["from: 'previous'"]!, [batchA, batchB]);
      const before = await stateOf(optimizer, model);
      const counters = { steps: optimizer.steps, iterations: optimizer.iterations, evaluations: optimizer.lossEvaluations };
      const memory = tf.memory();
      const calls = { n: 0 };
      const loss = makeLoss(model, calls);
      // from: 'previous' makes one pass; use SAM for the two-pass case.
      const sam = sharpnessAware({ base: tf.train.adam(lr), perturbation: samPerturbation(0.1) });
      sam.minimize(model.loss(batchA), false, model.variables);
      const samBefore = { params: model.read(), steps: sam.steps, iterations: sam.iterations, memory: tf.memory() };
      expect(() => sam.minimize(loss, false, model.variables)).toThrow('boom');
      expect(model.read()).toEqual(samBefore.params);
      expect({ steps: sam.steps, iterations: sam.iterations }).toEqual({ steps: samBefore.steps, iterations: samBefore.iterations });
      expect(tf.memory().numTensors).toBe(samBefore.memory.numTensors);
      expect(tf.memory().numBytes).toBe(samBefore.memory.numBytes);
      sam.dispose();
      expect((await stateOf(optimizer, model)).state).toEqual(before.state);
      expect({ steps: optimizer.steps, iterations: optimizer.iterations, evaluations: optimizer.lossEvaluations }).toEqual(counters);
      expect(tf.memory().numTensors).toBeLessThanOrEqual(memory.numTensors);
      optimizer.dispose();
      model.dispose();
    });
  }

  it('a component that throws: nothing is updated and no tensor is left behind', () => {
    const model = makeTfLinear(problem);
    const failing: Perturbation = { ...samPerturbation(0.1), compute: () => { throw new Error('component failed'); } };
    const optimizer = sharpnessAware({ base: tf.train.momentum(lr, 0.9), perturbation: failing });
    const before = model.read();
    const memory = tf.memory();
    expect(() => optimizer.minimize(model.loss(), false, model.variables)).toThrow('component failed');
    expect(model.read()).toEqual(before);
    expect(optimizer.steps).toBe(0);
    expect(optimizer.iterations).toBe(0);
    expect(tf.memory().numTensors).toBe(memory.numTensors);
    optimizer.dispose();
    model.dispose();
  });

  it("onNonFinite: 'throw' throws before any update, and the sharp count stays ≤ the step count", async () => {
    const { model, optimizer } = run({ onNonFinite: 'throw' }, bases['momentum']!, perturbations['sam']!, [batchA]);
    const before = await stateOf(optimizer, model);
    for (let i = 0; i < 5; i += 1) {
      expect(() => optimizer.minimize(() => tf.mul(model.loss()(), Number.NaN) as tf.Scalar, false, model.variables)).toThrow(FlatminError);
    }
    expect(await stateOf(optimizer, model)).toEqual(before);
    const telemetry = await optimizer.telemetry();
    expect(telemetry.steps).toBe(1);
    expect(telemetry.sharpFraction).toBe(1);
    optimizer.dispose();
    model.dispose();
  });
});

describe('the guard on a non-sharp step (one pass; its Σg² comes from the telemetry’s ‖g‖)', () => {
  const never = { kind: 'schedule' as const, name: 'test-never', config: {}, decide: () => ({ decision: { sharp: false } }) };
  const step = (optimizer: tf.Optimizer, model: TfLinear, loss: () => tf.Scalar) => optimizer.minimize(loss, false, model.variables);

  it.each([true, false])('a finite loss with an infinite gradient is skipped bit-identically (telemetry %s)', async (telemetry) => {
    const runs = [false, true].map((withBad) => {
      const model = makeTfLinear(problem);
      const optimizer = sharpnessAware({ base: tf.train.momentum(lr, 0.9), perturbation: samPerturbation(0.1), schedule: never, telemetry, seed: 1 });
      step(optimizer, model, model.loss([0, 1, 2]));
      // √|w| at w = 0 in one coordinate: loss finite, gradient +∞ there.
      if (withBad) step(optimizer, model, () => tf.add(model.loss()(), tf.sum(tf.sqrt(tf.abs(tf.sub(model.b, model.b))))) as tf.Scalar);
      step(optimizer, model, model.loss([3, 4, 5]));
      return { model, optimizer };
    });
    const [clean, skipped] = await Promise.all(runs.map(({ model, optimizer }) => stateOf(optimizer, model)));
    expect(skipped).toEqual(clean);
    expect((await (runs[1]!.optimizer as ReturnType<typeof sharpnessAware>).telemetry()).skippedSteps).toBe(1);
    for (const { model, optimizer } of runs) {
      optimizer.dispose();
      model.dispose();
    }
  });

  it.each([
    [false, 0],
    [true, 1],
  ])('a huge finite gradient (1e20): telemetry %s → %i skipped (Σg² overflows float32, the plain Σg the guard uses alone does not)', async (telemetry, skippedSteps) => {
    const model = makeTfLinear(problem);
    const optimizer = sharpnessAware({ base: tf.train.sgd(lr), perturbation: samPerturbation(0.1), schedule: never, telemetry, seed: 1 });
    const before = model.read();
    step(optimizer, model, () => tf.add(model.loss()(), tf.mul(tf.sum(model.b), 1e20)) as tf.Scalar);
    expect((await optimizer.telemetry()).skippedSteps).toBe(skippedSteps);
    const moved = model.read().b.some((value, i) => value !== before.b[i]);
    expect(moved).toBe(skippedSteps === 0);
    optimizer.dispose();
    model.dispose();
  });
});
