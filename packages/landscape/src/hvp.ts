/**
 * Hessian-vector products Hv of a loss, two ways:
 * - `'exact'`: double backward, H v = ∇_w (∇_w L · v) — `tf.variableGrads` of the dot product of
 *   the gradient with v (tfjs has no forward-over-backward). It is exact where every op's gradient
 *   is itself differentiable in tfjs: matMul, add, relu, square, mean, the MSE losses. In tfjs 4.22
 *   ops whose gradient reuses their own output (exp, tanh, sigmoid, softmax, logSoftmax) throw, and
 *   `tf.losses.sigmoidCrossEntropy` (a custom gradient) returns a wrong second derivative silently.
 * - `'finite-difference'`: central differences of gradients,
 *   H v ≈ ‖v‖ [∇L(w + h u) − ∇L(w − h u)] / 2h with u = v/‖v‖ and h = `step`·max(1, ‖w‖):
 *   two gradients per product, any differentiable loss, error O(h²) plus float32 rounding.
 * - `'auto'` (the default of every Hessian measurement): exact, checked once against the finite
 *   difference on the first vector; a throw, or a disagreement above 5%, switches the rest of the
 *   measurement to finite differences.
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Weights } from './common.js';

/** How Hessian-vector products are computed (see the module docs). */
export type HvpMethod = 'auto' | 'exact' | 'finite-difference';

/** Every {@link HvpMethod}. */
export const HVP_METHODS: readonly HvpMethod[] = ['auto', 'exact', 'finite-difference'];

/** Relative disagreement above which `'auto'` does not trust the double backward. */
export const AUTO_TOLERANCE = 0.05;

/** The gradient of `loss` at the variables' current values, one tensor per variable (zeros where it does not depend on one). */
export function gradientOf(loss: () => tf.Scalar, variables: readonly tf.Variable[]): tf.Tensor[] {
  return tf.tidy(() => {
    const { grads } = tf.variableGrads(loss, variables as tf.Variable[]);
    return variables.map((v) => grads[v.name] ?? tf.zerosLike(v));
  });
}

/** H v by double backward at the variables' current values. Throws where tfjs cannot differentiate a gradient. */
export function exactProduct(loss: () => tf.Scalar, variables: readonly tf.Variable[], v: readonly tf.Tensor[]): tf.Tensor[] {
  return tf.tidy(() => {
    const { grads } = tf.variableGrads(() => {
      const inner = gradientOf(loss, variables);
      return tf.addN(inner.map((g, i) => tf.sum(tf.mul(g, v[i]!)))) as tf.Scalar;
    }, variables as tf.Variable[]);
    return variables.map((w) => grads[w.name] ?? tf.zerosLike(w));
  });
}

/** H v by central differences of gradients around the starting weights (the variables are moved, then put back at `weights.start`). */
export function finiteDifferenceProduct(loss: () => tf.Scalar, weights: Weights, v: readonly tf.Tensor[], step: number): tf.Tensor[] {
  const scale = tf.tidy(() => {
    const vNorm = tf.sqrt(tf.addN(v.map((x) => tf.sum(tf.square(x)))));
    const wNorm = tf.sqrt(tf.addN(weights.start.map((x) => tf.sum(tf.square(x)))));
    const h = tf.mul(step, tf.maximum(wNorm, 1));
    return { vNorm, h };
  });
  try {
    const offset = (sign: number) => tf.tidy(() => v.map((x) => tf.mul(tf.div(tf.mul(sign, scale.h), tf.add(scale.vNorm, 1e-30)), x)));
    const up = offset(1);
    weights.offsetBy(up);
    tf.dispose(up);
    const plus = gradientOf(loss, weights.variables);
    const down = offset(-1);
    weights.offsetBy(down);
    tf.dispose(down);
    const minus = gradientOf(loss, weights.variables);
    const result = tf.tidy(() => {
      const factor = tf.div(scale.vNorm, tf.mul(2, scale.h));
      return plus.map((g, i) => tf.mul(tf.sub(g, minus[i]!), factor));
    });
    tf.dispose([...plus, ...minus]);
    return result;
  } finally {
    tf.dispose([scale.vNorm, scale.h]);
    for (const [i, x] of weights.variables.entries()) x.assign(weights.start[i]!);
  }
}

/** A Hessian-vector product at the starting weights, with the `'auto'` choice made once and remembered. */
/**
 * After a backward pass threw (a second derivative tfjs does not have), tfjs 4.22's engine keeps
 * the tensors the forward pass saved for the backward one, and its tape: release both, as a
 * backward pass that completes does. Only at gradient depth 0 (no gradient computation around us).
 */
export function releaseTape(): void {
  const state = (tf.engine() as unknown as { state: { gradientDepth: number; activeTape: Array<{ saved?: tf.Tensor[] }> | null } }).state;
  if (state.gradientDepth !== 0 || state.activeTape === null) return;
  for (const node of state.activeTape) for (const tensor of node.saved ?? []) tensor.dispose();
  state.activeTape = null;
}

export class HessianProducts {
  /** The method the products use (after `'auto'` decided: `'exact'` or `'finite-difference'`). */
  method: HvpMethod;
  /** Why `'auto'` chose finite differences, if it did. */
  reason: string | undefined;

  constructor(
    private readonly loss: () => tf.Scalar,
    private readonly weights: Weights,
    method: HvpMethod,
    private readonly step: number,
  ) {
    this.method = method;
  }

  /** H v (kept: the caller disposes it). */
  async product(v: readonly tf.Tensor[]): Promise<tf.Tensor[]> {
    if (this.method === 'finite-difference') return finiteDifferenceProduct(this.loss, this.weights, v, this.step);
    if (this.method === 'exact') return exactProduct(this.loss, this.weights.variables, v);
    let exact: tf.Tensor[];
    try {
      exact = exactProduct(this.loss, this.weights.variables, v);
    } catch (error) {
      releaseTape();
      this.method = 'finite-difference';
      this.reason = `double backward failed: ${(error as Error).message}`;
      return finiteDifferenceProduct(this.loss, this.weights, v, this.step);
    }
    const fd = finiteDifferenceProduct(this.loss, this.weights, v, this.step);
    const difference = await relativeDifference(exact, fd);
    if (difference > AUTO_TOLERANCE) {
      this.method = 'finite-difference';
      this.reason = `double backward disagrees with finite differences by ${(100 * difference).toPrecision(3)}%`;
      tf.dispose(exact);
      return fd;
    }
    this.method = 'exact';
    tf.dispose(fd);
    return exact;
  }
}

/** ‖a − b‖ / max(‖a‖, ‖b‖) over every tensor together (0 when both are 0). */
export async function relativeDifference(a: readonly tf.Tensor[], b: readonly tf.Tensor[]): Promise<number> {
  const values = tf.tidy(() => {
    const norm = (list: tf.Tensor[]) => tf.sqrt(tf.addN(list.map((x) => tf.sum(tf.square(x)))));
    return tf.stack([norm(a.map((x, i) => tf.sub(x, b[i]!))), norm([...a]), norm([...b])]);
  });
  const [diff, na, nb] = await values.data();
  values.dispose();
  const scale = Math.max(na!, nb!);
  return scale === 0 ? 0 : diff! / scale;
}
