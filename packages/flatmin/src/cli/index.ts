/**
 * `flatmin/cli`: the `flatmin` command as functions — `main(argv)` runs a command line — and the
 * pieces of its MNIST demo (the fixed data split, the MLP, one training run), for scripts and
 * examples that want the same setup.
 *
 * @example
 * ```ts
 * import { main } from 'flatmin/cli';
 *
 * process.exitCode = await main(['demo', '--quick', '--method', 'sam,lookSam']);
 * ```
 *
 * @packageDocumentation
 */
export { BACKENDS, type CliBackend, type CommonOptions } from './args.js';
export { type BenchOptions, type BenchReport, type BenchRow, runBench, type Spread } from './bench.js';
export { type Dataset, IMAGE_SIZE, loadMnist, NUM_CLASSES, poolSizes, type SampleRef, splitPools, toTensors } from './data.js';
export { type DemoOptions, type DemoReport, type DemoRun, runDemo } from './demo.js';
export { type CliIo, type Output, SILENT, UsageError } from './io.js';
export { type LandscapeOptions, type LandscapeReport, type LandscapeRun, runLandscape } from './landscape.js';
export { type ListedPreset, type ListOptions, runList } from './list.js';
export { main, USAGE } from './main.js';
export { buildMlp, HIDDEN_UNITS } from './model.js';
export { Progress, type ProgressOptions } from './progress.js';
export { CliError } from './runtime.js';
export { type RunResult, type RunSettings, type TensorData, trainAndEvaluate } from './train.js';
