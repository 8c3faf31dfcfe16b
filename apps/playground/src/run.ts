/**
 * One run: an optimizer minimizing a test function from a start point, step by step, on the
 * current tfjs backend. The steps themselves read nothing back from the device; the
 * positions are copied (on the device) after each step and read once per chunk, between
 * steps, to draw the trajectory.
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Point, TestFunction } from './functions.js';
import { basinOf, sharpnessAt } from './sharpness.js';

/** Where a run settled. */
export interface RunResult {
  label: string;
  /** Every position, the start first (steps + 1 points). */
  trajectory: Point[];
  /** f (float64) at every position. */
  losses: number[];
  /** Where it settled: the last position, or the averaged weights when the optimizer has an averager. */
  end: Point;
  /** Whether `end` is the averager's point. */
  averaged: boolean;
  /** f(end). */
  loss: number;
  /** The largest Hessian eigenvalue at `end`. */
  sharpness: number;
  /** The basin `end` lies in (a minimum's label, or `'none'`). */
  basin: string;
}

interface WithAverager {
  averager?: { apply(): void; restore(): void } | null;
}

let counter = 0;

/** Run `optimizer` on `fn` for `steps` steps; `onChunk` sees the trajectory so far. */
export async function runOn(
  fn: TestFunction,
  optimizer: tf.Optimizer,
  options: { label: string; start: Point; steps: number; chunk?: number; onChunk?: (trajectory: readonly Point[]) => void },
): Promise<RunResult> {
  const { label, start, steps, chunk = 25, onChunk } = options;
  counter += 1;
  const w = tf.tidy(() => tf.variable(tf.tensor2d([[start[0], start[1]]]), true, `playground-w-${counter}`));
  const trajectory: Point[] = [start];
  try {
    for (let done = 0; done < steps; ) {
      const n = Math.min(chunk, steps - done);
      const copies: tf.Tensor[] = [];
      for (let i = 0; i < n; i += 1) {
        optimizer.minimize(() => fn.tensor(w), false, [w]);
        copies.push(tf.clone(w));
      }
      const stacked = tf.concat(copies);
      const values = await stacked.data();
      tf.dispose([stacked, ...copies]);
      for (let i = 0; i < n; i += 1) trajectory.push([values[2 * i]!, values[2 * i + 1]!]);
      done += n;
      onChunk?.(trajectory);
      await tf.nextFrame();
    }
    const last = trajectory[trajectory.length - 1]!;
    const averager = (optimizer as WithAverager).averager;
    let end: Point = last;
    if (averager) {
      averager.apply();
      const values = await w.data();
      averager.restore();
      end = [values[0]!, values[1]!];
    }
    return {
      label,
      trajectory,
      losses: trajectory.map(([x, y]) => fn.value(x, y)),
      end,
      averaged: Boolean(averager),
      loss: fn.value(end[0], end[1]),
      sharpness: sharpnessAt(fn, end),
      basin: basinOf(fn, end),
    };
  } finally {
    w.dispose();
    optimizer.dispose();
  }
}
