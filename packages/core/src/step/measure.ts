/**
 * The telemetry's measurements of a step, on the device: ‖g‖ (the step's one reduction of it, shared
 * with the perturbation and the schedule when they see the same gradient), g·g_adv and Σg_adv² from the gradients themselves (no (w + ε) − w difference,
 * which cancels in float32 when |ε| ≪ |w|).
 *
 * @module
 */
import type * as tf from '@tensorflow/tfjs-core';
import { globalDot, pickNamed, sumOfSquares } from '../tensor-math.js';
import type { StepMeasurements } from '../telemetry.js';
import type { NamedTensors } from '../types.js';
import type { Step } from './context.js';
import type { CleanGradients } from './passes.js';

export function measure(
  step: Step,
  parts: { clean: CleanGradients | null; rho: tf.Scalar; epsilonNorm?: tf.Scalar | null; gradsAdv?: NamedTensors },
): StepMeasurements | null {
  if (!step.env.settings.telemetry) return null;
  const { clean, rho, gradsAdv } = parts;
  const g = clean === null ? null : pickNamed(clean.sharp, step.variables.update);
  const gradNorm = g === null || Object.keys(g).length === 0 ? null : step.normOf(g);
  const cosine =
    gradsAdv === undefined || g === null || gradNorm === null
      ? null
      : step.scope.tidy(() => ({ dot: globalDot(g, gradsAdv), adversarialSquares: sumOfSquares(Object.values(gradsAdv)) }));
  return { gradNorm, epsilonNorm: parts.epsilonNorm ?? null, cosine, rho };
}
