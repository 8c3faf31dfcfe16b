/**
 * Where a run settled: the local sharpness there (the largest eigenvalue of the 2×2 Hessian)
 * and the basin it is in. Both in float64 on the host, after the run, from the analytic
 * gradient — never inside an optimizer step.
 *
 * @module
 */
import type { Point, TestFunction } from './functions.js';

/** The Hessian by central differences of the analytic gradient, symmetrized. */
export function hessian(fn: TestFunction, [x, y]: Point, h = 1e-5): [[number, number], [number, number]] {
  const [gxp, gyp] = fn.gradient(x + h, y);
  const [gxm, gym] = fn.gradient(x - h, y);
  const [hxp, hyp] = fn.gradient(x, y + h);
  const [hxm, hym] = fn.gradient(x, y - h);
  const hxx = (gxp - gxm) / (2 * h);
  const hyy = (hyp - hym) / (2 * h);
  const hxy = ((gyp - gym) / (2 * h) + (hxp - hxm) / (2 * h)) / 2;
  return [
    [hxx, hxy],
    [hxy, hyy],
  ];
}

/** Eigenvalues of a symmetric 2×2 matrix, largest first (closed form). */
export function eigenvalues2([[a, b], [, d]]: [[number, number], [number, number]]): [number, number] {
  const mean = (a + d) / 2;
  const radius = Math.hypot((a - d) / 2, b);
  return [mean + radius, mean - radius];
}

/** The largest eigenvalue of the Hessian at `at`. */
export function sharpnessAt(fn: TestFunction, at: Point): number {
  return eigenvalues2(hessian(fn, at))[0];
}

/**
 * The basin `at` lies in: plain gradient descent from `at` (the function's learning rate,
 * float64) until it stops moving, then the named minimum it reached (within 0.05), or
 * `'none'` if it left the plot or reached no named minimum.
 */
export function basinOf(fn: TestFunction, at: Point, maxSteps = 20_000): string {
  let [x, y] = at;
  const [x0, x1, y0, y1] = fn.domain;
  const margin = Math.max(x1 - x0, y1 - y0);
  for (let t = 0; t < maxSteps; t += 1) {
    const [gx, gy] = fn.gradient(x, y);
    x -= fn.learningRate * gx;
    y -= fn.learningRate * gy;
    if (!Number.isFinite(x) || !Number.isFinite(y) || x < x0 - margin || x > x1 + margin || y < y0 - margin || y > y1 + margin) return 'none';
    if (Math.hypot(gx, gy) < 1e-10) break;
  }
  const near = fn.minima.find((m) => Math.hypot(m.at[0] - x, m.at[1] - y) < 0.05);
  return near?.label ?? 'none';
}
