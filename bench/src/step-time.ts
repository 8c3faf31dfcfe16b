#!/usr/bin/env node
/**
 * flatmin step-time benchmark: SAM (sharpnessAware + gradient) and its parts vs its base
 * optimizer (SGD), on an MLP 784-256-256-10 with batch 128, measured side by side in one
 * process, on wasm and on cpu (`--backend`).
 *
 *   step time   interleaved blocks of k steps of every variant (base, SAM default, SAM without
 *               telemetry, without guard, without both, hand-rolled SAM) in an order shuffled every round;
 *               median s/step each; the ratio to the base is the median of the per-round ratios
 *               (each round pairs the blocks), with its min/max over the rounds, and
 *               the guard's and the telemetry's cost in % of a base step    target ≤ 2.05
 *   host reads  backend readSync/read calls during SAM default steps         target 0
 *   memory      peak bytes of one step (tf.profile), SAM default minus base  target ≤ 2× parameters
 *
 * Writes the numbers to bench/results/step-time.json. `--help` lists the flags.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-layers'; // registers the gradients of the layers' ops
import { formatTable } from 'flatmin/cli';
import { type BackendName, type BenchOptions, parseBenchArgs, USAGE, UsageError } from './args.js';
import { countHostReads, type HostReads, interleavedTiming, type StepMemory, stepMemory } from './measure.js';
import { formatBytes, logSource, machineInfo, ms, readsPerStep, signed, sourceState, writeResults } from './report.js';
import { BATCH, buildMlp, parameterCount, selectBackend, syntheticBatch, trainableVariables } from './setup.js';
import { max, median, min } from './stats.js';
import { buildVariants, LEARNING_RATE, RHO, SEED, VARIANTS, type VariantKey } from './variants.js';

const WARMUP_STEPS = 10;
const READ_COUNT_STEPS = 10;
const TARGETS = { ratio: 2.05, hostReads: 0, extraMemoryOverParams: 2 } as const;
/** The variant the targets are checked on. */
const HEADLINE: VariantKey = 'default';

/** What one SAM part costs: the step time of `of` minus that of `minus`, in % of a base step. */
const COSTS: readonly { readonly label: string; readonly of: VariantKey; readonly minus: VariantKey }[] = [
  { label: "guard: onNonFinite 'skip' (default − no guard)", of: 'default', minus: 'noGuard' },
  { label: 'telemetry (default − no telemetry)', of: 'default', minus: 'noTelemetry' },
  { label: 'guard + telemetry (default − bare)', of: 'default', minus: 'bare' },
  { label: 'flatmin without both (bare − hand-rolled)', of: 'bare', minus: 'handRolled' },
  { label: 'ε: norm, scale, w + ε, restore (hand-rolled − two passes)', of: 'handRolled', minus: 'twoPasses' },
];

interface Check {
  readonly backend: string;
  readonly target: string;
  readonly measured: string;
  readonly limit: string;
  readonly pass: boolean;
}

async function main(argv: readonly string[]): Promise<number> {
  let parsed: ReturnType<typeof parseBenchArgs>;
  try {
    parsed = parseBenchArgs(argv);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`error: ${error.message}\nRun with --help to see the flags.\n`);
    return 2;
  }
  if (parsed.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  return run(parsed);
}

async function run(options: BenchOptions): Promise<number> {
  const stepsPerBackend = VARIANTS.length * (WARMUP_STEPS + options.rounds * options.steps);
  console.log(
    `step time: MLP 784-256-256-10, batch ${BATCH}, base SGD(lr ${LEARNING_RATE}), SAM = sharpnessAware(SGD, gradient rho ${RHO}) | ` +
      `backends ${options.backends.join(', ')} | ${options.rounds} rounds × ${options.steps} steps of each of ${VARIANTS.length} variants (${stepsPerBackend} timed+warm-up steps per backend)`,
  );
  const source = sourceState();
  logSource(source);
  const entries = [];
  const checks: Check[] = [];
  for (const backend of options.backends) {
    const entry = await runBackend(backend, options);
    entries.push(entry);
    checks.push(...entry.targets);
  }

  console.log(
    `\n== targets (${VARIANTS.find((v) => v.key === HEADLINE)!.label} vs ${VARIANTS[0]!.label}), per backend\n${formatTable(
      [{ header: 'backend' }, { header: 'target' }, { header: 'measured' }, { header: 'limit' }, { header: 'result' }],
      checks.map((check) => [check.backend, check.target, check.measured, check.limit, check.pass ? 'PASS' : 'FAIL']),
    )}`,
  );

  const results = {
    date: new Date().toISOString(),
    machine: machineInfo(),
    source,
    config: {
      model: '784-256-256-10',
      batch: BATCH,
      learningRate: LEARNING_RATE,
      rho: RHO,
      seed: SEED,
      rounds: options.rounds,
      stepsPerBlock: options.steps,
      warmupSteps: WARMUP_STEPS,
      readCountSteps: READ_COUNT_STEPS,
      order: 'variants in a seeded order shuffled every round',
      variants: VARIANTS.map(({ key, label, description }) => ({ key, label, description })),
      headline: HEADLINE,
      targets: TARGETS,
    },
    backends: entries,
  };
  writeResults('step-time.json', results);
  return 0;
}

/** Every measurement on one backend, with a model, data and optimizers of its own. */
async function runBackend(requested: BackendName, options: BenchOptions) {
  const backend = await selectBackend(requested);
  const model = buildMlp(SEED);
  const variables = trainableVariables(model);
  const parameters = parameterCount(variables);
  const parameterBytes = parameters * 4;
  const { xs, ys } = syntheticBatch(SEED);
  const loss = () => tf.losses.softmaxCrossEntropy(ys, model.apply(xs) as tf.Tensor) as tf.Scalar;
  const variants = buildVariants(loss, variables);
  const index = (key: VariantKey) => variants.findIndex((variant) => variant.spec.key === key);
  const headline = variants[index(HEADLINE)]!;

  console.log(`\n== backend ${backend}: ${parameters} parameters (${parameterBytes} bytes)`);
  const timing = await interleavedTiming(
    variants.map((variant) => variant.step),
    {
      rounds: options.rounds,
      steps: options.steps,
      warmup: WARMUP_STEPS,
      variable: variables[0]!,
      order: 'shuffle',
      // A live counter on a terminal only; a log gets no partial lines.
      ...(process.stdout.isTTY ? { onRound: (round: number) => process.stdout.write(`\r  round ${round}/${options.rounds}`) } : {}),
    },
  );
  if (process.stdout.isTTY) process.stdout.write('\r\x1b[K');

  // Every optimizer has taken steps already, so lazily made state exists.
  const memory: StepMemory[] = [];
  for (const variant of variants) memory.push(await stepMemory(variant.step));
  const reads: HostReads[] = variants.map((variant) => countHostReads(variant.step, READ_COUNT_STEPS));
  const telemetry = headline.sam === undefined ? null : { ...(await headline.sam.telemetry()) };

  const baseSeconds = timing.seconds[0]!;
  const baseMedian = median(baseSeconds);
  const rows = variants.map((variant, i) => {
    const seconds = timing.seconds[i]!;
    const ratios = seconds.map((s, round) => s / baseSeconds[round]!);
    const extraBytes = memory[i]!.peakExtraBytes - memory[0]!.peakExtraBytes;
    return {
      key: variant.spec.key,
      label: variant.spec.label,
      secondsPerStep: { median: median(seconds), min: min(seconds), max: max(seconds), rounds: seconds },
      // The headline is the median of the per-round ratios: each round pairs a block of this variant
      // with a block of the base run moments apart, so a drift of the machine cancels in the ratio.
      ratio: { value: median(ratios), ofMedians: median(seconds) / baseMedian, min: min(ratios), max: max(ratios), rounds: ratios },
      memory: { ...memory[i]!, extraBytesOverBase: extraBytes, extraOverParams: extraBytes / parameterBytes },
      hostReads: { steps: READ_COUNT_STEPS, ...reads[i]! },
    };
  });
  const row = (key: VariantKey) => rows[index(key)]!;
  const costs = COSTS.map(({ label, of, minus }) => {
    const a = row(of).secondsPerStep;
    const b = row(minus).secondsPerStep;
    const perRound = a.rounds.map((s, round) => (100 * (s - b.rounds[round]!)) / baseSeconds[round]!);
    return {
      label,
      of,
      minus,
      secondsPerStep: a.median - b.median,
      percentOfBaseStep: { value: (100 * (a.median - b.median)) / baseMedian, min: min(perRound), max: max(perRound), rounds: perRound },
    };
  });

  console.log(
    formatTable(
      [
        { header: 'variant' },
        { header: 'median ms/step', align: 'right' },
        { header: 'min–max ms', align: 'right' },
        { header: '× base', align: 'right' },
        { header: 'rounds min–max', align: 'right' },
        { header: 'peak step memory', align: 'right' },
        { header: 'extra over base', align: 'right' },
        { header: 'left after step', align: 'right' },
        { header: 'host reads/step', align: 'right' },
      ],
      rows.map((r, i) => [
        r.label,
        ms(r.secondsPerStep.median),
        `${ms(r.secondsPerStep.min)}–${ms(r.secondsPerStep.max)}`,
        i === 0 ? '1' : r.ratio.value.toFixed(3),
        i === 0 ? '' : `${r.ratio.min.toFixed(3)}–${r.ratio.max.toFixed(3)}`,
        formatBytes(r.memory.peakExtraBytes),
        i === 0 ? '' : `${r.memory.extraOverParams.toFixed(4)}× params`,
        `${r.memory.newTensors} tensors`,
        readsPerStep(r.hostReads, READ_COUNT_STEPS),
      ]),
    ),
  );
  console.log(
    `\n${formatTable(
      [{ header: 'cost of' }, { header: 'ms/step', align: 'right' }, { header: '% of a base step', align: 'right' }, { header: 'rounds min–max', align: 'right' }],
      costs.map((c) => [c.label, signed(c.secondsPerStep * 1000, 2), `${signed(c.percentOfBaseStep.value, 1)} %`, `${signed(c.percentOfBaseStep.min, 1)} … ${signed(c.percentOfBaseStep.max, 1)} %`]),
    )}`,
  );

  const top = row(HEADLINE);
  const targets: Check[] = [
    {
      backend,
      target: 'step time SAM default/base',
      measured: `${top.ratio.value.toFixed(3)} (rounds: ${top.ratio.min.toFixed(3)}–${top.ratio.max.toFixed(3)})`,
      limit: `≤ ${TARGETS.ratio}`,
      pass: top.ratio.value <= TARGETS.ratio,
    },
    {
      backend,
      target: 'host reads per SAM default step',
      measured: `${top.hostReads.step / READ_COUNT_STEPS} (${top.hostReads.step} in ${READ_COUNT_STEPS} steps)`,
      limit: `${TARGETS.hostReads}`,
      pass: top.hostReads.step === TARGETS.hostReads,
    },
    {
      backend,
      target: 'peak extra memory over base',
      measured: `${top.memory.extraBytesOverBase} B = ${top.memory.extraOverParams.toFixed(4)}× params`,
      limit: `≤ ${TARGETS.extraMemoryOverParams}× params = ${TARGETS.extraMemoryOverParams * parameterBytes} B`,
      pass: top.memory.extraOverParams <= TARGETS.extraMemoryOverParams,
    },
  ];

  for (const variant of variants) variant.dispose();
  model.dispose();
  tf.dispose([xs, ys]);
  return { backend, parameters, parameterBytes, variants: rows, roundOrders: timing.orders.map((order) => order.map((i) => variants[i]!.spec.key)), costs, telemetry, targets };
}

process.exitCode = await main(process.argv.slice(2));
