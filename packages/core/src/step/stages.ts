/**
 * The component stages of a step: decide, the plain gradient, ε, and combine + observe.
 * Each runs a component through the step scope (its new state is staged, not committed).
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { addNamed, globalNorm, mapNamed, pickNamed } from '../tensor-math.js';
import type { NamedTensors, ObjectiveExtras, ScheduleDecision } from '../types.js';
import type { Step } from './context.js';
import { type CleanGradients, evaluateAt, gradientAt, type Pass } from './passes.js';
import { addDecay } from './update.js';

const NO_EXTRAS: ObjectiveExtras = { perSample: null, parts: null };

/** The schedule's verdict and ρ as a device scalar. */
export function decide(step: Step, clean: CleanGradients | null): { sharp: boolean; rho: tf.Scalar } {
  const { schedule, perturbation } = step.env;
  const { update } = step.variables;
  const { decision } = step.scope.run('schedule', (state) =>
    schedule.decide({ ...step.context, variables: update, grads: clean?.grads ?? null, loss: clean?.loss ?? null }, state),
  ) as { decision: ScheduleDecision };
  const rho = decision.rho;
  const scalar = rho !== undefined && typeof rho !== 'number' ? rho : step.env.store.rhoScalar(rho ?? perturbation.rho, step.scope);
  return { sharp: decision.sharp, rho: scalar };
}

/** A non-sharp step's update direction: the clean gradient, adjusted by the schedule (LookSAM). */
export function plainDirection(step: Step, clean: CleanGradients): NamedTensors {
  const { schedule } = step.env;
  const { update } = step.variables;
  const grads = pickNamed(clean.grads, update);
  if (schedule.adjust === undefined) return grads;
  const adjust = schedule.adjust.bind(schedule);
  return step.scope.run('schedule', (state) => adjust({ ...step.context, variables: update, grads, loss: clean.loss, gradNorm: () => step.normOf(grads) }, state)).grads;
}

/** ε from the perturbation, with the once-per-step ‖g‖ shared with the telemetry. */
export function buildEpsilon(
  step: Step,
  clean: CleanGradients | null,
  rho: tf.Scalar,
  evaluateWith: Parameters<typeof evaluateAt>[1],
): { epsilon: NamedTensors; epsilonNorm: tf.Scalar | null; adversarial: Pass | null } {
  const { perturbation, settings } = step.env;
  const { perturbed } = step.variables;
  const grads = clean === null ? null : perturbationGradients(step, clean.sharp);
  const gradNorm = (): tf.Scalar => step.normOf(grads ?? {});
  const { epsilon, epsilonNorm, adversarial } = step.scope.run('perturbation', (state) =>
    perturbation.compute(
      {
        ...step.context,
        variables: perturbed,
        grads,
        loss: clean?.loss ?? null,
        objective: clean?.extras ?? NO_EXTRAS,
        rho,
        gradNorm,
        evaluate: (offsets) => evaluateAt(step, evaluateWith, offsets),
        gradientOf: (build, offsets) => gradientAt(step, evaluateWith, build, offsets ?? {}),
      },
      state,
    ),
  );
  const known = epsilonNorm ?? (settings.telemetry ? step.scope.tidy(() => globalNorm(epsilon)) : null);
  const taken = adversarial === undefined ? null : { grads: adversarial.grads, loss: adversarial.loss, extras: NO_EXTRAS };
  return { epsilon, epsilonNorm: known, adversarial: taken };
}

/** The clean gradient the perturbation sees: of the perturbed variables, plus λw with `weightDecayInPerturbation`. */
function perturbationGradients(step: Step, sharp: NamedTensors): NamedTensors {
  const { weightDecay, weightDecayInPerturbation } = step.env.settings;
  const picked = pickNamed(sharp, step.variables.perturbed);
  if (!(weightDecayInPerturbation && weightDecay > 0)) return picked;
  return step.scope.tidy(() => addDecay(picked, step.variables.perturbed, weightDecay));
}

/**
 * The update direction of a sharp step, then the observers. With accumulation the adversarial
 * gradient of the last micro-batch stands for all of them: ḡ + (g_adv,N − g_N) (`'last'`), or it is
 * used alone (`'lastOnly'`, the seeds' data-parallel variant).
 */
export function combine(step: Step, clean: CleanGradients | null, adversarial: Pass, rho: tf.Scalar): { direction: NamedTensors; gradsAdv: NamedTensors } {
  const { combiner, perturbation, schedule, settings } = step.env;
  const { update, gradient } = step.variables;
  const estimated = clean !== null && clean.last !== clean.sharp && settings.accumulate.adversarial === 'last';
  const gradsAdv = estimated
    ? step.scope.tidy(() => mapNamed(adversarial.grads, (adv, name) => tf.add(clean.sharp[name] ?? tf.zerosLike(adv), tf.sub(adv, clean.last[name] ?? tf.zerosLike(adv)))))
    : adversarial.grads;
  const cleanSharp = clean === null ? null : pickNamed(clean.sharp, update);
  const adversarialUpdate = pickNamed(gradsAdv, update);
  let { grads: direction } = step.scope.run('combiner', (state) =>
    combiner.combine({ ...step.context, variables: update, grads: cleanSharp, gradsAdv: adversarialUpdate, rho }, state),
  );
  if (settings.sharpOn !== null && clean !== null) {
    // ImbSAM: the other parts take their clean gradient, g_rest = g − g_sharp.
    const combined = direction;
    direction = step.scope.tidy(() => addNamed(combined, mapNamed(pickNamed(clean.grads, update), (g, name) => tf.sub(g, clean.sharp[name]!))));
  }
  const observeContext = { ...step.context, variables: gradient, grads: clean === null ? null : pickNamed(clean.sharp, gradient), gradsAdv, rho };
  const observePerturbation = perturbation.observe?.bind(perturbation);
  if (observePerturbation !== undefined) step.scope.run('perturbation', (state) => ({ state: observePerturbation(observeContext, state) }));
  const observeSchedule = schedule.observe?.bind(schedule);
  if (observeSchedule !== undefined) step.scope.run('schedule', (state) => ({ state: observeSchedule(observeContext, state) }));
  return { direction, gradsAdv: adversarialUpdate };
}
