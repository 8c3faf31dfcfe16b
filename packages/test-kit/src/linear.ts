/**
 * A tiny linear least-squares problem y = xW + b with an analytic float64 gradient: the
 * reference every method's one-step result is checked against.
 *
 * L(W, b) = (1/n) Σᵢ ‖xᵢW + b − yᵢ‖²,  ∂L/∂W = (2/n) Xᵀ R,  ∂L/∂b = (2/n) Σᵢ Rᵢ,  R = XW + b − Y.
 */
import * as tf from '@tensorflow/tfjs-core';

/** Float64 parameters of the linear model: W (d×k) and b (k). */
export interface LinearParams {
  w: number[][];
  b: number[];
}

/** The data and initial parameters. */
export interface LinearProblem {
  n: number;
  d: number;
  k: number;
  x: number[][];
  y: number[][];
  init: LinearParams;
}

/** mulberry32: a tiny seeded PRNG for test data (independent of the code under test). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A seeded problem with values in [-1, 1]; targets from a hidden linear map plus noise. */
export function makeLinearProblem(options: { n?: number; d?: number; k?: number; seed?: number } = {}): LinearProblem {
  const { n = 8, d = 3, k = 2, seed = 1 } = options;
  const rand = mulberry32(seed);
  const u = () => rand() * 2 - 1;
  const matrix = (rows: number, cols: number) => Array.from({ length: rows }, () => Array.from({ length: cols }, u));
  const x = matrix(n, d);
  const hidden = matrix(d, k);
  const y = x.map((row) => Array.from({ length: k }, (_, j) => row.reduce((s, v, i) => s + v * hidden[i]![j]!, 0) + 0.1 * u()));
  return { n, d, k, x, y, init: { w: matrix(d, k), b: Array.from({ length: k }, u) } };
}

function residuals(p: LinearProblem, params: LinearParams, rows: number[] = p.x.map((_, i) => i)): number[][] {
  return rows.map((i) => {
    const xi = p.x[i]!;
    return Array.from({ length: p.k }, (_, j) => xi.reduce((s, v, c) => s + v * params.w[c]![j]!, params.b[j]!) - p.y[i]![j]!);
  });
}

/** L(W, b) in float64 (over `rows`, default all). */
export function linearLoss64(p: LinearProblem, params: LinearParams, rows?: number[]): number {
  const r = residuals(p, params, rows);
  return r.reduce((s, row) => s + row.reduce((t, v) => t + v * v, 0), 0) / r.length;
}

/** ∇L(W, b) in float64 (over `rows`, default all). */
export function linearGrad64(p: LinearProblem, params: LinearParams, rows: number[] = p.x.map((_, i) => i)): LinearParams {
  const r = residuals(p, params, rows);
  const m = rows.length;
  const w = Array.from({ length: p.d }, (_, c) => Array.from({ length: p.k }, (_, j) => (2 / m) * rows.reduce((s, i, idx) => s + p.x[i]![c]! * r[idx]![j]!, 0)));
  const b = Array.from({ length: p.k }, (_, j) => (2 / m) * r.reduce((s, row) => s + row[j]!, 0));
  return { w, b };
}

/** Flatten parameters to one vector [W row-major, b]. */
export function flatten(params: LinearParams): number[] {
  return [...params.w.flat(), ...params.b];
}

/** The inverse of {@link flatten}. */
export function unflatten(p: LinearProblem, vector: readonly number[]): LinearParams {
  const w = Array.from({ length: p.d }, (_, c) => vector.slice(c * p.k, (c + 1) * p.k));
  return { w, b: vector.slice(p.d * p.k, p.d * p.k + p.k) };
}

/** Element-wise combination helpers on parameters. */
export function axpy(a: number, x: LinearParams, y: LinearParams): LinearParams {
  const fx = flatten(x);
  const fy = flatten(y);
  return unflattenLike(x, fy.map((v, i) => v + a * fx[i]!));
}

function unflattenLike(shape: LinearParams, vector: number[]): LinearParams {
  const d = shape.w.length;
  const k = shape.b.length;
  return { w: Array.from({ length: d }, (_, c) => vector.slice(c * k, (c + 1) * k)), b: vector.slice(d * k, d * k + k) };
}

/** ‖v‖₂ of flattened parameters in float64. */
export function norm64(params: LinearParams): number {
  return Math.sqrt(flatten(params).reduce((s, v) => s + v * v, 0));
}

/** Scale parameters by a float64 factor. */
export function scale64(a: number, x: LinearParams): LinearParams {
  return unflattenLike(x, flatten(x).map((v) => a * v));
}

let counter = 0;

/** The same problem as tfjs variables and a loss closure. */
export interface TfLinear {
  w: tf.Variable;
  b: tf.Variable;
  variables: tf.Variable[];
  /** The loss over `rows` (default all): a closure for `minimize`. */
  loss(rows?: number[]): () => tf.Scalar;
  /** Current parameters as float64 arrays (reads the device: tests only). */
  read(): LinearParams;
  dispose(): void;
}

/** Build tfjs variables (float32) for the problem; `names` fixes the variable names (for restore tests). */
export function makeTfLinear(p: LinearProblem, options: { params?: LinearParams; names?: [string, string] } = {}): TfLinear {
  const params = options.params ?? p.init;
  counter += 1;
  const [wName, bName] = options.names ?? [`linear${counter}/w`, `linear${counter}/b`];
  const w = tf.variable(tf.tensor2d(params.w), true, wName);
  const b = tf.variable(tf.tensor1d(params.b), true, bName);
  const xAll = tf.keep(tf.tensor2d(p.x));
  const yAll = tf.keep(tf.tensor2d(p.y));
  const rowTensors = new Map<string, [tf.Tensor2D, tf.Tensor2D]>();
  const data = (rows?: number[]): [tf.Tensor2D, tf.Tensor2D] => {
    if (rows === undefined) return [xAll, yAll];
    const key = rows.join(',');
    let pair = rowTensors.get(key);
    if (pair === undefined) {
      pair = [tf.keep(tf.tensor2d(rows.map((i) => p.x[i]!))), tf.keep(tf.tensor2d(rows.map((i) => p.y[i]!)))];
      rowTensors.set(key, pair);
    }
    return pair;
  };
  return {
    w,
    b,
    variables: [w, b],
    loss: (rows) => {
      const [x, y] = data(rows);
      return () => tf.mean(tf.sum(tf.square(tf.sub(tf.add(tf.matMul(x, w), b), y)), 1)) as tf.Scalar;
    },
    read: () => ({ w: w.arraySync() as number[][], b: b.arraySync() as number[] }),
    dispose: () => {
      w.dispose();
      b.dispose();
      xAll.dispose();
      yAll.dispose();
      for (const [x, y] of rowTensors.values()) {
        x.dispose();
        y.dispose();
      }
    },
  };
}

/** Max over entries of |a − b| / max(1, |b|): the relative error used against float64 references. */
export function maxRelativeError(actual: LinearParams, expected: LinearParams): number {
  const a = flatten(actual);
  const e = flatten(expected);
  return a.reduce((m, v, i) => Math.max(m, Math.abs(v - e[i]!) / Math.max(1, Math.abs(e[i]!))), 0);
}
