// Every documented optimizer combination through tfjs-layers' three training entry points
// (`model.fit`, `model.trainOnBatch`, `model.fitDataset`) on four model shapes. Each cell checks
// what the caller sees against the plain base optimizer (the control) on the same model: the
// history / return value has the control's shape, every logged number is finite, and a second
// call leaks no more tensors than the control's second call (the stateful RNN grows in plain tfjs
// too, through `keptStates`, so the bound is the control's growth, not zero). Two more checks:
// SAM leaves BatchNorm moving statistics, and a stateful RNN's carried state, as one plain step
// from the same weights and data leaves them (the adversarial pass is sandboxed).
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { describe, expect, it } from 'vitest';
import { gradient } from '../../perturb-gradient/src/index.js';
import { sharpnessAware } from '../src/index.js';
import { noisePerturbation, samPerturbation } from './helpers.js';

type Column = 'fit' | 'trainOnBatch' | 'fitDataset';
const COLUMNS: readonly Column[] = ['fit', 'trainOnBatch', 'fitDataset'];

// ---------------------------------------------------------------------------------------------
// Optimizer rows
// ---------------------------------------------------------------------------------------------

type BaseName = 'sgd' | 'adam';
const BASES: Record<BaseName, () => tf.Optimizer> = {
  sgd: () => tf.train.sgd(0.1),
  adam: () => tf.train.adam(0.01),
};

interface OptimizerRow {
  readonly name: string;
  /** The plain optimizer this row is compared against (the control row of the same base). */
  readonly base: BaseName;
  readonly make: () => tf.Optimizer;
  /** Columns this row runs in (default all). */
  readonly columns?: readonly Column[];
  /** Models this row runs on (default all), by name prefix. */
  readonly models?: readonly string[];
  /**
   * `keptInAdversarialPass: 'keep'`: trainOnBatch returns the metrics of both closure calls
   * (documented): `[loss, ...metrics of the clean call, ...metrics of the adversarial call]`, so
   * (control length − 1) extra elements. On a multi-output model the adversarial call's per-output
   * loss entries repeat the clean call's values: tfjs-layers' train function keeps one `lossValues`
   * array per batch and its metric loop reads `lossValues[i]`, the first call's.
   */
  readonly keepsAdversarialMetrics?: boolean;
}

const OPTIMIZERS: readonly OptimizerRow[] = [
  { name: 'control: plain sgd', base: 'sgd', make: BASES.sgd },
  { name: 'control: plain adam', base: 'adam', make: BASES.adam },
  { name: 'SAM', base: 'sgd', make: () => sharpnessAware({ base: BASES.sgd(), perturbation: samPerturbation(0.05), seed: 1 }) },
  { name: 'SAM accumulate: 2', base: 'sgd', make: () => sharpnessAware({ base: BASES.sgd(), perturbation: samPerturbation(0.05), accumulate: 2, seed: 1 }) },
  {
    name: "SAM keptInAdversarialPass: 'keep'",
    base: 'sgd',
    make: () => sharpnessAware({ base: BASES.sgd(), perturbation: samPerturbation(0.05), keptInAdversarialPass: 'keep', seed: 1 }),
    // 'keep' leaves the adversarial call's kept metrics (and a stateful RNN's keptStates entry) to
    // the closure: under fit/fitDataset, which keep only the first outputs, they leak (documented);
    // trainOnBatch disposes every output it returns, so this row pins down what it returns there.
    columns: ['trainOnBatch'],
    models: ['dense', 'two-output'],
    keepsAdversarialMetrics: true,
  },
  {
    name: "gradient({ rho: 0.05, from: 'previous' })",
    base: 'adam',
    make: () => sharpnessAware({ base: BASES.adam(), perturbation: gradient({ rho: 0.05, from: 'previous' }), seed: 1 }),
  },
  { name: 'noise perturbation', base: 'adam', make: () => sharpnessAware({ base: BASES.adam(), perturbation: noisePerturbation(0.05), seed: 1 }) },
];
const CONTROL: Record<BaseName, OptimizerRow> = { sgd: OPTIMIZERS[0]!, adam: OPTIMIZERS[1]! };

// ---------------------------------------------------------------------------------------------
// Model rows (seeded initializers, fixed data: every build starts from the same weights)
// ---------------------------------------------------------------------------------------------

type Targets = tf.Tensor | tf.Tensor[];

interface Data {
  readonly x: tf.Tensor;
  readonly y: Targets;
}

interface ModelRow {
  readonly name: string;
  readonly build: () => tfl.LayersModel;
  readonly compile: Omit<tfl.ModelCompileArgs, 'optimizer'>;
  /** Two batches of `batchSize` examples, in order. */
  readonly data: () => Data;
  readonly batchSize: number;
}

const glorot = (seed: number) => tfl.initializers.glorotUniform({ seed });

function classification(n: number, shape: number[], seed: number, classes = 2): { x: tf.Tensor; y: tf.Tensor } {
  return tf.tidy(() => {
    const x = tf.randomNormal([n, ...shape], 0, 1, 'float32', seed);
    const flat = tf.reshape(x, [n, -1]);
    const labels = tf.cast(tf.greater(tf.sum(flat, 1), 0), 'int32');
    return { x: tf.keep(x), y: tf.keep(tf.cast(tf.oneHot(labels, classes), 'float32')) };
  });
}

const dense: ModelRow = {
  name: 'dense + accuracy',
  batchSize: 8,
  build: () =>
    tfl.sequential({
      layers: [
        tfl.layers.dense({ units: 6, inputShape: [4], activation: 'relu', kernelInitializer: glorot(1) }),
        tfl.layers.dense({ units: 2, activation: 'softmax', kernelInitializer: glorot(2) }),
      ],
    }),
  compile: { loss: 'categoricalCrossentropy', metrics: ['accuracy'] },
  data: () => classification(16, [4], 11),
};

const batchNorm: ModelRow = {
  name: 'dense + BatchNormalization + Dropout + accuracy',
  batchSize: 8,
  build: () =>
    tfl.sequential({
      layers: [
        tfl.layers.dense({ units: 6, inputShape: [4], kernelInitializer: glorot(3) }),
        tfl.layers.batchNormalization(),
        tfl.layers.activation({ activation: 'relu' }),
        tfl.layers.dropout({ rate: 0.25, seed: 5 }),
        tfl.layers.dense({ units: 2, activation: 'softmax', kernelInitializer: glorot(4) }),
      ],
    }),
  compile: { loss: 'categoricalCrossentropy', metrics: ['accuracy'] },
  data: () => classification(16, [4], 12),
};

const twoHeads: ModelRow = {
  name: 'two-output functional model',
  batchSize: 8,
  build: () => {
    const input = tfl.input({ shape: [4] });
    const hidden = tfl.layers.dense({ units: 6, activation: 'relu', kernelInitializer: glorot(6) }).apply(input) as tfl.SymbolicTensor;
    const cls = tfl.layers.dense({ units: 2, activation: 'softmax', name: 'cls', kernelInitializer: glorot(7) }).apply(hidden) as tfl.SymbolicTensor;
    const reg = tfl.layers.dense({ units: 1, name: 'reg', kernelInitializer: glorot(8) }).apply(hidden) as tfl.SymbolicTensor;
    return tfl.model({ inputs: input, outputs: [cls, reg] });
  },
  compile: { loss: ['categoricalCrossentropy', 'meanSquaredError'], metrics: { cls: 'accuracy', reg: 'mse' } },
  data: () => {
    const { x, y } = classification(16, [4], 13);
    const target = tf.tidy(() => tf.reshape(tf.mean(x, 1), [16, 1]));
    return { x, y: [y, target] };
  },
};

const RNN_BATCH = 4;
const statefulRnn: ModelRow = {
  name: 'stateful simpleRNN',
  batchSize: RNN_BATCH,
  build: () =>
    tfl.sequential({
      layers: [
        tfl.layers.simpleRNN({
          units: 3,
          stateful: true,
          batchInputShape: [RNN_BATCH, 3, 2],
          kernelInitializer: glorot(9),
          recurrentInitializer: glorot(10),
        }),
        tfl.layers.dense({ units: 2, activation: 'softmax', kernelInitializer: glorot(11) }),
      ],
    }),
  compile: { loss: 'categoricalCrossentropy', metrics: ['accuracy'] },
  data: () => classification(2 * RNN_BATCH, [3, 2], 14),
};

const MODELS: readonly ModelRow[] = [dense, batchNorm, twoHeads, statefulRnn];

// ---------------------------------------------------------------------------------------------
// Running one cell
// ---------------------------------------------------------------------------------------------

/** What the caller of one training call saw, reduced to its shape and its numbers. */
interface Observed {
  /** fit / fitDataset: history keys → number of entries, plus the epoch count. trainOnBatch: elements per call. */
  readonly shape: unknown;
  readonly numbers: number[];
}

interface CellResult {
  readonly first: Observed;
  readonly second: Observed;
  /** `tf.memory().numTensors` after the second call minus after the first. */
  readonly growth: number;
}

function sliceTargets(y: Targets, start: number, size: number): Targets {
  return Array.isArray(y) ? y.map((t) => tf.slice(t, start, size)) : tf.slice(y, start, size);
}

function disposeTargets(y: Targets): void {
  tf.dispose(Array.isArray(y) ? y : [y]);
}

function historyShape(h: tfl.History): Observed {
  const keys = Object.keys(h.history).sort();
  const lengths = Object.fromEntries(keys.map((k) => [k, h.history[k]!.length]));
  const numbers = keys.flatMap((k) => h.history[k]!.map((v) => (typeof v === 'number' ? v : Number.NaN)));
  return { shape: { keys, lengths, epochs: h.epoch.length }, numbers };
}

/** A minimal Dataset tfjs-layers' fitDataset accepts: `iterator()` → `{ next() }`, and `size`. fitDataset disposes each batch, so every batch is a fresh slice. */
function datasetOf(data: Data, batchSize: number): Parameters<tfl.LayersModel['fitDataset']>[0] {
  const batches = data.x.shape[0]! / batchSize;
  return {
    size: batches,
    iterator: async () => {
      let index = 0;
      return {
        next: async () => {
          if (index >= batches) return { value: null, done: true };
          const start = index * batchSize;
          index += 1;
          return { value: { xs: tf.slice(data.x, start, batchSize), ys: sliceTargets(data.y, start, batchSize) }, done: false };
        },
      };
    },
  } as unknown as Parameters<tfl.LayersModel['fitDataset']>[0];
}

async function trainOnce(column: Column, model: tfl.LayersModel, row: ModelRow, data: Data): Promise<Observed> {
  if (column === 'fit') {
    return historyShape(await model.fit(data.x, data.y, { epochs: 1, batchSize: row.batchSize, shuffle: false, verbose: 0 }));
  }
  if (column === 'fitDataset') {
    return historyShape(await model.fitDataset(datasetOf(data, row.batchSize), { epochs: 1, verbose: 0 }));
  }
  // trainOnBatch: one call per batch, the two batches in order (so `accumulate: 2` makes one update).
  const perCall: number[] = [];
  const numbers: number[] = [];
  for (let start = 0; start < data.x.shape[0]!; start += row.batchSize) {
    const x = tf.slice(data.x, start, row.batchSize);
    const y = sliceTargets(data.y, start, row.batchSize);
    const out = await model.trainOnBatch(x, y);
    x.dispose();
    disposeTargets(y);
    const values = Array.isArray(out) ? out : [out];
    perCall.push(values.length);
    numbers.push(...values);
  }
  return { shape: { elementsPerCall: perCall }, numbers };
}

async function runCell(row: ModelRow, optimizerRow: OptimizerRow, column: Column): Promise<CellResult> {
  const data = row.data();
  const model = row.build();
  const optimizer = optimizerRow.make();
  try {
    model.compile({ ...row.compile, optimizer });
    const first = await trainOnce(column, model, row, data);
    const before = tf.memory().numTensors;
    const second = await trainOnce(column, model, row, data);
    const growth = tf.memory().numTensors - before;
    return { first, second, growth };
  } finally {
    model.dispose();
    optimizer.dispose();
    data.x.dispose();
    disposeTargets(data.y);
  }
}

const controls = new Map<string, Promise<CellResult>>();
function controlOf(row: ModelRow, base: BaseName, column: Column): Promise<CellResult> {
  const key = `${row.name}|${base}|${column}`;
  let result = controls.get(key);
  if (result === undefined) {
    result = runCell(row, CONTROL[base], column);
    controls.set(key, result);
  }
  return result;
}

/** The documented trainOnBatch return of `keptInAdversarialPass: 'keep'`: the loss, then the metrics of both calls. */
function withAdversarialMetrics(shape: unknown): unknown {
  const { elementsPerCall } = shape as { elementsPerCall: number[] };
  return { elementsPerCall: elementsPerCall.map((n) => 1 + 2 * (n - 1)) };
}

// ---------------------------------------------------------------------------------------------
// The table
// ---------------------------------------------------------------------------------------------

describe.each(MODELS.map((m) => [m.name, m] as const))('%s', (_name, row) => {
  describe.each(COLUMNS.map((c) => [c] as const))('%s', (column) => {
    const rows = OPTIMIZERS.filter((o) => (o.columns ?? COLUMNS).includes(column) && (o.models ?? [row.name]).some((m) => row.name.startsWith(m)));
    it.each(rows.map((o) => [o.name, o] as const))('%s', async (_optimizerName, optimizerRow) => {
      const control = await controlOf(row, optimizerRow.base, column);
      const result = optimizerRow === CONTROL[optimizerRow.base] ? control : await runCell(row, optimizerRow, column);

      const expected = column === 'trainOnBatch' && optimizerRow.keepsAdversarialMetrics === true ? withAdversarialMetrics(control.first.shape) : control.first.shape;
      expect(result.first.shape).toEqual(expected);
      expect(result.second.shape).toEqual(expected);

      for (const value of [...result.first.numbers, ...result.second.numbers]) expect(Number.isFinite(value), `logged value ${value}`).toBe(true);
      expect(result.first.numbers.length).toBeGreaterThan(0);

      expect(result.growth, `numTensors growth over a second ${column} (control: ${control.growth})`).toBeLessThanOrEqual(control.growth);
    });
  });
});

// ---------------------------------------------------------------------------------------------
// What the adversarial pass must leave as the clean pass left it
// ---------------------------------------------------------------------------------------------

function movingStats(model: tfl.LayersModel): number[][] {
  const layer = model.layers.find((l) => l.getClassName() === 'BatchNormalization')!;
  return layer.weights.filter((w) => w.name.includes('moving_')).map((w) => Array.from(w.read().dataSync()));
}

describe('the adversarial pass leaves the clean pass state', () => {
  const sharpRows = OPTIMIZERS.filter((o) => o.name === 'SAM' || o.name === "SAM keptInAdversarialPass: 'keep'");

  it.each(sharpRows.map((o) => [o.name, o] as const))('%s: BatchNorm moving mean/variance after one fit step equal plain sgd', async (_name, optimizerRow) => {
    const stats: number[][][] = [];
    for (const make of [CONTROL.sgd.make, optimizerRow.make]) {
      const data = batchNorm.data();
      const model = batchNorm.build();
      const optimizer = make();
      model.compile({ ...batchNorm.compile, optimizer });
      // One step: the whole 16 examples as one batch.
      await model.fit(data.x, data.y, { epochs: 1, batchSize: 16, shuffle: false, verbose: 0 });
      stats.push(movingStats(model));
      model.dispose();
      optimizer.dispose();
      data.x.dispose();
      disposeTargets(data.y);
    }
    const [plain, sharp] = stats as [number[][], number[][]];
    expect(plain).toHaveLength(2);
    // The clean pass did move them (from mean 0, variance 1): the comparison is not vacuous.
    expect(plain[0]!.some((v) => v !== 0)).toBe(true);
    expect(sharp).toEqual(plain);
  });

  it("SAM: a stateful RNN's carried state after one trainOnBatch equals plain sgd's", async () => {
    const states: number[][][] = [];
    for (const make of [CONTROL.sgd.make, () => sharpnessAware({ base: BASES.sgd(), perturbation: samPerturbation(0.05), seed: 1 })]) {
      const data = statefulRnn.data();
      const model = statefulRnn.build();
      const optimizer = make();
      model.compile({ ...statefulRnn.compile, optimizer });
      const x = tf.slice(data.x, 0, RNN_BATCH);
      const y = sliceTargets(data.y, 0, RNN_BATCH);
      await model.trainOnBatch(x, y);
      const layer = model.layers[0] as unknown as { states: tf.Tensor[] };
      states.push(layer.states.map((s) => Array.from(s.dataSync())));
      x.dispose();
      disposeTargets(y);
      model.dispose();
      optimizer.dispose();
      data.x.dispose();
      disposeTargets(data.y);
    }
    const [plain, sharp] = states as [number[][], number[][]];
    expect(plain).toHaveLength(1);
    expect(plain[0]!.some((v) => v !== 0)).toBe(true);
    expect(sharp).toEqual(plain);
  });
});
