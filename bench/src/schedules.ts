#!/usr/bin/env node
/**
 * flatmin schedules benchmark: the step time of the schedules that ration SAM's second pass —
 * LookSAM `everyK({ k: 5 })`, RST `randomly({ p: 0.5 })`, AE-SAM `adaptivePolicy({ totalSteps })` —
 * next to SAM (`gradient({ rho: 0.05 })`, every step sharp) and the base optimizer (SGD), on an MLP
 * 784-256-256-10 with batch 128, measured side by side in one process per backend (wasm, then cpu).
 *
 *   step time      interleaved blocks of k steps (a multiple of 5) of every variant in an order
 *                  shuffled every round; CPU time of the process by default (`--clock wall`); ratio to the base =
 *                  median of the per-round paired ratios (min–max)
 *   floor          1 + the sharp fraction: LookSAM 1 + 1/k = 1.2, RST 1 + p = 1.5, AE-SAM 1 + its
 *                  measured sharp fraction (per round, from the host counters)
 *   targets        LookSAM ≤ 1.25; RST ≤ 1.55 (the issue's fixed limit) and, since its seeded draws
 *                  need not give p = 0.5 in the timed window, ratio − (1 + the drawn fraction)
 *                  ≤ 0.05 per round (median); AE-SAM ≤ its floor + 0.05 on the total
 *   evaluations    loss-closure calls per step over the timed steps (1 + sharp fraction)
 *   host reads     backend readSync/read calls during 5 counted steps (AE-SAM: 1 by design)
 *
 * Writes the numbers to bench/results/schedules.json. `--help` lists the flags.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-layers'; // registers the gradients of the layers' ops
import { type Column, formatTable } from 'flatmin/cli';
import { type Schedule, type SharpnessAwareOptimizer, sharpnessAware } from '@flatmin/core';
import { gradient } from '@flatmin/perturb-gradient';
import { adaptivePolicy } from '@flatmin/schedule-adaptive';
import { everyK } from '@flatmin/schedule-every-k';
import { randomly } from '@flatmin/schedule-random';
import { type BackendName, parseScheduleArgs, type ScheduleOptions, SCHEDULES_USAGE, UsageError } from './args.js';
import { countHostReads, type HostReads, interleavedTiming, type Step } from './measure.js';
import { logSource, machineInfo, ms, readsPerStep, signed, sourceState, writeResults } from './report.js';
import { BATCH, buildMlp, parameterCount, selectBackend, syntheticBatch, trainableVariables } from './setup.js';
import { max, median, min } from './stats.js';

const LEARNING_RATE = 0.01;
const SEED = 1;
const RHO = 0.05;
/** LookSAM's period and RST's probability. */
const K = 5;
const P = 0.5;
const WARMUP_STEPS = 5;
/** Steps of each variant while host reads are counted. */
const COUNT_STEPS = 5;

/**
 * The limits on the ratio to the base. `rst` is the issue's fixed limit for p = 0.5 (its nominal
 * floor 1.5 + 0.05); `rstOverDrawnFloor` is the same allowance over the floor of the fraction RST's
 * seeded draws actually gave (per round: ratio − (1 + that block's fraction)); AE-SAM: its measured
 * floor plus `aeSamOverFloor`.
 */
export const TARGETS = { lookSam: 1.25, rst: 1.55, rstOverDrawnFloor: 0.05, aeSamOverFloor: 0.05 } as const;

type Key = 'base' | 'sam' | 'plain' | 'lookSam' | 'lookSamA0' | 'rst' | 'aeSam';

interface ScheduleSpec {
  readonly key: Key;
  readonly label: string;
  readonly description: string;
  /** Host reads per step the method makes by design. */
  readonly expectedReads: number;
  /** A reference, unchecked: it splits the cost of a checked variant into parts. */
  readonly reference?: boolean;
  /** The schedule (undefined: SAM, every step sharp); `totalSteps` is the steps the optimizer takes in the run. */
  readonly schedule?: (totalSteps: number) => Schedule;
}

const SPECS: readonly ScheduleSpec[] = [
  { key: 'base', label: 'SGD (base)', expectedReads: 0, description: `tf.train.sgd(${LEARNING_RATE}).minimize(loss, false, variables): every ratio divides by it` },
  { key: 'sam', label: 'SAM', expectedReads: 0, description: `gradient({ rho: ${RHO} }), no schedule: every step sharp (two passes)` },
  {
    key: 'plain',
    label: 'ref: plain flatmin step',
    expectedReads: 0,
    reference: true,
    description: 'everyK({ k: 1e9, alpha: 0 }): only step 0 is sharp (in the warm-up), so every timed step is the one-pass step through sharpnessAware (guard + telemetry on)',
    schedule: () => everyK({ k: 1e9, alpha: 0 }),
  },
  { key: 'lookSam', label: `LookSAM k=${K}`, expectedReads: 0, description: `everyK({ k: ${K} }) (α 0.7): sharp at t mod ${K} = 0, one pass + the reused sharpness component otherwise`, schedule: () => everyK({ k: K }) },
  {
    key: 'lookSamA0',
    label: `ref: every-k k=${K} α=0`,
    expectedReads: 0,
    reference: true,
    description: `everyK({ k: ${K}, alpha: 0 }): LookSAM without the reuse of the sharpness component (plain every-k SAM)`,
    schedule: () => everyK({ k: K, alpha: 0 }),
  },
  { key: 'rst', label: `RST p=${P}`, expectedReads: 0, description: `randomly({ p: ${P} }): each step sharp with probability ${P} (seeded Bernoulli draw)`, schedule: () => randomly({ p: P }) },
  {
    key: 'aeSam',
    label: 'AE-SAM',
    expectedReads: 1,
    description: 'adaptivePolicy({ totalSteps }) (δ 0.9, λ₁ −1, λ₂ 1), totalSteps = the steps it takes in this run: sharp iff ‖g‖² ≥ μ + c_t σ',
    schedule: (totalSteps) => adaptivePolicy({ totalSteps }),
  },
];

interface Variant {
  readonly spec: ScheduleSpec;
  readonly sam?: SharpnessAwareOptimizer;
  readonly step: Step;
  /** Whether each step this variant took was sharp (host counters, no read), in order. */
  readonly sharpLog: boolean[];
  readonly dispose: () => void;
}

function buildVariants(loss: () => tf.Scalar, variables: tf.Variable[], totalSteps: number): Variant[] {
  return SPECS.map((spec): Variant => {
    const base = tf.train.sgd(LEARNING_RATE);
    const sharpLog: boolean[] = [];
    if (spec.key === 'base') {
      return {
        spec,
        sharpLog,
        step: () => {
          base.minimize(loss, false, variables);
          sharpLog.push(false);
        },
        dispose: () => base.dispose(),
      };
    }
    const perturbation = spec.key === 'sam' ? gradient({ rho: RHO }) : gradient();
    const optimizer =
      spec.schedule === undefined
        ? sharpnessAware({ base, perturbation, seed: SEED })
        : sharpnessAware({ base, perturbation, schedule: spec.schedule(totalSteps), seed: SEED });
    return {
      spec,
      sam: optimizer,
      sharpLog,
      step: () => {
        const before = optimizer.sharpSteps;
        optimizer.minimize(loss, false, variables);
        sharpLog.push(optimizer.sharpSteps > before);
      },
      dispose: () => optimizer.dispose(),
    };
  });
}

interface Check {
  readonly backend: string;
  readonly key: Key;
  /** What is compared: the ratio, the total ratio, or the ratio over the drawn floor. */
  readonly quantity: string;
  readonly target: string;
  readonly limit: number;
  readonly measured: number;
  readonly pass: boolean;
}

async function main(argv: readonly string[]): Promise<number> {
  let parsed: ReturnType<typeof parseScheduleArgs>;
  try {
    parsed = parseScheduleArgs(argv);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`error: ${error.message}\nRun with --help to see the flags.\n`);
    return 2;
  }
  if (parsed.help) {
    process.stdout.write(SCHEDULES_USAGE);
    return 0;
  }
  return run(parsed);
}

async function run(options: ScheduleOptions): Promise<number> {
  const stepsPerVariant = WARMUP_STEPS + options.rounds * options.steps + COUNT_STEPS;
  console.log(
    `schedules: MLP 784-256-256-10, batch ${BATCH}, base SGD(lr ${LEARNING_RATE}), every flatmin variant through sharpnessAware with the core defaults (guard + telemetry on), seed ${SEED} | ` +
      `backends ${options.backends.join(', ')} | ${options.rounds} rounds × ${options.steps} steps of each of ${SPECS.length} variants (${stepsPerVariant} steps of each per backend) | ratios on the ${options.clock} clock`,
  );
  const source = sourceState();
  logSource(source);
  const started = performance.now();
  const entries = [];
  for (const backend of options.backends) entries.push(await runBackend(backend, options, stepsPerVariant, started));

  printSummary(entries, options.clock);

  writeResults('schedules.json', {
    date: new Date().toISOString(),
    machine: machineInfo(),
    source,
    config: {
      model: '784-256-256-10',
      batch: BATCH,
      learningRate: LEARNING_RATE,
      seed: SEED,
      rho: RHO,
      k: K,
      p: P,
      aeSamTotalSteps: stepsPerVariant,
      clock: options.clock,
      rounds: options.rounds,
      stepsPerBlock: options.steps,
      warmupSteps: WARMUP_STEPS,
      countSteps: COUNT_STEPS,
      order: 'variants in a seeded order shuffled every round',
      variants: SPECS.map(({ key, label, description, expectedReads }) => ({ key, label, description, expectedReads })),
      targets: TARGETS,
    },
    backends: entries,
  });
  return 0;
}

type BackendEntry = Awaited<ReturnType<typeof runBackend>>;

async function runBackend(requested: BackendName, options: ScheduleOptions, totalSteps: number, started: number) {
  const backend = await selectBackend(requested);
  const model = buildMlp(SEED);
  const variables = trainableVariables(model);
  const parameters = parameterCount(variables);
  const { xs, ys } = syntheticBatch(SEED);
  const loss = () => tf.losses.softmaxCrossEntropy(ys, model.apply(xs) as tf.Tensor) as tf.Scalar;
  const variants = buildVariants(loss, variables, totalSteps);

  console.log(`\n== backend ${backend}: ${parameters} parameters, ${variants.length} variants, ratios on the ${options.clock} clock`);
  const elapsed = () => `${((performance.now() - started) / 1000).toFixed(0)} s`;
  const evaluationsBefore = variants.map((v) => v.sam?.lossEvaluations ?? 0);
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
  const timedSteps = options.rounds * options.steps;
  // The warm-up's evaluations are in `evaluationsBefore`'s complement: count over the timed steps only.
  const evaluationsTimed = variants.map((v, i) => {
    if (v.sam === undefined) return 1;
    const warmupEvaluations = WARMUP_STEPS + v.sharpLog.slice(0, WARMUP_STEPS).filter(Boolean).length;
    return (v.sam.lossEvaluations - evaluationsBefore[i]! - warmupEvaluations) / timedSteps;
  });

  const reads: HostReads[] = variants.map((variant) => countHostReads(variant.step, COUNT_STEPS));
  const telemetry: Record<string, unknown> = {};
  for (const variant of variants) if (variant.sam !== undefined) telemetry[variant.spec.key] = { ...(await variant.sam.telemetry()) };

  const clocks = { cpu: timing.cpuSeconds, wall: timing.seconds };
  const other = options.clock === 'cpu' ? 'wall' : 'cpu';
  const samples = clocks[options.clock];
  const baseMedian = median(samples[0]!);
  const paired = (clock: number[][], i: number) => clock[i]!.map((s, round) => s / clock[0]![round]!);
  const samRatios = paired(samples, 1);

  const rows = variants.map((variant, i) => {
    const spec = variant.spec;
    const seconds = samples[i]!;
    const ratios = paired(samples, i);
    // The sharp fraction of each timed block (round r's block of this variant), and over all timed steps.
    const blockFractions = Array.from({ length: options.rounds }, (_, r) => {
      const block = variant.sharpLog.slice(WARMUP_STEPS + r * options.steps, WARMUP_STEPS + (r + 1) * options.steps);
      return block.filter(Boolean).length / options.steps;
    });
    const sharpFraction = blockFractions.reduce((a, b) => a + b, 0) / options.rounds;
    // The floor: 1 + the sharp fraction (LookSAM and RST: the nominal 1 + 1/k and 1 + p; AE-SAM and the others: measured).
    const nominalFloor = spec.key === 'lookSam' || spec.key === 'lookSamA0' ? 1 + 1 / K : spec.key === 'rst' ? 1 + P : spec.key === 'base' ? 1 : spec.key === 'sam' ? 2 : 1 + sharpFraction;
    const perRoundFloor = blockFractions.map((f) => 1 + f);
    const overFloor = ratios.map((ratio, r) => ratio / perRoundFloor[r]!);
    // What the schedule would cost if a sharp step cost a SAM step and a plain step a base step, per round.
    const predicted = blockFractions.map((f, r) => 1 + f * (samRatios[r]! - 1));
    const otherRatios = paired(clocks[other], i);
    // The ratio of the total times over all rounds: with a sharp fraction that changes from block to
    // block (AE-SAM), the median block is not the run; this is what the run cost against 1 + its fraction.
    const sum = (values: readonly number[]) => values.reduce((a, b) => a + b, 0);
    const ofTotals = sum(seconds) / sum(samples[0]!);
    const excess = ratios.map((ratio, r) => ratio - perRoundFloor[r]!);
    return {
      key: spec.key,
      label: spec.label,
      secondsPerStep: { median: median(seconds), min: min(seconds), max: max(seconds), rounds: seconds },
      ratio: { value: median(ratios), ofMedians: median(seconds) / baseMedian, ofTotals, min: min(ratios), max: max(ratios), rounds: ratios },
      /** Per round: the ratio minus 1 + that block's sharp fraction (median, min–max). */
      excessOverFloor: { value: median(excess), min: min(excess), max: max(excess), rounds: excess },
      otherClock: { clock: other, secondsPerStep: median(clocks[other][i]!), ratio: median(otherRatios), rounds: otherRatios },
      sharpFraction: { timed: sharpFraction, perRound: blockFractions, allSteps: variant.sharpLog.filter(Boolean).length / variant.sharpLog.length },
      floor: { nominal: nominalFloor, measured: 1 + sharpFraction },
      overMeasuredFloor: { value: median(overFloor), min: min(overFloor), max: max(overFloor) },
      predictedFromSam: { value: median(predicted), rounds: predicted },
      evaluationsPerStep: evaluationsTimed[i]!,
      hostReads: { steps: COUNT_STEPS, expectedPerStep: spec.expectedReads, ...reads[i]! },
    };
  });

  const checks: Check[] = [];
  for (const r of rows) {
    const check = (quantity: string, target: string, limit: number, measured: number) => checks.push({ backend, key: r.key, quantity, target, limit, measured, pass: measured <= limit });
    if (r.key === 'lookSam') check('× base', `≤ ${TARGETS.lookSam}`, TARGETS.lookSam, r.ratio.value);
    else if (r.key === 'rst') {
      // The issue's fixed limit assumes the nominal fraction p; the seeded draws of the timed window
      // gave r.sharpFraction.timed, whose own floor may already be above it. So also: the excess over
      // the floor of what was drawn, per round (each block's own fraction), with the same allowance.
      check('× base', `≤ ${TARGETS.rst} (fixed; drawn floor ${r.floor.measured.toFixed(3)})`, TARGETS.rst, r.ratio.value);
      check('− drawn floor', `≤ +${TARGETS.rstOverDrawnFloor}`, TARGETS.rstOverDrawnFloor, r.excessOverFloor.value);
    }
    // AE-SAM: the run's total time against 1 + the run's sharp fraction (its sharp steps bunch up at the start).
    else if (r.key === 'aeSam') check('total × base', `≤ floor + ${TARGETS.aeSamOverFloor} = ${(r.floor.measured + TARGETS.aeSamOverFloor).toFixed(3)}`, r.floor.measured + TARGETS.aeSamOverFloor, r.ratio.ofTotals);
  }

  console.log(
    formatTable(
      [
        { header: 'variant' },
        { header: `${options.clock} ms/step`, align: 'right' },
        { header: '× base (rounds)', align: 'right' },
        { header: `${other} × base`, align: 'right' },
        { header: 'total × base', align: 'right' },
        { header: 'sharp fraction', align: 'right' },
        { header: 'floor', align: 'right' },
        { header: '× measured floor', align: 'right' },
        { header: '− floor (rounds)', align: 'right' },
        { header: '1 + f·(SAM − 1)', align: 'right' },
        { header: 'evals/step', align: 'right' },
        { header: 'host reads/step', align: 'right' },
        { header: 'target' },
        { header: 'result' },
      ],
      rows.map((r, i) => {
        const mine = checks.filter((c) => c.key === r.key);
        return [
          r.label,
          ms(r.secondsPerStep.median),
          i === 0 ? '1' : `${r.ratio.value.toFixed(3)} (${r.ratio.min.toFixed(2)}–${r.ratio.max.toFixed(2)})`,
          i === 0 ? `(${ms(r.otherClock.secondsPerStep)} ms)` : r.otherClock.ratio.toFixed(3),
          i === 0 ? '1' : r.ratio.ofTotals.toFixed(3),
          r.sharpFraction.timed.toFixed(3),
          r.floor.nominal.toFixed(3),
          i === 0 ? '' : r.overMeasuredFloor.value.toFixed(3),
          i === 0 ? '' : `${signed(r.excessOverFloor.value, 3)} (${signed(r.excessOverFloor.min, 2)}…${signed(r.excessOverFloor.max, 2)})`,
          i <= 1 ? '' : r.predictedFromSam.value.toFixed(3),
          r.evaluationsPerStep.toFixed(2),
          readsPerStep(r.hostReads, COUNT_STEPS),
          mine.map((c) => (mine.length > 1 ? `${c.quantity} ${c.target}` : c.target)).join('; '),
          mine.map((c) => (c.pass ? 'PASS' : 'FAIL')).join(' / '),
        ];
      }),
    ),
  );
  const readsOff = rows.filter((r) => r.hostReads.step / COUNT_STEPS !== r.hostReads.expectedPerStep);
  const rst = rows.find((r) => r.key === 'rst')!;
  console.log(
    `RST's draws: ${Math.round(rst.sharpFraction.timed * timedSteps)} of ${timedSteps} timed steps sharp (fraction ${rst.sharpFraction.timed.toFixed(3)}, p = ${P}; ` +
      `per block ${min(rst.sharpFraction.perRound).toFixed(1)}–${max(rst.sharpFraction.perRound).toFixed(1)}), so its floor in this window is ${rst.floor.measured.toFixed(3)}` +
      (rst.floor.measured > TARGETS.rst ? `, above the fixed limit ${TARGETS.rst}: that check cannot pass on this draw` : ''),
  );
  console.log(`checks (${backend}):`);
  for (const c of checks) {
    const measured = c.quantity === '− drawn floor' ? signed(c.measured, 3) : c.measured.toFixed(3);
    console.log(`  ${c.pass ? 'PASS' : 'FAIL'}  ${rows.find((r) => r.key === c.key)!.label}: ${c.quantity} ${measured} ${c.target}`);
  }
  console.log(`host reads: ${readsOff.length === 0 ? 'as designed for every variant (AE-SAM 1 per step, the others 0)' : `unexpected for ${readsOff.map((r) => r.label).join(', ')}`}`);

  for (const variant of variants) variant.dispose();
  model.dispose();
  tf.dispose([xs, ys]);
  return { backend, clock: options.clock, parameters, variants: rows, roundOrders: timing.orders.map((order) => order.map((i) => variants[i]!.spec.key)), checks, telemetry };
}

function printSummary(entries: readonly BackendEntry[], clock: 'cpu' | 'wall'): void {
  const columns: Column[] = [{ header: 'variant' }, { header: 'floor' }, { header: 'target' }];
  for (const entry of entries) {
    columns.push({ header: `${entry.backend} × base`, align: 'right' }, { header: `${entry.backend} total`, align: 'right' }, { header: `${entry.backend} sharp`, align: 'right' }, { header: entry.backend });
  }
  const rows = SPECS.map((spec) => {
    const first = entries[0]?.variants.find((v) => v.key === spec.key);
    const cells = [spec.label, first === undefined ? '' : spec.key === 'aeSam' ? '1 + measured' : first.floor.nominal.toFixed(2)];
    cells.push(
      spec.key === 'lookSam'
        ? `≤ ${TARGETS.lookSam}`
        : spec.key === 'rst'
          ? `≤ ${TARGETS.rst}; − drawn floor ≤ +${TARGETS.rstOverDrawnFloor}`
          : spec.key === 'aeSam'
            ? `≤ floor + ${TARGETS.aeSamOverFloor}`
            : '',
    );
    for (const entry of entries) {
      const r = entry.variants.find((v) => v.key === spec.key)!;
      const mine = entry.checks.filter((c) => c.key === spec.key);
      const verdict = (c: Check) =>
        `${c.pass ? 'PASS' : 'FAIL'}${spec.key === 'aeSam' ? ` (≤ ${c.limit.toFixed(3)})` : c.quantity === '− drawn floor' ? ` (${signed(c.measured, 3)})` : ''}`;
      cells.push(spec.key === 'base' ? '1' : r.ratio.value.toFixed(3), spec.key === 'base' ? '1' : r.ratio.ofTotals.toFixed(3), r.sharpFraction.timed.toFixed(3), mine.map(verdict).join(' / '));
    }
    return cells;
  });
  console.log(`\n== summary (× base: median of per-round ratios; total: ratio of the total times; ${clock} clock; AE-SAM is checked on the total)\n${formatTable(columns, rows)}`);
}

process.exitCode = await main(process.argv.slice(2));
