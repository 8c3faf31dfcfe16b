// Float64 references written from the AE-SAM rule as the README states it (the seed formula),
// independent of src/: the decision replay from a sequence of ‖g‖², and a whole AE-SAM run of
// SGD + SAM's ε on the linear least-squares problem of the test kit.
import { axpy, flatten, type LinearParams, type LinearProblem, linearGrad64, scale64 } from '@flatmin/test-kit';

/** The rule's settings, with the paper's defaults. */
export interface Rule {
  delta?: number;
  lambda1?: number;
  lambda2?: number;
  totalSteps: number;
  /** How σ² is updated: with the new μ_t (the seed formula, the default) or the previous μ_{t−1} (for contrast only). */
  varianceWith?: 'new' | 'previous';
  /** c_t for t > T: held at λ₁ (ours) or the line continued (for contrast only). */
  beyond?: 'hold' | 'extrapolate';
}

/** One replayed step. */
export interface Replayed {
  sharp: boolean;
  mean: number;
  variance: number;
  threshold: number;
  /** |‖g‖² − threshold| / max(‖g‖², threshold): how far from a tie the decision was. */
  margin: number;
}

/** c_t = (t/T) λ₁ + (1 − t/T) λ₂. */
export function coefficient64(t: number, rule: Rule): number {
  const { lambda1 = -1, lambda2 = 1, totalSteps } = rule;
  const progress = (rule.beyond === 'extrapolate' ? t : Math.min(t, totalSteps)) / totalSteps;
  return progress * lambda1 + (1 - progress) * lambda2;
}

/** A replayer: feed ‖g_t‖² for t = 0, 1, … and get each step's decision (μ₋₁ = σ²₋₁ = 0). */
export function replayer(rule: Rule): (squared: number) => Replayed {
  const delta = rule.delta ?? 0.9;
  let mean = 0;
  let variance = 0;
  let t = 0;
  return (squared) => {
    const previousMean = mean;
    mean = delta * mean + (1 - delta) * squared;
    const centre = rule.varianceWith === 'previous' ? previousMean : mean;
    variance = delta * variance + (1 - delta) * (squared - centre) ** 2;
    const threshold = mean + coefficient64(t, rule) * Math.sqrt(variance);
    t += 1;
    const margin = Math.abs(squared - threshold) / Math.max(Math.abs(squared), Math.abs(threshold));
    return { sharp: squared >= threshold, mean, variance, threshold, margin };
  };
}

/** The decisions replayed from a recorded sequence of ‖g‖². */
export function replayDecisions(squares: readonly number[], rule: Rule): Replayed[] {
  const next = replayer(rule);
  return squares.map((s) => next(s));
}

const squaredNorm = (g: LinearParams) => flatten(g).reduce((s, v) => s + v * v, 0);

/**
 * AE-SAM on the linear problem in float64: at step t on the rows `batches[t % batches.length]`,
 * g = ∇L(w), the rule decides; a sharp step updates with ∇L(w + ρ g/(‖g‖ + 1e-12)), a plain one
 * with g (plain SGD with learning rate `lr`).
 */
export function aeSam64(
  problem: LinearProblem,
  options: { steps: number; lr: number; rho: number; rule: Rule; batches?: readonly (readonly number[])[] },
): { params: LinearParams; steps: Array<Replayed & { squared: number }> } {
  const decide = replayer(options.rule);
  const batches = options.batches ?? [problem.x.map((_, i) => i)];
  let w = problem.init;
  const steps: Array<Replayed & { squared: number }> = [];
  for (let t = 0; t < options.steps; t += 1) {
    const rows = [...batches[t % batches.length]!];
    const g = linearGrad64(problem, w, rows);
    const squared = squaredNorm(g);
    const decision = decide(squared);
    steps.push({ ...decision, squared });
    const direction = decision.sharp ? linearGrad64(problem, axpy(1, scale64(options.rho / (Math.sqrt(squared) + 1e-12), g), w), rows) : g;
    w = axpy(-options.lr, direction, w);
  }
  return { params: w, steps };
}
