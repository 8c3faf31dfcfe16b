/**
 * SAM's sharpness max_{‖ε‖≤ρ} L(w + ε) − L(w) by projected gradient ascent, and ASAM's adaptive
 * sharpness max_{‖T_w⁻¹ε‖≤ρ} L(w + ε) − L(w).
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { checkOptions } from '@flatmin/core/kit';
import { checkBoolean, checkChoice, checkCount, checkNumber, checkSeed, checkTarget, generator, given, type LossFn, readLoss, type Weights, withWeights } from './common.js';

/** Options of {@link sharpness}. */
export interface SharpnessOptions {
  /** ρ, the radius (default 0.05, or 0.5 with `adaptive` as ASAM's; > 0). */
  rho?: number;
  /** Projected ascent steps (default 5; a whole number ≥ 1). One step from `init: 'gradient'` is SAM's ε = ρ g/‖g‖ (ASAM's with `adaptive`). */
  steps?: number;
  /** α, the length of each normalized ascent step (default ρ). */
  stepSize?: number;
  /** Measure ASAM's adaptive sharpness: ε = T_w δ with ‖δ‖ ≤ ρ (default false). */
  adaptive?: boolean;
  /** η of T_w = |w| + η (default 0.01; ≥ 0; only with `adaptive`). */
  eta?: number;
  /** T_w element-wise (`'element'`, default) or per filter (‖W_:,j‖ + η; only with `adaptive`). */
  granularity?: 'element' | 'filter';
  /** Start at ε = 0 (`'gradient'`, default: the first step is SAM's) or at a random point of the sphere ‖δ‖ = ρ (`'random'`, from the seed). */
  init?: 'gradient' | 'random';
  /** Seed of the random start (default 0). */
  seed?: number;
}

/** What {@link sharpness} resolves to (plain JSON). */
export interface SharpnessResult {
  /** The largest L(w + εₖ) − L(w) over the iterates (≥ 0 with `init: 'gradient'`, which includes ε₀ = 0). */
  sharpness: number;
  /** L(w). */
  base: number;
  /** L(w + εₖ) for every iterate k = 0 … steps. */
  losses: number[];
  /** The settings used: ρ. */
  rho: number;
  /** The ascent steps taken. */
  steps: number;
  /** The ascent step size used. */
  stepSize: number;
  /** Whether the ball was adaptive (ASAM's). */
  adaptive: boolean;
  /** The adaptive ball's η. */
  eta: number;
  /** How ε₀ was chosen. */
  init: 'gradient' | 'random';
  /** The seed used. */
  seed: number;
}

const KEYS = ['rho', 'steps', 'stepSize', 'adaptive', 'eta', 'granularity', 'init', 'seed'] as const;

/** T_w: |w| + η (or ‖W_:,j‖ + η per filter) on rank ≥ 2 variables, 1 elsewhere (ASAM's official code adapts only weights). */
function adaptiveScale(w: tf.Tensor, eta: number, granularity: 'element' | 'filter'): tf.Tensor {
  if (w.rank < 2) return tf.onesLike(w);
  if (granularity === 'element') return tf.add(tf.abs(w), eta);
  const axes = Array.from({ length: w.rank - 1 }, (_, i) => i);
  return tf.mul(tf.onesLike(w), tf.add(tf.sqrt(tf.sum(tf.square(w), axes, true)), eta));
}

/** δ ← Proj_ρ(δ + α u/‖u‖): one normalized ascent step, projected back on the ball ‖δ‖ ≤ ρ. */
function ascend(delta: readonly tf.Tensor[], u: readonly tf.Tensor[], rho: number, alpha: number): tf.Tensor[] {
  return tf.tidy(() => {
    const uNorm = tf.sqrt(tf.addN(u.map((x) => tf.sum(tf.square(x)))));
    const moved = delta.map((d, i) => tf.add(d, tf.mul(tf.div(alpha, tf.add(uNorm, 1e-12)), u[i]!)));
    const norm = tf.sqrt(tf.addN(moved.map((x) => tf.sum(tf.square(x)))));
    const shrink = tf.minimum(1, tf.div(rho, tf.add(norm, 1e-30)));
    return moved.map((d) => tf.mul(d, shrink));
  });
}

/**
 * Sharpness in the sense of Keskar et al. (ICLR 2017, "On Large-Batch Training for Deep Learning:
 * Generalization Gap and Sharp Minima"), with SAM's L2 ball (Foret et al., ICLR 2021):
 * max_{‖ε‖₂ ≤ ρ} L(w + ε) − L(w), maximized by a few steps of normalized projected gradient ascent
 * δ ← Proj_ρ(δ + α ∇_δ/‖∇_δ‖) (Keskar et al. used L-BFGS-B on a box; this is the L2 ball of
 * SAM, for which one step from ε = 0 is SAM's own ε). With `adaptive`, ASAM's adaptive sharpness
 * (Kwon et al., ICML 2021): ε = T_w δ, T_w = |w| + η on weights (rank ≥ 2), so ∇_δ = T_w ⊙ g and
 * the first step is ASAM's ε = ρ T_w² g/‖T_w g‖. Cost: `steps` gradients plus two forward
 * passes. The variables are left bit-identical.
 *
 * @param loss one forward pass on a fixed batch, returning a scalar.
 * @param variables the weights to perturb.
 * @param options {@link SharpnessOptions}.
 * @returns {@link SharpnessResult}.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs';
 * import { sharpness } from '@flatmin/landscape';
 *
 * const w = tf.variable(tf.tensor1d([1, 2]));
 * const { sharpness: s } = await sharpness(() => tf.sum(tf.square(w)), [w], { rho: 0.1, steps: 3 });
 * ```
 */
export function sharpness(loss: LossFn, variables: tf.Variable[], options?: SharpnessOptions): Promise<SharpnessResult> {
  const where = 'sharpness';
  const checked = checkOptions(options, KEYS, where);
  const adaptive = checkBoolean(checked, 'adaptive', false, where);
  const rho = checkNumber('rho', given(checked, 'rho', adaptive ? 0.5 : 0.05), { min: 0, minExclusive: true }, where);
  const steps = checkCount(checked, 'steps', 5, 1, where);
  const stepSize = checkNumber('stepSize', given(checked, 'stepSize', rho), { min: 0, minExclusive: true }, where);
  const eta = checkNumber('eta', given(checked, 'eta', 0.01), { min: 0 }, where);
  const granularity = checkChoice('granularity', given(checked, 'granularity', 'element'), ['element', 'filter'] as const, where);
  const init = checkChoice('init', given(checked, 'init', 'gradient'), ['gradient', 'random'] as const, where);
  const seed = checkSeed(checked, where);
  const vars = checkTarget(loss, variables, where);

  return withWeights(vars, async (weights) => {
    const scale = tf.tidy(() => weights.start.map((w) => (adaptive ? adaptiveScale(w, eta, granularity) : tf.onesLike(w))));
    let delta = tf.tidy(() => {
      if (init === 'gradient') return weights.start.map((w) => tf.zerosLike(w));
      const random = generator(seed);
      return ascend(weights.start.map((w) => tf.zerosLike(w)), weights.start.map((w) => random.normal(w.shape)), rho, rho);
    });
    try {
      const base = await weights.loss(loss, where);
      const losses: number[] = [];
      for (let k = 0; k < steps; k += 1) {
        moveBy(weights, scale, delta);
        const { value, grads } = tf.variableGrads(loss, vars);
        try {
          losses.push(await readLoss(value, where));
          const u = tf.tidy(() => vars.map((v, i) => tf.mul(grads[v.name] ?? tf.zerosLike(v), scale[i]!)));
          const next = ascend(delta, u, rho, stepSize);
          tf.dispose([...u, ...delta]);
          delta = next;
        } finally {
          value.dispose();
          tf.dispose(Object.values(grads));
        }
      }
      moveBy(weights, scale, delta);
      losses.push(await weights.loss(loss, where));
      const worst = Math.max(...losses);
      return { sharpness: worst - base, base, losses, rho, steps, stepSize, adaptive, eta, init, seed };
    } finally {
      tf.dispose([...scale, ...delta]);
    }
  });
}

/** w ← w₀ + T ⊙ δ. */
function moveBy(weights: Weights, scale: readonly tf.Tensor[], delta: readonly tf.Tensor[]): void {
  const offset = tf.tidy(() => delta.map((d, i) => tf.mul(d, scale[i]!)));
  weights.offsetBy(offset);
  tf.dispose(offset);
}
