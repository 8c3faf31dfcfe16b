/**
 * `flatmin bench`: what each chosen preset's step costs against its base optimizer (SGD) on the
 * demo's MLP and a batch of real MNIST digits — interleaved rounds (the variants' blocks in an
 * order that rotates every round, so a drift of the machine hits all alike), per-round ratios to
 * the base, their median with the spread, and each method's floor: its forward-backward passes
 * per step, counted.
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { presets } from '../catalog.js';
import { type CommonOptions, FlagReader, parseFlags } from './args.js';
import { loadMnist, toTensors } from './data.js';
import type { CliIo } from './io.js';
import { createPreset, parseMethods } from './methods.js';
import { buildMlp } from './model.js';
import { Progress } from './progress.js';
import { selectBackend } from './runtime.js';
import { formatTable } from './table.js';

/** The default run (about a minute per method on the cpu backend). */
export const BENCH_DEFAULTS = { methods: ['sam', 'lookSam', 'rst'], rounds: 10, steps: 5, warmup: 3, batch: 128, lr: 0.1 } as const;
/** `--quick`: fewer rounds. */
export const BENCH_QUICK = { ...BENCH_DEFAULTS, rounds: 4, steps: 3, warmup: 2 } as const;

/** The options of `flatmin bench`. */
export interface BenchOptions extends CommonOptions {
  /** The presets to time against SGD. */
  readonly methods: readonly string[];
  /** Rounds: each times one block of every variant. */
  readonly rounds: number;
  /** Steps per block. */
  readonly steps: number;
  /** Untimed steps of every variant first. */
  readonly warmup: number;
  /** The batch size. */
  readonly batch: number;
  /** Whether `--quick` was given. */
  readonly quick: boolean;
}

/** `flatmin bench --help`. */
export const BENCH_USAGE = `Usage: flatmin bench [--method sam,lookSam,...] [flags]

Times one optimizer step of each chosen preset against its base (plain SGD) on the demo's MLP
(784-256-256-10) and one batch of MNIST digits: interleaved rounds (every variant's block of
steps, in an order that rotates every round), the per-round ratio to SGD, its median and its
min-max over the rounds, and each method's floor: the forward-backward passes per step it made
(a step that is two passes costs at least about 2x when the passes dominate).

Flags:
  --method LIST    presets to time, comma-separated (default ${BENCH_DEFAULTS.methods.join(',')})
  --quick          ${BENCH_QUICK.rounds} rounds x ${BENCH_QUICK.steps} steps instead of ${BENCH_DEFAULTS.rounds} x ${BENCH_DEFAULTS.steps}
  --rounds N       rounds                            (default ${BENCH_DEFAULTS.rounds})
  --steps N        steps per block                   (default ${BENCH_DEFAULTS.steps})
  --warmup N       untimed steps of each variant     (default ${BENCH_DEFAULTS.warmup})
  --batch N        batch size                        (default ${BENCH_DEFAULTS.batch})
  --repro          the papers' claims on MNIST instead (flatmin bench --repro --help)
  --seed N         initial weights and the presets' seed (default 1)
  --backend NAME   tensorflow, wasm or cpu (default: the best one installed)
  --json           print the results as JSON on stdout (progress stays on stderr)
  --help           show this text
`;

/** Parse `flatmin bench`'s flags. */
export function parseBench(argv: readonly string[]): BenchOptions | 'help' {
  const values = parseFlags('bench', argv, {
    method: { type: 'string' },
    quick: { type: 'boolean' },
    rounds: { type: 'string' },
    steps: { type: 'string' },
    warmup: { type: 'string' },
    batch: { type: 'string' },
  });
  const read = new FlagReader('bench', values);
  if (read.flag('help')) return 'help';
  const quick = read.flag('quick');
  const defaults = quick ? BENCH_QUICK : BENCH_DEFAULTS;
  return {
    ...read.common(),
    quick,
    methods: parseMethods('bench', read.text('method'), defaults.methods).map((p) => p.name),
    rounds: read.integer('rounds', defaults.rounds, 1),
    steps: read.integer('steps', defaults.steps, 1),
    warmup: read.integer('warmup', defaults.warmup, 0),
    batch: read.integer('batch', defaults.batch, 1, 8000),
  };
}

/** Min, median and max of some samples. */
export interface Spread {
  /** The median over the rounds. */
  readonly median: number;
  /** The smallest round's value. */
  readonly min: number;
  /** The largest round's value. */
  readonly max: number;
}

/** One variant's numbers. */
export interface BenchRow {
  /** `'SGD'` (the base) or the preset's name. */
  readonly method: string;
  /** Seconds per step of each round's block. */
  readonly secondsPerStep: Spread;
  /** The per-round ratio to the base: median (the headline), min and max. */
  readonly ratio: Spread;
  /** Forward-backward passes per step during the timed steps, counted (the base: 1). */
  readonly floor: number;
  /** `ratio.median − floor`: what the method costs beyond its passes. */
  readonly overFloor: number;
  /** The catalog's passes per step, in words. */
  readonly nominalPasses: string;
}

/** What `flatmin bench --json` prints. */
export interface BenchReport {
  /** The command that made the report. */
  readonly command: 'bench';
  /** The tfjs backend it ran on. */
  readonly backend: string;
  /** The options it ran with (all but `--json` and `--backend`). */
  readonly settings: Omit<BenchOptions, 'json' | 'backend'>;
  /** The base first, then each preset. */
  readonly rows: readonly BenchRow[];
}

/** The median of `values` (NaN for none). */
export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

const spread = (values: readonly number[]): Spread => ({ median: median(values), min: Math.min(...values), max: Math.max(...values) });

interface Variant {
  readonly method: string;
  readonly step: () => void;
  readonly counted: () => number;
  readonly nominalPasses: string;
  readonly dispose: () => void;
  readonly settleOn: tf.Variable;
}

/** Run the benchmark; the table (or JSON) on stdout, progress on stderr. */
export async function runBench(options: BenchOptions, io: CliIo): Promise<BenchReport> {
  const backend = await selectBackend(options.backend, io.stderr);
  io.stderr.write(
    `bench: MLP 784-256-256-10, batch ${options.batch} of MNIST, base SGD lr ${BENCH_DEFAULTS.lr} | ${options.rounds} rounds x ${options.steps} steps of ${options.methods.length + 1} variants, ${options.warmup} warm-up steps each\n`,
  );
  const raw = loadMnist(options.batch, 1);
  const { xs, ys } = toTensors(raw.train);
  const totalSteps = options.warmup + options.rounds * options.steps;
  const variants: Variant[] = [];
  try {
    const make = (method: string, optimizer: tf.Optimizer, counted: () => number, nominalPasses: string, dispose: () => void, onStep = () => {}): Variant => {
      const model = buildMlp(options.seed);
      const variables = model.trainableWeights.map((w) => w.read() as tf.Variable);
      // The model's own loss: categorical cross-entropy of its softmax output (clipped as Keras does).
      const loss = () => tf.tidy(() => tf.mean(tf.neg(tf.sum(tf.mul(ys, tf.log(tf.clipByValue(model.apply(xs) as tf.Tensor, 1e-7, 1 - 1e-7))), -1))) as tf.Scalar);
      return {
        method,
        step: () => {
          optimizer.minimize(loss, false, variables);
          onStep();
        },
        counted,
        nominalPasses,
        settleOn: variables[0]!,
        dispose: () => {
          dispose();
          model.dispose();
        },
      };
    };
    const base = tf.train.sgd(BENCH_DEFAULTS.lr);
    let baseSteps = 0;
    variants.push(make('SGD', base, () => baseSteps, '1', () => base.dispose(), () => baseSteps++));
    for (const name of options.methods) {
      const optimizer = createPreset('bench', presets[name]!, { base: tf.train.sgd(BENCH_DEFAULTS.lr), seed: options.seed, totalSteps });
      variants.push(make(name, optimizer, () => optimizer.lossEvaluations, presets[name]!.passes, () => optimizer.dispose()));
    }

    const settle = async (variable: tf.Variable) => {
      const one = tf.tidy(() => tf.slice(tf.reshape(variable, [-1]), 0, 1));
      await one.data();
      one.dispose();
    };
    const block = async (variant: Variant, k: number) => {
      const started = performance.now();
      for (let i = 0; i < k; i++) variant.step();
      await settle(variant.settleOn);
      return (performance.now() - started) / 1000 / k;
    };
    for (const variant of variants) await block(variant, options.warmup);
    const countedBefore = variants.map((v) => v.counted());
    const seconds: number[][] = variants.map(() => []);
    const progress = new Progress('bench', options.rounds * variants.length, io.stderr);
    for (let round = 0; round < options.rounds; round++) {
      for (let i = 0; i < variants.length; i++) {
        const index = (i + round) % variants.length;
        seconds[index]!.push(await block(variants[index]!, options.steps));
        progress.update(round * variants.length + i + 1, `round ${round + 1}/${options.rounds}`);
      }
    }
    progress.stop();
    const timed = options.rounds * options.steps;
    const rows = variants.map((variant, i): BenchRow => {
      const ratios = seconds[i]!.map((s, round) => s / seconds[0]![round]!);
      const ratio = spread(ratios);
      const floor = (variant.counted() - countedBefore[i]!) / timed;
      return { method: variant.method, secondsPerStep: spread(seconds[i]!), ratio, floor, overFloor: ratio.median - floor, nominalPasses: variant.nominalPasses };
    });
    const { json: _json, backend: _backend, ...rest } = options;
    const report: BenchReport = { command: 'bench', backend, settings: rest, rows };
    io.stdout.write(options.json ? `${JSON.stringify(report, null, 2)}\n` : `\n${benchTable(rows)}\n\n${FLOOR_NOTE}\n`);
    return report;
  } finally {
    for (const variant of variants) variant.dispose();
    tf.dispose([xs, ys]);
  }
}

const FLOOR_NOTE =
  'x SGD: the median over the rounds of (this block / the SGD block of the same round), with its min-max. ' +
  'floor: forward-backward passes per step, counted; a method whose passes dominate its cost lands near its floor.';

/** The result table. */
export function benchTable(rows: readonly BenchRow[]): string {
  const ms = (s: number) => (s * 1000).toFixed(2);
  return formatTable(
    [
      { header: 'method' },
      { header: 'ms/step', align: 'right' },
      { header: 'min-max ms', align: 'right' },
      { header: 'x SGD', align: 'right' },
      { header: 'rounds min-max', align: 'right' },
      { header: 'floor', align: 'right' },
      { header: 'x SGD - floor', align: 'right' },
      { header: 'passes (catalog)' },
    ],
    rows.map((r, i) => [
      r.method,
      ms(r.secondsPerStep.median),
      `${ms(r.secondsPerStep.min)}-${ms(r.secondsPerStep.max)}`,
      i === 0 ? '1' : r.ratio.median.toFixed(3),
      i === 0 ? '' : `${r.ratio.min.toFixed(3)}-${r.ratio.max.toFixed(3)}`,
      r.floor.toFixed(2),
      i === 0 ? '' : `${r.overFloor >= 0 ? '+' : ''}${r.overFloor.toFixed(3)}`,
      r.nominalPasses,
    ]),
  );
}
