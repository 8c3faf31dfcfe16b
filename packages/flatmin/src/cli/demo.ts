/**
 * `flatmin demo`: the demo's MLP on real MNIST digits, trained with SGD (the baseline) and with
 * each chosen preset from the same initial weights and batches; the result table.
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { presets } from '../catalog.js';
import { type CommonOptions, FlagReader, parseFlags } from './args.js';
import { loadMnist, toTensors } from './data.js';
import type { CliIo } from './io.js';
import { checkRho, createPreset, parseMethods } from './methods.js';
import { selectBackend } from './runtime.js';
import { formatTable } from './table.js';
import { type RunResult, type TensorData, trainAndEvaluate } from './train.js';

/** The full run: a meaningful comparison in a few minutes on 2 cores (wasm). */
export const DEMO_DEFAULTS = { epochs: 10, train: 8000, test: 2000, batch: 64, lr: 0.1, methods: ['sam'] } as const;
/** `--quick`: the whole demo in about a minute. Explicit flags still win. */
export const DEMO_QUICK = { ...DEMO_DEFAULTS, epochs: 5, train: 4000, test: 1000 } as const;

/** The options of `flatmin demo`. */
export interface DemoOptions extends CommonOptions {
  /** The presets to compare with SGD (names from `presets`). */
  readonly methods: readonly string[];
  /** Passes over the training set. */
  readonly epochs: number;
  /** Training samples (the first N of the fixed 8,000-sample pool). */
  readonly train: number;
  /** Test samples (the first N of the fixed 2,000-sample pool). */
  readonly test: number;
  /** Mini-batch size. */
  readonly batch: number;
  /** Learning rate of the SGD base of every run. */
  readonly lr: number;
  /** SAM's radius for every preset that takes `rho`; default each preset's own. */
  readonly rho?: number;
  /** Whether `--quick` was given. */
  readonly quick: boolean;
}

/** `flatmin demo --help`. */
export const DEMO_USAGE = `Usage: flatmin demo [--method sam,asam,...] [--quick] [flags]

Trains an MLP (784-256-256-10) on real MNIST digits (the mnist package's 10,000) with plain SGD
and with each chosen preset, from the same initial weights and batches, and prints test accuracy,
training loss and time per step of each.

Flags:
  --method LIST    presets to compare with SGD, comma-separated (default ${DEMO_DEFAULTS.methods.join(',')}; flatmin list)
  --quick          small run (${DEMO_QUICK.train} train / ${DEMO_QUICK.test} test, ${DEMO_QUICK.epochs} epochs), about a minute per method
  --epochs N       passes over the training set      (default ${DEMO_DEFAULTS.epochs})
  --train N        training samples, 1..8000         (default ${DEMO_DEFAULTS.train})
  --test N         test samples, 1..2000             (default ${DEMO_DEFAULTS.test})
  --batch N        mini-batch size                   (default ${DEMO_DEFAULTS.batch})
  --lr L           SGD learning rate, > 0            (default ${DEMO_DEFAULTS.lr})
  --rho R          radius for the presets that take rho (default: each preset's own)
  --seed N         initial weights and the presets' seed (default 1)
  --backend NAME   tensorflow, wasm or cpu (default: the best one installed)
  --json           print the results as JSON on stdout (progress stays on stderr)
  --help           show this text
`;

/** Parse `flatmin demo`'s flags. */
export function parseDemo(argv: readonly string[]): DemoOptions | 'help' {
  const values = parseFlags('demo', argv, {
    method: { type: 'string' },
    quick: { type: 'boolean' },
    epochs: { type: 'string' },
    train: { type: 'string' },
    test: { type: 'string' },
    batch: { type: 'string' },
    lr: { type: 'string' },
    rho: { type: 'string' },
  });
  const read = new FlagReader('demo', values);
  if (read.flag('help')) return 'help';
  const quick = read.flag('quick');
  const defaults = quick ? DEMO_QUICK : DEMO_DEFAULTS;
  const pools = { train: 8000, test: 2000 };
  const rho = read.positive('rho', undefined);
  const chosen = parseMethods('demo', read.text('method'), defaults.methods);
  checkRho('demo', chosen, rho);
  return {
    ...read.common(),
    quick,
    methods: chosen.map((p) => p.name),
    epochs: read.integer('epochs', defaults.epochs, 1),
    train: read.integer('train', defaults.train, 1, pools.train),
    test: read.integer('test', defaults.test, 1, pools.test),
    batch: read.integer('batch', defaults.batch, 1),
    lr: read.positive('lr', defaults.lr),
    ...(rho !== undefined ? { rho } : {}),
  };
}

/** One row of the demo's result. */
export interface DemoRun extends Omit<RunResult, 'model'> {
  /** Time per step over SGD's. */
  readonly timeVsSgd: number;
  /** Forward-backward passes per step, counted (1 for SGD). */
  readonly passesPerStep: number;
}

/** What `flatmin demo --json` prints. */
export interface DemoReport {
  /** The command that made the report. */
  readonly command: 'demo';
  /** The tfjs backend it ran on. */
  readonly backend: string;
  /** The options it ran with (all but `--json` and `--backend`). */
  readonly settings: Omit<DemoOptions, 'json' | 'backend'>;
  /** SGD first, then each preset in the order given. */
  readonly runs: readonly DemoRun[];
}

/** Run the demo; the table (or JSON) on stdout, progress on stderr. */
export async function runDemo(options: DemoOptions, io: CliIo): Promise<DemoReport> {
  const backend = await selectBackend(options.backend, io.stderr);
  const steps = Math.ceil(options.train / options.batch) * options.epochs;
  io.stderr.write(
    `MNIST MLP 784-256-256-10 | ${options.train} train / ${options.test} test | ${options.epochs} epoch${options.epochs === 1 ? '' : 's'} × batch ${options.batch} (${steps} steps) | ` +
      `SGD lr ${options.lr} vs ${options.methods.join(', ')} | seed ${options.seed}\n`,
  );
  const raw = loadMnist(options.train, options.test);
  const data: { train: TensorData; test: TensorData } = { train: toTensors(raw.train), test: toTensors(raw.test) };
  const settings = { epochs: options.epochs, batch: options.batch, seed: options.seed };
  const runs: DemoRun[] = [];
  try {
    const sgdOptimizer = tf.train.sgd(options.lr);
    const sgd = await trainAndEvaluate('SGD', sgdOptimizer, data, settings, io.stderr);
    sgdOptimizer.dispose();
    runs.push({ ...sgd, timeVsSgd: 1, passesPerStep: 1 });
    for (const name of options.methods) {
      const preset = presets[name]!;
      const optimizer = createPreset('demo', preset, { base: tf.train.sgd(options.lr), seed: options.seed, totalSteps: steps, ...(options.rho !== undefined ? { rho: options.rho } : {}) });
      const run = await trainAndEvaluate(name, optimizer, data, settings, io.stderr);
      const passesPerStep = optimizer.lossEvaluations / Math.max(1, optimizer.steps);
      optimizer.dispose();
      runs.push({ ...run, timeVsSgd: run.secondsPerStep / sgd.secondsPerStep, passesPerStep });
    }
  } finally {
    tf.dispose([data.train.xs, data.train.ys, data.test.xs, data.test.ys]);
  }
  const { json: _json, backend: _backend, ...rest } = options;
  const report: DemoReport = { command: 'demo', backend, settings: rest, runs };
  io.stdout.write(options.json ? `${JSON.stringify(report, null, 2)}\n` : `\n${demoTable(runs)}\n`);
  return report;
}

/** The result table. */
export function demoTable(runs: readonly DemoRun[]): string {
  return formatTable(
    [
      { header: 'method' },
      { header: 'test accuracy', align: 'right' },
      { header: 'train loss', align: 'right' },
      { header: 'time/step', align: 'right' },
      { header: 'time vs SGD', align: 'right' },
      { header: 'passes/step', align: 'right' },
    ],
    runs.map((run) => [
      run.method,
      `${(run.testAccuracy * 100).toFixed(2)}%`,
      run.trainLoss.toFixed(4),
      `${(run.secondsPerStep * 1000).toFixed(1)} ms`,
      run.timeVsSgd.toFixed(2),
      run.passesPerStep.toFixed(2),
    ]),
  );
}
