// Float64 references written from the METHODS.md formulas (independent of src/): the linear
// least-squares problem of the test kit, SGD as the base optimizer, one global norm.
import { type LinearParams, type LinearProblem, axpy, linearGrad64, norm64, scale64 } from '@flatmin/test-kit';

export const NORM_EPSILON = 1e-12;

/** ε = ρ d/(‖d‖ + 1e-12) over every parameter together. */
export function epsilon64(d: LinearParams, rho: number): LinearParams {
  return scale64(rho / (norm64(d) + NORM_EPSILON), d);
}

/** One SAM-family SGD step at w with the ascent direction d: w − η ∇L(w + ε(d)). */
function sharpStep(p: LinearProblem, w: LinearParams, d: LinearParams, rho: number, lr: number): LinearParams {
  return axpy(-lr, linearGrad64(p, axpy(1, epsilon64(d, rho), w)), w);
}

export interface FriendlyParameters {
  rho: number;
  sigma: number;
  lambda: number;
  lr: number;
}

/** F-SAM, the seed's Algorithm 3: m_t = λ m_{t−1} + (1−λ) g_t (m_{−1} = 0), d_t = g_t − σ m_t. */
export function friendlySeed64(p: LinearProblem, steps: number, { rho, sigma, lambda, lr }: FriendlyParameters): LinearParams {
  let w = p.init;
  let m = scale64(0, p.init);
  for (let t = 0; t < steps; t += 1) {
    const g = linearGrad64(p, w);
    m = axpy(1 - lambda, g, scale64(lambda, m));
    const d = axpy(-sigma, m, g);
    w = sharpStep(p, w, d, rho, lr);
  }
  return w;
}

/** F-SAM as nblt/F-SAM computes it: m₁ = g₁ and d₁ = g₁; then d_t = g_t − σ m_{t−1}, m_t = λ m_{t−1} + (1−λ) g_t. */
export function friendlyOfficial64(p: LinearProblem, steps: number, { rho, sigma, lambda, lr }: FriendlyParameters): LinearParams {
  let w = p.init;
  let m: LinearParams | null = null;
  for (let t = 0; t < steps; t += 1) {
    const g = linearGrad64(p, w);
    let d: LinearParams;
    if (m === null) {
      d = g;
      m = g;
    } else {
      d = axpy(-sigma, m, g);
      m = axpy(1 - lambda, g, scale64(lambda, m));
    }
    w = sharpStep(p, w, d, rho, lr);
  }
  return w;
}

/** VaSSO: d_t = (1−θ) d_{t−1} + θ g_t with d₀ = g₀ (the authors' code). */
export function vasso64(p: LinearProblem, steps: number, { rho, theta, lr }: { rho: number; theta: number; lr: number }): LinearParams {
  let w = p.init;
  let d: LinearParams | null = null;
  for (let t = 0; t < steps; t += 1) {
    const g = linearGrad64(p, w);
    d = d === null ? g : axpy(theta, g, scale64(1 - theta, d));
    w = sharpStep(p, w, d, rho, lr);
  }
  return w;
}

/** Plain SAM: d_t = g_t. */
export function sam64(p: LinearProblem, steps: number, { rho, lr }: { rho: number; lr: number }): LinearParams {
  let w = p.init;
  for (let t = 0; t < steps; t += 1) w = sharpStep(p, w, linearGrad64(p, w), rho, lr);
  return w;
}
