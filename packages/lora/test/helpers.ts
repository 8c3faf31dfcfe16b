// Float64 references for a LoRA dense layer, written from the formula
// y = x·(W₀ + s·AᵀBᵀ) + b (s = α/r, A [r, in], B [out, r]), independently of the code.
import type * as tf from '@tensorflow/tfjs-core';
import { mulberry32 } from '@flatmin/test-kit';

export type Matrix = number[][];

export const matmul = (a: Matrix, b: Matrix): Matrix => a.map((row) => b[0]!.map((_, j) => row.reduce((s, v, k) => s + v * b[k]![j]!, 0)));
export const transpose = (a: Matrix): Matrix => a[0]!.map((_, j) => a.map((row) => row[j]!));
export const add = (a: Matrix, b: Matrix, scale = 1): Matrix => a.map((row, i) => row.map((v, j) => v + scale * b[i]![j]!));
export const scaleM = (a: Matrix, s: number): Matrix => a.map((row) => row.map((v) => s * v));
export const sumSquares = (a: Matrix | number[]): number => (a as (number | number[])[]).flat().reduce((s: number, v) => s + (v as number) * (v as number), 0);

/** Seeded values in [-1, 1). */
export function randomMatrix(rows: number, cols: number, seed: number, scale = 1): Matrix {
  const next = mulberry32(seed);
  return Array.from({ length: rows }, () => Array.from({ length: cols }, () => scale * (2 * next() - 1)));
}

/** One LoRA layer's parameters, float64. */
export interface LoraParams {
  w0: Matrix;
  a: Matrix;
  b: Matrix;
  bias: number[];
}

/** W₀ + s·AᵀBᵀ, [in, out]. */
export const merged64 = (p: LoraParams, s: number): Matrix => add(p.w0, matmul(transpose(p.a), transpose(p.b)), s);

/** x·(W₀ + s·AᵀBᵀ) + b. */
export const forward64 = (x: Matrix, p: LoraParams, s: number): Matrix => matmul(x, merged64(p, s)).map((row) => row.map((v, j) => v + p.bias[j]!));


/** ∂ mean((y − t)²) / ∂(W₀, A, B, b), from G = ∂L/∂W = (2/(N·out))·xᵀ(y − t): g_A = s(GB)ᵀ, g_B = sGᵀAᵀ. */
export function mseGrad64(x: Matrix, t: Matrix, p: LoraParams, s: number): LoraParams {
  const y = forward64(x, p, s);
  const n = y.length * y[0]!.length;
  const r = y.map((row, i) => row.map((v, j) => (2 * (v - t[i]![j]!)) / n));
  const g = matmul(transpose(x), r);
  return {
    w0: g,
    a: scaleM(transpose(matmul(g, p.b)), s),
    b: scaleM(matmul(transpose(g), transpose(p.a)), s),
    bias: r[0]!.map((_, j) => r.reduce((acc, row) => acc + row[j]!, 0)),
  };
}

/** p + c·q on the chosen parts. */
export function axpyParts(p: LoraParams, c: number, q: LoraParams, parts: readonly (keyof LoraParams)[]): LoraParams {
  const out: LoraParams = { w0: p.w0, a: p.a, b: p.b, bias: p.bias };
  for (const part of parts) {
    if (part === 'bias') out.bias = p.bias.map((v, i) => v + c * q.bias[i]!);
    else out[part] = add(p[part], q[part], c);
  }
  return out;
}

/** Largest |actual − expected| / max(1, |expected|) over nested arrays. */
export function maxError(actual: unknown, expected: unknown): number {
  const a = (actual as number[]).flat(3) as number[];
  const e = (expected as number[]).flat(3) as number[];
  if (a.length !== e.length) throw new Error(`length ${a.length} vs ${e.length}`);
  return a.reduce((m, v, i) => Math.max(m, Math.abs(v - e[i]!) / Math.max(1, Math.abs(e[i]!))), 0);
}

/** The values of a variable, as nested arrays. */
export const read = (v: tf.Tensor): number[][] => v.arraySync() as number[][];
