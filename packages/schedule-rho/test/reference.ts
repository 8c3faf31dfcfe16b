// Float64 references written from the formulas (METHODS.md and the papers), independent of the code
// under test: SAM on the linear least-squares problem with a given ρ per step, and LETS with its
// hypergradient taken by central finite differences of the upper-level objective.
import { axpy, type LinearParams, type LinearProblem, linearGrad64, linearLoss64, norm64, scale64 } from '@flatmin/test-kit';

export const NORM_EPSILON = 1e-12;

/** One SAM step with radius ρ and SGD rate η: w − η ∇L(w + ρ g/(‖g‖ + 1e-12)) (ρ = 0: plain SGD). */
export function samStep64(p: LinearProblem, w: LinearParams, rho: number, eta: number, rows?: number[]): LinearParams {
  const g = linearGrad64(p, w, rows);
  const epsilon = scale64(rho / (norm64(g) + NORM_EPSILON), g);
  return axpy(-eta, linearGrad64(p, axpy(1, epsilon, w), rows), w);
}

/** `steps` steps from `p.init`: sharp steps with ρ_t = rhos[t], the others plain SGD. */
export function samRun64(p: LinearProblem, rhos: readonly number[], eta: number, sharp: (t: number) => boolean = () => true): LinearParams {
  let w = p.init;
  rhos.forEach((rho, t) => {
    w = sharp(t) ? samStep64(p, w, rho, eta) : axpy(-eta, linearGrad64(p, w), w);
  });
  return w;
}

/** Every row of the problem (what `runOptimizerSuite`'s closure trains on). */
export const ALL_ROWS = [0, 1, 2, 3, 4, 5, 6, 7];

/** Rows of the problem used as the training batch and as the validation batch in the LETS tests. */
export const TRAIN_ROWS = [0, 1, 2, 3, 4, 5];
export const VALIDATION_ROWS = [6, 7];

/** F(ρ) = ½ (L_val(w*(ρ)) − L_train(w*(ρ)))², w*(ρ) the one-step SAM update of w on the training rows. */
export function letsObjective64(p: LinearProblem, w: LinearParams, rho: number, eta: number, trainRows: number[] = TRAIN_ROWS): number {
  const next = samStep64(p, w, rho, eta, trainRows);
  const gap = linearLoss64(p, next, VALIDATION_ROWS) - linearLoss64(p, next, trainRows);
  return 0.5 * gap * gap;
}

/** ∂F/∂ρ by central finite differences (exact to ~1e-9 here: F is smooth in ρ). */
export function letsHypergradientFD(p: LinearProblem, w: LinearParams, rho: number, eta: number, trainRows: number[] = TRAIN_ROWS, delta = 1e-5): number {
  return (letsObjective64(p, w, rho + delta, eta, trainRows) - letsObjective64(p, w, rho - delta, eta, trainRows)) / (2 * delta);
}

/**
 * LETS over `steps` steps, every step sharp on the training rows: ρ_t (t ≥ 1, t mod every = 0)
 * = max(0, ρ_{t−1} − lr ∂F/∂ρ at (w_{t−1}, ρ_{t−1})), else ρ_t = ρ_{t−1}. Returns the weights and
 * the ρ of each step.
 */
export function lets64(
  p: LinearProblem,
  steps: number,
  o: { rho0: number; lr: number; every: number; eta: number; trainRows?: number[] },
): { params: LinearParams; rhos: number[] } {
  const trainRows = o.trainRows ?? TRAIN_ROWS;
  let w = p.init;
  let rho = o.rho0;
  let previous: LinearParams | null = null;
  const rhos: number[] = [];
  for (let t = 0; t < steps; t += 1) {
    if (t > 0 && t % o.every === 0 && previous !== null) rho = Math.max(0, rho - o.lr * letsHypergradientFD(p, previous, rho, o.eta, trainRows));
    rhos.push(rho);
    previous = w;
    w = samStep64(p, w, rho, o.eta, trainRows);
  }
  return { params: w, rhos };
}
