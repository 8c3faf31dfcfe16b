/**
 * Assertions every component runs through (optax's `_common_test.py` is the model): no tensor
 * growth, zero device→host reads in the step path, exact getWeights/setWeights round trip,
 * named config errors, and the table-driven suite that runs them all.
 */
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import {
  type LinearParams,
  type LinearProblem,
  linearLoss64,
  makeLinearProblem,
  makeTfLinear,
  maxRelativeError,
  type TfLinear,
} from './linear.js';

/**
 * Run `fn` and count its device-to-host reads: every `dataSync`/`arraySync`/`data`/`array`
 * (and `bufferSync`, `print`, ...) goes through the engine's `readSync`, `read` or `readToGPU`,
 * which are wrapped for the duration of `fn`. (Backend kernels that peek at their own host
 * memory, as the cpu backend does, are not device-to-host reads and are not counted.)
 */
export function countHostReads<T>(fn: () => T): { result: T; reads: number } {
  const engine = tf.engine() as unknown as Record<string, unknown>;
  const names = ['readSync', 'read', 'readToGPU'].filter((name) => typeof engine[name] === 'function');
  let reads = 0;
  for (const name of names) {
    const original = engine[name] as (...args: unknown[]) => unknown;
    engine[name] = (...args: unknown[]) => {
      reads += 1;
      return original.apply(engine, args);
    };
  }
  try {
    return { result: fn(), reads };
  } finally {
    for (const name of names) delete engine[name];
  }
}

/** Assert that `steps` calls of `step` leave `tf.memory()` tensor count and bytes unchanged (after `warmup` calls). */
export async function expectNoTensorGrowth(step: () => void, options: { steps?: number; warmup?: number } = {}): Promise<void> {
  const { steps = 100, warmup = 3 } = options;
  for (let i = 0; i < warmup; i += 1) step();
  const before = tf.memory();
  for (let i = 0; i < steps; i += 1) step();
  const after = tf.memory();
  expect({ numTensors: after.numTensors, numBytes: after.numBytes }).toEqual({ numTensors: before.numTensors, numBytes: before.numBytes });
}

/** Assert that `make()` throws an error named FlatminConfigError whose `key` is `key`. */
export function expectConfigError(make: () => unknown, key: string): void {
  let caught: unknown;
  try {
    make();
  } catch (error) {
    caught = error;
  }
  expect(caught, `expected a FlatminConfigError for '${key}'`).toBeInstanceOf(Error);
  const error = caught as Error & { key?: string };
  expect(error.name).toBe('FlatminConfigError');
  expect(error.key).toBe(key);
  expect(error.message).toContain(key);
}

/** An optimizer factory: every call returns a fresh optimizer (with a fresh base). */
export type OptimizerFactory = () => tf.Optimizer;

/** One row of the component table. */
export interface OptimizerCase {
  /** Shown in the test names. */
  name: string;
  make: OptimizerFactory;
  /**
   * Float64 reference: the parameters after `steps` updates from `problem.init`, written from
   * method's published formula (not from the code under test). Checked to 1e-5 relative.
   */
  reference?: { steps: number; expected: (problem: LinearProblem) => LinearParams; tolerance?: number };
  /** Skip the convergence check (e.g. a method that only perturbs). Default: checked. */
  converges?: boolean;
  /** Configs that must throw a FlatminConfigError naming `key`. */
  badConfigs?: Array<{ make: () => unknown; key: string }>;
  /** Steps for the round-trip test (split in two halves). Default 20. */
  roundTripSteps?: number;
  /** Host reads allowed per step (AE-SAM's one scalar). Default 0. */
  readsPerStep?: number;
}

function train(optimizer: tf.Optimizer, model: TfLinear, steps: number): void {
  for (let i = 0; i < steps; i += 1) optimizer.minimize(model.loss(), false, model.variables);
}

let roundTripCounter = 0;

/** Run every case through the common matrix. */
export function runOptimizerSuite(suiteName: string, cases: OptimizerCase[]): void {
  describe(suiteName, () => {
    for (const c of cases) {
      describe(c.name, () => {
        const problem = makeLinearProblem({ seed: 7 });

        if (c.reference !== undefined) {
          const reference = c.reference;
          it(`matches its float64 reference after ${reference.steps} step(s)`, () => {
            const model = makeTfLinear(problem);
            const optimizer = c.make();
            try {
              train(optimizer, model, reference.steps);
              const expected = reference.expected(problem);
              expect(maxRelativeError(model.read(), expected)).toBeLessThan(reference.tolerance ?? 1e-5);
            } finally {
              optimizer.dispose();
              model.dispose();
            }
          });
        }

        if (c.converges ?? true) {
          it('converges on a small problem', () => {
            const model = makeTfLinear(problem);
            const optimizer = c.make();
            try {
              const start = linearLoss64(problem, problem.init);
              train(optimizer, model, 200);
              expect(linearLoss64(problem, model.read())).toBeLessThan(0.2 * start);
            } finally {
              optimizer.dispose();
              model.dispose();
            }
          });
        }

        it('leaks no tensors over 100 steps', async () => {
          const model = makeTfLinear(problem);
          const optimizer = c.make();
          try {
            await expectNoTensorGrowth(() => {
              const cost = optimizer.minimize(model.loss(), true, model.variables);
              cost?.dispose();
            });
          } finally {
            optimizer.dispose();
            model.dispose();
          }
        });

        it('makes no device-to-host reads in the step path', () => {
          const model = makeTfLinear(problem);
          const optimizer = c.make();
          try {
            train(optimizer, model, 2);
            const { reads } = countHostReads(() => train(optimizer, model, 10));
            expect(reads).toBeLessThanOrEqual(10 * (c.readsPerStep ?? 0));
          } finally {
            optimizer.dispose();
            model.dispose();
          }
        });

        it('round-trips getWeights/setWeights: n + save + restore + n steps equals 2n steps', async () => {
          const steps = c.roundTripSteps ?? 20;
          const half = Math.floor(steps / 2);
          const straightModel = makeTfLinear(problem);
          const straight = c.make();
          train(straight, straightModel, steps);
          const expected = straightModel.read();
          straight.dispose();
          straightModel.dispose();

          roundTripCounter += 1;
          const names: [string, string] = [`roundtrip${roundTripCounter}/w`, `roundtrip${roundTripCounter}/b`];
          const first = makeTfLinear(problem, { names });
          const before = c.make();
          train(before, first, half);
          const saved = await before.getWeights();
          const savedCopy = saved.map((w) => ({ name: w.name, tensor: tf.clone(w.tensor) }));
          const params = first.read();
          before.dispose();
          // Base optimizers return their slot Variables; disposing a tfjs Variable twice frees data clones share.
          for (const w of saved) if (!w.tensor.isDisposed) w.tensor.dispose();
          first.dispose();
          // The restored run: same variable names, fresh optimizer, state from the saved weights.
          const second = makeTfLinear(problem, { params, names });
          const after = c.make();
          await after.setWeights(savedCopy);
          for (const w of savedCopy) w.tensor.dispose();
          train(after, second, steps - half);
          const actual = second.read();
          after.dispose();
          second.dispose();
          expect(actual).toEqual(expected);
        });

        for (const bad of c.badConfigs ?? []) {
          it(`rejects a bad '${bad.key}' with a FlatminConfigError naming it`, () => {
            expectConfigError(bad.make, bad.key);
          });
        }
      });
    }
  });
}
