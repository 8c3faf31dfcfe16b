// The measurements and reference steps `flatmin bench` times (exported from flatmin/cli): the
// hand-rolled SAM step against a float64 SAM step, worst-of-k's floor against a float64 SGD step,
// the host reads each makes, and the interleaved order of the blocks.
import { axpy, linearGrad64, makeLinearProblem, makeTfLinear, maxRelativeError, norm64 } from '@flatmin/test-kit';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { countHostReads, interleavedTiming, rotatedOrder, shuffledOrder, stepMemory } from '../../src/cli/measure.js';
import { forwardThenPass, handRolledSam } from '../../src/cli/reference.js';

const LR = 0.1;
const RHO = 0.05;

describe('the reference steps', () => {
  it('handRolledSam: one step is w − lr ∇L(w + ρ g/‖g‖) (float64), with one host read (‖g‖ by dataSync)', () => {
    const problem = makeLinearProblem({ seed: 3 });
    const g = linearGrad64(problem, problem.init);
    const expected = axpy(-LR, linearGrad64(problem, axpy(RHO / norm64(g), g, problem.init)), problem.init);
    const model = makeTfLinear(problem);
    const base = tf.train.sgd(LR);
    let calls = 0;
    const loss = model.loss();
    const step = handRolledSam(() => {
      calls++;
      return loss();
    }, model.variables, base, RHO);
    const before = tf.memory().numTensors;
    const reads = countHostReads(step, 1);
    expect(tf.memory().numTensors).toBe(before);
    expect(reads).toEqual({ step: 1, insideKernels: 0 });
    expect(calls).toBe(2);
    expect(maxRelativeError(model.read(), expected)).toBeLessThan(1e-6);
    base.dispose();
    model.dispose();
  });

  it('forwardThenPass: k forward-only evaluations change nothing; the step is w − lr ∇L(w) (float64), no host read', () => {
    const problem = makeLinearProblem({ seed: 4 });
    const expected = axpy(-LR, linearGrad64(problem, problem.init), problem.init);
    const model = makeTfLinear(problem);
    const base = tf.train.sgd(LR);
    let calls = 0;
    const loss = model.loss();
    const step = forwardThenPass(() => {
      calls++;
      return loss();
    }, model.variables, base, 4);
    const before = tf.memory().numTensors;
    expect(countHostReads(step, 1)).toEqual({ step: 0, insideKernels: 0 });
    expect(tf.memory().numTensors).toBe(before);
    expect(calls).toBe(5);
    expect(maxRelativeError(model.read(), expected)).toBeLessThan(1e-6);
    base.dispose();
    model.dispose();
  });
});

describe('the measurements', () => {
  it('stepMemory: the peak of a step is what is alive at once inside it (x, the scalar, x + 1), nothing new after it', async () => {
    const memory = await stepMemory(() => {
      tf.tidy(() => {
        tf.add(tf.zeros([1000]), 1);
      });
    });
    // zeros [1000] (4000 B), the scalar 1 (4 B) and the sum [1000] (4000 B) are alive at the peak.
    expect(memory).toEqual({ peakExtraBytes: 4000 + 4 + 4000, newBytes: 0, newTensors: 0 });
  });

  it('interleavedTiming: warm-up first (then afterWarmup once), blocks in an order rotated every round, one callback per block', async () => {
    const log: string[] = [];
    const variable = tf.variable(tf.zeros([1]));
    const steps = ['a', 'b', 'c'].map((name) => () => void log.push(name));
    const blocks: number[] = [];
    const timing = await interleavedTiming(steps, {
      rounds: 2,
      steps: 2,
      warmup: 1,
      variable,
      afterWarmup: () => log.push('|'),
      onBlock: (done) => blocks.push(done),
    });
    expect(log.join('')).toBe('abc|aabbccbbccaa');
    expect(timing.orders).toEqual([rotatedOrder(3, 0), rotatedOrder(3, 1)]);
    expect(rotatedOrder(3, 1)).toEqual([1, 2, 0]);
    expect(blocks).toEqual([1, 2, 3, 4, 5, 6]);
    expect(timing.seconds.map((s) => s.length)).toEqual([2, 2, 2]);
    variable.dispose();
  });

  it('interleavedTiming with pairWith: a block of the base next to every other block (before it in even rounds, after it in odd ones)', async () => {
    const log: string[] = [];
    const variable = tf.variable(tf.zeros([1]));
    const busy = (ms: number) => {
      const start = performance.now();
      while (performance.now() - start < ms);
    };
    // a (the base) is short, b and c are long: the partner of every b and c block is an a block.
    const steps = [
      ['a', 1],
      ['b', 40],
      ['c', 40],
    ].map(([name, ms]) => () => {
      log.push(name as string);
      busy(ms as number);
    });
    const timing = await interleavedTiming(steps, { rounds: 2, steps: 1, warmup: 0, variable, pairWith: 0 });
    expect(log.join('')).toBe('a' + 'ab' + 'ac' + 'ba' + 'ca' + 'a');
    const paired = timing.paired!;
    expect(paired.seconds.map((s) => s.length)).toEqual([2, 2, 2]);
    expect(paired.cpuSeconds.map((s) => s.length)).toEqual([2, 2, 2]);
    // The base's own rounds are their own partners; the others' partners are the short base blocks.
    expect(paired.seconds[0]).toEqual(timing.seconds[0]);
    expect(paired.cpuSeconds[0]).toEqual(timing.cpuSeconds[0]);
    for (const i of [1, 2]) {
      for (const s of timing.seconds[i]!) expect(s).toBeGreaterThanOrEqual(0.04);
      for (const s of paired.seconds[i]!) expect(s).toBeLessThan(0.02);
    }
    expect((await interleavedTiming(steps, { rounds: 1, steps: 1, warmup: 0, variable })).paired).toBeNull();
    await expect(interleavedTiming(steps, { rounds: 1, steps: 1, warmup: 0, variable, pairWith: 3 })).rejects.toThrow(/pairWith/);
    variable.dispose();
  });
  it('shuffledOrder: a seeded permutation per round; its predecessors vary where a rotation keeps them', () => {
    for (let round = 0; round < 50; round++) {
      const order = shuffledOrder(5, round, 7);
      expect([...order].sort()).toEqual([0, 1, 2, 3, 4]);
      expect(shuffledOrder(5, round, 7)).toEqual(order);
    }
    expect(shuffledOrder(5, 0, 7)).not.toEqual(shuffledOrder(5, 0, 8));
    expect(shuffledOrder(1, 3, 1)).toEqual([0]);
    // Who runs just before variant 3 within a round, over 40 rounds: always variant 2 under a
    // rotation, every other variant under the shuffle.
    const predecessors = (orderOf: (round: number) => number[]) => {
      const seen = new Set<number>();
      for (let round = 0; round < 40; round++) {
        const order = orderOf(round);
        const at = order.indexOf(3);
        if (at > 0) seen.add(order[at - 1]!);
      }
      return seen.size;
    };
    expect(predecessors((round) => rotatedOrder(5, round))).toBe(1);
    expect(predecessors((round) => shuffledOrder(5, round, 1))).toBe(4);
    // Every position of the round is taken by every variant about equally often.
    const first = new Array(5).fill(0);
    for (let round = 0; round < 1000; round++) first[shuffledOrder(5, round, 1)[0]!]++;
    for (const count of first) expect(count).toBeGreaterThan(150);
  });

  it('interleavedTiming with order: shuffle runs the seeded shuffled orders; an unknown order is an error', async () => {
    const log: number[] = [];
    const variable = tf.variable(tf.zeros([1]));
    const steps = [0, 1, 2, 3].map((i) => () => void log.push(i));
    const timing = await interleavedTiming(steps, { rounds: 3, steps: 1, warmup: 0, variable, order: 'shuffle', seed: 5 });
    const expected = [0, 1, 2].map((round) => shuffledOrder(4, round, 5));
    expect(timing.orders).toEqual(expected);
    expect(log).toEqual(expected.flat());
    await expect(interleavedTiming(steps, { rounds: 1, steps: 1, warmup: 0, variable, order: 'random' as never })).rejects.toThrow(/order must be/);
    variable.dispose();
  });
});
