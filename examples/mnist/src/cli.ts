/**
 * The demo, as a function: parse the flags, pick the backend, load MNIST, train with
 * SGD and with SAM, print the table. `demo.ts` calls it with `process.argv`; the tests
 * call it with a small configuration.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-layers'; // registers the gradients model.fit needs
import { sharpnessAware, type Telemetry } from '@flatmin/core';
import { gradient } from '@flatmin/perturb-gradient';
import { type DemoOptions, parseDemoArgs, USAGE, UsageError } from './args.js';
import { selectBackend } from './backend.js';
import { loadMnist, toTensors } from './data.js';
import type { Output } from './progress.js';
import { formatTable } from '@flatmin/cli-kit';
import { type RunResult, trainAndEvaluate } from './train.js';

export interface DemoReport {
  readonly backend: string;
  readonly options: DemoOptions;
  readonly sgd: RunResult;
  readonly sam: RunResult & { readonly telemetry: Telemetry };
}

/** Run the demo for a command line; returns the process exit code (0 ok, 2 bad flags). */
export async function main(
  argv: readonly string[],
  output: Output = process.stdout,
  errors: Output = process.stderr,
): Promise<number> {
  let parsed: ReturnType<typeof parseDemoArgs>;
  try {
    parsed = parseDemoArgs(argv);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    errors.write(`error: ${error.message}\nRun with --help to see the flags.\n`);
    return 2;
  }
  if (parsed.help) {
    output.write(USAGE);
    return 0;
  }
  await runDemo(parsed, output);
  return 0;
}

/** Train the same MLP with SGD and with SAM and print the comparison. */
export async function runDemo(options: DemoOptions, output: Output): Promise<DemoReport> {
  const backend = await selectBackend(options.backend);
  output.write(
    `MNIST MLP 784-256-256-10 | ${options.train} train / ${options.test} test | ` +
      `${options.epochs} epoch${options.epochs === 1 ? '' : 's'} × batch ${options.batch} | lr ${options.lr}, rho ${options.rho}, seed ${options.seed} | backend ${backend}\n`,
  );

  const raw = loadMnist(options.train, options.test);
  const data = { train: toTensors(raw.train), test: toTensors(raw.test) };
  const settings = { epochs: options.epochs, batch: options.batch, seed: options.seed };
  try {
    const sgdOptimizer = tf.train.sgd(options.lr);
    const sgd = await trainAndEvaluate('SGD', sgdOptimizer, data, settings, output);
    sgdOptimizer.dispose();

    const samOptimizer = sharpnessAware({
      base: tf.train.sgd(options.lr),
      perturbation: gradient({ rho: options.rho }),
      seed: options.seed,
    });
    const samRun = await trainAndEvaluate('SAM', samOptimizer, data, settings, output);
    const telemetry = await samOptimizer.telemetry();
    samOptimizer.dispose();
    const sam = { ...samRun, telemetry };

    output.write(`\n${resultsTable(sgd, sam)}\n`);
    output.write(`${telemetryLine(telemetry)}\n`);
    return { backend, options, sgd, sam };
  } finally {
    for (const part of [data.train, data.test]) tf.dispose([part.xs, part.ys]);
  }
}

export function resultsTable(sgd: RunResult, sam: RunResult): string {
  const row = (run: RunResult) => [
    run.method,
    `${(run.testAccuracy * 100).toFixed(2)}%`,
    run.trainLoss.toFixed(4),
    `${(run.secondsPerStep * 1000).toFixed(1)} ms`,
    (run.secondsPerStep / sgd.secondsPerStep).toFixed(2),
  ];
  return formatTable(
    [
      { header: 'method' },
      { header: 'test accuracy', align: 'right' },
      { header: 'train loss', align: 'right' },
      { header: 'time/step', align: 'right' },
      { header: 'time vs SGD', align: 'right' },
    ],
    [row(sgd), row(sam)],
  );
}

function telemetryLine(telemetry: Telemetry): string {
  const show = (value: number, digits = 4) => (Number.isNaN(value) ? 'n/a' : value.toFixed(digits));
  return (
    `SAM, last step: ‖g‖ ${show(telemetry.gradNorm)}, ‖ε‖ ${show(telemetry.epsilonNorm)} (rho ${show(telemetry.rho, 3)}), ` +
    `cos(g, g_adv) ${show(telemetry.cosine)}; sharp steps ${show(telemetry.sharpFraction * 100, 0)}% of ${telemetry.steps}, ` +
    `skipped ${telemetry.skippedSteps}`
  );
}
