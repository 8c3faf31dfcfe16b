/**
 * The Hessian's top eigenvalue (power iteration) and trace (Hutchinson), from Hessian-vector
 * products (see `hvp.ts` for how they are made).
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { checkOptions } from '@flatmin/core/kit';
import { checkChoice, checkCount, checkNumber, checkSeed, checkTarget, generator, given, type LossFn, withWeights } from './common.js';
import { AUTO_TOLERANCE, exactProduct, finiteDifferenceProduct, HessianProducts, HVP_METHODS, type HvpMethod, relativeDifference } from './hvp.js';

/** Options of {@link hessianEigenvalue}. */
export interface HessianEigenvalueOptions {
  /** The most power iterations (default 20; a whole number ≥ 1). */
  iterations?: number;
  /** Stop when the estimate changes by less than `tolerance`·|λ| between iterations (default 1e-3; 0 runs every iteration). */
  tolerance?: number;
  /** How Hessian-vector products are made (default `'auto'`). */
  hvp?: HvpMethod;
  /** The finite-difference step, relative to max(1, ‖w‖) (default 1e-3; > 0). */
  step?: number;
  /** Seed of the starting vector (default 0). */
  seed?: number;
}

/** Options of {@link hessianTrace}. */
export interface HessianTraceOptions {
  /** m, the number of Rademacher vectors (default 100; a whole number ≥ 1). */
  samples?: number;
  /** How Hessian-vector products are made (default `'auto'`). */
  hvp?: HvpMethod;
  /** The finite-difference step, relative to max(1, ‖w‖) (default 1e-3; > 0). */
  step?: number;
  /** Seed of the Rademacher draws (default 0). */
  seed?: number;
}

const EIGEN_KEYS = ['iterations', 'tolerance', 'hvp', 'step', 'seed'] as const;
const TRACE_KEYS = ['samples', 'hvp', 'step', 'seed'] as const;

function checkHvp(options: object, where: string): { hvp: HvpMethod; step: number } {
  const hvp = checkChoice('hvp', given(options, 'hvp', 'auto'), HVP_METHODS, where);
  const step = checkNumber('step', given(options, 'step', 1e-3), { min: 0, minExclusive: true, max: 1 }, where);
  return { hvp, step };
}

/** Σ over every tensor of Σ aᵢbᵢ, read to the host. */
async function dot(a: readonly tf.Tensor[], b: readonly tf.Tensor[]): Promise<number> {
  const value = tf.tidy(() => tf.addN(a.map((x, i) => tf.sum(tf.mul(x, b[i]!)))));
  const [result] = await value.data();
  value.dispose();
  return result!;
}

/** v / ‖v‖ over every tensor together (kept). */
function normalized(v: readonly tf.Tensor[]): tf.Tensor[] {
  return tf.tidy(() => {
    const norm = tf.sqrt(tf.addN(v.map((x) => tf.sum(tf.square(x)))));
    return v.map((x) => tf.div(x, tf.add(norm, 1e-30)));
  });
}

/**
 * The Hessian's eigenvalue of largest magnitude (its top eigenvalue λ_max at a minimum, where H is
 * positive semi-definite), by power iteration on Hessian-vector products: v₀ ~ N(0, I) from the
 * seed, vₖ₊₁ = H vₖ / ‖H vₖ‖, λₖ = vₖᵀ H vₖ (the Rayleigh quotient), as PyHessian (Yao et al.,
 * 2020) does. One Hessian-vector product per iteration (double backward: about two gradients;
 * finite differences: two gradients). The variables are left bit-identical.
 *
 * @param loss one forward pass on a fixed batch, returning a scalar.
 * @param variables the weights the Hessian is taken over.
 * @param options {@link HessianEigenvalueOptions}.
 * @returns λ, a plain number.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs';
 * import { hessianEigenvalue } from '@flatmin/landscape';
 *
 * const w = tf.variable(tf.tensor1d([1, 1]));
 * const loss = () => tf.sum(tf.mul(tf.tensor1d([2, 0.5]), tf.square(w))) as tf.Scalar; // H = diag(4, 1)
 * const top = await hessianEigenvalue(loss, [w], { iterations: 50, seed: 1 }); // ≈ 4
 * ```
 */
export function hessianEigenvalue(loss: LossFn, variables: tf.Variable[], options?: HessianEigenvalueOptions): Promise<number> {
  const where = 'hessianEigenvalue';
  const checked = checkOptions(options, EIGEN_KEYS, where);
  const iterations = checkCount(checked, 'iterations', 20, 1, where);
  const tolerance = checkNumber('tolerance', given(checked, 'tolerance', 1e-3), { min: 0 }, where);
  const { hvp, step } = checkHvp(checked, where);
  const seed = checkSeed(checked, where);
  const vars = checkTarget(loss, variables, where);
  const random = generator(seed);

  return withWeights(vars, async (weights) => {
    const products = new HessianProducts(loss, weights, hvp, step);
    let v = tf.tidy(() => normalized(weights.start.map((w) => random.normal(w.shape))));
    let estimate = Number.NaN;
    try {
      for (let k = 0; k < iterations; k += 1) {
        const hv = await products.product(v);
        const next = await dot(v, hv);
        tf.dispose(v);
        v = normalized(hv);
        tf.dispose(hv);
        const previous = estimate;
        estimate = next;
        if (Number.isFinite(previous) && Math.abs(next - previous) <= tolerance * Math.abs(next)) break;
      }
      return estimate;
    } finally {
      tf.dispose(v);
    }
  });
}

/**
 * The Hessian's trace by Hutchinson's estimator (Hutchinson, "A stochastic estimator of the trace
 * of the influence matrix for Laplacian smoothing splines", Communications in Statistics, 1989):
 * tr(H) ≈ (1/m) Σᵢ zᵢᵀ H zᵢ with zᵢ Rademacher (±1 with probability ½ each) from the seed. The
 * estimate is unbiased with variance 2(‖H‖_F² − Σᵢ Hᵢᵢ²)/m (exact for a diagonal H). One
 * Hessian-vector product per sample; the variables are left bit-identical.
 *
 * @param loss one forward pass on a fixed batch, returning a scalar.
 * @param variables the weights the Hessian is taken over.
 * @param options {@link HessianTraceOptions}.
 * @returns the estimate, a plain number.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs';
 * import { hessianTrace } from '@flatmin/landscape';
 *
 * const w = tf.variable(tf.tensor1d([1, 1]));
 * const loss = () => tf.sum(tf.mul(tf.tensor1d([2, 0.5]), tf.square(w))) as tf.Scalar; // H = diag(4, 1)
 * const trace = await hessianTrace(loss, [w], { samples: 10, seed: 1 }); // 5
 * ```
 */
export function hessianTrace(loss: LossFn, variables: tf.Variable[], options?: HessianTraceOptions): Promise<number> {
  const where = 'hessianTrace';
  const checked = checkOptions(options, TRACE_KEYS, where);
  const samples = checkCount(checked, 'samples', 100, 1, where);
  const { hvp, step } = checkHvp(checked, where);
  const seed = checkSeed(checked, where);
  const vars = checkTarget(loss, variables, where);
  const random = generator(seed);

  return withWeights(vars, async (weights) => {
    const products = new HessianProducts(loss, weights, hvp, step);
    let sum = 0;
    for (let i = 0; i < samples; i += 1) {
      const z = tf.tidy(() => weights.start.map((w) => tf.sub(tf.mul(tf.cast(tf.less(random.uniformTensor(w.shape), 0.5), 'float32'), 2), 1)));
      try {
        const hz = await products.product(z);
        sum += await dot(z, hz);
        tf.dispose(hz);
      } finally {
        tf.dispose(z);
      }
    }
    return sum / samples;
  });
}

/** What {@link checkDoubleBackward} found. */
export interface DoubleBackwardCheck {
  /** Whether the double-backward Hessian-vector product ran and agreed with finite differences. */
  exact: boolean;
  /** ‖H v_exact − H v_fd‖ / max of their norms, when the double backward ran. */
  relativeDifference?: number;
  /** Why not, when `exact` is false. */
  reason?: string;
}

/**
 * Whether the exact (double-backward) Hessian-vector product works for this loss in tfjs — what
 * `hvp: 'auto'` decides on its first vector — with the relative difference to central finite
 * differences on one random vector (tolerance 5%). Use it to know which products a measurement
 * uses. The variables are left bit-identical.
 *
 * @param loss one forward pass on a fixed batch, returning a scalar.
 * @param variables the weights the Hessian is taken over.
 * @param options the seed of the probe vector (default 0) and the finite-difference `step` (default 1e-3).
 * @returns {@link DoubleBackwardCheck}.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs';
 * import { checkDoubleBackward } from '@flatmin/landscape';
 *
 * const w = tf.variable(tf.tensor1d([1, 2]));
 * const { exact } = await checkDoubleBackward(() => tf.sum(tf.exp(w)), [w]); // false: exp's gradient reuses its output
 * ```
 */
export function checkDoubleBackward(loss: LossFn, variables: tf.Variable[], options?: { seed?: number; step?: number }): Promise<DoubleBackwardCheck> {
  const where = 'checkDoubleBackward';
  const checked = checkOptions(options, ['seed', 'step'], where);
  const seed = checkSeed(checked, where);
  const step = checkNumber('step', given(checked, 'step', 1e-3), { min: 0, minExclusive: true, max: 1 }, where);
  const vars = checkTarget(loss, variables, where);
  const random = generator(seed);
  return withWeights(vars, async (weights) => {
    const v = tf.tidy(() => normalized(weights.start.map((w) => random.normal(w.shape))));
    try {
      let exact: tf.Tensor[];
      try {
        exact = exactProduct(loss, vars, v);
      } catch (error) {
        return { exact: false, reason: `double backward failed: ${(error as Error).message}` };
      }
      const fd = finiteDifferenceProduct(loss, weights, v, step);
      const difference = await relativeDifference(exact, fd);
      tf.dispose([...exact, ...fd]);
      return difference > AUTO_TOLERANCE
        ? { exact: false, relativeDifference: difference, reason: `double backward disagrees with finite differences by ${(100 * difference).toPrecision(3)}%` }
        : { exact: true, relativeDifference: difference };
    } finally {
      tf.dispose(v);
    }
  });
}
