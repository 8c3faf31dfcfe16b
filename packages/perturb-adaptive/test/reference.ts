// Float64 references written from the formulas (METHODS.md and the papers), independent of src/:
// ASAM's ε = ρ T²g/(‖Tg‖ + 1e-12) and Fisher SAM's ε = ρ (g/f)/(√(Σ g²/f) + 1e-12), f = 1 + η g²,
// on flat row-major value lists, and SGD steps of the test kit's linear problem with them.
import { axpy, flatten, type LinearParams, type LinearProblem, linearGrad64, unflatten } from '@flatmin/test-kit';

export const NORM_EPSILON = 1e-12;

/** One variable as the reference sees it: its shape, row-major values w, its gradient g, and whether ASAM adapts it. */
export interface Entry {
  shape: readonly number[];
  w: readonly number[];
  g: readonly number[];
  adapted: boolean;
}

/**
 * T for every entry of one variable, float64. Element-wise: |w_i| + η. Per filter: the filter of
 * flat index i is i mod (last dimension) in row-major order (tfjs layout: the last axis indexes
 * filters), T = √(Σ over the filter's entries of w²) + η; a rank-1 variable is one filter; a
 * scalar's filter norm is |w|. Not adapted: 1.
 */
export function adaptScale64(entry: Entry, eta: number, granularity: 'element' | 'filter'): number[] {
  if (!entry.adapted) return entry.w.map(() => 1);
  if (granularity === 'element') return entry.w.map((x) => Math.abs(x) + eta);
  const rank = entry.shape.length;
  const filters = rank >= 2 ? entry.shape[rank - 1]! : 1;
  const sums = new Array<number>(filters).fill(0);
  entry.w.forEach((x, i) => {
    sums[i % filters]! += x * x;
  });
  return entry.w.map((_, i) => Math.sqrt(sums[i % filters]!) + eta);
}

/** ASAM's ε for every entry, one global norm over all of them. */
export function asamEpsilon64(entries: readonly Entry[], rho: number, eta: number, granularity: 'element' | 'filter'): number[][] {
  const scales = entries.map((e) => adaptScale64(e, eta, granularity));
  let sum = 0;
  entries.forEach((e, k) => {
    e.g.forEach((g, i) => {
      const tg = scales[k]![i]! * g;
      sum += tg * tg;
    });
  });
  const factor = rho / (Math.sqrt(sum) + NORM_EPSILON);
  return entries.map((e, k) => e.g.map((g, i) => scales[k]![i]! * scales[k]![i]! * g * factor));
}

/** Fisher SAM's ε for every gradient list, one global sum over all of them. */
export function fisherEpsilon64(grads: readonly (readonly number[])[], rho: number, eta: number): number[][] {
  let sum = 0;
  for (const values of grads) for (const g of values) sum += (g * g) / (1 + eta * g * g);
  const factor = rho / (Math.sqrt(sum) + NORM_EPSILON);
  return grads.map((values) => values.map((g) => (g / (1 + eta * g * g)) * factor));
}

/** The linear problem's parameters as reference entries (W [d, k] row-major, then b [k]). */
function linearEntries(p: LinearProblem, w: LinearParams, g: LinearParams, adaptBias: boolean): Entry[] {
  return [
    { shape: [p.d, p.k], w: w.w.flat(), g: g.w.flat(), adapted: true },
    { shape: [p.k], w: w.b, g: g.b, adapted: adaptBias },
  ];
}

/** `steps` SGD steps on g(w + ε) with ε built by `epsilon` from w and the clean gradient g. */
function sharpSgd64(p: LinearProblem, steps: number, lr: number, epsilon: (w: LinearParams, g: LinearParams) => LinearParams): LinearParams {
  let w = p.init;
  for (let i = 0; i < steps; i += 1) {
    const g = linearGrad64(p, w);
    w = axpy(-lr, linearGrad64(p, axpy(1, epsilon(w, g), w)), w);
  }
  return w;
}

/** ASAM + SGD on the linear problem (the kernel adapted; the bias too when `adaptBias`). */
export function asamSgd64(
  p: LinearProblem,
  options: { steps: number; lr: number; rho: number; eta: number; granularity: 'element' | 'filter'; adaptBias?: boolean },
): LinearParams {
  return sharpSgd64(p, options.steps, options.lr, (w, g) => {
    const [kernel, bias] = asamEpsilon64(linearEntries(p, w, g, options.adaptBias ?? false), options.rho, options.eta, options.granularity);
    return unflatten(p, [...kernel!, ...bias!]);
  });
}

/** Fisher SAM + SGD on the linear problem. */
export function fisherSgd64(p: LinearProblem, options: { steps: number; lr: number; rho: number; eta: number }): LinearParams {
  return sharpSgd64(p, options.steps, options.lr, (_w, g) => unflatten(p, fisherEpsilon64([flatten(g)], options.rho, options.eta)[0]!));
}

/** Plain SAM (p = 2) + SGD on the linear problem. */
export function samSgd64(p: LinearProblem, options: { steps: number; lr: number; rho: number }): LinearParams {
  return sharpSgd64(p, options.steps, options.lr, (_w, g) => {
    const v = flatten(g);
    const norm = Math.sqrt(v.reduce((s, x) => s + x * x, 0));
    return unflatten(p, v.map((x) => (options.rho * x) / (norm + NORM_EPSILON)));
  });
}
