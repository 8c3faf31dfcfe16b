/** One training run of the demo — from `flatmin/cli`, re-exported for the benchmarks. */
export { type RunResult, type RunSettings, type TensorData, trainAndEvaluate } from 'flatmin/cli';
