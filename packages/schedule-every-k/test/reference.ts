// Float64 references written from the METHODS.md formula (independent of src/): the linear
// least-squares problem of the test kit, two variables (W and b), SGD as the base optimizer,
// SAM's ε = ρ g/‖g‖ with one global norm.
import { type LinearParams, type LinearProblem, linearGrad64 } from '@flatmin/test-kit';

/** The parameters as one array per variable: [W row-major, b]. */
type Parts = number[][];
const parts = (p: LinearParams): Parts => [p.w.flat(), [...p.b]];
const params = (x: Parts, like: LinearParams): LinearParams => ({
  w: like.w.map((row, i) => x[0]!.slice(i * row.length, (i + 1) * row.length)),
  b: x[1]!,
});

const dot = (a: number[], b: number[]) => a.reduce((s, v, i) => s + v * b[i]!, 0);
const norm = (vectors: number[][]) => Math.sqrt(vectors.reduce((s, v) => s + dot(v, v), 0));
const combine = (a: number[], x: number[], c: number) => a.map((v, i) => v + c * x[i]!);

export interface LookSamParameters {
  k: number;
  alpha: number;
  granularity: 'global' | 'tensor';
  rho: number;
  lr: number;
  /** The counter restarts every this many steps (absent: never). */
  restartEvery?: number;
}

/** g_v = g_adv − (g·g_adv/‖g‖²) g, over all variables together or per variable. */
function sharpness(g: Parts, gAdv: Parts, granularity: 'global' | 'tensor'): Parts {
  if (granularity === 'global') {
    const c = g.reduce((s, gi, i) => s + dot(gi, gAdv[i]!), 0) / norm(g) ** 2;
    return gAdv.map((a, i) => combine(a, g[i]!, -c));
  }
  return gAdv.map((a, i) => combine(a, g[i]!, -dot(g[i]!, a) / dot(g[i]!, g[i]!)));
}

/** g + α (‖g‖/‖g_v‖) g_v, over all variables together or per variable. */
function reused(g: Parts, gv: Parts, alpha: number, granularity: 'global' | 'tensor'): Parts {
  if (granularity === 'global') {
    const scale = (alpha * norm(g)) / norm(gv);
    return g.map((gi, i) => combine(gi, gv[i]!, scale));
  }
  return g.map((gi, i) => combine(gi, gv[i]!, (alpha * norm([gi])) / norm([gv[i]!])));
}

/**
 * LookSAM with SGD: step t (from 0) is sharp when t mod k = 0 — (t mod restartEvery) mod k = 0
 * when the counter restarts — (SAM's update, and g_v is stored);
 * the other steps take g + α (‖g‖/‖g_v‖) g_v, or plain g with no g_v yet or α = 0.
 */
export function lookSam64(problem: LinearProblem, steps: number, { k, alpha, granularity, rho, lr, restartEvery }: LookSamParameters): LinearParams {
  let w = parts(problem.init);
  let gv: Parts | null = null;
  const grad = (x: Parts) => parts(linearGrad64(problem, params(x, problem.init)));
  for (let t = 0; t < steps; t += 1) {
    const g = grad(w);
    let direction: Parts;
    const counter = restartEvery === undefined ? t : t % restartEvery;
    if (counter % k === 0) {
      const scale = rho / norm(g);
      const gAdv = grad(w.map((wi, i) => combine(wi, g[i]!, scale)));
      gv = sharpness(g, gAdv, granularity);
      direction = gAdv;
    } else {
      direction = gv === null || alpha === 0 ? g : reused(g, gv, alpha, granularity);
    }
    w = w.map((wi, i) => combine(wi, direction[i]!, -lr));
  }
  return params(w, problem.init);
}

/** Plain SAM with SGD (every step sharp). */
export function sam64(problem: LinearProblem, steps: number, { rho, lr }: { rho: number; lr: number }): LinearParams {
  return lookSam64(problem, steps, { k: 1, alpha: 0, granularity: 'global', rho, lr });
}
