// telemetryCallback: the optimizer's telemetry in model.fit's logs and history (values checked
// against a float64 hand computation and against per-step optimizer.telemetry() of an identical
// seeded run), its cost (device reads counted per hook), no tensor growth across epochs, fitDataset,
// its errors; sharpnessAwareOf / telemetryOf, the typed accessors, and theirs.
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { expectConfigError } from '@flatmin/test-kit';
import { describe, expect, it } from 'vitest';
import {
  FlatminError,
  type Schedule,
  type SharpnessAwareOptimizer,
  sharpnessAware,
  sharpnessAwareOf,
  type Telemetry,
  TELEMETRY_LOG_KEYS,
  telemetryCallback,
  telemetryOf,
} from '../src/index.js';
import { samPerturbation } from './helpers.js';

type Callbacks = NonNullable<NonNullable<Parameters<tfl.LayersModel['fit']>[2]>['callbacks']>;
type Logs = Record<string, unknown> | undefined;
type Hooks = Record<string, ((...args: never[]) => unknown) | undefined>;

const KEYS = TELEMETRY_LOG_KEYS.map((key) => `sam/${key}`);

// ---------------------------------------------------------------------------------------------
// A linear model y = Xw + b under MSE, with analytic float64 gradients.
// ---------------------------------------------------------------------------------------------

const X = [
  [0.5, -1.2, 0.3],
  [1.1, 0.4, -0.7],
  [-0.3, 0.8, 1.5],
  [0.9, -0.2, 0.6],
  [-1.4, 0.5, -0.1],
  [0.2, 1.3, -0.9],
  [0.7, -0.6, 1.1],
  [-0.8, -1.0, 0.4],
];
const Y = [0.9, -0.4, 1.7, 0.2, -1.1, 0.6, 1.3, -0.5];
const W0 = [0.3, -0.2, 0.1];
const B0 = 0.05;

function linearModel(): tfl.Sequential {
  const model = tfl.sequential({ layers: [tfl.layers.dense({ units: 1, inputShape: [3] })] });
  model.setWeights([tf.tensor2d(W0.map((v) => [v])), tf.tensor1d([B0])]);
  return model;
}

/** ∇ of mean((Xw + b − y)²) over `rows`, as [∂w…, ∂b], in float64. */
function gradient64(params: number[], rows: number[]): number[] {
  const g = [0, 0, 0, 0];
  for (const i of rows) {
    const r = X[i]![0]! * params[0]! + X[i]![1]! * params[1]! + X[i]![2]! * params[2]! + params[3]! - Y[i]!;
    for (let j = 0; j < 3; j += 1) g[j]! += (2 / rows.length) * r * X[i]![j]!;
    g[3]! += (2 / rows.length) * r;
  }
  return g;
}

const norm = (v: number[]) => Math.sqrt(v.reduce((s, x) => s + x * x, 0));
const dot = (a: number[], b: number[]) => a.reduce((s, x, i) => s + x * b[i]!, 0);
const mean = (v: number[]) => (v.length === 0 ? Number.NaN : v.reduce((s, x) => s + x, 0) / v.length);

/** SAM with SGD from (W0, B0), batches in order: each step's ‖g‖, ‖ε‖ and cos(g, g_adv), in float64. */
function samSteps64(batches: number[][], epochs: number, lr: number, rho: number) {
  let params = [...W0, B0];
  const steps: { gradNorm: number; epsilonNorm: number; cosine: number }[] = [];
  for (let epoch = 0; epoch < epochs; epoch += 1) {
    for (const rows of batches) {
      const g = gradient64(params, rows);
      const epsilon = g.map((x) => (rho * x) / (norm(g) + 1e-12));
      const gAdv = gradient64(
        params.map((p, j) => p + epsilon[j]!),
        rows,
      );
      steps.push({ gradNorm: norm(g), epsilonNorm: norm(epsilon), cosine: dot(g, gAdv) / (norm(g) * norm(gAdv)) });
      params = params.map((p, j) => p - lr * gAdv[j]!);
    }
  }
  return steps;
}

function relClose(actual: number, expected: number, tolerance = 1e-4): void {
  expect(Math.abs(actual - expected) / Math.max(Math.abs(expected), 1e-12), `${actual} vs ${expected}`).toBeLessThan(tolerance);
}

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/** Count device→host reads (the engine's readSync / read / readToGPU) for the whole of an async run; `onRead` sees each. */
async function countReads<T>(run: () => Promise<T>, onRead: () => void = () => {}): Promise<{ result: T; reads: number }> {
  const engine = tf.engine() as unknown as Record<string, unknown>;
  const names = ['readSync', 'read', 'readToGPU'].filter((name) => typeof engine[name] === 'function');
  let reads = 0;
  for (const name of names) {
    const original = engine[name] as (...args: unknown[]) => unknown;
    engine[name] = (...args: unknown[]) => {
      reads += 1;
      onRead();
      return original.apply(engine, args);
    };
  }
  try {
    return { result: await run(), reads };
  } finally {
    for (const name of names) delete engine[name];
  }
}

/**
 * The callback's hooks, wrapped to count the reads made inside each (`counts[hook]`) and the
 * calls (`calls[hook]`). tfjs-layers resolves the logs before it calls a hook, so those reads
 * fall outside.
 */
function counted(hooks: object) {
  const counts: Record<string, number> = {};
  const calls: Record<string, number> = {};
  let inside: string | null = null;
  const wrapped: Record<string, (...args: never[]) => Promise<void>> = {};
  for (const [name, hook] of Object.entries(hooks as Hooks)) {
    if (hook === undefined) continue;
    counts[name] = 0;
    calls[name] = 0;
    wrapped[name] = async (...args: never[]) => {
      calls[name]! += 1;
      inside = name;
      try {
        await hook(...args);
      } finally {
        inside = null;
      }
    };
  }
  const onRead = () => {
    if (inside !== null) counts[inside]! += 1;
  };
  return { callback: wrapped as Callbacks, counts, calls, onRead };
}

/** A seeded two-layer classifier and its data: 12 samples; `nanSample` puts a NaN in that sample's input. */
function classifier(nanSample?: number) {
  const model = tfl.sequential();
  model.add(tfl.layers.dense({ units: 6, inputShape: [4], activation: 'tanh', kernelInitializer: tfl.initializers.glorotUniform({ seed: 3 }) }));
  model.add(tfl.layers.dense({ units: 2, activation: 'softmax', kernelInitializer: tfl.initializers.glorotUniform({ seed: 4 }) }));
  const x = tf.tidy(() => {
    const values = tf.randomNormal([12, 4], 0, 1, 'float32', 7).arraySync() as number[][];
    if (nanSample !== undefined) values[nanSample]![1] = Number.NaN;
    return tf.tensor2d(values);
  });
  const y = tf.tidy(() => tf.cast(tf.oneHot(tf.tensor1d([0, 1, 1, 0, 1, 0, 0, 1, 1, 0, 1, 0], 'int32'), 2), 'float32'));
  return { model, x, y };
}

/**
 * Sharp on even steps only (a host counter in the state): a test schedule with non-sharp steps;
 * with `varyRho`, ρ = 0.05 + 0.01·step (the optimizer then keeps one device scalar per ρ value seen).
 */
function everyOther(varyRho = false): Schedule {
  return {
    kind: 'schedule',
    name: 'test-every-other',
    config: {},
    decide: (_context, state) => {
      const count = (state['count'] as number | undefined) ?? 0;
      return { decision: { sharp: count % 2 === 0, ...(varyRho ? { rho: 0.05 + 0.01 * count } : {}) }, state: { count: count + 1 } };
    },
  };
}

function samOptimizer(extra: Partial<Parameters<typeof sharpnessAware>[0]> = {}): SharpnessAwareOptimizer {
  return sharpnessAware({ base: tf.train.sgd(0.1), perturbation: samPerturbation(0.05), seed: 5, ...extra });
}

function disposeAll(...things: { dispose(): void }[]): void {
  for (const thing of things) thing.dispose();
}

// ---------------------------------------------------------------------------------------------
// Values
// ---------------------------------------------------------------------------------------------

describe('telemetryCallback: values', () => {
  it('puts the epoch means into history, equal to a float64 hand computation of SAM on a linear model', async () => {
    const model = linearModel();
    const optimizer = samOptimizer();
    model.compile({ optimizer, loss: 'meanSquaredError' });
    const x = tf.tensor2d(X);
    const y = tf.tensor2d(Y.map((v) => [v]));
    const history = await model.fit(x, y, { epochs: 3, batchSize: 4, shuffle: false, verbose: 0, callbacks: [telemetryCallback(optimizer)] });

    const steps = samSteps64(
      [
        [0, 1, 2, 3],
        [4, 5, 6, 7],
      ],
      3,
      0.1,
      0.05,
    );
    expect(Object.keys(history.history).sort()).toEqual(['loss', ...KEYS].sort());
    for (let epoch = 0; epoch < 3; epoch += 1) {
      const inEpoch = steps.slice(2 * epoch, 2 * epoch + 2);
      const at = (key: string) => history.history[`sam/${key}`]![epoch] as number;
      relClose(at('gradNorm'), mean(inEpoch.map((s) => s.gradNorm)));
      relClose(at('epsilonNorm'), mean(inEpoch.map((s) => s.epsilonNorm)));
      relClose(at('cosine'), mean(inEpoch.map((s) => s.cosine)), 1e-5);
      relClose(at('rho'), 0.05);
      expect(at('sharpFraction')).toBe(1);
      expect(at('skippedSteps')).toBe(0);
      expect(at('skippedStepsTotal')).toBe(0);
      expect(at('steps')).toBe(2);
    }
    // The two steps of an epoch differ, so this is a mean, not the last step's value.
    expect(Math.abs(steps[0]!.gradNorm - steps[1]!.gradNorm)).toBeGreaterThan(0.05);
    disposeAll(model, optimizer, x, y);
  });

  it('equals the per-step optimizer.telemetry() of an identical seeded run, with a skipped (NaN) batch and non-sharp steps', async () => {
    const epochs = 3;
    const run = async (callbacks: (optimizer: SharpnessAwareOptimizer) => Callbacks) => {
      const { model, x, y } = classifier(9); // sample 9 is in the last of three batches
      const optimizer = samOptimizer({ schedule: everyOther(true) });
      model.compile({ optimizer, loss: 'categoricalCrossentropy' });
      const history = await model.fit(x, y, { epochs, batchSize: 4, shuffle: false, verbose: 0, callbacks: callbacks(optimizer) });
      disposeAll(model, optimizer, x, y);
      return history;
    };
    const history = await run((optimizer) => [telemetryCallback(optimizer)]);
    const perStep: Telemetry[] = [];
    await run((optimizer) => ({ onBatchEnd: async () => void perStep.push(await optimizer.telemetry()) }));

    expect(perStep).toHaveLength(9);
    let previousSkipped = 0;
    for (let epoch = 0; epoch < epochs; epoch += 1) {
      const steps = perStep.slice(3 * epoch, 3 * epoch + 3).map((t) => {
        const skipped = t.skippedSteps - previousSkipped;
        previousSkipped = t.skippedSteps;
        return { ...t, skipped };
      });
      const applied = steps.filter((s) => s.skipped === 0);
      const expected = {
        gradNorm: mean(applied.filter((s) => !Number.isNaN(s.gradNorm)).map((s) => s.gradNorm)),
        epsilonNorm: mean(applied.filter((s) => s.sharp).map((s) => s.epsilonNorm)),
        cosine: mean(applied.filter((s) => !Number.isNaN(s.cosine)).map((s) => s.cosine)),
        rho: mean(applied.filter((s) => s.sharp).map((s) => s.rho)),
        sharpFraction: steps.filter((s) => s.sharp).length / 3,
        skippedSteps: steps.length - applied.length,
        skippedStepsTotal: previousSkipped,
        steps: 3,
      };
      // The NaN batch (the last) is skipped every epoch; the 9 steps alternate sharp / not, so each
      // epoch's applied steps are one sharp and one not: the masks decide every mean.
      expect(expected.skippedSteps).toBe(1);
      expect(applied.map((s) => s.sharp)).toEqual(epoch === 1 ? [false, true] : [true, false]);
      expect(Object.values(expected).every(Number.isFinite)).toBe(true);
      for (const key of TELEMETRY_LOG_KEYS) {
        const actual = history.history[`sam/${key}`]![epoch] as number;
        const want = expected[key];
        if (Number.isNaN(want) || ['skippedSteps', 'skippedStepsTotal', 'steps'].includes(key)) expect(actual, `${key} in epoch ${epoch}`).toBe(want);
        else relClose(actual, want, 1e-5);
      }
    }
    expect(history.history['sam/sharpFraction']).toEqual([2 / 3, 1 / 3, 2 / 3]);
    expect(history.history['sam/skippedStepsTotal']).toEqual([1, 2, 3]);
  });

  it("every: 'batch' writes each batch's values into the batch logs; micro-batches of an accumulation have no update", async () => {
    const { model, x, y } = classifier();
    const optimizer = samOptimizer({ accumulate: 2 });
    model.compile({ optimizer, loss: 'categoricalCrossentropy' });
    const batchLogs: Record<string, unknown>[] = [];
    const perBatch: Telemetry[] = [];
    const history = await model.fit(x, y, {
      epochs: 2,
      batchSize: 3,
      shuffle: false,
      verbose: 0,
      callbacks: [
        telemetryCallback(optimizer, { every: 'batch' }),
        {
          onBatchEnd: async (_batch: number, logs: Logs) => {
            batchLogs.push({ ...logs });
            perBatch.push(await optimizer.telemetry());
          },
        },
      ],
    });
    expect(batchLogs).toHaveLength(8);
    for (const [index, logs] of batchLogs.entries()) {
      const updates = index % 2 === 1 ? 1 : 0; // accumulate: 2 → an update on every second batch
      expect(logs['sam/steps']).toBe(updates);
      if (updates === 0) {
        expect(logs['sam/gradNorm']).toBeNaN();
        expect(logs['sam/sharpFraction']).toBeNaN();
      } else {
        const t = perBatch[index]!;
        relClose(logs['sam/gradNorm'] as number, t.gradNorm, 1e-6);
        relClose(logs['sam/epsilonNorm'] as number, t.epsilonNorm, 1e-6);
        relClose(logs['sam/cosine'] as number, t.cosine, 1e-6);
        expect(logs['sam/sharpFraction']).toBe(1);
      }
    }
    const updates = perBatch.filter((_, index) => index % 2 === 1);
    expect(history.history['sam/steps']).toEqual([2, 2]);
    relClose(history.history['sam/gradNorm']![1] as number, mean(updates.slice(2).map((t) => t.gradNorm)), 1e-5);
    disposeAll(model, optimizer, x, y);
  });
});

// ---------------------------------------------------------------------------------------------
// Cost and ownership
// ---------------------------------------------------------------------------------------------

describe('telemetryCallback: reads and memory', () => {
  it('reads the device once per epoch by default (and nothing in the other hooks); a fit with it reads exactly `epochs` more than without', async () => {
    const epochs = 3;
    const fit = async (withTelemetry: boolean) => {
      const { model, x, y } = classifier();
      const optimizer = samOptimizer();
      model.compile({ optimizer, loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
      const hooks = telemetryCallback(optimizer);
      const probe = counted(hooks);
      const { reads } = await countReads(
        () => model.fit(x, y, { epochs, batchSize: 4, verbose: 0, callbacks: withTelemetry ? probe.callback : [] }),
        probe.onRead,
      );
      disposeAll(model, optimizer, x, y);
      return { reads, probe, hooks };
    };
    const control = await fit(false);
    const { reads, probe, hooks } = await fit(true);
    expect(hooks.onBatchEnd).toBeUndefined(); // no onBatchEnd: tfjs-layers would read every batch's loss for it
    expect(probe.calls).toEqual({ onTrainBegin: 1, onEpochBegin: epochs, onBatchBegin: 3 * epochs, onEpochEnd: epochs, onTrainEnd: 1 });
    expect(probe.counts).toEqual({ onTrainBegin: 0, onEpochBegin: 0, onBatchBegin: 0, onEpochEnd: epochs, onTrainEnd: 0 });
    expect(reads - control.reads).toBe(epochs);
  });

  it("every: 'batch' reads once per batch and not again at the epoch end", async () => {
    const { model, x, y } = classifier();
    const optimizer = samOptimizer();
    model.compile({ optimizer, loss: 'categoricalCrossentropy' });
    const probe = counted(telemetryCallback(optimizer, { every: 'batch' }));
    await countReads(() => model.fit(x, y, { epochs: 2, batchSize: 4, verbose: 0, callbacks: probe.callback }), probe.onRead);
    expect(probe.calls['onBatchEnd']).toBe(6);
    expect(probe.counts).toEqual({ onTrainBegin: 0, onEpochBegin: 0, onBatchBegin: 0, onBatchEnd: 6, onEpochEnd: 0, onTrainEnd: 0 });
    disposeAll(model, optimizer, x, y);
  });

  it('keeps tf.memory() flat across epochs and leaves nothing after fit', async () => {
    const { model, x, y } = classifier(5);
    const optimizer = samOptimizer({ schedule: everyOther() });
    model.compile({ optimizer, loss: 'categoricalCrossentropy' });
    const callback = telemetryCallback(optimizer);
    await model.fit(x, y, { epochs: 1, batchSize: 4, verbose: 0, callbacks: [callback] }); // warm up: the optimizer's own state exists
    const atEpochEnd: number[] = [];
    const before = tf.memory().numTensors;
    await model.fit(x, y, { epochs: 6, batchSize: 4, verbose: 0, callbacks: [callback, { onEpochEnd: () => void atEpochEnd.push(tf.memory().numTensors) }] });
    expect(new Set(atEpochEnd).size).toBe(1);
    expect(tf.memory().numTensors).toBe(before);
    disposeAll(model, optimizer, x, y);
  });
});

// ---------------------------------------------------------------------------------------------
// fitDataset, lists, the model form, errors
// ---------------------------------------------------------------------------------------------

function datasetOf(x: tf.Tensor, y: tf.Tensor, batchSize: number): Parameters<tfl.LayersModel['fitDataset']>[0] {
  const batches = x.shape[0]! / batchSize;
  return {
    size: batches,
    iterator: async () => {
      let index = 0;
      return {
        next: async () => {
          if (index >= batches) return { value: null, done: true };
          const start = index * batchSize;
          index += 1;
          return { value: { xs: tf.slice(x, start, batchSize), ys: tf.slice(y, start, batchSize) }, done: false };
        },
      };
    },
  } as unknown as Parameters<tfl.LayersModel['fitDataset']>[0];
}

describe('telemetryCallback: fitDataset, callback lists, errors', () => {
  it('works in fitDataset, from the model, in a list: callbacks after it see the keys, the history has them', async () => {
    const { model, x, y } = classifier();
    const optimizer = samOptimizer();
    model.compile({ optimizer, loss: 'categoricalCrossentropy' });
    const seenBefore: unknown[] = [];
    const seenAfter: unknown[] = [];
    const history = await model.fitDataset(datasetOf(x, y, 4), {
      epochs: 2,
      verbose: 0,
      callbacks: [
        { onEpochEnd: (_epoch: number, logs: Logs) => void seenBefore.push(logs?.['sam/gradNorm']) },
        telemetryCallback(model, { prefix: 'flat.' }),
        { onEpochEnd: (_epoch: number, logs: Logs) => void seenAfter.push(logs?.['flat.gradNorm']) },
      ],
    });
    expect(seenBefore).toEqual([undefined, undefined]);
    expect(seenAfter).toHaveLength(2);
    expect(history.history['flat.gradNorm']).toEqual(seenAfter);
    expect(Object.keys(history.history).filter((k) => k.startsWith('flat.')).sort()).toEqual(TELEMETRY_LOG_KEYS.map((k) => `flat.${k}`).sort());
    expect(history.history['flat.steps']).toEqual([3, 3]);
    expect(seenAfter.every((v) => typeof v === 'number' && Number.isFinite(v))).toBe(true);
    disposeAll(model, optimizer, x, y);
  });

  it('works next to a tfjs-layers callback object when wrapped in tf.CustomCallback (earlyStopping monitors sam/gradNorm)', async () => {
    const { model, x, y } = classifier();
    const optimizer = samOptimizer();
    model.compile({ optimizer, loss: 'categoricalCrossentropy' });
    const history = await model.fit(x, y, {
      epochs: 3,
      batchSize: 4,
      verbose: 0,
      callbacks: [new tfl.CustomCallback(telemetryCallback(sharpnessAwareOf(model))), tfl.callbacks.earlyStopping({ monitor: 'sam/gradNorm', patience: 5 })],
    });
    expect(history.history['sam/gradNorm']).toHaveLength(3);
    disposeAll(model, optimizer, x, y);
  });

  it("throws a FlatminError naming 'telemetry' for an optimizer built with telemetry: false (directly or through the model)", () => {
    const optimizer = samOptimizer({ telemetry: false });
    const model = linearModel();
    model.compile({ optimizer, loss: 'meanSquaredError' });
    for (const source of [optimizer, model]) {
      expect(() => telemetryCallback(source)).toThrow(FlatminError);
      expect(() => telemetryCallback(source)).toThrow(/telemetry: false/);
    }
    disposeAll(model, optimizer);
  });

  it('checks its options: every, prefix, unknown keys, null is a value, a non-object', () => {
    const optimizer = samOptimizer();
    expectConfigError(() => telemetryCallback(optimizer, { every: 'step' as 'epoch' }), 'every');
    expectConfigError(() => telemetryCallback(optimizer, { prefix: 3 as unknown as string }), 'prefix');
    expectConfigError(() => telemetryCallback(optimizer, { evry: 'batch' } as never), 'evry');
    expectConfigError(() => telemetryCallback(optimizer, { every: null } as never), 'every');
    expectConfigError(() => telemetryCallback(optimizer, { prefix: null } as never), 'prefix');
    expectConfigError(() => telemetryCallback(optimizer, 'batch' as never), 'options');
    expectConfigError(() => telemetryCallback(optimizer, null as never), 'options');
    expect(telemetryCallback(optimizer, { every: undefined } as never).onBatchEnd).toBeUndefined();
    expect(telemetryCallback(optimizer, { every: 'batch' }).onBatchEnd).toBeTypeOf('function');
    optimizer.dispose();
  });
});

describe('sharpnessAwareOf / telemetryOf', () => {
  it('returns the optimizer itself, or the one a model was compiled with, typed', async () => {
    const optimizer = samOptimizer();
    const model = linearModel();
    model.compile({ optimizer, loss: 'meanSquaredError' });
    const fromModel: SharpnessAwareOptimizer = sharpnessAwareOf(model);
    expect(fromModel).toBe(optimizer);
    expect(sharpnessAwareOf(optimizer)).toBe(optimizer);
    await model.fit(tf.tensor2d(X), tf.tensor2d(Y.map((v) => [v])), { epochs: 1, batchSize: 8, verbose: 0, shuffle: false });
    const telemetry = await telemetryOf(model);
    expect(telemetry.steps).toBe(1);
    relClose(telemetry.gradNorm, norm(gradient64([...W0, B0], [0, 1, 2, 3, 4, 5, 6, 7])));
    disposeAll(model, optimizer);
  });

  it('says what it got instead', async () => {
    const uncompiled = linearModel();
    expect(() => sharpnessAwareOf(uncompiled)).toThrow(FlatminError);
    expect(() => sharpnessAwareOf(uncompiled)).toThrow(/the model is not compiled.*model\.compile/);
    expect(() => telemetryCallback(uncompiled)).toThrow(/the model is not compiled/);
    await expect(telemetryOf(uncompiled)).rejects.toThrow(/not compiled/);

    const plain = linearModel();
    plain.compile({ optimizer: tf.train.sgd(0.1), loss: 'meanSquaredError' });
    expect(() => sharpnessAwareOf(plain)).toThrow(/model\.optimizer is an SGDOptimizer \('SGD'\), not a flatmin SharpnessAwareOptimizer; compile the model with sharpnessAware\(/);
    const byName = linearModel();
    byName.compile({ optimizer: 'adam', loss: 'meanSquaredError' });
    expect(() => sharpnessAwareOf(byName)).toThrow(/model\.optimizer is an AdamOptimizer \('Adam'\)/);

    const momentum = tf.train.momentum(0.1, 0.9);
    expect(() => sharpnessAwareOf(momentum)).toThrow(/got a MomentumOptimizer \('Momentum'\), not a flatmin SharpnessAwareOptimizer; build one with sharpnessAware/);
    expect(() => sharpnessAwareOf(null as never)).toThrow(/got null/);
    expect(() => sharpnessAwareOf({} as never)).toThrow(/got a plain object/);
    disposeAll(uncompiled, plain, byName, momentum);
  });
});
