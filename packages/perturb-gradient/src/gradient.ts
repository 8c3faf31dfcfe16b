/**
 * SAM's perturbation: ε = ρ·g/‖g‖ (any p-norm), from the clean gradient or — the
 * one-backward variant — from the previous step's adversarial gradient.
 *
 * @module
 */
import type * as tf from '@tensorflow/tfjs-core';
import {
  type ComponentState,
  FlatminConfigError,
  FlatminError,
  type NamedTensors,
  type ObserveContext,
  type Perturbation,
  type PerturbationContext,
} from '@flatmin/core';
import { checkChoice, checkOptions, elementwise, pickNamed, registerComponent, shareData, variableKey } from '@flatmin/core/kit';
import { dualNormPerturbation } from './dual-norm.js';

/**
 * Options of {@link gradient}: the SAM perturbation (Foret et al., ICLR 2021,
 * "Sharpness-Aware Minimization for Efficiently Improving Generalization") and its
 * one-backward lookahead variant (Yu, Zhang & Kwok, "Improving Sharpness-Aware
 * Minimization by Lookahead", ICML 2024; OG-SAM).
 *
 * @example
 * ```ts
 * const options: GradientOptions = { rho: 0.05, p: 2, from: 'current' };
 * const perturbation = gradient(options);
 * ```
 */
export interface GradientOptions {
  /** The radius ρ of the ball, a finite number ≥ 0 (default 0.05; 0 reduces exactly to the base optimizer). A schedule may pass another ρ per step. */
  rho?: number;
  /**
   * The norm of the ball, a number ≥ 1 or `Infinity` (default 2). `'inf'` is accepted for
   * `Infinity` and is what `config` stores, because JSON has no Infinity.
   */
  p?: number | 'inf';
  /**
   * Which gradient ε is built from (default `'current'`): `'current'` is SAM (the clean
   * gradient of this step, two passes per step); `'previous'` is the one-backward
   * lookahead variant (the previous sharp step's adversarial gradient; no clean pass).
   */
  from?: 'current' | 'previous';
}

const WHERE = 'gradient';
const KNOWN_KEYS = ['rho', 'p', 'from'] as const;
const FROM_CHOICES = ['current', 'previous'] as const;

/** The state key of a variable's stored adversarial gradient (`from: 'previous'`). */
function previousKey(variableName: string): string {
  return variableKey(variableName, 'previous');
}

/**
 * The SAM perturbation (Foret et al., ICLR 2021, "Sharpness-Aware Minimization for
 * Efficiently Improving Generalization"): the first-order worst case over the p-norm ball
 * of radius ρ, with **one global norm over every perturbed variable together**:
 *
 * - p = 2 (default): ε = ρ g / (‖g‖₂ + 1e-12), the formula of the widely used PyTorch SAM
 *   implementation (the official JAX code divides by ‖g‖₂ alone).
 * - 1 < p < ∞ (1/p + 1/q = 1): ε_i = ρ sign(g_i) |g_i|^{q−1} / (‖g‖_q^q)^{1/p}, computed
 *   after dividing g by its global max |g| (scale invariant; no float32 overflow).
 * - p = ∞: ε = ρ sign(g).
 * - p = 1: the dual norm is ∞, so all of ρ goes to the coordinate(s) with the largest
 *   |g_i| over all variables: ε = ρ sign(g) ⊙ [|g| = max|g|] / count (exact ties share ρ,
 *   so ‖ε‖₁ = ρ).
 *
 * The radius used is the step's `context.rho` (the schedule's ρ(t), or this factory's
 * `rho`). A zero gradient gives ε = 0, never NaN; ρ = 0 gives ε = 0.
 *
 * With `from: 'previous'` it is the one-backward lookahead variant (OG-SAM of Yu, Zhang &
 * Kwok, "Improving Sharpness-Aware Minimization by Lookahead", ICML 2024; an earlier
 * version was submitted to ICLR 2024): `needsGradient` is false, `observe` stores each variable's
 * adversarial gradient ∇L(w + ε) in the state under `` `${variable.name}:previous` ``,
 * and the next `compute` builds ε from it with the same formula. A variable with no stored
 * gradient (every variable on the first step) gets no ε entry, i.e. ε = 0.
 *
 * `config` is `{ rho, p, from }` with `p: 'inf'` for Infinity, so
 * `gradient(JSON.parse(JSON.stringify(perturbation.config)))` rebuilds the same
 * perturbation; the factory is registered as `('perturbation', 'gradient')` for
 * `SharpnessAwareOptimizer.fromConfig`.
 *
 * @param options see {@link GradientOptions}; invalid values throw a `FlatminConfigError` naming the key.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs';
 * import { sharpnessAware } from '@flatmin/core';
 * import { gradient } from '@flatmin/perturb-gradient';
 *
 * const sam = sharpnessAware({ base: tf.train.sgd(0.1), perturbation: gradient({ rho: 0.05 }) });
 * const samInf = sharpnessAware({ base: tf.train.sgd(0.1), perturbation: gradient({ rho: 0.01, p: Infinity }) });
 * const ogSam = sharpnessAware({ base: tf.train.sgd(0.1), perturbation: gradient({ rho: 0.05, from: 'previous' }) });
 * ```
 */
export function gradient(options?: GradientOptions): Perturbation {
  const checked = checkOptions(options, KNOWN_KEYS, WHERE);
  const rho = resolveRho(checked.rho);
  const p = resolveP(checked.p);
  const from = checked.from === undefined ? 'current' : checkChoice('from', checked.from, FROM_CHOICES, WHERE);
  const config = Object.freeze({ rho, p: p === Number.POSITIVE_INFINITY ? 'inf' : p, from });

  if (from === 'current') {
    return {
      kind: 'perturbation',
      name: 'gradient',
      config,
      rho,
      needsGradient: true,
      // Every p: ε_i is a multiple of g_i, of |g_i|^(q−1) sign(g_i) or of sign(g_i), so 0 where g_i is.
      vanishesWithGradient: true,
      compute(context: PerturbationContext): { epsilon: NamedTensors; epsilonNorm?: tf.Scalar } {
        if (context.grads === null) {
          throw new FlatminError(
            "gradient({ from: 'current' }) needs the clean gradient, but no clean pass was made (context.grads is null).",
          );
        }
        const grads = pickNamed(context.grads, context.variables);
        if (p !== 2) return { epsilon: dualNormPerturbation(grads, p, context.rho, context.normEpsilon) };
        // p = 2 reuses the optimizer's once-per-step ‖g‖ (also reported by the telemetry), and
        // ‖ε‖ = ρ‖g‖/(‖g‖ + 1e-12) needs no reduction.
        const norm = context.gradNorm();
        return {
          epsilon: dualNormPerturbation(grads, 2, context.rho, context.normEpsilon, norm),
          epsilonNorm: elementwise.div(elementwise.mul(context.rho, norm), elementwise.add(norm, context.normEpsilon)) as tf.Scalar,
        };
      },
    };
  }

  return {
    kind: 'perturbation',
    name: 'gradient',
    config,
    rho,
    needsGradient: false,
    // The state is left unchanged (no `state` in the result): only `observe` writes it.
    compute(context: PerturbationContext, state: ComponentState): { epsilon: NamedTensors } {
      const previous: NamedTensors = {};
      for (const variable of context.variables) {
        const stored = state[previousKey(variable.name)];
        if (stored !== undefined && typeof stored !== 'number') previous[variable.name] = stored;
      }
      return { epsilon: dualNormPerturbation(previous, p, context.rho, context.normEpsilon) };
    },
    observe(context: ObserveContext, state: ComponentState): ComponentState {
      const next: Record<string, tf.Tensor | number> = {};
      const fresh = pickNamed(context.gradsAdv, context.variables);
      // New handles on the same data (shareData: no copy; tf.clone copies on wasm): the optimizer may dispose both the
      // old state and gradsAdv after this call; entries for variables without a new
      // adversarial gradient are carried forward.
      for (const [key, value] of Object.entries(state)) {
        if (typeof value === 'number') next[key] = value;
        else if (!isFreshKey(key, fresh)) next[key] = shareData(value);
      }
      for (const [name, g] of Object.entries(fresh)) next[previousKey(name)] = shareData(g);
      return next;
    },
  };
}

function isFreshKey(key: string, fresh: NamedTensors): boolean {
  return key.endsWith(':previous') && fresh[key.slice(0, -':previous'.length)] !== undefined;
}

function resolveRho(value: unknown): number {
  if (value === undefined) return 0.05;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw new FlatminConfigError('rho', value, 'a finite number >= 0', WHERE);
  }
  return value;
}

function resolveP(value: unknown): number {
  if (value === undefined) return 2;
  if (value === 'inf' || value === Number.POSITIVE_INFINITY) return Number.POSITIVE_INFINITY;
  if (typeof value !== 'number' || Number.isNaN(value) || value < 1) {
    throw new FlatminConfigError('p', value, "a number >= 1, or Infinity (written 'inf' in a JSON config)", WHERE);
  }
  return value;
}

registerComponent('perturbation', 'gradient', (config) => gradient(config as GradientOptions));
