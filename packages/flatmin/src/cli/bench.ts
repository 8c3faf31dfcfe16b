/**
 * `flatmin bench`: what each chosen preset's step costs against its base optimizer (SGD) on the
 * demo's MLP and a batch of real MNIST digits — interleaved rounds (the variants' blocks in an
 * order shuffled every round, seeded, so a drift of the machine hits all alike and no block always
 * follows the same neighbour), per-round ratios to
 * the base, their median with the spread, and each method's floor: its forward-backward passes
 * per step, counted. Beside the time: the peak extra memory of one step over the base's, as a
 * multiple of the parameter bytes, the host reads per step, SAM written by hand in plain tfjs, and
 * each row's target with PASS/FAIL.
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { presets } from '../catalog.js';
import { type CommonOptions, FlagReader, parseFlags } from './args.js';
import { BENCH_EXTRAS, type BenchVariant, buildBenchVariants, type RowKind, WORST_OF_K } from './bench-variants.js';
import { IMAGE_SIZE, loadMnist, NUM_CLASSES, toTensors } from './data.js';
import { type CliIo, UsageError } from './io.js';
import { countHostReads, interleavedTiming, stepMemory } from './measure.js';
import { parseMethods } from './methods.js';
import { Progress } from './progress.js';
import { selectBackend } from './runtime.js';
import { formatTable } from './table.js';

/** The settings of a `flatmin bench` run that have defaults ({@link BENCH_DEFAULTS}, {@link BENCH_QUICK}). */
export interface BenchSettings {
  /** The presets (and `handRolled`, `worstOfK`) to time against SGD. */
  readonly methods: readonly string[];
  /** Rounds: each times one block of every variant. */
  readonly rounds: number;
  /** Steps per block (also the steps whose host reads are counted). */
  readonly steps: number;
  /** Untimed steps of every variant first. */
  readonly warmup: number;
  /** The batch size. */
  readonly batch: number;
  /** The width of both hidden layers of the MLP (784-N-N-10). */
  readonly hidden: number;
  /** The learning rate of every base SGD. */
  readonly lr: number;
}

/** The default run (about a minute per method on the cpu backend). */
export const BENCH_DEFAULTS: BenchSettings = { methods: ['sam', 'lookSam', 'rst'], rounds: 10, steps: 5, warmup: 3, batch: 128, hidden: 256, lr: 0.1 };
/** `--quick`: fewer rounds. */
export const BENCH_QUICK: BenchSettings = { ...BENCH_DEFAULTS, rounds: 4, steps: 3, warmup: 2 };

/** The limits of {@link BENCH_TARGETS}. */
export interface BenchTargets {
  /** Step time / the base's for two-pass methods (SAM and its variants, RWP, mARWP). */
  readonly twoPass: number;
  /** Step time / the base's for LookSAM (k = 5). */
  readonly lookSam: number;
  /** Step time / the base's for one-pass methods (noise, the averagers' plain steps, OG-SAM). */
  readonly onePass: number;
  /** worstOfK's step time / its floor's (k forward-only evaluations + one pass). */
  readonly worstOfKOverFloor: number;
  /** Peak extra memory of a step over the base's step, in parameter bytes (every row; up to 256 B of scalars above it are not counted). */
  readonly memoryTimesParameters: number;
  /** Host reads per step of flatmin's rows. */
  readonly hostReads: number;
  /** Host reads per step of AE-SAM (its one scalar: is this step sharp?). */
  readonly aeSamHostReads: number;
}

/**
 * The targets each row is checked against, by its kind: step-time ratio to the base for two-pass
 * methods, LookSAM (k = 5) and one-pass methods; worst-of-k against its own floor (10 %, the
 * allowance one-pass noise gets over its floor, the base); peak extra memory of a step over the
 * base's step for every row, in parameter bytes; host reads per step (flatmin's rows: 0, AE-SAM 1).
 */
export const BENCH_TARGETS: BenchTargets = { twoPass: 2.05, lookSam: 1.25, onePass: 1.1, worstOfKOverFloor: 1.1, memoryTimesParameters: 2, hostReads: 0, aeSamHostReads: 1 };

/** The options of `flatmin bench`: the {@link BenchSettings} but the learning rate (fixed), and the common flags. */
export interface BenchOptions extends CommonOptions, Omit<BenchSettings, 'lr'> {
  /** Whether `--quick` was given. */
  readonly quick: boolean;
  /** Steps whose host reads are counted (default `steps`; no flag: a script that needs no reads, e.g. a scaling sweep, passes 1). */
  readonly readSteps?: number;
}

/** `flatmin bench --help`. */
export const BENCH_USAGE = `Usage: flatmin bench [--method sam,lookSam,...|all] [flags]

Times one optimizer step of each chosen preset against its base (plain SGD) on the demo's MLP
(784-256-256-10) and one batch of MNIST digits: interleaved rounds (every variant's block of
steps, each timed next to a block of SGD of its own, in an order shuffled every round), the
per-round ratio to that SGD block, its median and its min-max over the rounds, and each method's
floor: the forward-backward passes per step it made (a step that is two passes costs at least
about 2x when the passes dominate). Beside it: the peak
extra memory of one step over SGD's step (tf.profile) in parameter bytes, the host reads per step
(readSync/read of the backend, kernel-internal reads apart), and each row's target with PASS/FAIL:
two-pass <= ${BENCH_TARGETS.twoPass}, lookSam <= ${BENCH_TARGETS.lookSam}, one-pass <= ${BENCH_TARGETS.onePass}, worstOfK <= ${BENCH_TARGETS.worstOfKOverFloor} x its floor, memory <= ${BENCH_TARGETS.memoryTimesParameters}x
the parameters (256 B of scalars aside), reads 0 (aeSam ${BENCH_TARGETS.aeSamHostReads}).

Methods: any preset (flatmin list), whatever it needs from the loop (the bench gives esam its
per-sample losses, imbSam its classSplit, lets a validation batch, mesa its teacher; swad runs
plain steps); handRolled (SAM as a tfjs user writes it: norms read back with dataSync); worstOfK
(worstOfK({ k: ${WORST_OF_K} }) of @flatmin/perturb-noise, against its floor of ${WORST_OF_K} forwards + 1 pass);
all (every preset, handRolled and worstOfK).

Flags:
  --method LIST    presets to time, comma-separated, or all (default ${BENCH_DEFAULTS.methods.join(',')})
  --quick          ${BENCH_QUICK.rounds} rounds x ${BENCH_QUICK.steps} steps instead of ${BENCH_DEFAULTS.rounds} x ${BENCH_DEFAULTS.steps}
  --rounds N       rounds                            (default ${BENCH_DEFAULTS.rounds})
  --steps N        steps per block                   (default ${BENCH_DEFAULTS.steps})
  --warmup N       untimed steps of each variant     (default ${BENCH_DEFAULTS.warmup})
  --batch N        batch size                        (default ${BENCH_DEFAULTS.batch})
  --hidden N       units of both hidden layers       (default ${BENCH_DEFAULTS.hidden}: 784-N-N-10)
  --repro          the papers' claims on MNIST instead (flatmin bench --repro --help)
  --seed N         initial weights, the presets' seed and the order of the blocks (default 1)
  --backend NAME   tensorflow, wasm or cpu (default: the best one installed)
  --json           print the results as JSON on stdout (progress stays on stderr)
  --help           show this text
`;

/** `--method` of `flatmin bench`: preset names (any `needs`), `handRolled`, `worstOfK`, or `all`. */
function parseBenchMethods(text: string | undefined): string[] {
  if (text === undefined) return [...BENCH_DEFAULTS.methods];
  const chosen: string[] = [];
  const add = (name: string) => {
    if (!chosen.includes(name)) chosen.push(name);
  };
  for (const raw of text.split(',')) {
    const name = raw.trim();
    const extra = BENCH_EXTRAS.find((e) => e.toLowerCase() === name.toLowerCase());
    if (name.toLowerCase() === 'all') {
      for (const p of Object.keys(presets)) add(p);
      for (const e of BENCH_EXTRAS) add(e);
    } else if (extra !== undefined) add(extra);
    else if (name === '') throw new UsageError(`flatmin bench: --method has an empty name in '${text}': write names separated by commas, e.g. --method sam,lookSam`);
    else for (const p of parseMethods('bench', name, [], { anyNeeds: true })) add(p.name);
  }
  return chosen;
}

/**
 * Parse `flatmin bench`'s flags (a bad one is a {@link UsageError} naming it); `'help'` for `--help`.
 *
 * @example
 * ```ts
 * import { parseBench } from 'flatmin/cli';
 *
 * const options = parseBench(['--method', 'all', '--quick', '--hidden', '64']);
 * if (options !== 'help') console.log(options.methods.length); // 25: every preset, handRolled, worstOfK
 * ```
 */
export function parseBench(argv: readonly string[]): BenchOptions | 'help' {
  const values = parseFlags('bench', argv, {
    method: { type: 'string' },
    quick: { type: 'boolean' },
    rounds: { type: 'string' },
    steps: { type: 'string' },
    warmup: { type: 'string' },
    batch: { type: 'string' },
    hidden: { type: 'string' },
  });
  const read = new FlagReader('bench', values);
  if (read.flag('help')) return 'help';
  const quick = read.flag('quick');
  const defaults = quick ? BENCH_QUICK : BENCH_DEFAULTS;
  return {
    ...read.common(),
    quick,
    methods: parseBenchMethods(read.text('method')),
    rounds: read.integer('rounds', defaults.rounds, 1),
    steps: read.integer('steps', defaults.steps, 1),
    warmup: read.integer('warmup', defaults.warmup, 0),
    batch: read.integer('batch', defaults.batch, 1, 8000),
    hidden: read.integer('hidden', defaults.hidden, 1, 8192),
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

/** One target of a row and whether it was met. */
export interface BenchCheck {
  /** What is checked: `'ratio'` (to SGD), `'ratioToFloor'` (worstOfK), `'memory'` (× parameters) or `'reads'` (per step). */
  readonly what: 'ratio' | 'ratioToFloor' | 'memory' | 'reads';
  /** The measured value (a median for the ratios). */
  readonly value: number;
  /** The limit it must not exceed. */
  readonly limit: number;
  /** `value <= limit`. */
  readonly pass: boolean;
}

/** One variant's numbers. */
export interface BenchRow {
  /** `'SGD'` (the base), the preset's name, `'handRolled'`, `'worstOfK'` or `'worstOfK-floor'`. */
  readonly method: string;
  /** How the row is checked (its targets). */
  readonly kind: RowKind;
  /** Seconds per step of each round's block. */
  readonly secondsPerStep: Spread;
  /**
   * The ratio to the base: per round, this variant's block over the block of the base timed right
   * next to it (just before it in even rounds, just after it in odd ones); median (the headline),
   * min and max over the rounds. The base's row: 1.
   */
  readonly ratio: Spread;
  /** The same over the base's own block of the round (which may be a whole round of blocks away): the coarser pairing, kept for comparison. */
  readonly roundRatio: Spread;
  /** The paired ratio of this process's CPU time to the base's (`process.cpuUsage`): the same without the waits for a core on a shared machine. */
  readonly cpuRatio: Spread;
  /** Loss evaluations (closure calls; LETS' validation passes included) per timed step, counted. */
  readonly evaluations: number;
  /**
   * What the ratio is held against: the forward-backward passes per step during the timed steps,
   * counted (the base: 1) — for `worstOfK`, the measured ratio of its floor (`worstOfK-floor`: k
   * forward-only evaluations + one pass in plain tfjs).
   */
  readonly floor: number;
  /** `ratio.median − floor`: what the method costs beyond its passes. */
  readonly overFloor: number;
  /** `worstOfK` only: the per-round ratio to its floor's block. */
  readonly ratioToFloor?: Spread;
  /** The catalog's passes per step, in words. */
  readonly nominalPasses: string;
  /** Peak memory of one step (after the timed steps). */
  readonly memory: {
    /** Highest `tf.memory().numBytes` during the step minus the bytes before it. */
    readonly peakExtraBytes: number;
    /** `peakExtraBytes` minus the base step's: what the method adds. */
    readonly overBaseBytes: number;
    /** `overBaseBytes` / the parameter bytes. */
    readonly timesParameters: number;
  };
  /** Host reads per step (`--steps` steps counted, or `readSteps`). */
  readonly reads: {
    /** Reads by the step's own code (`dataSync`, `data`, ...): the ones that stall a device. */
    readonly step: number;
    /** Reads a backend makes inside its kernels (the cpu backend's, of host buffers): not a sync. */
    readonly insideKernels: number;
  };
  /** The row's targets, checked. */
  readonly checks: readonly BenchCheck[];
  /** Every check passed (true for a row without checks). */
  readonly pass: boolean;
  /** What the row is, where it differs from the plain setup. */
  readonly notes: string;
}

/** What `flatmin bench --json` prints. */
export interface BenchReport {
  /** The command that made the report. */
  readonly command: 'bench';
  /** The tfjs backend it ran on. */
  readonly backend: string;
  /** The options it ran with (all but `--json` and `--backend`). */
  readonly settings: Omit<BenchOptions, 'json' | 'backend'>;
  /** The model: its layer widths and its parameters. */
  readonly model: {
    /** `[784, hidden, hidden, 10]`. */
    readonly layers: readonly number[];
    /** Scalar parameters. */
    readonly parameters: number;
    /** Their bytes (float32). */
    readonly parameterBytes: number;
  };
  /** The targets the rows were checked against. */
  readonly targets: BenchTargets;
  /** The base first, then each method. */
  readonly rows: readonly BenchRow[];
  /** flatmin's `sam` against `handRolled`, per round, when both ran (else null). */
  readonly samOverHandRolled: Spread | null;
  /** Every row passed its checks. */
  readonly pass: boolean;
}

/** The median of `values` (NaN for none). */
export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

const spread = (values: readonly number[]): Spread => ({ median: median(values), min: Math.min(...values), max: Math.max(...values) });
const pairedRatio = (top: readonly number[], bottom: readonly number[]) => spread(top.map((s, round) => s / bottom[round]!));

/** The ratio target of a row's kind (undefined: none). */
function ratioLimit(kind: RowKind): number | undefined {
  return kind === 'twoPass' ? BENCH_TARGETS.twoPass : kind === 'lookSam' ? BENCH_TARGETS.lookSam : kind === 'onePass' ? BENCH_TARGETS.onePass : undefined;
}

/** Run the benchmark; the table (or JSON) on stdout, progress on stderr. */
export async function runBench(options: BenchOptions, io: CliIo): Promise<BenchReport> {
  const backend = await selectBackend(options.backend, io.stderr);
  const layers = [IMAGE_SIZE, options.hidden, options.hidden, NUM_CLASSES];
  io.stderr.write(
    `bench: MLP ${layers.join('-')}, batch ${options.batch} of MNIST, base SGD lr ${BENCH_DEFAULTS.lr} | ${options.rounds} rounds x ${options.steps} steps of ${options.methods.length + 1 + (options.methods.includes('worstOfK') ? 1 : 0)} variants, ${options.warmup} warm-up steps each\n`,
  );
  const raw = loadMnist(options.batch, Math.min(options.batch, 2000));
  const { xs, ys } = toTensors(raw.train);
  const { xs: xv, ys: yv } = toTensors(raw.test);
  const labels = tf.tensor1d(raw.train.labels, 'int32');
  // warm-up, timed rounds, the counted reads, the memory step.
  const totalSteps = options.warmup + options.rounds * options.steps + (options.readSteps ?? options.steps) + 1;
  let variants: BenchVariant[] = [];
  try {
    variants = buildBenchVariants(options.methods, { xs, ys, labels, xv, yv }, { seed: options.seed, hidden: options.hidden, lr: BENCH_DEFAULTS.lr, totalSteps });
    const parameters = mlpParameters(options.hidden);
    const parameterBytes = parameters * 4;

    const progress = new Progress('bench', options.rounds * variants.length, io.stderr);
    let warmed: number[] = [];
    const timing = await interleavedTiming(
      variants.map((v) => v.step),
      {
        rounds: options.rounds,
        steps: options.steps,
        warmup: options.warmup,
        variable: variants.map((v) => v.settleOn),
        pairWith: 0,
        order: 'shuffle',
        seed: options.seed,
        afterWarmup: () => {
          warmed = variants.map((v) => v.evaluations());
        },
        onBlock: (done, round) => progress.update(done, `round ${round}/${options.rounds}`),
      },
    );
    progress.stop();
    const timed = options.rounds * options.steps;
    const counted = variants.map((v) => v.evaluations());
    const readSteps = options.readSteps ?? options.steps;
    const reads = variants.map((v) => countHostReads(v.step, readSteps));
    const memory: number[] = [];
    for (const v of variants) memory.push((await stepMemory(v.step)).peakExtraBytes);

    const floorIndex = variants.findIndex((v) => v.kind === 'floor');
    // Each variant's block over the SGD block timed right next to it (before or after it, by round).
    const paired = timing.paired!;
    const rows = variants.map((variant, i): BenchRow => {
      const ratio = pairedRatio(timing.seconds[i]!, paired.seconds[i]!);
      // The base ran its own block and one next to every other variant's, each round.
      const evaluations = (counted[i]! - warmed[i]!) / (i === 0 ? timed * variants.length : timed);
      const ratioToFloor = variant.kind === 'worstOfK' && floorIndex >= 0 ? pairedRatio(timing.seconds[i]!, timing.seconds[floorIndex]!) : undefined;
      const floor = ratioToFloor !== undefined ? pairedRatio(timing.seconds[floorIndex]!, paired.seconds[floorIndex]!).median : evaluations;
      const overBaseBytes = memory[i]! - memory[0]!;
      const row = {
        method: variant.method,
        kind: variant.kind,
        secondsPerStep: spread(timing.seconds[i]!),
        ratio,
        roundRatio: pairedRatio(timing.seconds[i]!, timing.seconds[0]!),
        cpuRatio: pairedRatio(timing.cpuSeconds[i]!, paired.cpuSeconds[i]!),
        evaluations,
        floor,
        overFloor: ratio.median - floor,
        ...(ratioToFloor !== undefined ? { ratioToFloor } : {}),
        nominalPasses: variant.nominalPasses,
        memory: { peakExtraBytes: memory[i]!, overBaseBytes, timesParameters: overBaseBytes / parameterBytes },
        reads: { step: reads[i]!.step / readSteps, insideKernels: reads[i]!.insideKernels / readSteps },
        notes: variant.notes,
      };
      const checks = rowChecks(row, parameterBytes);
      return { ...row, checks, pass: checks.every((c) => c.pass) };
    });
    const sam = rows.findIndex((r) => r.method === 'sam');
    const hand = rows.findIndex((r) => r.method === 'handRolled');
    // Per round, SAM's ratio to its SGD block over the hand-rolled SAM's to its own.
    const overBase = (i: number) => timing.seconds[i]!.map((s, round) => s / paired.seconds[i]![round]!);
    const samOverHandRolled = sam >= 0 && hand >= 0 ? pairedRatio(overBase(sam), overBase(hand)) : null;
    const { json: _json, backend: _backend, ...rest } = options;
    const report: BenchReport = {
      command: 'bench',
      backend,
      settings: rest,
      model: { layers, parameters, parameterBytes },
      targets: BENCH_TARGETS,
      rows,
      samOverHandRolled,
      pass: rows.every((r) => r.pass),
    };
    io.stdout.write(options.json ? `${JSON.stringify(report, null, 2)}\n` : `\n${benchTable(rows)}\n\n${benchSummary(report)}\n\n${FLOOR_NOTE}\n`);
    return report;
  } finally {
    for (const variant of variants) variant.dispose();
    tf.dispose([xs, ys, xv, yv, labels]);
  }
}

/** Scalar parameters of the MLP 784-h-h-10 (kernels and biases). */
function mlpParameters(hidden: number): number {
  return IMAGE_SIZE * hidden + hidden + hidden * hidden + hidden + hidden * NUM_CLASSES + NUM_CLASSES;
}

/** The checks of a row: its kind's ratio target, memory (all but the base), host reads (flatmin's rows). */
function rowChecks(row: Omit<BenchRow, 'checks' | 'pass'>, parameterBytes: number): BenchCheck[] {
  if (row.kind === 'base') return [];
  const checks: BenchCheck[] = [];
  const check = (what: BenchCheck['what'], value: number, limit: number) => checks.push({ what, value, limit, pass: value <= limit });
  const limit = ratioLimit(row.kind);
  if (limit !== undefined) check('ratio', row.ratio.median, limit);
  if (row.ratioToFloor !== undefined) check('ratioToFloor', row.ratioToFloor.median, BENCH_TARGETS.worstOfKOverFloor);
  // The memory target counts parameter-sized buffers: a step's few scalars (ρ, ‖g‖, the verdict) do not make 2.000 × a fail.
  const scalarBytes = Math.min(SCALAR_SLACK_BYTES, Math.max(0, row.memory.overBaseBytes));
  check('memory', (row.memory.overBaseBytes - scalarBytes) / parameterBytes, BENCH_TARGETS.memoryTimesParameters);
  if (row.kind !== 'handRolled' && row.kind !== 'floor') check('reads', row.reads.step, row.method === 'aeSam' ? BENCH_TARGETS.aeSamHostReads : BENCH_TARGETS.hostReads);
  return checks;
}

/** Bytes of scalars (64 float32 numbers) over a step's parameter-sized buffers that the memory check leaves out. */
const SCALAR_SLACK_BYTES = 256;

const FLOOR_NOTE =
  'x SGD: the median over the rounds of (this block / the SGD block timed right next to it), with its min-max. ' +
  'floor: forward-backward passes per step, counted (worstOfK: its floor\'s measured x SGD); a method whose passes dominate its cost lands near its floor. ' +
  'mem: peak extra bytes of one step over the SGD step, in parameter bytes (tf.profile; checked without up to 256 B of scalars). reads: host reads per step by the step\'s code (kernel-internal reads apart). ' +
  `targets: two-pass x SGD <= ${BENCH_TARGETS.twoPass}, lookSam <= ${BENCH_TARGETS.lookSam}, one-pass <= ${BENCH_TARGETS.onePass}, worstOfK <= ${BENCH_TARGETS.worstOfKOverFloor} x its floor; mem <= ${BENCH_TARGETS.memoryTimesParameters}; reads 0 (aeSam 1).`;

/**
 * The targets of a row, in words (`''` for none), e.g. `'x<=2.05, mem<=2, reads<=0'`.
 *
 * @example
 * ```ts
 * import { targetText } from 'flatmin/cli';
 *
 * for (const row of report.rows) console.log(row.method, targetText(row));
 * ```
 */
export function targetText(row: BenchRow): string {
  return row.checks
    .map((c) => (c.what === 'ratio' ? `x<=${c.limit}` : c.what === 'ratioToFloor' ? `floor x<=${c.limit}` : c.what === 'memory' ? `mem<=${c.limit}` : `reads<=${c.limit}`))
    .join(', ');
}

/**
 * A row's peak extra memory in parameter bytes with `digits` decimals; when it fails its limit by
 * less than the last decimal shows, the bytes over it too (`'2.00 (+12 B)'`).
 *
 * @example
 * ```ts
 * import { memoryText } from 'flatmin/cli';
 *
 * for (const row of report.rows.slice(1)) console.log(row.method, memoryText(row, 3), 'x params');
 * ```
 */
export function memoryText(row: BenchRow, digits = 2): string {
  const times = row.memory.timesParameters;
  const text = times.toFixed(digits);
  const limit = row.checks.find((c) => c.what === 'memory')?.limit;
  if (limit === undefined || times <= limit || Number(text) > limit || times === 0) return text;
  const parameterBytes = row.memory.overBaseBytes / times;
  return `${text} (+${Math.round(row.memory.overBaseBytes - limit * parameterBytes)} B)`;
}

/**
 * `'PASS'`, `'FAIL (ratio, memory)'` (naming the failed checks) or `''` for a row without checks.
 *
 * @example
 * ```ts
 * import { verdictText } from 'flatmin/cli';
 *
 * for (const row of report.rows) console.log(row.method, verdictText(row));
 * ```
 */
export function verdictText(row: BenchRow): string {
  if (row.checks.length === 0) return '';
  return row.pass ? 'PASS' : `FAIL (${row.checks.filter((c) => !c.pass).map((c) => c.what).join(', ')})`;
}

/**
 * The result table of `flatmin bench`.
 *
 * @example
 * ```ts
 * import { benchTable, runBench, SILENT } from 'flatmin/cli';
 *
 * const report = await runBench({ methods: ['sam'], rounds: 2, steps: 2, warmup: 1, batch: 32, hidden: 64, quick: false, json: false, seed: 1 }, { stdout: SILENT, stderr: SILENT });
 * console.log(benchTable(report.rows));
 * ```
 */
export function benchTable(rows: readonly BenchRow[]): string {
  const ms = (s: number) => (s * 1000).toFixed(2);
  return formatTable(
    [
      { header: 'method' },
      { header: 'ms/step', align: 'right' },
      { header: 'x SGD', align: 'right' },
      { header: 'rounds min-max', align: 'right' },
      { header: 'floor', align: 'right' },
      { header: 'x SGD - floor', align: 'right' },
      { header: 'mem x params', align: 'right' },
      { header: 'reads', align: 'right' },
      { header: 'passes (catalog)' },
      { header: 'target' },
      { header: 'result' },
    ],
    rows.map((r, i) => [
      r.method,
      ms(r.secondsPerStep.median),
      i === 0 ? '1' : r.ratio.median.toFixed(3),
      i === 0 ? '' : `${r.ratio.min.toFixed(3)}-${r.ratio.max.toFixed(3)}`,
      r.floor.toFixed(2),
      i === 0 ? '' : `${r.overFloor >= 0 ? '+' : ''}${r.overFloor.toFixed(3)}`,
      i === 0 ? '' : memoryText(r),
      `${r.reads.step}${r.reads.insideKernels > 0 ? ` (+${r.reads.insideKernels})` : ''}`,
      r.nominalPasses,
      targetText(r),
      verdictText(r),
    ]),
  );
}

/**
 * The lines under the table: flatmin's SAM against the hand-rolled one, worstOfK against its
 * floor, and the verdict.
 *
 * @example
 * ```ts
 * import { benchSummary } from 'flatmin/cli';
 *
 * console.log(benchSummary(report)); // e.g. "flatmin sam / hand-rolled SAM: 0.95 (...)\nall 26 checked rows PASS"
 * ```
 */
export function benchSummary(report: BenchReport): string {
  const lines: string[] = [];
  const s = report.samOverHandRolled;
  if (s !== null) lines.push(`flatmin sam / hand-rolled SAM: ${s.median.toFixed(3)} (rounds ${s.min.toFixed(3)}-${s.max.toFixed(3)})`);
  const worst = report.rows.find((r) => r.ratioToFloor !== undefined);
  if (worst?.ratioToFloor !== undefined) lines.push(`worstOfK / its floor (${WORST_OF_K} forwards + 1 pass): ${worst.ratioToFloor.median.toFixed(3)} (rounds ${worst.ratioToFloor.min.toFixed(3)}-${worst.ratioToFloor.max.toFixed(3)})`);
  const failed = report.rows.filter((r) => !r.pass).map((r) => r.method);
  lines.push(failed.length === 0 ? `all ${report.rows.filter((r) => r.checks.length > 0).length} checked rows PASS` : `FAIL: ${failed.join(', ')}`);
  return lines.join('\n');
}
