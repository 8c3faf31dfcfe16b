#!/usr/bin/env node
/**
 * flatmin schedules on real MNIST: test accuracy of LookSAM `everyK({ k: 5 })`, RST
 * `randomly({ p: 0.5 })` and AE-SAM `adaptivePolicy({ totalSteps })` against SAM
 * (`gradient({ rho: 0.05 })`) and plain SGD, over several seeds, with the fraction of sharp steps
 * each took and its wall time. The data split, the MLP (784-256-256-10, softmax) and the training
 * loop (`model.fit`, no shuffling: the pool is already in a fixed seeded order) are the demo's
 * (`examples/mnist`). The seed sets the initial weights and the optimizer's generator (RST's draws).
 *
 * `--looksam-sweep` runs LookSAM's α ∈ {0, 0.1, 0.3, 0.7} × granularity {'global', 'tensor'} at
 * k = 5 (next to SGD and SAM) instead of the default methods.
 *
 * Writes the numbers to bench/results/schedules-mnist.json (the sweep: schedules-mnist-looksam.json).
 * `--help` lists the flags.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-layers'; // registers the gradients model.fit needs
import { formatTable } from 'flatmin/cli';
import { type Schedule, sharpnessAware } from '@flatmin/core';
import { loadMnist, toTensors } from '@flatmin/example-mnist/dist/data.js';
import { trainAndEvaluate } from '@flatmin/example-mnist/dist/train.js';
import { gradient } from '@flatmin/perturb-gradient';
import { adaptivePolicy } from '@flatmin/schedule-adaptive';
import { everyK } from '@flatmin/schedule-every-k';
import { randomly } from '@flatmin/schedule-random';
import { MNIST_DEFAULTS, MNIST_USAGE, type MnistOptions, parseMnistArgs, UsageError } from './args.js';
import { logSource, machineInfo, sourceState, writeResults } from './report.js';
import { selectBackend } from './setup.js';
import { max, min } from './stats.js';

interface Method {
  readonly key: string;
  readonly label: string;
  readonly description: string;
  /** null: plain SGD; otherwise the schedule (undefined: SAM, every step sharp). */
  readonly schedule: null | ((totalSteps: number) => Schedule | undefined);
}

const DEFAULT_METHODS: readonly Method[] = [
  { key: 'sgd', label: 'SGD', description: `tf.train.sgd(${MNIST_DEFAULTS.lr})`, schedule: null },
  { key: 'sam', label: 'SAM', description: `gradient({ rho: ${MNIST_DEFAULTS.rho} }), every step sharp`, schedule: () => undefined },
  { key: 'lookSam', label: 'LookSAM k=5', description: 'everyK({ k: 5 }) (α 0.7)', schedule: () => everyK({ k: 5 }) },
  { key: 'lookSamA0', label: 'ref: k=5 α=0', description: 'everyK({ k: 5, alpha: 0 }): LookSAM without reusing the sharpness component (plain every-k SAM), a reference', schedule: () => everyK({ k: 5, alpha: 0 }) },
  { key: 'rst', label: 'RST p=0.5', description: 'randomly({ p: 0.5 })', schedule: () => randomly({ p: 0.5 }) },
  { key: 'aeSam', label: 'AE-SAM', description: 'adaptivePolicy({ totalSteps: epochs × batches per epoch }) (δ 0.9, λ₁ −1, λ₂ 1)', schedule: (totalSteps) => adaptivePolicy({ totalSteps }) },
];

/**
 * `--looksam-sweep`: LookSAM's α × granularity at k = 5, next to SGD and SAM. α = 0 keeps no state
 * (both granularities are the same optimizer), so it runs once.
 */
const LOOKSAM_SWEEP: readonly Method[] = [
  DEFAULT_METHODS[0]!,
  DEFAULT_METHODS[1]!,
  { key: 'a0', label: 'α=0', description: 'everyK({ k: 5, alpha: 0 }): plain every-k SAM (no reuse; the granularity does not apply)', schedule: () => everyK({ k: 5, alpha: 0 }) },
  ...[0.1, 0.3, 0.7].flatMap((alpha) =>
    (['global', 'tensor'] as const).map((granularity) => ({
      key: `a${alpha}-${granularity}`,
      label: `α=${alpha} ${granularity}`,
      description: `everyK({ k: 5, alpha: ${alpha}, granularity: '${granularity}' })`,
      schedule: () => everyK({ k: 5, alpha, granularity }),
    })),
  ),
];

/** Progress bars go nowhere: one line per run is printed instead. */
const SILENT = { write: () => true, isTTY: false } as const;

interface Run {
  readonly method: string;
  readonly seed: number;
  readonly testAccuracy: number;
  readonly trainLoss: number;
  readonly steps: number;
  readonly sharpSteps: number;
  readonly sharpFraction: number;
  readonly lossEvaluations: number;
  readonly skippedSteps: number;
  readonly seconds: number;
}

async function main(argv: readonly string[]): Promise<number> {
  let parsed: ReturnType<typeof parseMnistArgs>;
  try {
    parsed = parseMnistArgs(argv);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`error: ${error.message}\nRun with --help to see the flags.\n`);
    return 2;
  }
  if (parsed.help) {
    process.stdout.write(MNIST_USAGE);
    return 0;
  }
  await run(parsed);
  return 0;
}

async function run(options: MnistOptions): Promise<void> {
  const METHODS = options.looksamSweep ? LOOKSAM_SWEEP : DEFAULT_METHODS;
  const backend = await selectBackend(options.backend);
  const stepsPerEpoch = Math.ceil(options.train / options.batch);
  const totalSteps = stepsPerEpoch * options.epochs;
  const seeds = Array.from({ length: options.seeds }, (_, i) => i + 1);
  console.log(
    `schedules on MNIST: the demo's MLP 784-256-256-10, ${options.train} train / ${options.test} test images, ${options.epochs} epochs × batch ${options.batch} ` +
      `(${totalSteps} steps), lr ${MNIST_DEFAULTS.lr}, ρ ${MNIST_DEFAULTS.rho} | backend ${backend} | ${METHODS.length} methods × seeds ${seeds.join(', ')}`,
  );
  const source = sourceState();
  logSource(source);
  const started = performance.now();
  const raw = loadMnist(options.train, options.test);
  const data = { train: toTensors(raw.train), test: toTensors(raw.test) };
  const settingsOf = (seed: number) => ({ epochs: options.epochs, batch: options.batch, seed });
  const runs: Run[] = [];
  try {
    // Seed-major, so a drift of the shared machine hits every method alike.
    for (const seed of seeds) {
      for (const method of METHODS) {
        const base = tf.train.sgd(MNIST_DEFAULTS.lr);
        let result: Run;
        if (method.schedule === null) {
          const r = await trainAndEvaluate(method.label, base, data, settingsOf(seed), SILENT);
          base.dispose();
          result = { method: method.key, seed, testAccuracy: r.testAccuracy, trainLoss: r.trainLoss, steps: r.steps, sharpSteps: 0, sharpFraction: 0, lossEvaluations: r.steps, skippedSteps: 0, seconds: r.seconds };
        } else {
          const schedule = method.schedule(totalSteps);
          const perturbation = gradient({ rho: MNIST_DEFAULTS.rho });
          const optimizer =
            schedule === undefined ? sharpnessAware({ base, perturbation, seed }) : sharpnessAware({ base, perturbation, schedule, seed });
          const r = await trainAndEvaluate(method.label, optimizer, data, settingsOf(seed), SILENT);
          const telemetry = await optimizer.telemetry();
          result = {
            method: method.key,
            seed,
            testAccuracy: r.testAccuracy,
            trainLoss: r.trainLoss,
            steps: optimizer.steps,
            sharpSteps: optimizer.sharpSteps,
            sharpFraction: optimizer.sharpSteps / optimizer.steps,
            lossEvaluations: optimizer.lossEvaluations,
            skippedSteps: telemetry.skippedSteps,
            seconds: r.seconds,
          };
          optimizer.dispose();
        }
        runs.push(result);
        console.log(
          `  seed ${seed} ${method.label.padEnd(14)} test acc ${(100 * result.testAccuracy).toFixed(2)} %  train loss ${result.trainLoss.toFixed(4)}  sharp ${result.sharpSteps}/${result.steps}  ` +
            `${result.seconds.toFixed(1)} s  (${((performance.now() - started) / 1000).toFixed(0)} s since the start)`,
        );
      }
    }
  } finally {
    tf.dispose([data.train.xs, data.train.ys, data.test.xs, data.test.ys]);
  }

  const mean = (values: readonly number[]) => values.reduce((a, b) => a + b, 0) / values.length;
  const summary = METHODS.map((method) => {
    const mine = runs.filter((r) => r.method === method.key);
    const accuracy = mine.map((r) => r.testAccuracy);
    const seconds = mine.map((r) => r.seconds);
    const fractions = mine.map((r) => r.sharpFraction);
    return {
      key: method.key,
      label: method.label,
      description: method.description,
      testAccuracy: { mean: mean(accuracy), min: min(accuracy), max: max(accuracy), runs: accuracy },
      trainLoss: { mean: mean(mine.map((r) => r.trainLoss)) },
      sharpFraction: { mean: mean(fractions), min: min(fractions), max: max(fractions) },
      seconds: { mean: mean(seconds), min: min(seconds), max: max(seconds) },
    };
  });
  const sgdSeconds = summary[0]!.seconds.mean;
  const pct = (x: number) => (100 * x).toFixed(2);
  console.log(
    `\n== test accuracy over seeds ${seeds.join(', ')} (mean, min–max)\n${formatTable(
      [
        { header: 'method' },
        { header: 'test acc %', align: 'right' },
        { header: 'min–max', align: 'right' },
        { header: 'train loss', align: 'right' },
        { header: 'sharp fraction', align: 'right' },
        { header: 'wall s/run', align: 'right' },
        { header: '× SGD time', align: 'right' },
      ],
      summary.map((s) => [
        s.label,
        pct(s.testAccuracy.mean),
        `${pct(s.testAccuracy.min)}–${pct(s.testAccuracy.max)}`,
        s.trainLoss.mean.toFixed(4),
        s.sharpFraction.min === s.sharpFraction.max ? s.sharpFraction.mean.toFixed(3) : `${s.sharpFraction.mean.toFixed(3)} (${s.sharpFraction.min.toFixed(3)}–${s.sharpFraction.max.toFixed(3)})`,
        `${s.seconds.mean.toFixed(1)} (${s.seconds.min.toFixed(0)}–${s.seconds.max.toFixed(0)})`,
        (s.seconds.mean / sgdSeconds).toFixed(2),
      ]),
    )}`,
  );
  console.log(`total ${((performance.now() - started) / 1000).toFixed(0)} s`);

  writeResults(options.looksamSweep ? 'schedules-mnist-looksam.json' : 'schedules-mnist.json', {
    date: new Date().toISOString(),
    machine: machineInfo(),
    source,
    backend,
    config: { ...options, lr: MNIST_DEFAULTS.lr, rho: MNIST_DEFAULTS.rho, stepsPerEpoch, totalSteps, seeds, shuffle: false, methods: METHODS.map(({ key, label, description }) => ({ key, label, description })) },
    summary,
    runs,
  });
}

process.exitCode = await main(process.argv.slice(2));
