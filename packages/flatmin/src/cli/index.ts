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
export { type Geometry, parseRepro, REPRO_SECTIONS, type ReproMachine, type ReproMethod, type ReproOptions, type ReproReport, type ReproRun, type ReproSection, type ReproTrainingSet, runRepro } from './repro.js';
export { flipLabels, longTailed, seededUniform } from './repro-data.js';
export { type Paired, paired, reproMarkdown, reproPictures, type Summary, summarize, verdict } from './repro-report.js';
export { Progress, type ProgressOptions } from './progress.js';
export { CliError } from './runtime.js';
export { type RunResult, type RunSettings, type TensorData, trainAndEvaluate } from './train.js';
