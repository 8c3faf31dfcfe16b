// Shared by the tests: the schedule every optimizer test uses, its rates written out by hand
// (not computed by the code under test), and the optimizers of tfjs-core with their float64 twins.
import * as tf from '@tensorflow/tfjs-core';
import { adadelta64, adagrad64, adam64, momentum64, rmsprop64, sgd64, type Update64 } from './reference.js';

/** The options of the cosine schedule the optimizer tests use (its rate changes at every step). */
export const COSINE = { peak: 0.1, warmupSteps: 3, totalSteps: 10, floor: 0.01 } as const;

/** The rate of update t under {@link COSINE}: 0.1·t/3 for t < 3, 0.01 + 0.045(1 + cos(π(t − 3)/7)) up to 10, 0.01 after. */
export function cosineRate(t: number): number {
  if (t < 3) return (0.1 * t) / 3;
  if (t >= 10) return 0.01;
  return 0.01 + 0.045 * (1 + Math.cos((Math.PI * (t - 3)) / 7));
}

/** The constructor rate of every optimizer: never a value of the schedule, so an unapplied rate shows. */
export const CONSTRUCTED_RATE = 0.5;

/** The cpu backend's epsilon, tfjs' default for Adagrad. */
const EPSILON = 1e-7;

/** One tfjs optimizer and its float64 reference. */
export interface OptimizerRow {
  name: string;
  make: () => tf.Optimizer;
  reference: () => Update64;
}

export const OPTIMIZERS: OptimizerRow[] = [
  { name: 'sgd', make: () => tf.train.sgd(CONSTRUCTED_RATE), reference: sgd64 },
  { name: 'momentum', make: () => tf.train.momentum(CONSTRUCTED_RATE, 0.9), reference: () => momentum64(0.9) },
  { name: 'adam', make: () => tf.train.adam(CONSTRUCTED_RATE, 0.9, 0.999, 1e-7), reference: () => adam64(0.9, 0.999, 1e-7) },
  { name: 'rmsprop', make: () => tf.train.rmsprop(CONSTRUCTED_RATE, 0.9, 0.5, 1e-7), reference: () => rmsprop64(0.9, 0.5, 1e-7) },
  { name: 'adagrad', make: () => tf.train.adagrad(CONSTRUCTED_RATE, 0.1), reference: () => adagrad64(0.1, EPSILON) },
  { name: 'adadelta', make: () => tf.train.adadelta(CONSTRUCTED_RATE, 0.95, 1e-6), reference: () => adadelta64(0.95, 1e-6) },
];

/** The three optimizers the issue names. */
export const MAIN_OPTIMIZERS = OPTIMIZERS.filter((o) => ['sgd', 'momentum', 'adam'].includes(o.name));

/** The optimizer's `learningRate` field (protected in tfjs' types). */
export function rateField(optimizer: unknown): number {
  return (optimizer as { learningRate: number }).learningRate;
}

/** Each rate equals the expected one to float64 rounding. */
export function expectRates(actual: readonly number[], expected: readonly number[]): void {
  if (actual.length !== expected.length) throw new Error(`expected ${expected.length} rates, got ${actual.length}`);
  for (let t = 0; t < actual.length; t++) {
    if (!(Math.abs(actual[t]! - expected[t]!) <= 1e-15)) throw new Error(`rate ${t}: ${actual[t]} instead of ${expected[t]}`);
  }
}
