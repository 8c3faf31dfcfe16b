/**
 * The three measurements: interleaved step time of several variants, peak memory of one step, host reads.
 */
import * as tf from '@tensorflow/tfjs-core';

/** One optimizer step (synchronous: it only enqueues work on an async backend). */
export type Step = () => void;

/**
 * Wait until the backend has finished everything enqueued so far, with one tiny read
 * (one number of `variable`). On cpu/wasm the steps already ran; on an async backend
 * (webgl, tfjs-node) this is what makes the wall clock cover the work.
 */
export async function settle(variable: tf.Tensor): Promise<void> {
  const one = tf.tidy(() => tf.slice(tf.reshape(variable, [-1]), 0, 1));
  await one.data();
  one.dispose();
}

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
}

/** The order of `n` variants in round `round` (from 0): 0..n-1 rotated left by `round`, so it starts with variant `round mod n`. */
export function rotatedOrder(n: number, round: number): number[] {
  return Array.from({ length: n }, (_, i) => (i + round) % n);
}

/**
 * Warm every step up, then `rounds` rounds of one block of `k` steps of each, in an order that
 * rotates by one every round ({@link rotatedOrder}) so a slow drift of the machine, or the
 * position within a round, hits all alike. Each block ends with one `settle`, inside the
 * timed span.
 */
export async function interleavedTiming(
  steps: readonly Step[],
  options: { rounds: number; steps: number; warmup: number; variable: tf.Tensor; onRound?: (round: number) => void },
): Promise<Timing> {
  const block = async (step: Step, k: number) => {
    const cpu = process.cpuUsage();
    const started = performance.now();
    for (let i = 0; i < k; i++) step();
    await settle(options.variable);
    const wall = (performance.now() - started) / 1000 / k;
    const used = process.cpuUsage(cpu);
    return { wall, cpu: (used.user + used.system) / 1e6 / k };
  };
  for (const step of steps) await block(step, options.warmup);

  const timing: Timing = { seconds: steps.map(() => []), cpuSeconds: steps.map(() => []), orders: [] };
  for (let round = 0; round < options.rounds; round++) {
    const order = rotatedOrder(steps.length, round);
    for (const index of order) {
      const { wall, cpu } = await block(steps[index]!, options.steps);
      timing.seconds[index]!.push(wall);
      timing.cpuSeconds[index]!.push(cpu);
    }
    timing.orders.push(order);
    options.onRound?.(round + 1);
  }
  return timing;
}

export interface StepMemory {
  /** Highest `tf.memory().numBytes` during the step, minus the bytes before it. */
  readonly peakExtraBytes: number;
  /** Bytes still allocated after the step that were not before (0 when nothing leaks). */
  readonly newBytes: number;
  /** Tensors still allocated after the step that were not before. */
  readonly newTensors: number;
}

/** `tf.profile` of one step. Run a step before it so lazily created state is not counted. */
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
 * Count calls of the backend's `readSync` and `read` while `steps` steps run (a `read` that
 * calls `readSync` counts once), split by whether a kernel was running at the time.
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
