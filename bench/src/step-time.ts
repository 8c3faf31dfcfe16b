#!/usr/bin/env node
/**
 * flatmin step-time benchmark: SAM (sharpnessAware + gradient) vs its base optimizer
 * (SGD), on an MLP 784-256-256-10 with batch 128, measured side by side in one process.
 *
 *   step time   interleaved blocks of k base steps and k SAM steps, median s/step each,
 *               ratio SAM/base with its min/max over the rounds         target ≤ 2.05
 *   host reads  backend readSync/read calls during SAM steps              target 0
 *   memory      peak bytes of one step (tf.profile), SAM minus base       target ≤ 2× parameters
 *
 * Writes the numbers to bench/results/step-time.json. `--help` lists the flags.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-layers'; // registers the gradients of the layers' ops
import { sharpnessAware } from '@flatmin/core';
import { gradient } from '@flatmin/perturb-gradient';
import { type BenchOptions, parseBenchArgs, USAGE, UsageError } from './args.js';
import { countHostReads, type HostReads, interleavedTiming, type Step, stepMemory } from './measure.js';
import { BATCH, buildMlp, parameterCount, selectBackend, syntheticBatch, trainableVariables } from './setup.js';
import { max, median, min } from './stats.js';
import { formatTable } from '@flatmin/cli-kit';

const LEARNING_RATE = 0.01;
const RHO = 0.05;
const SEED = 1;
const WARMUP_STEPS = 5;
const READ_COUNT_STEPS = 20;
const TARGETS = { ratio: 2.05, hostReads: 0, extraMemoryOverParams: 2 } as const;

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
  const backend = await selectBackend(options.backend);
  const model = buildMlp(SEED);
  const variables = trainableVariables(model);
  const parameters = parameterCount(variables);
  const parameterBytes = parameters * 4;
  const { xs, ys } = syntheticBatch(SEED);
  const loss = () => tf.losses.softmaxCrossEntropy(ys, model.apply(xs) as tf.Tensor) as tf.Scalar;

  // Same base type, fresh instances, the same model (so the same weights) for both.
  const baseOptimizer = tf.train.sgd(LEARNING_RATE);
  const samOptimizer = sharpnessAware({
    base: tf.train.sgd(LEARNING_RATE),
    perturbation: gradient({ rho: RHO }),
    seed: SEED,
    ...(options.onNonFinite !== undefined ? { onNonFinite: options.onNonFinite } : {}),
    ...(options.noTelemetry ? { telemetry: false } : {}),
  });
  const base: Step = () => void baseOptimizer.minimize(loss, false, variables);
  const sam: Step = () => void samOptimizer.minimize(loss, false, variables);

  const totalSteps = 2 * (WARMUP_STEPS + options.rounds * options.steps);
  console.log(
    `step time: MLP 784-256-256-10 (${parameters} parameters), batch ${BATCH}, SGD(lr ${LEARNING_RATE}) vs ` +
      `SAM(SGD, gradient rho ${RHO}${options.onNonFinite !== undefined ? `, onNonFinite '${options.onNonFinite}'` : ''}${options.noTelemetry ? ', telemetry off' : ''}) | backend ${backend} | ${options.rounds} rounds × ${options.steps} steps each (${totalSteps} steps)`,
  );

  const timing = await interleavedTiming(base, sam, {
    rounds: options.rounds,
    steps: options.steps,
    warmup: WARMUP_STEPS,
    variable: variables[0]!,
    // A live counter on a terminal only; a log gets no partial lines.
    ...(process.stdout.isTTY ? { onRound: (round: number) => process.stdout.write(`\r  round ${round}/${options.rounds}`) } : {}),
  });
  if (process.stdout.isTTY) process.stdout.write('\r\x1b[K');
  const ratios = timing.sam.map((samSeconds, i) => samSeconds / timing.base[i]!);
  const baseMedian = median(timing.base);
  const samMedian = median(timing.sam);
  const ratio = samMedian / baseMedian;

  // Both optimizers have taken steps already, so lazily made state exists.
  const baseMemory = await stepMemory(base);
  const samMemory = await stepMemory(sam);
  const extraBytes = samMemory.peakExtraBytes - baseMemory.peakExtraBytes;
  const extraOverParams = extraBytes / parameterBytes;

  const samReads = countHostReads(sam, READ_COUNT_STEPS);
  const baseReads = countHostReads(base, READ_COUNT_STEPS);
  const telemetry = { ...(await samOptimizer.telemetry()) };

  const checks = [
    {
      target: 'step time SAM/base',
      measured: `${ratio.toFixed(2)} (rounds: ${min(ratios).toFixed(2)}–${max(ratios).toFixed(2)})`,
      limit: `≤ ${TARGETS.ratio}`,
      pass: ratio <= TARGETS.ratio,
    },
    {
      target: 'host reads per SAM step',
      measured: `${samReads.step / READ_COUNT_STEPS} (${samReads.step} in ${READ_COUNT_STEPS} steps)`,
      limit: `${TARGETS.hostReads}`,
      pass: samReads.step === TARGETS.hostReads,
    },
    {
      target: 'peak extra memory over base',
      measured: `${extraBytes} B = ${extraOverParams.toFixed(4)}× params`,
      limit: `≤ ${TARGETS.extraMemoryOverParams}× params = ${TARGETS.extraMemoryOverParams * parameterBytes} B`,
      pass: extraOverParams <= TARGETS.extraMemoryOverParams,
    },
  ];

  const ms = (seconds: number) => `${(seconds * 1000).toFixed(2)}`;
  console.log(
    `\n${formatTable(
      [
        { header: 'optimizer' },
        { header: 'median ms/step', align: 'right' },
        { header: 'min', align: 'right' },
        { header: 'max', align: 'right' },
        { header: 'peak step memory', align: 'right' },
        { header: 'left after step', align: 'right' },
        { header: 'host reads/step', align: 'right' },
      ],
      [
        ['SGD (base)', ms(baseMedian), ms(min(timing.base)), ms(max(timing.base)), formatBytes(baseMemory.peakExtraBytes), `${baseMemory.newTensors} tensors`, readsPerStep(baseReads)],
        ['SAM', ms(samMedian), ms(min(timing.sam)), ms(max(timing.sam)), formatBytes(samMemory.peakExtraBytes), `${samMemory.newTensors} tensors`, readsPerStep(samReads)],
      ],
    )}`,
  );
  console.log(
    `\n${formatTable(
      [{ header: 'target' }, { header: 'measured' }, { header: 'limit' }, { header: 'result' }],
      checks.map((check) => [check.target, check.measured, check.limit, check.pass ? 'PASS' : 'FAIL']),
    )}`,
  );

  const results = {
    date: new Date().toISOString(),
    backend,
    machine: { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model ?? 'unknown', platform: `${os.platform()} ${os.arch()}`, node: process.version },
    config: { model: '784-256-256-10', parameters, onNonFinite: options.onNonFinite ?? 'default', telemetry: !options.noTelemetry, batch: BATCH, learningRate: LEARNING_RATE, rho: RHO, rounds: options.rounds, stepsPerBlock: options.steps, warmupSteps: WARMUP_STEPS },
    stepTime: {
      baseSecondsPerStep: { median: baseMedian, min: min(timing.base), max: max(timing.base), rounds: timing.base },
      samSecondsPerStep: { median: samMedian, min: min(timing.sam), max: max(timing.sam), rounds: timing.sam },
      ratio: { value: ratio, min: min(ratios), max: max(ratios), rounds: ratios },
    },
    memory: { parameterBytes, base: baseMemory, sam: samMemory, extraBytes, extraOverParams },
    hostReads: { steps: READ_COUNT_STEPS, sam: samReads, base: baseReads },
    telemetry,
    targets: checks.map(({ target, measured, limit, pass }) => ({ target, measured, limit, pass })),
  };
  const resultsDir = new URL('../results/', import.meta.url);
  mkdirSync(resultsDir, { recursive: true });
  const file = new URL('step-time.json', resultsDir);
  writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
  console.log(`\nwrote ${file.pathname}`);

  samOptimizer.dispose();
  baseOptimizer.dispose();
  model.dispose();
  tf.dispose([xs, ys]);
  return 0;
}

/** Reads per step by the step's code, plus the kernel-internal ones when there are any. */
function readsPerStep(reads: HostReads): string {
  const inside = reads.insideKernels > 0 ? ` (+${reads.insideKernels / READ_COUNT_STEPS} in kernels)` : '';
  return `${reads.step / READ_COUNT_STEPS}${inside}`;
}

function formatBytes(bytes: number): string {
  const sign = bytes < 0 ? '-' : '';
  const size = Math.abs(bytes);
  if (size >= 1024 * 1024) return `${sign}${(size / 1024 / 1024).toFixed(2)} MiB`;
  if (size >= 1024) return `${sign}${(size / 1024).toFixed(1)} KiB`;
  return `${sign}${size} B`;
}

process.exitCode = await main(process.argv.slice(2));
