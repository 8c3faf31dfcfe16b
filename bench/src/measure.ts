/**
 * The three measurements: interleaved step time of several variants, peak memory of one step, host
 * reads. They live in `flatmin/cli` (the engine of `flatmin bench`); the benchmarks here import
 * them from there.
 */
export { countHostReads, type HostReads, interleavedTiming, rotatedOrder, settle, shuffledOrder, type Step, type StepMemory, stepMemory, type Timing } from 'flatmin/cli';
