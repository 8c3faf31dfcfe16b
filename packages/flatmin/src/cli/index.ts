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
export {
  BENCH_DEFAULTS,
  BENCH_QUICK,
  BENCH_TARGETS,
  BENCH_USAGE,
  type BenchCheck,
  type BenchOptions,
  type BenchReport,
  type BenchRow,
  type BenchSettings,
  type BenchTargets,
  benchSummary,
  benchTable,
  memoryText,
  parseBench,
  runBench,
  type Spread,
  targetText,
  verdictText,
} from './bench.js';
export {
  BENCH_EXTRAS,
  type BenchData,
  type BenchVariant,
  buildBenchVariants,
  HAND_ROLLED_RHO,
  IMB_TAIL,
  presetKind,
  type RowKind,
  type VariantPlan,
  WORST_OF_K,
} from './bench-variants.js';
export { type Dataset, IMAGE_SIZE, loadMnist, NUM_CLASSES, poolSizes, type SampleRef, seededUniform, splitPools, toTensors } from './data.js';
export { type DemoOptions, type DemoReport, type DemoRun, runDemo } from './demo.js';
export { type CliIo, type Output, SILENT, UsageError } from './io.js';
export { type LandscapeOptions, type LandscapeReport, type LandscapeRun, runLandscape } from './landscape.js';
export { type ListedPreset, type ListOptions, runList } from './list.js';
export { main, USAGE } from './main.js';
export {
  countHostReads,
  type HostReads,
  interleavedTiming,
  type PairedTiming,
  rotatedOrder,
  shuffledOrder,
  settle,
  type Step,
  type StepMemory,
  stepMemory,
  type Timing,
  type TimingOptions,
} from './measure.js';
export { buildMlp, HIDDEN_UNITS } from './model.js';
export { type Geometry, parseRepro, REPRO_SECTIONS, type ReproMachine, type ReproMethod, type ReproOptions, type ReproReport, type ReproRun, type ReproSection, type ReproTrainingSet, runRepro } from './repro.js';
export { flipLabels, longTailed } from './repro-data.js';
export { type Paired, paired, reproMarkdown, reproPictures, type Summary, summarize, verdict } from './repro-report.js';
export { forwardThenPass, handRolledSam } from './reference.js';
export { Progress, type ProgressOptions } from './progress.js';
export { CliError } from './runtime.js';
export { type RunResult, type RunSettings, type TensorData, trainAndEvaluate } from './train.js';
export { type Column, formatTable } from './table.js';
