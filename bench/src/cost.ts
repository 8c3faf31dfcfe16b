/**
 * The cost of every preset, measured side by side in one run: `flatmin bench --method all`
 * (`runBench` of `flatmin/cli`) on wasm and on cpu, then the scaling — the same ratios for SAM,
 * LookSAM, LPF-SGD (one-pass noise) and hand-rolled SAM at four model widths and two batch sizes —
 * written to bench/results/ as cost.json, cost.md and scaling.svg/.png.
 *
 * `runCost(options)` and `costMarkdown(results)` are exported for an aggregate entry; run as a
 * script (`pnpm bench:cost`) it reads the command line.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseFlags, UsageError } from '@flatmin/cli-kit';
import { plotChart } from '@flatmin/landscape';
import { type BenchOptions, type BenchReport, type BenchRow, memoryText, parseBench, runBench, type Spread, verdictText } from 'flatmin/cli';
import { machineInfo, sourceState } from './report.js';

/** The backends the cost benchmark measures, in the order they run. */
export type CostBackend = 'wasm' | 'cpu';

/** Rounds, steps per block and warm-up steps of one part. */
export interface CostRounds {
  /** Timed rounds. */
  readonly rounds: number;
  /** Steps per block (also the steps whose host reads are counted). */
  readonly steps: number;
  /** Untimed steps of each variant first. */
  readonly warmup: number;
}

/** The model widths of the scaling (784-h-h-10: 13,002 … 1,863,690 parameters). */
export const SCALING_WIDTHS = [16, 64, 256, 1024] as const;
/** The batch sizes of the scaling. */
export const SCALING_BATCHES = [32, 256] as const;
/** The methods of the scaling (with the base): two-pass, LookSAM, one-pass noise, and SAM by hand. */
export const SCALING_METHODS = ['sam', 'lookSam', 'lpfSgd', 'handRolled'] as const;

/**
 * The full run: every preset with 10 rounds × 5 steps per backend, the scaling with 5 rounds × 5
 * steps (5 steps hold exactly one LookSAM sharp step) after one warm-up step.
 */
export const COST_FULL = {
  main: { wasm: { rounds: 10, steps: 5, warmup: 3 }, cpu: { rounds: 10, steps: 5, warmup: 3 } },
  scaling: { rounds: 5, steps: 5, warmup: 1 },
} as const;
/** `--quick`: enough to check the whole pipeline in about three minutes on two shared cores. */
export const COST_QUICK = {
  main: { wasm: { rounds: 2, steps: 2, warmup: 1 }, cpu: { rounds: 2, steps: 1, warmup: 1 } },
  scaling: { rounds: 1, steps: 5, warmup: 1 },
} as const;

/** What {@link runCost} takes. */
export interface CostOptions {
  /** The short settings ({@link COST_QUICK}) instead of {@link COST_FULL}. */
  readonly quick?: boolean;
  /** Rounds of every part (overrides the settings'). */
  readonly rounds?: number;
  /** The backends of the every-preset part (default wasm, then cpu). */
  readonly backends?: readonly CostBackend[];
  /** Run the scaling (default true): on wasm when it is among `backends`, else on the first. */
  readonly scaling?: boolean;
  /** The folder of cost.json, cost.md and scaling.svg/.png (default bench/results). */
  readonly out?: string;
  /** The command line, for the report (default `pnpm bench:cost` with the options). */
  readonly command?: string;
  /** The seed of the initial weights and of the presets (default 1). */
  readonly seed?: number;
}

/** One point of the scaling: a method at one width and batch. */
export interface ScalingPoint {
  /** The backend. */
  readonly backend: string;
  /** The width of both hidden layers. */
  readonly hidden: number;
  /** The batch size. */
  readonly batch: number;
  /** The model's parameters. */
  readonly parameters: number;
  /** The method (`sam`, `lookSam`, `lpfSgd`, `handRolled`). */
  readonly method: string;
  /** Its step-time ratio to the base, per round. */
  readonly ratio: Spread;
  /** Its floor (passes per step, counted). */
  readonly floor: number;
  /** The base's milliseconds per step (median). */
  readonly baseMs: number;
  /** Peak extra memory of a step over the base's, in parameter bytes. */
  readonly memoryTimesParameters: number;
  /** Whether the ratio met its kind's target (none for `handRolled`: true). */
  readonly ratioPass: boolean;
  /** Whether the row met all its targets (memory and reads too). */
  readonly pass: boolean;
}

/** What {@link runCost} returns and writes as cost.json. */
export interface CostResults {
  /** The command line that made it. */
  readonly command: string;
  /** When it started (ISO 8601). */
  readonly date: string;
  /** The commit measured and the uncommitted changes under packages/. */
  readonly source: ReturnType<typeof sourceState>;
  /** The machine (cores, model, load average). */
  readonly machine: ReturnType<typeof machineInfo>;
  /** Whether `--quick` was given. */
  readonly quick: boolean;
  /** The every-preset part: one `flatmin bench --method all` report per backend. */
  readonly backends: readonly BenchReport[];
  /** The scaling, or null when skipped. */
  readonly scaling: {
    readonly backend: string;
    readonly settings: CostRounds;
    readonly widths: readonly number[];
    readonly batches: readonly number[];
    readonly methods: readonly string[];
    readonly points: readonly ScalingPoint[];
  } | null;
  /** Wall seconds of each part and of the whole run. */
  readonly seconds: { readonly backends: Readonly<Record<string, number>>; readonly scaling: number; readonly total: number };
}

const HERE = fileURLToPath(new URL('.', import.meta.url));
/** bench/results, next to dist/ and src/. */
export const DEFAULT_OUT = resolve(HERE, '..', 'results');

const stderrIo = (stdout: boolean) => ({ stdout: stdout ? process.stdout : { write: () => true }, stderr: process.stderr });

function benchOptions(backend: CostBackend, methods: readonly string[], rounds: CostRounds, seed: number, model: { hidden: number; batch: number; readSteps?: number }): BenchOptions {
  return {
    json: false,
    backend,
    seed,
    quick: false,
    methods,
    rounds: rounds.rounds,
    steps: rounds.steps,
    warmup: rounds.warmup,
    batch: model.batch,
    hidden: model.hidden,
    ...(model.readSteps !== undefined ? { readSteps: model.readSteps } : {}),
  };
}

/**
 * Run the cost benchmark: `runBench` with every preset, `handRolled` and `worstOfK` on each
 * backend (784-256-256-10, batch 128), then the scaling; write cost.json, cost.md and
 * scaling.svg/.png to `options.out`. Progress goes to stderr, each backend's table to stdout.
 */
export async function runCost(options: CostOptions = {}): Promise<CostResults> {
  const started = performance.now();
  const date = new Date().toISOString();
  const quick = options.quick === true;
  const settings = quick ? COST_QUICK : COST_FULL;
  const withRounds = (r: CostRounds): CostRounds => (options.rounds === undefined ? r : { ...r, rounds: options.rounds });
  const backends = options.backends ?? (['wasm', 'cpu'] as const);
  const seed = options.seed ?? 1;
  const out = options.out ?? DEFAULT_OUT;
  const command = options.command ?? `pnpm bench:cost${quick ? ' --quick' : ''}${options.rounds !== undefined ? ` --rounds ${options.rounds}` : ''}`;
  const source = sourceState();

  const reports: BenchReport[] = [];
  const backendSeconds: Record<string, number> = {};
  for (const backend of backends) {
    const t = performance.now();
    process.stderr.write(`\ncost: every preset on ${backend}\n`);
    reports.push(await runBench(benchOptions(backend, allMethods(), withRounds(settings.main[backend]), seed, { hidden: 256, batch: 128 }), stderrIo(true)));
    backendSeconds[backend] = (performance.now() - t) / 1000;
  }

  let scaling: CostResults['scaling'] = null;
  const scalingStarted = performance.now();
  if (options.scaling !== false && backends.length > 0) {
    const backend = backends.includes('wasm') ? 'wasm' : backends[0]!;
    const rounds = withRounds(settings.scaling);
    const points: ScalingPoint[] = [];
    for (const hidden of SCALING_WIDTHS) {
      for (const batch of SCALING_BATCHES) {
        process.stderr.write(`\ncost: scaling on ${backend}, 784-${hidden}-${hidden}-10, batch ${batch}\n`);
        const report = await runBench(benchOptions(backend, SCALING_METHODS, rounds, seed, { hidden, batch, readSteps: 1 }), stderrIo(false));
        const base = report.rows[0]!;
        for (const row of report.rows.slice(1)) {
          points.push({
            backend: report.backend,
            hidden,
            batch,
            parameters: report.model.parameters,
            method: row.method,
            ratio: row.ratio,
            floor: row.floor,
            baseMs: base.secondsPerStep.median * 1000,
            memoryTimesParameters: row.memory.timesParameters,
            ratioPass: row.checks.every((c) => c.what !== 'ratio' || c.pass),
            pass: row.pass,
          });
        }
      }
    }
    scaling = { backend, settings: rounds, widths: [...SCALING_WIDTHS], batches: [...SCALING_BATCHES], methods: [...SCALING_METHODS], points };
  }
  const scalingSeconds = (performance.now() - scalingStarted) / 1000;

  const results: CostResults = {
    command,
    date,
    source,
    machine: machineInfo(),
    quick,
    backends: reports,
    scaling,
    seconds: { backends: backendSeconds, scaling: scalingSeconds, total: (performance.now() - started) / 1000 },
  };
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, 'cost.json'), `${JSON.stringify(results, null, 2)}\n`);
  writeFileSync(join(out, 'cost.md'), costMarkdown(results));
  if (scaling !== null) {
    const { svg, png } = await plotChart(scalingSpec(scaling.points), { width: 640, height: 400 });
    writeFileSync(join(out, 'scaling.svg'), svg);
    writeFileSync(join(out, 'scaling.png'), png);
  }
  process.stderr.write(`\ncost: wrote ${['cost.json', 'cost.md', ...(scaling !== null ? ['scaling.svg', 'scaling.png'] : [])].map((f) => join(out, f)).join(', ')} in ${results.seconds.total.toFixed(0)} s\n`);
  return results;
}

/** Every preset, `handRolled` and `worstOfK`: what `flatmin bench --method all` runs. */
function allMethods(): readonly string[] {
  return (parseBench(['--method', 'all']) as BenchOptions).methods;
}

/** The Vega-Lite spec of the scaling plot: x parameters (log), y ratio to the base, colour the method, dash the batch. */
export function scalingSpec(points: readonly ScalingPoint[]): Record<string, unknown> {
  return {
    data: { values: points.map((p) => ({ parameters: p.parameters, ratio: p.ratio.median, min: p.ratio.min, max: p.ratio.max, method: p.method, batch: `batch ${p.batch}` })) },
    layer: [
      {
        mark: { type: 'line', point: true },
        encoding: {
          x: { field: 'parameters', type: 'quantitative', scale: { type: 'log' }, title: 'parameters (784-h-h-10, h = 16, 64, 256, 1024)' },
          y: { field: 'ratio', type: 'quantitative', title: 'step time / base step (median over rounds)', scale: { zero: false } },
          color: { field: 'method', type: 'nominal', title: 'method' },
          strokeDash: { field: 'batch', type: 'nominal', title: 'batch', sort: SCALING_BATCHES.map((b) => `batch ${b}`), legend: { symbolType: 'stroke', symbolStrokeWidth: 2, symbolSize: 400 } },
        },
      },
      {
        mark: { type: 'rule', opacity: 0.5 },
        encoding: { x: { field: 'parameters', type: 'quantitative', scale: { type: 'log' } }, y: { field: 'min', type: 'quantitative' }, y2: { field: 'max' }, color: { field: 'method', type: 'nominal' } },
      },
    ],
  };
}

const fixed = (value: number, digits = 3) => (Number.isFinite(value) ? value.toFixed(digits) : '—');
const range = (s: Spread) => `${fixed(s.median)} (${fixed(s.min)}–${fixed(s.max)})`;

/** A row's targets in words: `× base ≤ 2.05, memory ≤ 2 × params, reads 0`. */
function markdownTarget(row: BenchRow): string {
  const words = { ratio: (l: number) => `× base ≤ ${l}`, ratioToFloor: (l: number) => `× floor ≤ ${l}`, memory: (l: number) => `memory ≤ ${l} × params`, reads: (l: number) => `reads ≤ ${l}` } as const;
  return row.checks.map((c) => words[c.what](c.limit)).join(', ');
}

/** One backend's rows as a Markdown table. */
function rowsTable(rows: readonly BenchRow[]): string {
  const header = '| method | kind | ms/step | × base (min–max) | CPU-time × base | same-round × base | floor | × base − floor | memory × params | reads/step | target | result | notes |';
  const lines = rows.map((r, i) =>
    [
      `\`${r.method}\``,
      r.kind,
      fixed(r.secondsPerStep.median * 1000, 2),
      i === 0 ? '1' : range(r.ratio),
      i === 0 ? '1' : fixed(r.cpuRatio.median),
      i === 0 ? '1' : fixed(r.roundRatio.median),
      fixed(r.floor, 2) + (r.ratioToFloor !== undefined ? ` (measured; × floor ${range(r.ratioToFloor)})` : ''),
      i === 0 ? '' : fixed(r.overFloor),
      i === 0 ? '' : memoryText(r, 3),
      `${r.reads.step}${r.reads.insideKernels > 0 ? ` (+${r.reads.insideKernels} in kernels)` : ''}`,
      markdownTarget(r),
      verdictText(r) === '' ? '' : verdictText(r).startsWith('PASS') ? 'PASS' : `**${verdictText(r)}**`,
      r.notes.replaceAll('|', '\\|'),
    ].join(' | '),
  );
  return [header, `|${' --- |'.repeat(13)}`, ...lines.map((l) => `| ${l} |`)].join('\n');
}

/** The scaling as a Markdown table: one line per method and batch, one column per width. */
function scalingTable(scaling: NonNullable<CostResults['scaling']>): string {
  const widths = scaling.widths;
  const parameters = (h: number) => scaling.points.find((p) => p.hidden === h)?.parameters ?? Number.NaN;
  const header = `| method | batch | ${widths.map((h) => `h = ${h} (${parameters(h).toLocaleString('en-US')} params)`).join(' | ')} |`;
  const lines: string[] = [];
  for (const batch of scaling.batches) {
    const base = widths.map((h) => scaling.points.find((p) => p.hidden === h && p.batch === batch)?.baseMs ?? Number.NaN);
    lines.push(`| base ms/step | ${batch} | ${base.map((ms) => fixed(ms, 2)).join(' | ')} |`);
    for (const method of scaling.methods) {
      const cells = widths.map((h) => {
        const p = scaling.points.find((q) => q.hidden === h && q.batch === batch && q.method === method);
        return p === undefined ? '' : `${range(p.ratio)}${p.ratioPass ? '' : ' **FAIL**'}`;
      });
      lines.push(`| \`${method}\` | ${batch} | ${cells.join(' | ')} |`);
    }
  }
  return [header, `|${' --- |'.repeat(widths.length + 2)}`, ...lines].join('\n');
}

/**
 * cost.md: the command, date, commit and machine, each backend's table of every row (ratio with
 * its min–max, floor, ratio − floor, memory × parameters, reads, target, PASS/FAIL), flatmin's SAM
 * against the hand-rolled one, worst-of-k against its floor, the scaling table and its plot.
 */
export function costMarkdown(results: CostResults): string {
  const parts: string[] = [];
  const source = results.source === null ? 'not a git checkout' : `commit ${results.source.commit}${results.source.changedUnderPackages.length > 0 ? ` + ${results.source.changedUnderPackages.length} uncommitted change(s) under packages/` : ', packages/ clean'}`;
  const m = results.machine;
  parts.push(
    '# Cost of every preset',
    '',
    `\`${results.command}\` — ${results.date}, ${source}; ${m.cpus} × ${m.cpuModel}, ${m.platform}, Node ${m.node}, load average ${m.loadAverage.map((l) => l.toFixed(2)).join(' / ')}; ${fixed(results.seconds.total, 0)} s${results.quick ? ' (--quick: few rounds, a check of the pipeline, not numbers to quote)' : ''}.`,
    '',
    'Every ratio is the median over the rounds of (this variant\'s block / the block of the base SGD timed right next to it — just before it in even rounds, just after it in odd ones), with the rounds\' min–max; ' +
      'the CPU-time ratio is the same with this process\'s CPU time (the cpu and wasm backends compute on its one thread), which leaves out the waits for a core on a shared machine; **same-round**: over the base\'s own block of the round instead (up to a round of blocks away: the coarser pairing of earlier runs). ' +
      '**floor**: forward-backward passes per step, counted (LETS: with its validation pass; worstOfK: the measured ratio of its own floor, k forward-only evaluations + one pass in plain tfjs). ' +
      '**memory**: peak bytes of one step (`tf.profile`, after the timed steps) minus the base step\'s, in parameter bytes (the target is checked without up to 256 B of scalars). **reads**: host reads per step by the step\'s own code (`readSync`/`read` of the backend; kernel-internal reads apart).',
    '',
    'Targets: two-pass methods ≤ 2.05 × base, LookSAM (k = 5) ≤ 1.25, one-pass methods ≤ 1.10, worstOfK ≤ 1.10 × its floor, memory ≤ 2 × the parameters for every row, 0 host reads per step (AE-SAM: 1, its one scalar).',
  );
  for (const report of results.backends) {
    parts.push(
      '',
      `## ${report.backend}: MLP ${report.model.layers.join('-')} (${report.model.parameters.toLocaleString('en-US')} parameters), batch ${report.settings.batch}, ${report.settings.rounds} rounds × ${report.settings.steps} steps, ${report.settings.warmup} warm-up`,
      '',
      rowsTable(report.rows),
      '',
    );
    if (report.samOverHandRolled !== null) parts.push(`flatmin's \`sam\` / the hand-rolled SAM (what a tfjs user would write instead): **${range(report.samOverHandRolled)}**.`, '');
    const failed = report.rows.filter((r) => !r.pass).map((r) => `\`${r.method}\``);
    parts.push(failed.length === 0 ? 'Every checked row passes.' : `Not passing: ${failed.join(', ')}.`);
  }
  if (results.scaling !== null) {
    const s = results.scaling;
    parts.push(
      '',
      `## Scaling: the ratio to the base as the work grows (${s.backend} only)`,
      '',
      `${s.settings.rounds} round(s) × ${s.settings.steps} steps, ${s.settings.warmup} warm-up, per width and batch; the model 784-h-h-10. Each cell: × base, median (min–max), **FAIL** when above its time target (memory and reads are in cost.json); the base's ms/step above each batch. ` +
        `Run on ${s.backend} only, to keep the run short (the cpu backend is 4–5 × slower).`,
      '',
      scalingTable(s),
      '',
      '![step-time ratio to the base against the parameter count](scaling.svg)',
    );
  }
  parts.push('', `Wall time: ${Object.entries(results.seconds.backends).map(([b, s]) => `${b} ${fixed(s, 0)} s`).join(', ')}, scaling ${fixed(results.seconds.scaling, 0)} s, total ${fixed(results.seconds.total, 0)} s.`, '');
  return parts.join('\n');
}

/** `pnpm bench:cost --help`. */
export const COST_USAGE = `Usage: pnpm bench:cost [-- flags]      (or, in bench: node dist/cost.js [flags])

The cost of every preset, side by side in one run: flatmin bench --method all (every preset,
hand-rolled SAM, worstOfK and its floor) on the MLP 784-256-256-10, batch 128 of MNIST, on wasm
then cpu; then the scaling: sam, lookSam, lpfSgd and handRolled against SGD at hidden widths
${SCALING_WIDTHS.join(', ')} x batch ${SCALING_BATCHES.join(' and ')} (wasm only). Writes cost.json, cost.md, scaling.svg and
scaling.png to --out.

Flags:
  --quick          ${COST_QUICK.main.wasm.rounds} rounds (wasm ${COST_QUICK.main.wasm.steps} steps, cpu ${COST_QUICK.main.cpu.steps}), scaling ${COST_QUICK.scaling.rounds} x ${COST_QUICK.scaling.steps}: about 3 minutes
                   (default ${COST_FULL.main.wasm.rounds} x ${COST_FULL.main.wasm.steps}, scaling ${COST_FULL.scaling.rounds} x ${COST_FULL.scaling.steps})
  --rounds N       rounds of every part
  --backend NAME   wasm, cpu or both (default both; the scaling runs on wasm when it is chosen)
  --no-scaling     skip the scaling
  --out DIR        where the files go (default bench/results)
  --help           show this text

Exits 0 whether the targets pass or not (it is a report), 2 on bad flags.
`;

/** Parse the command line of `pnpm bench:cost`. */
export function parseCostArgs(argv: readonly string[]): CostOptions | 'help' {
  const values = parseFlags(argv, {
    quick: { type: 'boolean' },
    rounds: { type: 'string' },
    backend: { type: 'string' },
    'no-scaling': { type: 'boolean' },
    out: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values['help'] === true) return 'help';
  const rounds = values['rounds'];
  if (rounds !== undefined && (typeof rounds !== 'string' || !/^\d+$/.test(rounds.trim()) || Number(rounds) < 1)) throw new UsageError(`--rounds must be an integer >= 1, got '${rounds}'`);
  const backend = values['backend'] ?? 'both';
  if (backend !== 'both' && backend !== 'wasm' && backend !== 'cpu') throw new UsageError(`--backend must be 'wasm', 'cpu' or 'both', got '${backend}'`);
  const out = values['out'];
  if (out !== undefined && (typeof out !== 'string' || out.trim() === '')) throw new UsageError('--out must be a folder');
  return {
    quick: values['quick'] === true,
    ...(rounds !== undefined ? { rounds: Number(rounds) } : {}),
    backends: backend === 'both' ? ['wasm', 'cpu'] : [backend],
    scaling: values['no-scaling'] !== true,
    ...(typeof out === 'string' ? { out: resolve(out) } : {}),
    command: ['pnpm bench:cost', ...argv.filter((a) => a !== '--')].join(' '),
  };
}

async function main(argv: readonly string[]): Promise<number> {
  let options: CostOptions | 'help';
  try {
    options = parseCostArgs(argv);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`error: ${error.message}\nRun with --help to see the flags.\n`);
    return 2;
  }
  if (options === 'help') {
    process.stdout.write(COST_USAGE);
    return 0;
  }
  await runCost(options);
  return 0;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  process.exitCode = await main(process.argv.slice(2));
}
