// Float64 references of one sharpness-aware update, written from the METHODS.md formulas.
import { axpy, type LinearParams, type LinearProblem, flatten, linearGrad64, norm64, scale64 } from '@flatmin/test-kit';

export interface StepOptions {
  rho: number;
  lr: number;
  /** Combiner: 'sam' (g_adv), mix λ, or GSAM α. */
  combine?: { kind: 'sam' } | { kind: 'mix'; lambda: number } | { kind: 'gsam'; alpha: number };
  weightDecay?: number;
}

const dot = (a: LinearParams, b: LinearParams) => {
  const fb = flatten(b);
  return flatten(a).reduce((s, v, i) => s + v * fb[i]!, 0);
};

/** ε = ρ g/(‖g‖ + 1e-12). */
export function samEpsilon64(g: LinearParams, rho: number): LinearParams {
  return scale64(rho / (norm64(g) + 1e-12), g);
}

/** The final gradient of one sharp step at `params`. */
export function finalGradient64(p: LinearProblem, params: LinearParams, options: StepOptions, rows?: number[]): LinearParams {
  const g = linearGrad64(p, params, rows);
  const gAdv = linearGrad64(p, axpy(1, samEpsilon64(g, options.rho), params), rows);
  const combine = options.combine ?? { kind: 'sam' };
  let out = gAdv;
  if (combine.kind === 'mix') out = axpy(1 - combine.lambda, g, scale64(combine.lambda, gAdv));
  if (combine.kind === 'gsam') {
    const c = dot(g, gAdv) / (dot(gAdv, gAdv) + 1e-12);
    const perpendicular = axpy(-c, gAdv, g);
    out = axpy(-combine.alpha, perpendicular, gAdv);
  }
  if (options.weightDecay) out = axpy(options.weightDecay, params, out);
  return out;
}

/** `steps` sharp SGD steps from `problem.init`. */
export function sgdSteps64(p: LinearProblem, steps: number, options: StepOptions): LinearParams {
  let params = p.init;
  for (let i = 0; i < steps; i += 1) params = axpy(-options.lr, finalGradient64(p, params, options), params);
  return params;
}

/** `steps` sharp steps with tfjs' momentum rule: v ← m v + g, w ← w − lr v. */
export function momentumSteps64(p: LinearProblem, steps: number, momentum: number, options: StepOptions): LinearParams {
  let params = p.init;
  let velocity = scale64(0, p.init);
  for (let i = 0; i < steps; i += 1) {
    velocity = axpy(1, finalGradient64(p, params, options), scale64(momentum, velocity));
    params = axpy(-options.lr, velocity, params);
  }
  return params;
}

export { dot as dot64 };
