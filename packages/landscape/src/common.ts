/**
 * What every measurement shares: the argument checks, the seeded generator, and the one way the
 * variables are moved and put back (the saved values are the variables' own data, so the restore
 * is bit-identical).
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { FlatminConfigError, FlatminError } from '@flatmin/core';
import { checkChoice, checkNumber, SeededRandom, shareData } from '@flatmin/core/kit';

/** The objective every measurement takes: one forward pass on a fixed batch, returning a scalar loss. */
export type LossFn = () => tf.Scalar;

/** Progress of a long measurement: `done` of `total` loss evaluations. */
export type ProgressCallback = (done: number, total: number) => void;

/** Check `loss` and `variables` (the positional arguments of every measurement). */
export function checkTarget(loss: unknown, variables: unknown, where: string): tf.Variable[] {
  if (typeof loss !== 'function') throw new FlatminConfigError('loss', loss, 'a function () => tf.Scalar', where);
  if (!Array.isArray(variables) || variables.length === 0) throw new FlatminConfigError('variables', variables, 'a non-empty array of tf.Variable', where);
  const names = new Set<string>();
  for (const v of variables) {
    if (!(v instanceof tf.Variable)) throw new FlatminConfigError('variables', v, 'a non-empty array of tf.Variable', where);
    if (v.dtype !== 'float32') throw new FlatminConfigError('variables', v.name, 'float32 variables', where);
    if (names.has(v.name)) throw new FlatminConfigError('variables', v.name, 'each variable once', where);
    names.add(v.name);
  }
  return variables as tf.Variable[];
}

/** `options[key]` or its default; `null` is refused like any other bad value by the caller's check. */
export function given<T>(options: object, key: string, fallback: T): unknown {
  const value = (options as Record<string, unknown>)[key];
  return value === undefined ? fallback : value;
}

/** The `seed` key: a whole number ≥ 0 (default 0). */
export function checkSeed(options: object, where: string): number {
  return checkNumber('seed', given(options, 'seed', 0), { min: 0, integer: true }, where);
}

/** A positive whole number (`samples`, `iterations`, `steps`). */
export function checkCount(options: object, key: string, fallback: number, min: number, where: string): number {
  return checkNumber(key, given(options, key, fallback), { min, integer: true, max: 1_000_000 }, where);
}

/** A `[min, max]` pair of finite numbers with min < max. */
export function checkRange(options: object, key: string, fallback: readonly [number, number], where: string): [number, number] {
  const value = given(options, key, fallback);
  const ok = Array.isArray(value) && value.length === 2 && value.every((x) => typeof x === 'number' && Number.isFinite(x)) && value[0] < value[1];
  if (!ok) throw new FlatminConfigError(key, value, 'a pair [min, max] of finite numbers with min < max', where);
  return [value[0] as number, value[1] as number];
}

/** An optional callback key (`onProgress`). */
export function checkCallback(options: object, key: string, where: string): ProgressCallback | undefined {
  const value = (options as Record<string, unknown>)[key];
  if (value === undefined) return undefined;
  if (typeof value !== 'function') throw new FlatminConfigError(key, value, 'a function (done, total) => void', where);
  return value as ProgressCallback;
}

/** A boolean key. */
export function checkBoolean(options: object, key: string, fallback: boolean, where: string): boolean {
  const value = given(options, key, fallback);
  if (typeof value !== 'boolean') throw new FlatminConfigError(key, value, 'true or false', where);
  return value;
}

/** A list of tensors matching `variables` one to one (shape by shape): a direction, a second solution. */
export function checkTensors(options: object, key: string, variables: readonly tf.Variable[], where: string): tf.Tensor[] | undefined {
  const value = (options as Record<string, unknown>)[key];
  if (value === undefined) return undefined;
  const expected = `an array of ${variables.length} tensors with the variables' shapes, in their order`;
  if (!Array.isArray(value) || value.length !== variables.length) throw new FlatminConfigError(key, value, expected, where);
  value.forEach((t, i) => {
    if (!(t instanceof tf.Tensor) || t.isDisposed || !tf.util.arraysEqual(t.shape, variables[i]!.shape)) throw new FlatminConfigError(key, value, expected, where);
  });
  return value as tf.Tensor[];
}

export { checkChoice, checkNumber };

/** The seeded generator of one measurement (never Math.random). */
export const generator = (seed: number) => new SeededRandom(seed);

/** Read a scalar loss, refusing anything else with a clear error. */
export async function readLoss(value: tf.Tensor, where: string): Promise<number> {
  if (!(value instanceof tf.Tensor) || value.size !== 1) throw new FlatminError(`${where}: the loss function must return a scalar tf.Tensor`);
  return (await value.data())[0]!;
}

/**
 * Run `body` with the variables free to be moved by {@link Weights.moveTo}, then put every
 * variable back to its exact value (its own data: bit-identical), also when `body` throws.
 */
export async function withWeights<T>(variables: readonly tf.Variable[], body: (weights: Weights) => Promise<T>): Promise<T> {
  const weights = new Weights(variables);
  try {
    return await body(weights);
  } finally {
    weights.restore();
  }
}

/** The variables' values at the start of a measurement, and the moves away from them. */
export class Weights {
  /** The starting values: handles on the variables' own data (no copy). */
  readonly start: tf.Tensor[];

  constructor(readonly variables: readonly tf.Variable[]) {
    this.start = variables.map((v) => tf.keep(shareData(v)));
  }

  /** w ← w₀ + Σ cₖ Dₖ for the given coefficients and directions (each a list matching the variables). */
  moveTo(terms: ReadonlyArray<readonly [coefficient: number, direction: readonly tf.Tensor[]]>): void {
    tf.tidy(() => {
      this.variables.forEach((v, i) => {
        let value: tf.Tensor = this.start[i]!;
        for (const [c, d] of terms) if (c !== 0) value = tf.add(value, tf.mul(tf.scalar(c), d[i]!));
        v.assign(value);
      });
    });
  }

  /** w ← w₀ + offset (a list matching the variables). */
  offsetBy(offset: readonly tf.Tensor[]): void {
    tf.tidy(() => {
      for (const [i, v] of this.variables.entries()) v.assign(tf.add(this.start[i]!, offset[i]!));
    });
  }

  /** The loss at the current point, read to the host. */
  async loss(loss: LossFn, where: string): Promise<number> {
    const value = tf.tidy(() => loss());
    try {
      return await readLoss(value, where);
    } finally {
      if (value instanceof tf.Tensor) value.dispose();
    }
  }

  /** Put every variable back to its starting data and drop the saved handles. */
  restore(): void {
    this.variables.forEach((v, i) => {
      if (!v.isDisposed) v.assign(this.start[i]!);
    });
    tf.dispose(this.start);
  }
}

/** `n` evenly spaced points from `min` to `max` (both included), in float64. */
export function linspace([min, max]: readonly [number, number], n: number): number[] {
  if (n === 1) return [(min + max) / 2];
  return Array.from({ length: n }, (_, i) => (i === n - 1 ? max : min + ((max - min) * i) / (n - 1)));
}

/** Dispose a list of tensor lists. */
export function disposeAll(lists: ReadonlyArray<readonly tf.Tensor[] | undefined>): void {
  for (const list of lists) if (list !== undefined) tf.dispose(list as tf.Tensor[]);
}
