/**
 * The telemetry's measurements of a step, on the device: ‖g‖ (the perturbation's, when it saw the
 * same gradient), g·g_adv and Σg_adv² from the gradients themselves (no (w + ε) − w difference,
 * which cancels in float32 when |ε| ≪ |w|).
 *
 * @module
 */
import type * as tf from '@tensorflow/tfjs-core';
import { globalDot, globalNorm, pickNamed, sumOfSquares } from '../tensor-math.js';
import type { StepMeasurements } from '../telemetry.js';
import type { NamedTensors } from '../types.js';
import type { Step } from './context.js';
import type { CleanGradients } from './passes.js';

export function measure(
  step: Step,
  parts: { clean: CleanGradients | null; rho: tf.Scalar; gradNorm?: () => tf.Scalar; epsilonNorm?: tf.Scalar | null; gradsAdv?: NamedTensors },
): StepMeasurements | null {
  if (!step.env.settings.telemetry) return null;
  const { clean, rho, gradsAdv } = parts;
  const g = clean === null ? null : pickNamed(clean.sharp, step.variables.update);
  const gradNorm = g === null || Object.keys(g).length === 0 ? null : cleanNorm(step, g, parts.gradNorm);
  const cosine =
    gradsAdv === undefined || g === null || gradNorm === null
      ? null
      : step.scope.tidy(() => ({ dot: globalDot(g, gradsAdv), adversarialSquares: sumOfSquares(Object.values(gradsAdv)) }));
  return { gradNorm, epsilonNorm: parts.epsilonNorm ?? null, cosine, rho };
}

/** ‖g‖ over the updated variables: the perturbation's once-per-step norm when it is the same quantity. */
function cleanNorm(step: Step, g: NamedTensors, shared: (() => tf.Scalar) | undefined): tf.Scalar {
  const { update, perturbed } = step.variables;
  const { weightDecay, weightDecayInPerturbation } = step.env.settings;
  const same = shared !== undefined && update === perturbed && !(weightDecayInPerturbation && weightDecay > 0);
  return same ? shared() : step.scope.tidy(() => globalNorm(g));
}

/** Whether two maps hold the same tensors under the same names. */
export function sameTensors(a: NamedTensors, b: NamedTensors): boolean {
  const names = Object.keys(a);
  return names.length === Object.keys(b).length && names.every((name) => a[name] === b[name]);
}
