/**
 * Reading and writing an optimizer's learning rate so that the next update really uses it.
 *
 * tfjs-core 4.22's optimizers keep the rate in two ways:
 *
 * - `SGDOptimizer` and `MomentumOptimizer` (which extends it) multiply by a cached scalar
 *   tensor `c = keep(scalar(−learningRate))` made in the constructor; assigning the
 *   `learningRate` field alone leaves `c`, and so the update, unchanged. Their
 *   `setLearningRate(lr)` sets the field, disposes the old `c` and keeps a new one.
 * - `AdamOptimizer`, `AdamaxOptimizer`, `AdagradOptimizer`, `AdadeltaOptimizer` and
 *   `RMSPropOptimizer` read the `learningRate` field in every `applyGradients`.
 *
 * flatmin's `SharpnessAwareOptimizer` has a `learningRate` accessor that forwards to its base
 * (through `setLearningRate` when the base has it). So: `setLearningRate` when the optimizer has
 * one, else the `learningRate` property.
 *
 * @module
 */
import type * as tf from '@tensorflow/tfjs-core';
import { FlatminError } from '@flatmin/core';

interface RateHolder {
  learningRate?: unknown;
  setLearningRate?: (learningRate: number) => void;
}

/** The optimizer's learning rate as a host number (no device read), or throw when it has none. */
export function rateOf(optimizer: tf.Optimizer, where: string): number {
  const value = (optimizer as unknown as RateHolder).learningRate;
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    const name = optimizer.constructor?.name || 'optimizer';
    throw new FlatminError(`${where}: this ${name} has no numeric learningRate (got ${String(value)}), so there is no rate to schedule.`);
  }
  return value;
}

/**
 * Make `rate` the rate of the optimizer's next update. On SGD and momentum this replaces the
 * cached scalar (the old one is disposed: no tensor is left behind); `unchanged` skips the call
 * when the caller knows the rate it set last is still in place.
 */
export function setRate(optimizer: tf.Optimizer, rate: number, unchanged: boolean): void {
  const holder = optimizer as unknown as RateHolder;
  if (unchanged && holder.learningRate === rate) return;
  if (typeof holder.setLearningRate === 'function') holder.setLearningRate(rate);
  else holder.learningRate = rate;
}
