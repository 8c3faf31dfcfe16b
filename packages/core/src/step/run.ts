/**
 * The sharpness-aware step, top to bottom. Every stage lives in its own module: passes
 * (`passes.ts`), component stages (`stages.ts`), the end of the step (`update.ts`), tensor
 * ownership and the transaction (`scope.ts`), the closure sandbox (`sandbox.ts`).
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { addNamed, pickNamed } from '../tensor-math.js';
import type { StepMeasurements } from '../telemetry.js';
import type { NamedTensors, Objective } from '../types.js';
import { type Accumulated, sameTensors, Step, type StepEnv, type StepVariables } from './context.js';
import { adversarialPass, type CleanGradients, cleanPass } from './passes.js';
import type { Verdict } from './scope.js';
import { buildEpsilon, combine, decide, plainDirection } from './stages.js';
import { measure } from './measure.js';
import { applyUpdate, average, guard, withWeightDecay } from './update.js';

/** What one update is made of. */
export interface StepRequest {
  /** This call's micro-batches (one closure each; one for `minimize`). */
  readonly cleanFs: readonly Objective[];
  /** Where the adversarial gradient is taken (the last micro-batch, or all of them). */
  readonly adversarialFs: readonly Objective[];
  /** Clean gradients of earlier `minimize` calls of an accumulation. */
  readonly prior: Accumulated | null;
}

interface Outcome {
  readonly loss: tf.Scalar;
  readonly sharp: boolean;
  readonly verdict: Verdict | null;
  readonly measured: StepMeasurements | null;
}

/** One update: decide, clean pass, ε, adversarial pass, combine, decay, guard, apply, average. */
function sharpnessAwareStep(step: Step, { cleanFs, adversarialFs, prior }: StepRequest): Outcome {
  const { schedule, perturbation, combiner, settings } = step.env;
  const cleanFirst = schedule.needsGradient === true || prior !== null || cleanFs.length > 1;
  let clean: CleanGradients | null = cleanFirst ? cleanPass(step, cleanFs, prior) : null;
  const { sharp, rho } = decide(step, clean);

  if (!sharp) {
    clean ??= cleanPass(step, cleanFs, prior);
    const direction = withWeightDecay(step, plainDirection(step, clean));
    const measured = measure(step, { clean, rho });
    // The telemetry's ‖g‖ is the guard's Σg² when the direction is g itself (no decay, no adjust): one reduction less.
    const gradNorm = measured?.gradNorm ?? null;
    const squares = gradNorm !== null && sameTensors(direction, pickNamed(clean.sharp, step.variables.update)) ? step.scope.tidy(() => tf.square(gradNorm) as tf.Scalar) : null;
    const verdict = guard(step, clean.loss, direction, squares);
    applyUpdate(step, direction);
    average(step);
    return { loss: clean.loss, sharp, verdict, measured };
  }

  const needsClean = perturbation.needsGradient || combiner.needsGradient || settings.sharpOn !== null;
  if (needsClean) clean ??= cleanPass(step, cleanFs, prior);
  const { epsilon, epsilonNorm, adversarial: taken } = buildEpsilon(step, clean, rho, adversarialFs[adversarialFs.length - 1]!);
  if (clean !== null && !keepsCleanGradient(step)) clean = forgetGradients(step, clean);
  const adversarial = taken ?? adversarialPass(step, adversarialFs, epsilon, observed(step), clean?.extras ?? null);
  const { direction: combined, gradsAdv } = combine(step, clean, adversarial, rho);
  const direction = withWeightDecay(step, combined);
  const measured = measure(step, { clean, rho, epsilonNorm, gradsAdv });
  const squares = sameTensors(direction, gradsAdv) ? (measured?.cosine?.adversarialSquares ?? null) : null;
  const loss = clean?.loss ?? adversarial.loss;
  const verdict = guard(step, loss, direction, squares);
  applyUpdate(step, direction);
  average(step);
  return { loss, sharp, verdict, measured };
}

/**
 * Run one update as a transaction: on success the staged state is committed (selected against the
 * old state when the guard skipped the step); on any error everything is put back as it was.
 */
export function runStep(env: StepEnv, variables: StepVariables, request: StepRequest, returnCost: boolean): tf.Scalar | null {
  const step = new Step(env, variables);
  try {
    const outcome = sharpnessAwareStep(step, request);
    step.scope.commit(outcome.verdict);
    env.store.telemetry.record(outcome.measured, outcome.verdict);
    const counters = env.store.counters;
    counters.steps += 1;
    counters.sharpSteps += outcome.sharp ? 1 : 0;
    counters.lastSharp = outcome.sharp;
    counters.lossEvaluations += step.evaluations;
    env.store.variables = variables.gradient;
    return returnCost ? step.scope.release(tf.clone(outcome.loss)) : null;
  } catch (error) {
    step.scope.rollback(env.base);
    throw error;
  } finally {
    step.scope.dispose();
  }
}

/** An accumulation call that is not the last: its clean gradient joins the sum, no update. */
export function accumulateMicroBatch(env: StepEnv, variables: StepVariables, f: Objective, returnCost: boolean): tf.Scalar | null {
  const step = new Step(env, variables);
  try {
    const clean = cleanPass(step, [f], null);
    const previous = env.store.accumulator;
    const next: Accumulated = step.scope.tidy(() => ({
      sum: previous === null ? { ...clean.sharp } : addNamed(previous.sum, clean.sharp),
      count: 0,
      lossSum: previous === null ? tf.clone(clean.loss) : (tf.add(previous.lossSum, clean.loss) as tf.Scalar),
    }));
    for (const t of [...Object.values(next.sum), next.lossSum]) step.scope.release(t);
    if (previous !== null) disposeAccumulated(previous, next);
    env.store.accumulator = { ...next, count: (previous?.count ?? 0) + 1 };
    env.store.counters.microIndex += 1;
    env.store.counters.lossEvaluations += step.evaluations;
    env.store.variables = variables.gradient;
    return returnCost ? step.scope.release(tf.clone(clean.loss)) : null;
  } finally {
    step.scope.dispose();
  }
}

/** Dispose an accumulator's tensors (sparing those `except` still holds). */
export function disposeAccumulated(accumulated: Accumulated, except?: Accumulated): void {
  const spare = new Set(except === undefined ? [] : [...Object.values(except.sum), except.lossSum]);
  for (const t of [...Object.values(accumulated.sum), accumulated.lossSum]) if (!spare.has(t) && !t.isDisposed) t.dispose();
}

/** Whether g must live through the adversarial pass (telemetry's cosine, the combiner, observers, ImbSAM, accumulation). */
function keepsCleanGradient(step: Step): boolean {
  const { settings, combiner, perturbation, schedule } = step.env;
  return (
    settings.telemetry ||
    combiner.needsGradient ||
    perturbation.observe !== undefined ||
    schedule.observe !== undefined ||
    settings.sharpOn !== null ||
    settings.accumulate.steps > 1
  );
}

/** Free g before the adversarial pass (one parameter-sized buffer less at peak). */
function forgetGradients(step: Step, clean: CleanGradients): CleanGradients {
  step.scope.drop(new Set([...Object.values(clean.grads), ...Object.values(clean.sharp)]));
  const none: NamedTensors = {};
  return { ...clean, grads: none, sharp: none, last: none };
}

/** The variables whose adversarial gradient is taken: observers see the perturbed ones too. */
function observed(step: Step): tf.Variable[] {
  const { perturbation, schedule } = step.env;
  return perturbation.observe !== undefined || schedule.observe !== undefined ? step.variables.gradient : step.variables.update;
}
