/**
 * `flatmin bench --repro`: the papers' claims, in small, on real MNIST digits — label noise,
 * flatter minima, the cost-saving schedules and masks, weight averaging, class imbalance — with
 * several seeds per method, every run from the same initial weights and batches as its baseline.
 * Writes `repro.json` (every run and the summaries), `repro.md` (the report) and its pictures
 * (SVG and PNG) to `--out`.
 *
 * @module
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join, resolve } from 'node:path';
import { classSplit, type SharpnessAwareOptimizer } from '@flatmin/core';
import { forModel } from '@flatmin/landscape';
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { presets } from '../catalog.js';
import { type CommonOptions, FlagReader, parseFlags } from './args.js';
import { type Dataset, IMAGE_SIZE, loadMnist, NUM_CLASSES, poolSizes } from './data.js';
import { type CliIo, UsageError } from './io.js';
import { createPreset } from './methods.js';
import { buildMlp, perSampleCrossEntropy } from './model.js';
import { flipLabels, longTailed } from './repro-data.js';
import { reproMarkdown, reproPictures } from './repro-report.js';
import { selectBackend } from './runtime.js';

/** The report's sections, in order. */
export const REPRO_SECTIONS = ['labelNoise', 'flatness', 'efficiency', 'averaging', 'imbalance'] as const;
/** One section of the report. */
export type ReproSection = (typeof REPRO_SECTIONS)[number];

/** The full run's budget (about 40 minutes on 2 cores, wasm). */
export const REPRO_DEFAULTS = { train: 4000, test: 2000, epochs: 5, batch: 64, lr: 0.1, seeds: 3, noise: [0.2, 0.4, 0.6], tail: [7, 8, 9], tailFactor: 15, hessianIterations: 20, traceSamples: 20, flatnessSamples: 20, lineSteps: 41 } as const;
/** `--quick`: every section at a small budget (a few minutes; a smoke test, not evidence). */
export const REPRO_QUICK = { ...REPRO_DEFAULTS, train: 1000, test: 500, epochs: 2, seeds: 2, hessianIterations: 3, traceSamples: 2, flatnessSamples: 2, lineSteps: 11 } as const;

/** The options of `flatmin bench --repro`. */
export interface ReproOptions extends CommonOptions {
  /** The sections to run. */
  readonly sections: readonly ReproSection[];
  /** Training samples: the first N of the fixed pool (the long-tailed set is made from them). */
  readonly train: number;
  /** Test samples (clean, class-balanced). */
  readonly test: number;
  /** Passes over the training set. */
  readonly epochs: number;
  /** Mini-batch size. */
  readonly batch: number;
  /** Learning rate of the SGD base of every run. */
  readonly lr: number;
  /** Seeds per method: `seed`, `seed + 1`, …. */
  readonly seeds: number;
  /** Where the results go (created if missing). */
  readonly out: string;
  /** Whether `--quick` was given. */
  readonly quick: boolean;
  /** Power-iteration steps for λ_max. */
  readonly hessianIterations: number;
  /** Hutchinson probes for the trace. */
  readonly traceSamples: number;
  /** Random directions for the average-case flatness. */
  readonly flatnessSamples: number;
  /** Points of the 1-D landscape. */
  readonly lineSteps: number;
}

/** How a method's loss closure is shaped. */
type LossShape = 'mean' | 'perSample' | 'parts';

/** One method of a section. */
interface MethodSpec {
  /** Key in the results, e.g. `'sam'` or `'swa+sam'`. */
  readonly key: string;
  /** Label in the tables. */
  readonly label: string;
  /** The preset's name (absent: plain SGD). */
  readonly preset?: string;
  /** Options beyond `{ base, seed }` (and `totalSteps` for the planned presets). */
  readonly options?: (run: { totalSteps: number }) => Record<string, unknown>;
  /** The closure's shape (default `'mean'`). */
  readonly loss?: LossShape;
  /** The preset's settings, in words, for the report. */
  readonly settings: string;
}

/** EMA's decay: a horizon of ~100 steps, a third of the full run (the preset's 0.999 suits runs of many thousand steps). */
const EMA_DECAY = 0.99;

const SGD: MethodSpec = { key: 'sgd', label: 'SGD', settings: 'tf.train.sgd(lr)' };
const SAM: MethodSpec = { key: 'sam', label: 'SAM', preset: 'sam', settings: 'sam(): ρ 0.05' };
const ASAM: MethodSpec = { key: 'asam', label: 'ASAM', preset: 'asam', settings: 'asam(): ρ 0.5, η 0.01' };

/** The methods of each section. */
export const REPRO_METHODS: Record<ReproSection, readonly MethodSpec[]> = {
  labelNoise: [
    SGD,
    SAM,
    ASAM,
    { key: 'fsam', label: 'FriendlySAM', preset: 'fsam', settings: 'fsam(): ρ 0.05, σ 1, λ 0.9' },
    { key: 'gsam', label: 'GSAM', preset: 'gsam', settings: 'gsam(): ρ 0.05 (constant learning rate: ρ constant), α 0.4' },
    { key: 'rwp', label: 'RWP', preset: 'rwp', settings: "rwp(): σ 0.01 filter-scaled noise, λ 0.5" },
  ],
  flatness: [SGD, SAM, ASAM],
  efficiency: [
    SGD,
    SAM,
    { key: 'lookSam', label: 'LookSAM k=5', preset: 'lookSam', settings: 'lookSam(): k 5, α 0.7' },
    { key: 'rst', label: 'RST p=0.5', preset: 'rst', settings: 'rst(): p 0.5' },
    { key: 'aeSam', label: 'AE-SAM', preset: 'aeSam', settings: 'aeSam({ totalSteps }): δ 0.9, λ₁ −1, λ₂ 1' },
    { key: 'ssamF', label: 'SSAM-F', preset: 'ssamF', settings: 'ssamF(): sparsity 0.5, mask every 10 steps from 16 samples' },
    { key: 'ssamD', label: 'SSAM-D', preset: 'ssamD', settings: 'ssamD({ totalSteps }): sparsity 0.5, drop rate 0.5' },
    { key: 'esam', label: 'ESAM', preset: 'esam', loss: 'perSample', settings: 'esam(): β 0.5 (half the variables perturbed), γ 0.5 (half the batch)' },
  ],
  averaging: [
    SGD,
    SAM,
    { key: 'swa', label: 'SWA', preset: 'swa', options: ({ totalSteps }) => ({ start: Math.floor(0.6 * totalSteps) }), settings: 'swa({ start: 60 % of the steps }): every update of the last 40 %' },
    { key: 'swad', label: 'SWAD', preset: 'swad', settings: 'swad(): N_s 3, N_e 6, r 0.3; validation loss every 1/16 of the run' },
    { key: 'ema', label: 'EMA', preset: 'ema', options: () => ({ decay: EMA_DECAY }), settings: `ema({ decay: ${EMA_DECAY} })` },
    { key: 'swa+sam', label: 'SWA + SAM', preset: 'swa', options: ({ totalSteps }) => ({ start: Math.floor(0.6 * totalSteps), sam: true }), settings: 'swa({ start: 60 %, sam: true })' },
    { key: 'swad+sam', label: 'SWAD + SAM', preset: 'swad', options: () => ({ sam: true }), settings: 'swad({ sam: true })' },
    { key: 'ema+sam', label: 'EMA + SAM', preset: 'ema', options: () => ({ decay: EMA_DECAY, sam: true }), settings: `ema({ decay: ${EMA_DECAY}, sam: true })` },
  ],
  imbalance: [SGD, SAM, { key: 'imbSam', label: 'ImbSAM', preset: 'imbSam', loss: 'parts', settings: "imbSam(): ρ 0.05 on the tail classes' loss" }],
};

/** What one training run measured. */
export interface ReproRun {
  /** The section (the clean runs shared by flatness, efficiency and averaging are `'clean'`). */
  readonly data: string;
  /** The method's key. */
  readonly method: string;
  /** The run's seed (initial weights, the optimizer's randomness, the label noise). */
  readonly seed: number;
  /** Clean test accuracy of the final weights (the averaged ones for an averager). */
  readonly testAccuracy: number;
  /** Test accuracy per digit. */
  readonly perClassAccuracy: number[];
  /** An averager's test accuracy of the last iterate, before the averaged weights were swapped in. */
  readonly finalAccuracy?: number;
  /** Mean cross-entropy on the training set it was trained on (noisy labels included), final weights. */
  readonly trainLoss: number;
  /** Optimizer steps. */
  readonly steps: number;
  /** Steps that took the sharpness-aware gradient. */
  readonly sharpSteps: number;
  /** Forward-backward passes of the loss closure. */
  readonly lossEvaluations: number;
  /** Wall-clock seconds of the training loop. */
  readonly seconds: number;
  /**
   * CPU seconds of this process during the training loop (user + system). The cpu and wasm
   * backends compute on the process's one JavaScript thread, so on a shared machine this is the
   * run's own cost, without the time it waited for a core; the report's cost ratios use it.
   */
  readonly cpuSeconds: number;
  /** Sharpness of the solution (flatness section). */
  readonly geometry?: Geometry;
}

/** The flatness measurements of one solution, on the first 1,000 training samples. */
export interface Geometry {
  /** λ_max of the Hessian (power iteration). */
  readonly lambdaMax: number;
  /** tr(H) (Hutchinson). */
  readonly trace: number;
  /** Mean loss increase over random filter-normalised directions of radius 0.05. */
  readonly flatness: number;
  /** The loss at the solution. */
  readonly loss: number;
  /** The 1-D landscape along one filter-normalised random direction (first seed only). */
  readonly line?: {
    /** The step along the direction (filter-normalised units). */
    s: number[];
    /** The training loss at each step. */
    loss: number[];
  };
}

/** The machine a report was made on. */
export interface ReproMachine {
  /** Logical CPUs. */
  cpus: number;
  /** The first CPU's model name. */
  cpuModel: string;
  /** OS and architecture. */
  platform: string;
  /** The Node version. */
  node: string;
}

/** One section's training set, as trained on. */
export interface ReproTrainingSet {
  /** Its samples. */
  size: number;
  /** Its samples per digit (the labels trained on). */
  perClass: number[];
  /** How many labels were flipped (label-noise sets; the first seed's draw). */
  flipped?: number;
}

/** A method of a section, as the report names it. */
export interface ReproMethod {
  /** Its key in the runs (`method`). */
  key: string;
  /** Its label in the tables. */
  label: string;
  /** Its settings, in words. */
  settings: string;
}

/** What `flatmin bench --repro` writes to `repro.json` (and prints with `--json`). */
export interface ReproReport {
  /** The command. */
  readonly command: 'bench --repro';
  /** The command line that made it. */
  readonly argv: readonly string[];
  /** When it started (ISO). */
  readonly date: string;
  /** Wall-clock seconds of the whole run. */
  readonly seconds: number;
  /** The tfjs backend. */
  readonly backend: string;
  /** The machine. */
  readonly machine: ReproMachine;
  /** The settings. */
  readonly settings: Omit<ReproOptions, 'json' | 'backend' | 'out'>;
  /** The training sets of the sections. */
  readonly data: Record<string, ReproTrainingSet>;
  /** The methods of each section run, with their settings. */
  readonly methods: Partial<Record<ReproSection, ReproMethod[]>>;
  /** Every run. */
  readonly runs: ReproRun[];
}

/** `flatmin bench --repro --help` (part of `flatmin bench --help`). */
export const REPRO_USAGE = `Usage: flatmin bench --repro [--quick] [--section LIST] [--out DIR] [flags]

The papers' claims, in small, on real MNIST (the demo's MLP 784-256-256-10, SGD lr ${REPRO_DEFAULTS.lr},
batch ${REPRO_DEFAULTS.batch}, every run from the same initial weights and batches as its baseline), several seeds:
  labelNoise  SGD, SAM, ASAM, FriendlySAM, GSAM, RWP at ${REPRO_DEFAULTS.noise.map((q) => `${100 * q} %`).join(' / ')} flipped training labels, clean test accuracy
  flatness    Hessian λ_max and trace, average-case flatness and a 1-D landscape of SGD, SAM and ASAM
  efficiency  LookSAM, RST, AE-SAM, SSAM-F, SSAM-D, ESAM against SAM and SGD: accuracy, cost, sharp fraction
  averaging   SWA, SWAD, EMA on top of SGD and of SAM: final vs averaged weights
  imbalance   ImbSAM vs SAM vs SGD on a long-tailed set (digits ${REPRO_DEFAULTS.tail.join(', ')} kept 1 in ${REPRO_DEFAULTS.tailFactor}), head and tail accuracy
Writes repro.json, repro.md and the pictures (SVG + PNG) to --out. The full run takes about
40 minutes on 2 cores (wasm); --quick a few minutes.

Flags:
  --quick          ${REPRO_QUICK.train} train / ${REPRO_QUICK.test} test, ${REPRO_QUICK.epochs} epochs, ${REPRO_QUICK.seeds} seeds (default ${REPRO_DEFAULTS.train} / ${REPRO_DEFAULTS.test}, ${REPRO_DEFAULTS.epochs}, ${REPRO_DEFAULTS.seeds})
  --section LIST   sections to run, comma-separated (default all: ${REPRO_SECTIONS.join(',')})
  --out DIR        where the results go            (default flatmin-repro)
  --seeds N        seeds per method                (default ${REPRO_DEFAULTS.seeds})
  --train N        training samples, 1..7500       (the last 500 of the pool are SWAD's validation set)
  --test N         test samples, 1..2000
  --epochs N       passes over the training set
  --batch N        mini-batch size
  --seed N         the first seed                  (default 1)
  --backend NAME   tensorflow, wasm or cpu (default: the best one installed)
  --json           print repro.json on stdout too
`;

/**
 * Parse `flatmin bench --repro`'s flags (`--repro` itself included); `'help'` for `--help`. A bad
 * flag or value is a `UsageError` naming it.
 *
 * @example
 * ```ts
 * import { parseRepro } from 'flatmin/cli';
 *
 * const options = parseRepro(['--repro', '--quick', '--section', 'labelNoise']);
 * ```
 */
export function parseRepro(argv: readonly string[]): ReproOptions | 'help' {
  const values = parseFlags('bench', argv, {
    repro: { type: 'boolean' },
    quick: { type: 'boolean' },
    section: { type: 'string' },
    out: { type: 'string' },
    seeds: { type: 'string' },
    train: { type: 'string' },
    test: { type: 'string' },
    epochs: { type: 'string' },
    batch: { type: 'string' },
  });
  const read = new FlagReader('bench', values);
  if (read.flag('help')) return 'help';
  const quick = read.flag('quick');
  const defaults = quick ? REPRO_QUICK : REPRO_DEFAULTS;
  const sectionText = read.text('section');
  const sections = sectionText === undefined ? [...REPRO_SECTIONS] : sectionText.split(',').map((s) => s.trim());
  for (const section of sections) {
    if (!(REPRO_SECTIONS as readonly string[]).includes(section)) {
      throw new UsageError(`flatmin bench: --section has an unknown section '${section}': choose from ${REPRO_SECTIONS.join(', ')}`);
    }
  }
  const out = read.text('out') ?? 'flatmin-repro';
  if (out.trim() === '') throw new UsageError("flatmin bench: --out must be a directory, got ''");
  const pools = poolSizes();
  return {
    ...read.common(),
    quick,
    sections: REPRO_SECTIONS.filter((s) => sections.includes(s)),
    out,
    seeds: read.integer('seeds', defaults.seeds, 1, 20),
    train: read.integer('train', defaults.train, 1, pools.train - SWAD_VALIDATION),
    test: read.integer('test', defaults.test, 1, pools.test),
    epochs: read.integer('epochs', defaults.epochs, 1),
    batch: read.integer('batch', defaults.batch, 1, 8000),
    lr: REPRO_DEFAULTS.lr,
    hessianIterations: defaults.hessianIterations,
    traceSamples: defaults.traceSamples,
    flatnessSamples: defaults.flatnessSamples,
    lineSteps: defaults.lineSteps,
  };
}

/** SWAD's validation set: the last samples of the training pool (never trained on). */
const SWAD_VALIDATION = 500;
/** SWAD's validation evaluations per run. */
const SWAD_EVALUATIONS = 16;
/** The training samples the flatness measurements use. */
const GEOMETRY_SAMPLES = 1000;

/** A dataset on the device. */
interface Tensors {
  readonly xs: tf.Tensor2D;
  readonly ys: tf.Tensor2D;
  readonly labels: tf.Tensor1D;
  readonly host: Uint8Array;
}

function onDevice(dataset: Dataset): Tensors {
  return tf.tidy(() => {
    const labels = tf.tensor1d(dataset.labels, 'int32');
    return {
      xs: tf.tensor2d(dataset.images, [dataset.size, IMAGE_SIZE]),
      ys: tf.cast(tf.oneHot(labels, NUM_CLASSES), 'float32') as tf.Tensor2D,
      labels: tf.keep(labels),
      host: dataset.labels,
    };
  });
}

function disposeTensors(t: Tensors): void {
  tf.dispose([t.xs, t.ys, t.labels]);
}

/** Per-sample categorical cross-entropy of the model's softmax output. */
function perSampleLoss(model: tfl.LayersModel, x: tf.Tensor, y: tf.Tensor): tf.Tensor1D {
  return perSampleCrossEntropy(y, model.apply(x) as tf.Tensor);
}

/** Accuracy overall and per digit, and the mean loss, over a dataset in chunks of 1,000. */
async function evaluate(model: tfl.LayersModel, data: Tensors): Promise<{ accuracy: number; perClass: number[]; loss: number }> {
  const n = data.xs.shape[0];
  const predictions = new Int32Array(n);
  let lossSum = 0;
  for (let start = 0; start < n; start += 1000) {
    const size = Math.min(1000, n - start);
    const [argmax, loss] = tf.tidy(() => {
      const x = tf.slice(data.xs, [start, 0], [size, IMAGE_SIZE]);
      const y = tf.slice(data.ys, [start, 0], [size, NUM_CLASSES]);
      const p = model.apply(x) as tf.Tensor;
      return [tf.argMax(p, 1), tf.sum(perSampleCrossEntropy(y, p))];
    });
    predictions.set(await argmax.data(), start);
    lossSum += (await loss.data())[0]!;
    tf.dispose([argmax, loss]);
  }
  const hits = new Array<number>(NUM_CLASSES).fill(0);
  const counts = new Array<number>(NUM_CLASSES).fill(0);
  let correct = 0;
  for (let i = 0; i < n; i++) {
    const label = data.host[i]!;
    counts[label] = counts[label]! + 1;
    if (predictions[i] === label) {
      hits[label] = hits[label]! + 1;
      correct++;
    }
  }
  return { accuracy: correct / n, perClass: hits.map((h, c) => (counts[c]! > 0 ? h / counts[c]! : Number.NaN)), loss: lossSum / n };
}

interface TrainContext {
  readonly train: Tensors;
  readonly test: Tensors;
  readonly validation: Tensors;
  readonly options: ReproOptions;
}

/** Build the optimizer of `spec` for a run of `totalSteps` steps. */
function optimizerOf(spec: MethodSpec, seed: number, totalSteps: number, lr: number): tf.Optimizer | SharpnessAwareOptimizer {
  const base = tf.train.sgd(lr);
  if (spec.preset === undefined) return base;
  const preset = presets[spec.preset]!;
  if (spec.options === undefined) return createPreset('bench', preset, { base, seed, totalSteps });
  return preset.create({ base, seed, ...spec.options({ totalSteps }) } as Parameters<typeof preset.create>[0]);
}

/** Train a fresh MLP (seed `seed`) with `spec` on `ctx.train` in a custom loop, then evaluate it. */
async function trainRun(spec: MethodSpec, seed: number, data: string, ctx: TrainContext, geometry: boolean, line: boolean): Promise<ReproRun> {
  const { options, train, test } = ctx;
  const n = train.xs.shape[0];
  const batches = Math.ceil(n / options.batch);
  const totalSteps = batches * options.epochs;
  const model = buildMlp(seed);
  const variables = model.trainableWeights.map((w) => w.read() as tf.Variable);
  const optimizer = optimizerOf(spec, seed, totalSteps, options.lr);
  const flatmin = 'lossEvaluations' in optimizer ? (optimizer as SharpnessAwareOptimizer) : undefined;
  const swad = spec.preset === 'swad' ? (flatmin?.averager?.component as unknown as { observeValidation(loss: number): void }) : undefined;
  const evaluateEvery = Math.max(1, Math.floor(totalSteps / SWAD_EVALUATIONS));
  const shape = spec.loss ?? 'mean';
  try {
    const started = performance.now();
    const cpuStarted = process.cpuUsage();
    let step = 0;
    for (let epoch = 0; epoch < options.epochs; epoch++) {
      for (let b = 0; b < batches; b++) {
        const start = b * options.batch;
        const size = Math.min(options.batch, n - start);
        const x = tf.slice(train.xs, [start, 0], [size, IMAGE_SIZE]);
        const y = tf.slice(train.ys, [start, 0], [size, NUM_CLASSES]);
        const labels = shape === 'parts' ? tf.slice(train.labels, [start], [size]) : undefined;
        if (flatmin === undefined) {
          optimizer.minimize(() => tf.mean(perSampleLoss(model, x, y)) as tf.Scalar, false, variables);
        } else if (shape === 'mean') {
          flatmin.minimize(() => tf.mean(perSampleLoss(model, x, y)) as tf.Scalar, false, variables);
        } else if (shape === 'perSample') {
          flatmin.minimize(() => {
            const perSample = perSampleLoss(model, x, y);
            return { loss: tf.mean(perSample) as tf.Scalar, perSample };
          }, false, variables);
        } else {
          flatmin.minimize(() => classSplit(perSampleLoss(model, x, y), labels!, { tail: [...REPRO_DEFAULTS.tail] }), false, variables);
        }
        tf.dispose([x, y, ...(labels ? [labels] : [])]);
        step++;
        if (swad !== undefined && step % evaluateEvery === 0) swad.observeValidation((await evaluate(model, ctx.validation)).loss);
      }
    }
    // The last step's work is done before the clock stops (cpu and wasm run eagerly; an async backend does not).
    await variables[0]!.data();
    const seconds = (performance.now() - started) / 1000;
    const cpu = process.cpuUsage(cpuStarted);
    const cpuSeconds = (cpu.user + cpu.system) / 1e6;
    let finalAccuracy: number | undefined;
    if (flatmin?.averager !== undefined) {
      finalAccuracy = (await evaluate(model, test)).accuracy;
      flatmin.averager.apply();
    }
    const evaluation = await evaluate(model, test);
    const trainLoss = (await evaluate(model, train)).loss;
    const run: ReproRun = {
      data,
      method: spec.key,
      seed,
      testAccuracy: evaluation.accuracy,
      perClassAccuracy: evaluation.perClass,
      ...(finalAccuracy === undefined ? {} : { finalAccuracy }),
      trainLoss,
      steps: step,
      sharpSteps: flatmin?.sharpSteps ?? 0,
      lossEvaluations: flatmin?.lossEvaluations ?? step,
      seconds,
      cpuSeconds,
      ...(geometry ? { geometry: await measureGeometry(model, train, seed, line, options) } : {}),
    };
    return run;
  } finally {
    optimizer.dispose();
    model.dispose();
  }
}

/** λ_max, tr(H), average-case flatness and (with `line`) a 1-D landscape, on the first training samples. */
async function measureGeometry(model: tfl.LayersModel, train: Tensors, seed: number, line: boolean, options: ReproOptions): Promise<Geometry> {
  const size = Math.min(GEOMETRY_SAMPLES, train.xs.shape[0]);
  const x = tf.slice(train.xs, [0, 0], [size, IMAGE_SIZE]);
  const y = tf.slice(train.ys, [0, 0], [size, NUM_CLASSES]);
  try {
    const measure = forModel(model, { x, y, loss: 'categoricalCrossentropy' });
    const lambdaMax = await measure.hessianEigenvalue({ iterations: options.hessianIterations, seed });
    const trace = await measure.hessianTrace({ samples: options.traceSamples, seed });
    const flat = await measure.flatness({ samples: options.flatnessSamples, radius: 0.05, seed });
    const landscape = line ? await measure.lineLandscape({ steps: options.lineSteps, range: [-1, 1], seed: 1 }) : undefined;
    return { lambdaMax, trace, flatness: flat.average, loss: flat.base, ...(landscape ? { line: { s: landscape.s, loss: landscape.loss } } : {}) };
  } finally {
    tf.dispose([x, y]);
  }
}

/** Everything one section trains on, made once. */
interface SectionData {
  readonly key: string;
  readonly train: Dataset & { flipped?: number; perClass?: number[] };
}

function perClassCounts(labels: Uint8Array): number[] {
  const counts = new Array<number>(NUM_CLASSES).fill(0);
  for (const label of labels) counts[label] = counts[label]! + 1;
  return counts;
}

/**
 * Run the chosen sections; write repro.json, repro.md and the pictures to `options.out`; the
 * report (Markdown, or JSON with `json`) on `io.stdout`, one line per training run on `io.stderr`.
 *
 * @param options from {@link parseRepro}.
 * @param io where the report and the progress go.
 * @param argv the command line, recorded in the report.
 * @returns every run, the settings and the machine.
 *
 * @example
 * ```ts
 * import { parseRepro, runRepro } from 'flatmin/cli';
 *
 * const options = parseRepro(['--repro', '--quick', '--section', 'imbalance', '--out', './repro']);
 * if (options !== 'help') await runRepro(options, { stdout: process.stdout, stderr: process.stderr });
 * ```
 */
export async function runRepro(options: ReproOptions, io: CliIo, argv: readonly string[] = []): Promise<ReproReport> {
  const backend = await selectBackend(options.backend, io.stderr);
  const startedAt = new Date();
  const started = performance.now();
  const pools = poolSizes();
  const raw = loadMnist(pools.train, options.test);
  const clean: Dataset = { images: raw.train.images.subarray(0, options.train * IMAGE_SIZE), labels: raw.train.labels.subarray(0, options.train), size: options.train };
  const validationSet: Dataset = {
    images: raw.train.images.subarray((pools.train - SWAD_VALIDATION) * IMAGE_SIZE),
    labels: raw.train.labels.subarray(pools.train - SWAD_VALIDATION),
    size: SWAD_VALIDATION,
  };
  const seeds = Array.from({ length: options.seeds }, (_, i) => options.seed + i);
  const test = onDevice(raw.test);
  const validation = onDevice(validationSet);
  const runs: ReproRun[] = [];
  const dataInfo: ReproReport['data'] = {};
  const methodsRun: ReproReport['methods'] = {};
  const has = (section: ReproSection) => options.sections.includes(section);

  // The clean runs serve three sections: one run per (method, seed), measured for what each needs.
  const cleanMethods = new Map<string, MethodSpec>();
  for (const section of ['flatness', 'efficiency', 'averaging'] as const) {
    if (!has(section)) continue;
    methodsRun[section] = REPRO_METHODS[section].map(({ key, label, settings }) => ({ key, label, settings }));
    for (const spec of REPRO_METHODS[section]) cleanMethods.set(spec.key, spec);
  }
  const plan: Array<{ data: SectionData; specs: MethodSpec[] }> = [];
  if (has('labelNoise')) {
    methodsRun.labelNoise = REPRO_METHODS.labelNoise.map(({ key, label, settings }) => ({ key, label, settings }));
    for (const q of REPRO_DEFAULTS.noise) plan.push({ data: { key: `noise${Math.round(100 * q)}`, train: clean }, specs: [...REPRO_METHODS.labelNoise] });
  }
  if (cleanMethods.size > 0) plan.push({ data: { key: 'clean', train: clean }, specs: [...cleanMethods.values()] });
  if (has('imbalance')) {
    methodsRun.imbalance = REPRO_METHODS.imbalance.map(({ key, label, settings }) => ({ key, label, settings }));
    plan.push({ data: { key: 'longTailed', train: longTailed(clean, REPRO_DEFAULTS.tail, REPRO_DEFAULTS.tailFactor) }, specs: [...REPRO_METHODS.imbalance] });
  }
  const total = plan.reduce((sum, p) => sum + p.specs.length * seeds.length, 0);
  io.stderr.write(
    `bench --repro: ${options.sections.join(', ')} | MNIST ${options.train} train / ${options.test} test, ${options.epochs} epochs x batch ${options.batch}, SGD lr ${options.lr} | seeds ${seeds.join(', ')} | ${total} training runs\n`,
  );
  const geometryOf = new Set(has('flatness') ? REPRO_METHODS.flatness.map((m) => m.key) : []);
  try {
    let done = 0;
    for (const { data, specs } of plan) {
      for (const seed of seeds) {
        // Label noise: a fresh draw per seed (the seed moves the initial weights, the optimizer and which labels flip).
        const q = data.key.startsWith('noise') ? Number(data.key.slice(5)) / 100 : 0;
        const trainSet = q > 0 ? flipLabels(data.train, q, 7919 * seed + Math.round(100 * q)) : data.train;
        if (dataInfo[data.key] === undefined) {
          dataInfo[data.key] = { size: trainSet.size, perClass: perClassCounts(trainSet.labels), ...('flipped' in trainSet ? { flipped: trainSet.flipped as number } : {}) };
        }
        const train = onDevice(trainSet);
        try {
          for (const spec of specs) {
            const geometry = data.key === 'clean' && geometryOf.has(spec.key);
            const run = await trainRun(spec, seed, data.key, { train, test, validation, options }, geometry, geometry && seed === seeds[0]);
            runs.push(run);
            done++;
            const extra = run.finalAccuracy === undefined ? '' : ` (last iterate ${(100 * run.finalAccuracy).toFixed(2)} %)`;
            const shape = run.geometry === undefined ? '' : `  λmax ${run.geometry.lambdaMax.toFixed(2)} tr ${run.geometry.trace.toFixed(1)}`;
            io.stderr.write(
              `  [${done}/${total}] ${data.key} seed ${seed} ${spec.label.padEnd(12)} test ${(100 * run.testAccuracy).toFixed(2)} %${extra}  ${run.seconds.toFixed(1)} s${shape}  (${((performance.now() - started) / 1000).toFixed(0)} s in)\n`,
            );
          }
        } finally {
          disposeTensors(train);
        }
      }
    }
  } finally {
    disposeTensors(test);
    disposeTensors(validation);
  }
  const { json: _json, backend: _backend, out: _out, ...settings } = options;
  const report: ReproReport = {
    command: 'bench --repro',
    argv: [...argv],
    date: startedAt.toISOString(),
    seconds: (performance.now() - started) / 1000,
    backend,
    machine: { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model ?? 'unknown', platform: `${os.platform()} ${os.arch()}`, node: process.version },
    settings,
    data: dataInfo,
    methods: methodsRun,
    runs,
  };
  const out = resolve(options.out);
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, 'repro.json'), `${JSON.stringify(report, null, 2)}\n`);
  const pictures = await reproPictures(report);
  for (const [name, picture] of Object.entries(pictures)) {
    writeFileSync(join(out, `${name}.svg`), picture.svg);
    writeFileSync(join(out, `${name}.png`), picture.png);
  }
  writeFileSync(join(out, 'repro.md'), reproMarkdown(report, Object.keys(pictures)));
  io.stderr.write(`wrote ${join(out, 'repro.md')}, repro.json and ${Object.keys(pictures).length} pictures (${report.seconds.toFixed(0)} s)\n`);
  if (options.json) io.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  else io.stdout.write(`${reproMarkdown(report, [])}\n`);
  return report;
}
