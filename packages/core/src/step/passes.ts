/**
 * The passes of a step: gradients of the loss closure at w (clean), at w + ε (adversarial), and
 * forward-only evaluations at w + δ. Each closure call goes through the sandbox (only the first
 * call on a closure is visible to `model.fit`) and is counted as a loss evaluation.
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { elementwise } from '../elementwise.js';
import { FlatminError } from '../errors.js';
import { addNamed, mapNamed, shareData } from '../tensor-math.js';
import type { NamedTensors, Objective, ObjectiveExtras, ObjectiveOutputs } from '../types.js';
import type { Step } from './context.js';
import { ALL, checkRequirements, type NormalizedObjective, type Pick, normalizeObjective, pickScalar } from './objective.js';
import { type CallMode, discardCall, noSideEffects, recordSideEffects, releaseWrites, undoSideEffects, visibleKeeps } from './sandbox.js';

/** One gradient pass: the closure's loss, the gradient of the picked scalar, the closure's extras. */
export interface Pass {
  readonly loss: tf.Scalar;
  readonly grads: NamedTensors;
  readonly extras: ObjectiveExtras;
}

/** The clean pass(es) of a step, one closure per micro-batch, plus what earlier calls accumulated. */
export interface CleanGradients {
  /** Mean loss over the micro-batches (what `minimize` returns). */
  readonly loss: tf.Scalar;
  /** Mean clean gradient g over every micro-batch (of the whole loss). */
  readonly grads: NamedTensors;
  /** The gradient ε is built from: g, or of the `sharpOn` parts only. */
  readonly sharp: NamedTensors;
  /** The last micro-batch's own gradient of the sharp scalar (for the accumulation estimate). */
  readonly last: NamedTensors;
  readonly extras: ObjectiveExtras;
}

/** Gradients of `pick(f())` with respect to `variables`, with the closure call sandboxed unless visible. */
export function gradientPass(step: Step, f: Objective, variables: tf.Variable[], pick: Pick): Pass {
  const earlier = step.seen.get(f) ?? null;
  const visible = earlier === null;
  const effects = noSideEffects();
  // A component that refuses the closure's outputs fails the step after the visible call ran:
  // its writes (BatchNorm statistics) are then tracked so that they can be put back.
  const trackWrites = visible && step.env.requirements.length > 0;
  let captured: NormalizedObjective | null = null;
  const scalar = (): tf.Scalar => {
    const objective = normalizeObjective(recordSideEffects(f, effects, visible ? 'visible' : sandboxMode(step), earlier?.keeps ?? null, trackWrites));
    checkRequirements(objective, step.env.requirements);
    captured = objective;
    keepObjective(objective);
    return pickScalar(objective, pick);
  };
  step.evaluations += 1;
  let value: tf.Scalar;
  let grads: NamedTensors;
  let failed = true;
  try {
    ({ value, grads } = gradientsOf(scalar, variables));
    failed = false;
  } finally {
    if (visible && failed) discardCall(effects);
    else if (visible) {
      releaseWrites(effects);
      step.seen.set(f, visibleKeeps(effects));
    } else undoSideEffects(effects, earlier.keeps, earlier.pushed);
    if (captured !== null) ownObjective(step, captured);
  }
  step.scope.own(value);
  step.scope.ownAll(grads);
  const objective = captured as unknown as NormalizedObjective;
  return { loss: objective.loss, grads, extras: { perSample: objective.perSample, parts: objective.parts } };
}

/** The clean gradient of every closure in `fs` (and of the accumulated micro-batches before them). */
export function cleanPass(step: Step, fs: readonly Objective[], prior: { sum: NamedTensors; count: number; lossSum: tf.Scalar } | null): CleanGradients {
  const { gradient } = step.variables;
  const sharpOn = step.env.settings.sharpOn;
  const passes = fs.map((f) => gradientPass(step, f, gradient, sharpOn === null ? ALL : { kind: 'sharp', parts: sharpOn }));
  const rests = sharpOn === null ? [] : fs.map((f) => gradientPass(step, f, gradient, { kind: 'rest', parts: sharpOn }));
  const lastPass = passes[passes.length - 1]!;
  const extras = lastPass.extras;
  if (passes.length === 1 && prior === null && rests.length === 0) {
    return { loss: lastPass.loss, grads: lastPass.grads, sharp: lastPass.grads, last: lastPass.grads, extras };
  }
  const count = passes.length + (prior?.count ?? 0);
  return step.scope.tidy(() => {
    let sharpSum = prior === null ? passes[0]!.grads : addNamed(prior.sum, passes[0]!.grads);
    for (const p of passes.slice(1)) sharpSum = addNamed(sharpSum, p.grads);
    const sharp = count === 1 ? sharpSum : mapNamed(sharpSum, (t) => tf.div(t, count));
    let grads = sharp;
    for (const r of rests) grads = addNamed(grads, mapNamed(r.grads, (t) => tf.div(t, count)));
    const losses = passes.map((p) => p.loss);
    const lossSum = tf.addN(prior === null ? losses : [prior.lossSum, ...losses]);
    const loss = tf.div(lossSum, count) as tf.Scalar;
    return { loss, grads, sharp, last: lastPass.grads, extras };
  });
}

/** The mean gradient over `fs` of the sharp scalar at w + ε; w and everything the closure touched restored exactly. */
export function adversarialPass(step: Step, fs: readonly Objective[], epsilon: NamedTensors, variables: tf.Variable[], clean: ObjectiveExtras | null): Pass {
  const pick = adversarialPick(step, fs.length, clean);
  const passes = withOffsets(step.variables.perturbed, epsilon, () => {
    // w + ε is in the variables now: ε itself is not needed any more (one parameter-sized buffer less at peak).
    step.scope.drop(Object.values(epsilon));
    return fs.map((f) => gradientPass(step, f, variables, pick));
  });
  if (passes.length === 1) return passes[0]!;
  return step.scope.tidy(() => {
    let sum = passes[0]!.grads;
    for (const p of passes.slice(1)) sum = addNamed(sum, p.grads);
    return {
      grads: mapNamed(sum, (t) => tf.div(t, passes.length)),
      loss: tf.div(tf.addN(passes.map((p) => p.loss)), passes.length) as tf.Scalar,
      extras: passes[passes.length - 1]!.extras,
    };
  });
}

/** What the adversarial pass differentiates: the loss, the `sharpOn` parts, or the perturbation's weighting of the samples. */
function adversarialPick(step: Step, passes: number, clean: ObjectiveExtras | null): Pick {
  const { settings, perturbation } = step.env;
  const weighSamples = perturbation.weighSamples;
  if (weighSamples === undefined) return settings.sharpOn === null ? ALL : { kind: 'sharp', parts: settings.sharpOn };
  const who = `perturbation '${perturbation.name}'`;
  if (settings.sharpOn !== null || passes > 1) {
    throw new FlatminError(`${who} weighs the samples of the adversarial pass: it works with one closure per update and without sharpOn.`);
  }
  const cleanPerSample = clean?.perSample ?? null;
  const context = { ...step.context };
  return { kind: 'weighted', who, weigh: (perSample) => weighSamples.call(perturbation, { ...context, perSample, cleanPerSample }) };
}

/**
 * ∇ of a scalar a component builds from the closure's outputs, at w + δ (δ = 0 when omitted), with
 * respect to the updated and the perturbed variables, and the closure's loss there: one more
 * forward-backward, counted as a loss evaluation, the weights restored exactly. Like every pass,
 * only the step's first call of the closure is visible to `model.fit`; later ones are sandboxed.
 */
export function gradientAt(step: Step, f: Objective, build: (values: ObjectiveOutputs) => tf.Scalar, offsets: NamedTensors): { grads: NamedTensors; loss: tf.Scalar } {
  const pass = withOffsets(step.variables.perturbed, offsets, () => gradientPass(step, f, step.variables.gradient, { kind: 'custom', build }));
  return { grads: pass.grads, loss: pass.loss };
}

/** The loss at w + δ, forward only: the weights restored exactly, the closure's side effects undone. */
export function evaluateAt(step: Step, f: Objective, offsets: NamedTensors): tf.Scalar {
  step.evaluations += 1;
  return withOffsets(step.variables.perturbed, offsets, () => {
    const effects = noSideEffects();
    const earlier = step.seen.get(f) ?? null;
    try {
      return step.scope.tidy(() => pickScalar(normalizeObjective(recordSideEffects(f, effects, sandboxMode(step), earlier?.keeps ?? null)), ALL));
    } finally {
      undoSideEffects(effects, earlier?.keeps ?? null, earlier?.pushed ?? new Set());
    }
  });
}

/**
 * w ← w + δ for the variables with an offset, run `body`, then put back the exact old values (the
 * snapshot shares the old data: no copy, no float re-subtraction).
 */
export function withOffsets<T>(variables: readonly tf.Variable[], offsets: NamedTensors, body: () => T): T {
  const snapshots: Array<[tf.Variable, tf.Tensor]> = [];
  try {
    for (const v of variables) {
      const delta = offsets[v.name];
      if (delta === undefined) continue;
      snapshots.push([v, tf.keep(shareData(v))]);
      tf.tidy(() => v.assign(elementwise.add(v, delta)));
    }
    return body();
  } finally {
    for (const [v, snapshot] of snapshots) {
      if (v.dataId !== snapshot.dataId) v.assign(snapshot);
      snapshot.dispose();
    }
  }
}

/** ∇f with respect to `variables` (trainable or not), with flatmin's errors. */
function gradientsOf(f: () => tf.Scalar, variables: tf.Variable[]): { value: tf.Scalar; grads: NamedTensors } {
  let result: { value: tf.Tensor; grads: (tf.Tensor | undefined)[] };
  try {
    result = tf.engine().gradients(f, variables, undefined, true) as typeof result;
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    if (/gradient function not found/i.test(message)) {
      throw new FlatminError(
        `${message} No gradients are registered for this op. In Node, '@tensorflow/tfjs-core' alone registers no gradients: import '@tensorflow/tfjs' or '@tensorflow/tfjs-layers' (or tfjs-node) once, before training.`,
        { cause: error },
      );
    }
    throw error;
  }
  const { value, grads } = result;
  const named: NamedTensors = {};
  variables.forEach((v, i) => {
    const g = grads[i];
    if (g != null) named[v.name] = g;
  });
  if (Object.keys(named).length === 0) {
    value.dispose();
    throw new FlatminError(
      'Cannot find a connection between any variable and the result of the loss function: make sure the ops that use the variables run inside the function passed to minimize().',
    );
  }
  return { value: value as tf.Scalar, grads: named };
}

function sandboxMode(step: Step): CallMode {
  return step.env.settings.keptInAdversarialPass === 'keep' ? 'writes' : 'sandbox';
}

function keepObjective(objective: NormalizedObjective): void {
  tf.keep(objective.loss);
  if (objective.perSample !== null) tf.keep(objective.perSample);
  for (const part of Object.values(objective.parts ?? {})) tf.keep(part);
}

function ownObjective(step: Step, objective: NormalizedObjective): void {
  step.scope.own(objective.loss);
  if (objective.perSample !== null) step.scope.own(objective.perSample);
  for (const part of Object.values(objective.parts ?? {})) step.scope.own(part);
}
