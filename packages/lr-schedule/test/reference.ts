// Float64 references: tfjs-core 4.22's update rules written out from their documented formulas,
// on flat parameter vectors, with the rate of each update given explicitly.
import { flatten, type LinearParams, type LinearProblem, linearGrad64, unflatten } from '@flatmin/test-kit';

/** One update of a float64 optimizer: new parameters from the old ones, the gradient and this update's rate. */
export type Update64 = (w: number[], g: number[], lr: number) => number[];

/** SGD: w ← w − η g. */
export function sgd64(): Update64 {
  return (w, g, lr) => w.map((v, i) => v - lr * g[i]!);
}

/** tfjs momentum (not Nesterov): a ← m a + g; w ← w − η a. */
export function momentum64(m: number): Update64 {
  let a: number[] | null = null;
  return (w, g, lr) => {
    a = g.map((gi, i) => m * (a?.[i] ?? 0) + gi);
    return w.map((v, i) => v - lr * a![i]!);
  };
}

/** Adam: m ← β₁m + (1−β₁)g, v ← β₂v + (1−β₂)g², w ← w − η m̂ / (√v̂ + ε), bias-corrected with t = 1, 2, …. */
export function adam64(beta1: number, beta2: number, epsilon: number): Update64 {
  let m: number[] | null = null;
  let v: number[] | null = null;
  let t = 0;
  return (w, g, lr) => {
    t += 1;
    m = g.map((gi, i) => beta1 * (m?.[i] ?? 0) + (1 - beta1) * gi);
    v = g.map((gi, i) => beta2 * (v?.[i] ?? 0) + (1 - beta2) * gi * gi);
    return w.map((x, i) => {
      const mHat = m![i]! / (1 - beta1 ** t);
      const vHat = v![i]! / (1 - beta2 ** t);
      return x - (lr * mHat) / (Math.sqrt(vHat) + epsilon);
    });
  };
}

/** RMSProp (not centered): s ← ρ s + (1−ρ) g², μ ← m μ + η g / √(s + ε), w ← w − μ. */
export function rmsprop64(decay: number, momentum: number, epsilon: number): Update64 {
  let s: number[] | null = null;
  let mu: number[] | null = null;
  return (w, g, lr) => {
    s = g.map((gi, i) => decay * (s?.[i] ?? 0) + (1 - decay) * gi * gi);
    mu = g.map((gi, i) => momentum * (mu?.[i] ?? 0) + (lr * gi) / Math.sqrt(s![i]! + epsilon));
    return w.map((x, i) => x - mu![i]!);
  };
}

/** Adagrad: a ← a + g² (a₀ = initial), w ← w − η g / √(a + ε). */
export function adagrad64(initial: number, epsilon: number): Update64 {
  let a: number[] | null = null;
  return (w, g, lr) => {
    a = g.map((gi, i) => (a?.[i] ?? initial) + gi * gi);
    return w.map((x, i) => x - (lr * g[i]!) / Math.sqrt(a![i]! + epsilon));
  };
}

/**
 * Adadelta as tfjs-core 4.22 computes it: u = √(Δ + ε) / √(A + ε) · g with the accumulated
 * squared gradient A *before* this step's update, then A ← ρA + (1−ρ)g², Δ ← ρΔ + (1−ρ)u²,
 * w ← w − η u.
 */
export function adadelta64(rho: number, epsilon: number): Update64 {
  let acc: number[] | null = null;
  let upd: number[] | null = null;
  return (w, g, lr) => {
    const u = g.map((gi, i) => (Math.sqrt((upd?.[i] ?? 0) + epsilon) / Math.sqrt((acc?.[i] ?? 0) + epsilon)) * gi);
    acc = g.map((gi, i) => rho * (acc?.[i] ?? 0) + (1 - rho) * gi * gi);
    upd = u.map((ui, i) => rho * (upd?.[i] ?? 0) + (1 - rho) * ui * ui);
    return w.map((x, i) => x - lr * u[i]!);
  };
}

/** `steps` full-batch updates of the linear problem, update t with rate `rate(t)` and gradient `grad(params)`. */
export function run64(
  p: LinearProblem,
  update: Update64,
  rates: readonly number[],
  grad: (params: LinearParams) => LinearParams = (params) => linearGrad64(p, params),
  start: LinearParams = p.init,
): LinearParams {
  let w = flatten(start);
  for (const lr of rates) w = update(w, flatten(grad(unflatten(p, w))), lr);
  return unflatten(p, w);
}

/** Mini-batch updates: update t uses rate `rates[t]` and the gradient over `batches[t % batches.length]`. */
export function runBatches64(p: LinearProblem, update: Update64, rates: readonly number[], batches: readonly number[][], start: LinearParams = p.init): LinearParams {
  let w = flatten(start);
  rates.forEach((lr, t) => {
    w = update(w, flatten(linearGrad64(p, unflatten(p, w), batches[t % batches.length])), lr);
  });
  return unflatten(p, w);
}
