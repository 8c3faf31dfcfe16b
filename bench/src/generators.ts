#!/usr/bin/env node
/**
 * flatmin generators benchmark: the step time of every perturbation generator (SAM, ASAM, Fisher
 * SAM, F-SAM, VaSSO, SSAM-F/-D, ESAM, Gaussian noise at each scale, RWP, LPF/filter noise, mARWP's
 * Fisher noise, worst-of-k) through `sharpnessAware` with the core's defaults, against the base
 * optimizer (SGD), on an MLP 784-256-256-10 with batch 128, measured side by side in one process
 * per backend (wasm and cpu, `--backend`), next to their floors in plain tfjs.
 *
 *   step time   interleaved blocks of k steps of every variant in an order shuffled every round; median
 *               ms/step (CPU time of the process by default, `--clock wall`: wall clock); ratio
 *               to the base = median of the per-round paired ratios (min–max);
 *               targets: one-pass noise ≤ 1.10, two-pass ≤ 2.05, worst-of-k ≤ 1.10 × its floor
 *   evaluations loss-closure calls per step, from the optimizer's telemetry
 *   host reads  backend readSync/read calls during the steps                   target 0
 *   memory      peak bytes of one step (tf.profile) over the base's
 *
 * Writes the numbers to bench/results/generators.json. `--help` lists the flags.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-layers'; // registers the gradients of the layers' ops
import { type Column, formatTable } from 'flatmin/cli';
import { type BackendName, type GeneratorOptions, GENERATORS_USAGE, parseGeneratorArgs, UsageError } from './args.js';
import { buildGenerators, GENERATORS, type GeneratorSpec, K, LEARNING_RATE, SEED, TARGETS } from './generator-variants.js';
import { countHostReads, type HostReads, interleavedTiming, type StepMemory, stepMemory } from './measure.js';
import { opCosts } from './op-costs.js';
import { formatBytes, logSource, machineInfo, ms, readsPerStep, signed, sourceState, writeResults } from './report.js';
import { BATCH, buildMlp, parameterCount, selectBackend, syntheticBatch, trainableVariables } from './setup.js';
import { max, median, min } from './stats.js';

const WARMUP_STEPS = 5;
/** Steps of each variant while host reads and loss evaluations are counted (5: one mask refresh). */
const COUNT_STEPS = 5;
/** Repetitions of each op of the per-stage look. */
const OP_REPETITIONS = 10;

async function main(argv: readonly string[]): Promise<number> {
  let parsed: ReturnType<typeof parseGeneratorArgs>;
  let specs: GeneratorSpec[];
  try {
    parsed = parseGeneratorArgs(argv);
    if (parsed.help) {
      process.stdout.write(GENERATORS_USAGE);
      return 0;
    }
    specs = selectSpecs(parsed.only);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`error: ${error.message}\nRun with --help to see the flags.\n`);
    return 2;
  }
  return run(parsed, specs);
}

/** Every spec, or the named ones with the base and the floors (and the references) they are compared with. */
function selectSpecs(only: readonly string[] | null): GeneratorSpec[] {
  if (only === null) return [...GENERATORS];
  const known = new Set(GENERATORS.map((spec) => spec.key));
  const unknown = only.filter((key) => !known.has(key));
  if (unknown.length > 0) throw new UsageError(`--only: unknown variant(s) ${unknown.join(', ')}; known: ${[...known].join(', ')}`);
  const wanted = new Set(['base', ...only]);
  for (const spec of GENERATORS) {
    if (!wanted.has(spec.key)) continue;
    if (spec.floor !== undefined) wanted.add(spec.floor);
    if (spec.over !== undefined) wanted.add(spec.over);
  }
  // `over` of an added reference (handNoise → base) is already in; keep the table order.
  return GENERATORS.filter((spec) => wanted.has(spec.key));
}

interface Check {
  readonly backend: string;
  readonly key: string;
  readonly label: string;
  readonly target: string;
  readonly measured: number;
  readonly pass: boolean;
}

async function run(options: GeneratorOptions, specs: readonly GeneratorSpec[]): Promise<number> {
  const stepsPerBackend = specs.length * (WARMUP_STEPS + options.rounds * options.steps + COUNT_STEPS + 1);
  console.log(
    `generators: MLP 784-256-256-10, batch ${BATCH}, base SGD(lr ${LEARNING_RATE}), every generator through sharpnessAware with the core defaults (guard + telemetry on), seed ${SEED} | ` +
      `backends ${options.backends.join(', ')} | ${options.rounds} rounds × ${options.steps} steps of each of ${specs.length} variants (${stepsPerBackend} steps per backend)`,
  );
  const source = sourceState();
  logSource(source);
  const started = performance.now();
  const entries = [];
  for (const backend of options.backends) entries.push(await runBackend(backend, options, specs, started));

  printSummary(entries, specs);

  writeResults('generators.json', {
    date: new Date().toISOString(),
    machine: machineInfo(),
    source,
    config: {
      model: '784-256-256-10',
      batch: BATCH,
      learningRate: LEARNING_RATE,
      seed: SEED,
      k: K,
      clock: options.clock,
      rounds: options.rounds,
      stepsPerBlock: options.steps,
      warmupSteps: WARMUP_STEPS,
      countSteps: COUNT_STEPS,
      order: 'variants in a seeded order shuffled every round',
      variants: specs.map(({ key, label, kind, description, evaluations, floor, over }) => ({ key, label, kind, description, evaluations, floor, over })),
      targets: TARGETS,
    },
    backends: entries,
  });
  return 0;
}

type BackendEntry = Awaited<ReturnType<typeof runBackend>>;

/** Every measurement on one backend, with a model, data and optimizers of its own. */
async function runBackend(requested: BackendName, options: GeneratorOptions, specs: readonly GeneratorSpec[], started: number) {
  const backend = await selectBackend(requested);
  const model = buildMlp(SEED);
  const variables = trainableVariables(model);
  const parameters = parameterCount(variables);
  const parameterBytes = parameters * 4;
  const { xs, ys } = syntheticBatch(SEED);
  const loss = () => tf.losses.softmaxCrossEntropy(ys, model.apply(xs) as tf.Tensor) as tf.Scalar;
  const variants = buildGenerators(specs, loss, variables);
  const index = (key: string) => variants.findIndex((variant) => variant.spec.key === key);

  console.log(`\n== backend ${backend}: ${parameters} parameters (${parameterBytes} bytes), ${variants.length} variants, ratios on the ${options.clock} clock`);
  const elapsed = () => `${((performance.now() - started) / 1000).toFixed(0)} s`;
  const timing = await interleavedTiming(
    variants.map((variant) => variant.step),
    {
      rounds: options.rounds,
      steps: options.steps,
      warmup: WARMUP_STEPS,
      variable: variables[0]!,
      order: 'shuffle',
      onRound: (round: number) =>
        process.stdout.isTTY
          ? process.stdout.write(`\r  round ${round}/${options.rounds} (${elapsed()})`)
          : console.log(`  round ${round}/${options.rounds} done (${elapsed()} since the start)`),
    },
  );
  if (process.stdout.isTTY) process.stdout.write('\r\x1b[K');

  // Every optimizer has taken steps already, so lazily made state exists.
  const memory: StepMemory[] = [];
  for (const variant of variants) memory.push(await stepMemory(variant.step));
  // Host reads and loss evaluations over the same steps; the telemetry is read outside the counted span.
  const reads: HostReads[] = [];
  const evaluations: { perStep: number; source: 'telemetry' | 'by construction' }[] = [];
  const telemetry: Record<string, unknown> = {};
  for (const variant of variants) {
    const before = variant.sam === undefined ? 0 : (await variant.sam.telemetry()).lossEvaluations;
    reads.push(countHostReads(variant.step, COUNT_STEPS));
    if (variant.sam === undefined) {
      evaluations.push({ perStep: variant.spec.evaluations, source: 'by construction' });
    } else {
      const after = await variant.sam.telemetry();
      evaluations.push({ perStep: (after.lossEvaluations - before) / COUNT_STEPS, source: 'telemetry' });
      telemetry[variant.spec.key] = { ...after };
    }
  }

  const ops = await opCosts(variables, OP_REPETITIONS);

  // The clock the ratios and targets use, and the other one, reported next to it.
  const clocks = { cpu: timing.cpuSeconds, wall: timing.seconds };
  const other = options.clock === 'cpu' ? 'wall' : 'cpu';
  const samples = clocks[options.clock];
  const baseSeconds = samples[0]!;
  const baseMedian = median(baseSeconds);
  const pairedRatios = (clock: number[][], i: number, j: number) => clock[i]!.map((s, round) => s / clock[j]![round]!);
  const rows = variants.map((variant, i) => {
    const spec = variant.spec;
    const seconds = samples[i]!;
    const ratios = pairedRatios(samples, i, 0);
    const floorIndex = spec.floor === undefined ? -1 : index(spec.floor);
    const overFloor = floorIndex < 0 ? null : pairedRatios(samples, i, floorIndex);
    const otherSeconds = clocks[other][i]!;
    const otherRatios = pairedRatios(clocks[other], i, 0);
    const otherOverFloor = floorIndex < 0 ? null : median(pairedRatios(clocks[other], i, floorIndex));
    const extraBytes = memory[i]!.peakExtraBytes - memory[0]!.peakExtraBytes;
    const tel = telemetry[spec.key] as { skippedSteps?: number } | undefined;
    return {
      key: spec.key,
      label: spec.label,
      kind: spec.kind,
      floor: spec.floor ?? null,
      secondsPerStep: { median: median(seconds), min: min(seconds), max: max(seconds), rounds: seconds },
      ratio: { value: median(ratios), ofMedians: median(seconds) / baseMedian, min: min(ratios), max: max(ratios), rounds: ratios },
      overFloor: overFloor === null ? null : { value: median(overFloor), min: min(overFloor), max: max(overFloor), rounds: overFloor },
      /** The same on the other clock (medians only here; every round in `rounds`). */
      otherClock: {
        clock: other,
        secondsPerStep: { median: median(otherSeconds), rounds: otherSeconds },
        ratio: { value: median(otherRatios), min: min(otherRatios), max: max(otherRatios), rounds: otherRatios },
        overFloor: otherOverFloor,
      },
      evaluations: { ...evaluations[i]!, expected: spec.evaluations },
      memory: { ...memory[i]!, extraBytesOverBase: extraBytes, extraOverParams: extraBytes / parameterBytes },
      hostReads: { steps: COUNT_STEPS, ...reads[i]! },
      skippedSteps: tel?.skippedSteps ?? null,
    };
  });
  const row = (key: string) => rows[index(key)]!;

  const checks: Check[] = [];
  for (const r of rows) {
    const check = (target: string, measured: number, pass: boolean) => checks.push({ backend, key: r.key, label: r.label, target, measured, pass });
    if (r.kind === 'onePass') check(`× base ≤ ${TARGETS.onePass}`, r.ratio.value, r.ratio.value <= TARGETS.onePass);
    else if (r.kind === 'twoPass') check(`× base ≤ ${TARGETS.twoPass}`, r.ratio.value, r.ratio.value <= TARGETS.twoPass);
    else if (r.kind === 'worstOfK') check(`× floor ≤ ${TARGETS.overFloor}`, r.overFloor!.value, r.overFloor!.value <= TARGETS.overFloor);
  }
  const verdict = (key: string) => checks.find((c) => c.key === key);

  const ratioText = (value: number, lo: number, hi: number) => `${value.toFixed(3)} (${lo.toFixed(2)}–${hi.toFixed(2)})`;
  console.log(
    formatTable(
      [
        { header: 'variant' },
        { header: `${options.clock} ms/step`, align: 'right' },
        { header: '× base (rounds)', align: 'right' },
        { header: `${other} × base`, align: 'right' },
        { header: 'floor × base', align: 'right' },
        { header: '× floor', align: 'right' },
        { header: 'evals/step', align: 'right' },
        { header: 'target' },
        { header: 'result' },
        { header: 'host reads/step', align: 'right' },
        { header: 'peak extra mem', align: 'right' },
      ],
      rows.map((r, i) => {
        const floorRow = r.floor === null ? null : row(r.floor);
        const check = verdict(r.key);
        const evals = r.evaluations;
        return [
          r.label,
          ms(r.secondsPerStep.median),
          i === 0 ? '1' : ratioText(r.ratio.value, r.ratio.min, r.ratio.max),
          i === 0 ? `(${ms(r.otherClock.secondsPerStep.median)} ms)` : r.otherClock.ratio.value.toFixed(3),
          floorRow === null ? '' : floorRow.key === 'base' ? '1' : floorRow.ratio.value.toFixed(3),
          r.overFloor === null ? '' : r.overFloor.value.toFixed(3),
          `${evals.perStep}${evals.source === 'telemetry' && evals.perStep !== evals.expected ? ` (expected ${evals.expected})` : ''}`,
          check?.target ?? (r.kind === 'base' ? 'the base' : r.kind === 'floor' ? 'a floor' : 'reference'),
          check === undefined ? '' : check.pass ? 'PASS' : 'FAIL',
          readsPerStep(r.hostReads, COUNT_STEPS),
          i === 0 ? formatBytes(r.memory.peakExtraBytes) : `${r.memory.extraOverParams.toFixed(2)}× params`,
        ];
      }),
    ),
  );

  // What each variant adds over the one it builds on, in % of a base step (difference of medians; per-round min–max).
  const costs = rows
    .map((r, i) => ({ r, i, over: variants[i]!.spec.over }))
    .filter((c): c is { r: (typeof rows)[number]; i: number; over: string } => c.over !== undefined && index(c.over) >= 0)
    .map(({ r, i, over }) => {
      const other = row(over);
      const j = index(over);
      const perRound = samples[i]!.map((s, round) => (100 * (s - samples[j]![round]!)) / baseSeconds[round]!);
      return {
        key: r.key,
        label: `${r.label} − ${other.label}`,
        secondsPerStep: r.secondsPerStep.median - other.secondsPerStep.median,
        percentOfBaseStep: { value: (100 * (r.secondsPerStep.median - other.secondsPerStep.median)) / baseMedian, min: min(perRound), max: max(perRound), rounds: perRound },
      };
    });
  console.log(
    `\n${formatTable(
      [{ header: 'what it adds' }, { header: 'ms/step', align: 'right' }, { header: '% of a base step', align: 'right' }, { header: 'rounds min–max', align: 'right' }],
      costs.map((c) => [c.label, signed(c.secondsPerStep * 1000, 2), `${signed(c.percentOfBaseStep.value, 1)} %`, `${signed(c.percentOfBaseStep.min, 1)} … ${signed(c.percentOfBaseStep.max, 1)} %`]),
    )}`,
  );
  console.log(
    `\nper-stage look: single ops on these parameters, median of ${OP_REPETITIONS} (${options.clock} clock)\n${formatTable(
      [{ header: 'op' }, { header: 'ms', align: 'right' }, { header: '% of a base step', align: 'right' }, { header: 'runs per step' }],
      ops.map((op) => {
        const seconds = options.clock === 'cpu' ? op.cpuSeconds : op.seconds;
        return [op.label, ms(seconds), `${((100 * seconds) / baseMedian).toFixed(1)} %`, op.perStep];
      }),
    )}`,
  );
  const readsFailing = rows.filter((r) => r.hostReads.step > 0);
  const evalsOff = rows.filter((r) => r.evaluations.source === 'telemetry' && r.evaluations.perStep !== r.evaluations.expected);
  const skipped = rows.filter((r) => (r.skippedSteps ?? 0) > 0);
  console.log(
    `host reads: ${readsFailing.length === 0 ? 'PASS, 0 per step for every variant' : `FAIL for ${readsFailing.map((r) => r.label).join(', ')}`}` +
      ` | loss evaluations: ${evalsOff.length === 0 ? 'as expected for every generator' : `unexpected for ${evalsOff.map((r) => r.label).join(', ')}`}` +
      ` | skipped steps: ${skipped.length === 0 ? 'none' : skipped.map((r) => `${r.label} ${r.skippedSteps}`).join(', ')}`,
  );

  for (const variant of variants) variant.dispose();
  model.dispose();
  tf.dispose([xs, ys]);
  return { backend, clock: options.clock, parameters, parameterBytes, variants: rows, roundOrders: timing.orders.map((order) => order.map((i) => variants[i]!.spec.key)), costs, ops, checks, telemetry };
}

/** Both backends side by side: the ratio of every generator and its verdict. */
function printSummary(entries: readonly BackendEntry[], specs: readonly GeneratorSpec[]): void {
  const columns: Column[] = [{ header: 'variant' }, { header: 'target' }];
  const clock = entries[0]?.clock ?? 'cpu';
  const other = clock === 'cpu' ? 'wall' : 'cpu';
  for (const entry of entries) {
    columns.push({ header: `${entry.backend} × base (${clock})`, align: 'right' }, { header: entry.backend }, { header: `${entry.backend} ${other}`, align: 'right' });
  }
  const rows = specs.map((spec) => {
    const cells = [spec.label, targetOf(spec)];
    for (const entry of entries) {
      const r = entry.variants.find((v) => v.key === spec.key)!;
      const check = entry.checks.find((c) => c.key === spec.key);
      const shown = spec.kind === 'worstOfK' ? `${r.ratio.value.toFixed(3)} (${r.overFloor!.value.toFixed(3)}× floor)` : spec.kind === 'base' ? '1' : r.ratio.value.toFixed(3);
      const otherShown = spec.kind === 'base' ? '1' : r.otherClock.ratio.value.toFixed(3);
      cells.push(shown, check === undefined ? '' : check.pass ? 'PASS' : 'FAIL', otherShown);
    }
    return cells;
  });
  console.log(`\n== summary (median of per-round ratios; targets on the ${clock} clock)\n${formatTable(columns, rows)}`);
  const reads = entries.every((entry) => entry.variants.every((r) => r.hostReads.step === 0));
  console.log(`host reads per step: ${reads ? '0 for every variant on every backend (PASS)' : 'some (FAIL), see the tables above'}`);
}

function targetOf(spec: GeneratorSpec): string {
  switch (spec.kind) {
    case 'onePass':
      return `≤ ${TARGETS.onePass}`;
    case 'twoPass':
      return `≤ ${TARGETS.twoPass}`;
    case 'worstOfK':
      return `≤ ${TARGETS.overFloor}× floor`;
    case 'base':
      return '';
    default:
      return spec.kind;
  }
}

process.exitCode = await main(process.argv.slice(2));
