/**
 * The measurements of `flatmin bench` (and of the repository's benchmarks, which import them from
 * `flatmin/cli`): interleaved step times of several variants, the peak memory of one step, and the
 * host reads a step makes.
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { shuffled } from './data.js';

/** One optimizer step (synchronous: on an async backend it only enqueues the work). */
export type Step = () => void;

/**
 * Wait until the backend has finished everything enqueued so far, with one tiny read (one number
 * of `variable`). On cpu/wasm the steps already ran; on an async backend (webgl, tfjs-node) this
 * is what makes the wall clock cover the work.
 *
 * @param variable any tensor the steps write (one of its numbers is read).
 *
 * @example
 * ```ts
 * import { settle } from 'flatmin/cli';
 *
 * const started = performance.now();
 * for (let i = 0; i < 5; i++) optimizer.minimize(loss, false, variables);
 * await settle(variables[0]);
 * console.log((performance.now() - started) / 5, 'ms per step');
 * ```
 */
export async function settle(variable: tf.Tensor): Promise<void> {
  const one = tf.tidy(() => tf.slice(tf.reshape(variable, [-1]), 0, 1));
  await one.data();
  one.dispose();
}

/** What {@link interleavedTiming} measured. */
export interface Timing {
  /** Seconds per step of each block (wall clock): `seconds[variant][round]`. */
  readonly seconds: number[][];
  /**
   * CPU seconds of this process per step of each block (`process.cpuUsage`, user + system):
   * `cpuSeconds[variant][round]`. The cpu and wasm backends compute on this process's one
   * JavaScript thread, so on a machine shared with other work this is the step's own cost, without
   * the time the process waited for a core.
   */
  readonly cpuSeconds: number[][];
  /** The order the variants ran in, per round (indices into the steps). */
  readonly orders: number[][];
  /**
   * With {@link TimingOptions.pairWith}: the base's block timed right next to each step's block,
   * `paired.seconds[variant][round]` (wall) and `paired.cpuSeconds[variant][round]` (CPU), per
   * step of the block; for the base itself, its own block. `null` without `pairWith`.
   */
  readonly paired: PairedTiming | null;
}

/** The base's blocks timed next to each step's blocks ({@link TimingOptions.pairWith}). */
export interface PairedTiming {
  /** Wall seconds per step of the base's block next to each step's block: `seconds[variant][round]`. */
  readonly seconds: number[][];
  /** CPU seconds per step of the same blocks: `cpuSeconds[variant][round]`. */
  readonly cpuSeconds: number[][];
}

/**
 * The order of `n` variants in round `round` (from 0): 0..n-1 rotated left by `round`, so it
 * starts with variant `round mod n`.
 *
 * @example
 * ```ts
 * import { rotatedOrder } from 'flatmin/cli';
 *
 * rotatedOrder(3, 1); // [1, 2, 0]
 * ```
 */
export function rotatedOrder(n: number, round: number): number[] {
  return Array.from({ length: n }, (_, i) => (i + round) % n);
}

/**
 * The order of `n` variants in round `round` (from 0), shuffled: a Fisher–Yates permutation of
 * 0..n-1 drawn from a small generator seeded by `seed` and `round`, so the same seed gives the same
 * orders. Unlike {@link rotatedOrder}, which keeps every variant's neighbours the same round after
 * round (a rotation of a cycle is the same cycle), each variant follows a different one from round
 * to round: what a block leaves behind (garbage for the collector, a cold cache) is not always
 * paid by the same next block.
 *
 * @example
 * ```ts
 * import { shuffledOrder } from 'flatmin/cli';
 *
 * shuffledOrder(4, 0, 1); // a permutation of [0, 1, 2, 3], the same on every call
 * ```
 */
export function shuffledOrder(n: number, round: number, seed: number): number[] {
  // One generator state per (seed, round), mixed so neighbouring seeds and rounds draw apart.
  const state = (Math.imul(seed | 0, 0x9e3779b1) ^ Math.imul(round + 1, 0x85ebca6b)) >>> 0;
  return shuffled(rotatedOrder(n, 0), state);
}

/** The options of {@link interleavedTiming}. */
export interface TimingOptions {
  /** Rounds: each times one block of every step. */
  readonly rounds: number;
  /** Steps per block. */
  readonly steps: number;
  /** Untimed steps of each variant first (one block each). */
  readonly warmup: number;
  /** A tensor every step writes (see {@link settle}): or one per variant. */
  readonly variable: tf.Tensor | readonly tf.Tensor[];
  /**
   * The index of a base step to time next to every other step: each block of another step gets a
   * block of the base of its own, just before it in even rounds and just after it in odd rounds
   * ({@link Timing.paired}). A ratio to that block compares two spans seconds apart, where the
   * same-round block of the base may be a whole round away; the price is one more base block per
   * step and round.
   */
  readonly pairWith?: number;
  /**
   * The order of the blocks in a round: `'rotate'` (the default, {@link rotatedOrder}) or
   * `'shuffle'` ({@link shuffledOrder} with {@link TimingOptions.seed}), which changes every
   * variant's neighbours from round to round.
   */
  readonly order?: 'rotate' | 'shuffle';
  /** The seed of `order: 'shuffle'` (default 1). */
  readonly seed?: number;
  /** Called once the warm-up steps of every variant are done, before the first timed block. */
  readonly afterWarmup?: () => void;
  /** Called after each round (from 1). */
  readonly onRound?: (round: number) => void;
  /** Called after each timed block, with the number of blocks done so far and the round (from 1). */
  readonly onBlock?: (done: number, round: number) => void;
}

/**
 * Warm every step up, then `rounds` rounds of one block of `steps` steps of each, in an order that
 * rotates by one every round ({@link rotatedOrder}; or is shuffled, `order: 'shuffle'`) so a slow
 * drift of the machine, or the position within a round, hits all alike. Each block ends with one {@link settle}, inside the
 * timed span. With `pairWith`, every other step's block is timed next to a block of that base step
 * of its own.
 *
 * @example
 * ```ts
 * import { interleavedTiming } from 'flatmin/cli';
 *
 * const timing = await interleavedTiming([baseStep, samStep], { rounds: 10, steps: 5, warmup: 3, variable: variables[0] });
 * const ratios = timing.seconds[1].map((s, round) => s / timing.seconds[0][round]);
 * ```
 */
export async function interleavedTiming(steps: readonly Step[], options: TimingOptions): Promise<Timing> {
  const base = options.pairWith;
  if (base !== undefined && !(Number.isInteger(base) && base >= 0 && base < steps.length)) throw new RangeError(`interleavedTiming: pairWith must be the index of a step (0–${steps.length - 1}), got ${base}`);
  if (options.order !== undefined && options.order !== 'rotate' && options.order !== 'shuffle') throw new RangeError(`interleavedTiming: order must be 'rotate' or 'shuffle', got ${String(options.order)}`);
  const orderOf = (round: number) => (options.order === 'shuffle' ? shuffledOrder(steps.length, round, options.seed ?? 1) : rotatedOrder(steps.length, round));
  const settleOn = (index: number) => (Array.isArray(options.variable) ? (options.variable as readonly tf.Tensor[])[index]! : (options.variable as tf.Tensor));
  const block = async (index: number, k: number) => {
    const step = steps[index]!;
    const cpu = process.cpuUsage();
    const started = performance.now();
    for (let i = 0; i < k; i++) step();
    await settle(settleOn(index));
    const wall = (performance.now() - started) / 1000 / Math.max(k, 1);
    const used = process.cpuUsage(cpu);
    return { wall, cpu: (used.user + used.system) / 1e6 / Math.max(k, 1) };
  };
  for (let index = 0; index < steps.length; index++) await block(index, options.warmup);
  options.afterWarmup?.();

  const paired: PairedTiming | null = base === undefined ? null : { seconds: steps.map((): number[] => []), cpuSeconds: steps.map((): number[] => []) };
  const timing: Timing = { seconds: steps.map(() => []), cpuSeconds: steps.map(() => []), orders: [], paired };
  let done = 0;
  for (let round = 0; round < options.rounds; round++) {
    const order = orderOf(round);
    for (const index of order) {
      const alone = paired === null || index === base;
      const before = alone || round % 2 === 1 ? null : await block(base!, options.steps);
      const { wall, cpu } = await block(index, options.steps);
      const partner = alone ? { wall, cpu } : (before ?? (await block(base!, options.steps)));
      timing.seconds[index]!.push(wall);
      timing.cpuSeconds[index]!.push(cpu);
      if (paired !== null) {
        paired.seconds[index]!.push(partner.wall);
        paired.cpuSeconds[index]!.push(partner.cpu);
      }
      options.onBlock?.(++done, round + 1);
    }
    timing.orders.push(order);
    options.onRound?.(round + 1);
  }
  return timing;
}

/** What {@link stepMemory} found. */
export interface StepMemory {
  /** Highest `tf.memory().numBytes` during the step, minus the bytes before it. */
  readonly peakExtraBytes: number;
  /** Bytes still allocated after the step that were not before (0 when nothing leaks). */
  readonly newBytes: number;
  /** Tensors still allocated after the step that were not before. */
  readonly newTensors: number;
}

/**
 * `tf.profile` of one step: its peak memory above what was allocated before it. Run a step before
 * it so lazily created state (optimizer slots, a method's buffers) is not counted.
 *
 * @example
 * ```ts
 * import { stepMemory } from 'flatmin/cli';
 *
 * const { peakExtraBytes } = await stepMemory(() => optimizer.minimize(loss, false, variables));
 * ```
 */
export async function stepMemory(step: Step): Promise<StepMemory> {
  const before = tf.memory().numBytes;
  const profile = await tf.profile(() => {
    step();
  });
  return { peakExtraBytes: profile.peakBytes - before, newBytes: profile.newBytes, newTensors: profile.newTensors };
}

/** What {@link countHostReads} found. */
export interface HostReads {
  /** Reads made by the step's own code (`dataSync`, `data`, `arraySync`, ...): the ones that stall a device. */
  readonly step: number;
  /**
   * Reads a backend makes inside its own kernels (the cpu backend's `Tile` reads its input
   * buffer, which already lives on the host). Not a sync; reported for completeness.
   */
  readonly insideKernels: number;
}

/**
 * Count calls of the active backend's `readSync` and `read` while `steps` steps run (a `read` that
 * calls `readSync` counts once), split by whether a kernel was running at the time.
 *
 * @example
 * ```ts
 * import { countHostReads } from 'flatmin/cli';
 *
 * const reads = countHostReads(() => optimizer.minimize(loss, false, variables), 5);
 * console.log(reads.step / 5, 'host reads per step');
 * ```
 */
export function countHostReads(step: Step, steps: number): HostReads {
  const engine = tf.engine();
  const backend = tf.backend();
  const readSync = backend.readSync;
  const read = backend.read;
  const counts = { step: 0, insideKernels: 0 };
  let depth = 0;
  const counted = <Args extends unknown[], Result>(method: (...args: Args) => Result) =>
    function (this: typeof backend, ...args: Args): Result {
      if (depth === 0) {
        if (engine.state.kernelDepth > 0) counts.insideKernels++;
        else counts.step++;
      }
      depth++;
      try {
        return method.apply(this, args);
      } finally {
        depth--;
      }
    };
  backend.readSync = counted(readSync);
  backend.read = counted(read);
  try {
    for (let i = 0; i < steps; i++) step();
  } finally {
    backend.readSync = readSync;
    backend.read = read;
  }
  return counts;
}
