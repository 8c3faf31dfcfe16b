/**
 * The three measurements: interleaved step time, peak memory of one step, host reads.
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
  /** Seconds per step of each block, per optimizer, in round order. */
  readonly base: number[];
  readonly sam: number[];
}

/**
 * Warm both up, then `rounds` rounds of a block of `k` base steps and a block of `k` SAM
 * steps (the order alternates every round so a slow drift of the machine hits both alike).
 * Each block ends with one `settle`, inside the timed span.
 */
export async function interleavedTiming(
  base: Step,
  sam: Step,
  options: { rounds: number; steps: number; warmup: number; variable: tf.Tensor; onRound?: (round: number) => void },
): Promise<Timing> {
  const block = async (step: Step, k: number) => {
    const started = performance.now();
    for (let i = 0; i < k; i++) step();
    await settle(options.variable);
    return (performance.now() - started) / 1000 / k;
  };
  await block(base, options.warmup);
  await block(sam, options.warmup);

  const timing: Timing = { base: [], sam: [] };
  for (let round = 0; round < options.rounds; round++) {
    if (round % 2 === 0) {
      timing.base.push(await block(base, options.steps));
      timing.sam.push(await block(sam, options.steps));
    } else {
      timing.sam.push(await block(sam, options.steps));
      timing.base.push(await block(base, options.steps));
    }
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

/**
 * Count the backend's reads to the host (`readSync` and `read`, each call counted once
 * even when `read` calls `readSync` inside) while `steps` steps run.
 */
export function countHostReads(step: Step, steps: number): number {
  const backend = tf.backend();
  const readSync = backend.readSync;
  const read = backend.read;
  let reads = 0;
  let inside = 0;
  backend.readSync = function (this: typeof backend, ...args: Parameters<typeof readSync>) {
    if (inside === 0) reads++;
    inside++;
    try {
      return readSync.apply(this, args);
    } finally {
      inside--;
    }
  };
  backend.read = function (this: typeof backend, ...args: Parameters<typeof read>) {
    if (inside === 0) reads++;
    inside++;
    try {
      return read.apply(this, args);
    } finally {
      inside--;
    }
  };
  try {
    for (let i = 0; i < steps; i++) step();
  } finally {
    backend.readSync = readSync;
    backend.read = read;
  }
  return reads;
}
