/**
 * The optimizer's seeded random source: sfc32 on the host (four 32-bit words of state,
 * saved by `getWeights`), and device draws seeded from it.
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import type { RandomSource } from './types.js';

/** sfc32 state: four unsigned 32-bit integers. */
export type GeneratorState = [number, number, number, number];

/**
 * Expand a user seed into an sfc32 state with splitmix32 (so nearby seeds give unrelated streams).
 *
 * @example
 * ```ts
 * const state = seedState(42); // four uint32 words; new SeededRandom(42) starts from them
 * ```
 */
export function seedState(seed: number): GeneratorState {
  let x = Math.floor(seed) >>> 0;
  const next = () => {
    x = (x + 0x9e3779b9) >>> 0;
    let z = x;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
  const state: GeneratorState = [next(), next(), next(), next()];
  return state;
}

/**
 * The seeded generator behind {@link RandomSource}.
 *
 * @example
 * ```ts
 * const random = new SeededRandom(7);
 * const u = random.uniform(); // in [0, 1), the same for every run with seed 7
 * const z = random.normal([3]); // device noise seeded from the generator
 * const saved = random.getState(); // restore later with random.setState(saved)
 * ```
 */
export class SeededRandom implements RandomSource {
  private s: GeneratorState;

  constructor(seed: number) {
    this.s = seedState(seed);
  }

  /** The next unsigned 32-bit integer (sfc32). */
  nextUint32(): number {
    let [a, b, c, d] = this.s;
    const t = (((a + b) >>> 0) + d) >>> 0;
    d = (d + 1) >>> 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) >>> 0;
    c = ((c << 21) | (c >>> 11)) >>> 0;
    c = (c + t) >>> 0;
    this.s = [a >>> 0, b >>> 0, c, d];
    return t;
  }

  uniform(): number {
    return this.nextUint32() / 4294967296;
  }

  nextSeed(): number {
    return this.nextUint32();
  }

  normal(shape: readonly number[]): tf.Tensor {
    return tf.randomNormal(shape as number[], 0, 1, 'float32', this.nextSeed());
  }

  uniformTensor(shape: readonly number[], min = 0, max = 1): tf.Tensor {
    return tf.randomUniform(shape as number[], min, max, 'float32', this.nextSeed());
  }

  /** A copy of the generator state (for saving). */
  getState(): GeneratorState {
    return [...this.s];
  }

  /** Replace the generator state (for restoring). */
  setState(state: readonly number[]): void {
    if (state.length !== 4) throw new Error(`flatmin: a generator state has 4 words, got ${state.length}`);
    this.s = [state[0]! >>> 0, state[1]! >>> 0, state[2]! >>> 0, state[3]! >>> 0];
  }
}
