// Float64 references written from METHODS.md, independent of src/.
import { axpy, flatten, type LinearParams, type LinearProblem, linearGrad64, scale64 } from '@flatmin/test-kit';

/** d_t of the EMA: d_0 = 0 (the first update copies w); then decay, or min(decay, 1 − (1 + t)^(−2/3)) with warmup. */
export function decay64(t: number, decay: number, warmup: boolean): number {
  if (t === 0) return 0;
  return warmup ? Math.min(decay, 1 - (1 + t) ** (-2 / 3)) : decay;
}

/** The EMA of a sequence of flat weight vectors, float64: w̄ ← d_t w̄ + (1 − d_t) w_t. */
export function ema64(sequence: readonly (readonly number[])[], decay: number, warmup: boolean): number[] {
  let average: number[] = [];
  sequence.forEach((w, t) => {
    const d = decay64(t, decay, warmup);
    average = t === 0 ? [...w] : average.map((a, i) => d * a + (1 - d) * w[i]!);
  });
  return average;
}

/** The SAM (p = 2) SGD trajectory in float64: the flat weights after each of `steps` steps. */
export function samTrajectory64(p: LinearProblem, steps: number, lr: number, rho: number): number[][] {
  let w: LinearParams = p.init;
  const out: number[][] = [];
  for (let i = 0; i < steps; i += 1) {
    const g = linearGrad64(p, w);
    const n = Math.sqrt(flatten(g).reduce((s, x) => s + x * x, 0));
    const epsilon = scale64(rho / (n + 1e-12), g);
    w = axpy(-lr, linearGrad64(p, axpy(1, epsilon, w)), w);
    out.push(flatten(w));
  }
  return out;
}

/** Max |a − e| / max(1, |e|). */
export function relativeError(actual: readonly number[], expected: readonly number[]): number {
  return actual.reduce((m, v, i) => Math.max(m, Math.abs(v - expected[i]!) / Math.max(1, Math.abs(expected[i]!))), 0);
}
