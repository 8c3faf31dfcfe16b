/**
 * What a loss closure returns, normalized: `() => loss` or `() => ({ loss, perSample, parts })`.
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { FlatminError } from '../errors.js';
import type { ObjectiveExtras, ObjectiveField, ObjectiveOutputs, ObjectiveValue } from '../types.js';

/** A closure's output with the scalar loss always present. */
export interface NormalizedObjective extends ObjectiveExtras {
  readonly loss: tf.Scalar;
}

/** Which scalar a pass differentiates: the whole loss, the `sharpOn` parts, or the rest. */
export type Pick =
  | { readonly kind: 'all' }
  | { readonly kind: 'sharp' | 'rest'; readonly parts: readonly string[] }
  /** A scalar a component builds from the closure's outputs (`context.gradientOf`). */
  | { readonly kind: 'custom'; readonly build: (values: ObjectiveOutputs) => tf.Scalar }
  /** Σ wₙ ℓₙ / Σ wₙ with weights from the per-sample losses, held constant (`Perturbation.weighSamples`). */
  | { readonly kind: 'weighted'; readonly weigh: (perSample: tf.Tensor1D) => tf.Tensor1D; readonly who: string };

export const ALL: Pick = { kind: 'all' };

/** Normalize a closure's output, or throw a FlatminError saying what was wrong. */
export function normalizeObjective(out: tf.Scalar | ObjectiveValue): NormalizedObjective {
  if (out instanceof tf.Tensor) {
    if (out.rank !== 0) throw new FlatminError(
        `the loss function must return a scalar (rank 0, e.g. tf.mean(...) of the per-example losses), but it returned a rank-${out.rank} tensor of shape [${out.shape.join(', ')}].`,
      );
    return { loss: out, perSample: null, parts: null };
  }
  if (out === null || typeof out !== 'object') {
    throw new FlatminError(`the loss function must return a tf.Scalar or { loss, perSample?, parts? }, but it returned ${String(out)}.`);
  }
  const { perSample, parts } = out;
  if (perSample !== undefined && !(perSample instanceof tf.Tensor && perSample.rank === 1)) {
    throw new FlatminError('the loss function returned perSample that is not a rank-1 tensor (one loss per example).');
  }
  if (parts !== undefined) {
    if (parts === null || typeof parts !== 'object' || Object.keys(parts).length === 0) {
      throw new FlatminError('the loss function returned parts that is not a non-empty object of named scalars.');
    }
    for (const [name, part] of Object.entries(parts)) {
      if (!(part instanceof tf.Tensor && part.rank === 0)) throw new FlatminError(`the loss function returned part '${name}' that is not a scalar tensor.`);
    }
  }
  let loss = out.loss;
  if (loss === undefined) {
    if (parts !== undefined) loss = tf.addN(Object.values(parts)) as tf.Scalar;
    else if (perSample !== undefined) loss = tf.mean(perSample) as tf.Scalar;
    else throw new FlatminError('the loss function returned an object with none of loss, perSample or parts.');
  }
  if (!(loss instanceof tf.Tensor) || loss.rank !== 0) throw new FlatminError('the loss function returned a loss that is not a scalar tensor.');
  return { loss, perSample: perSample ?? null, parts: parts ?? null };
}

/** The scalar a pass differentiates. */
export function pickScalar(objective: NormalizedObjective, pick: Pick): tf.Scalar {
  if (pick.kind === 'all') return objective.loss;
  if (pick.kind === 'custom') {
    const out = pick.build({ loss: objective.loss, perSample: objective.perSample, parts: objective.parts });
    if (!(out instanceof tf.Tensor) || out.rank !== 0) throw new FlatminError('context.gradientOf: the function must return a scalar tensor built from the closure\'s outputs.');
    return out;
  }
  if (pick.kind === 'weighted') return weightedLoss(objective, pick.weigh, pick.who);
  const parts = objective.parts!;
  const sharp = pick.parts.length === 1 ? parts[pick.parts[0]!]! : (tf.addN(pick.parts.map((name) => parts[name]!)) as tf.Scalar);
  return pick.kind === 'sharp' ? sharp : (tf.sub(objective.loss, sharp) as tf.Scalar);
}

/** Who needs which field of the objective: a component name or `sharpOn`. */
export interface Requirement {
  readonly who: string;
  readonly field: ObjectiveField;
  /** For `sharpOn`: the part names that must be there. */
  readonly parts?: readonly string[];
}

/** Throw a FlatminError naming who needs what, with the custom-loop call, when `objective` lacks it. */
export function checkRequirements(objective: NormalizedObjective, requirements: readonly Requirement[]): void {
  for (const { who, field, parts } of requirements) {
    const present = field === 'perSample' ? objective.perSample !== null : objective.parts !== null;
    const missingParts = parts === undefined || objective.parts === null ? [] : parts.filter((name) => objective.parts![name] === undefined);
    if (present && missingParts.length === 0) continue;
    const what = field === 'perSample' ? 'per-sample losses (perSample)' : `the named loss parts ${(parts ?? []).map((p) => `'${p}'`).join(', ')}`;
    const got = !present ? 'a loss closure that returns none (model.fit always passes a plain scalar)' : `parts without ${missingParts.map((p) => `'${p}'`).join(', ')}`;
    const example =
      field === 'perSample'
        ? 'optimizer.minimize(() => { const perSample = lossPerExample(model.apply(x), y); return { loss: tf.mean(perSample), perSample }; })'
        : 'optimizer.minimize(() => classSplit(lossPerExample(model.apply(x), y), labels, { tail }))';
    throw new FlatminError(`${who} needs ${what}, but got ${got}. Call it from a custom loop: ${example}.`);
  }
}

/**
 * The objective of ImbSAM (Zhou et al., "ImbSAM: A Closer Look at Sharpness-Aware Minimization in
 * Class-Imbalanced Recognition", ICCV 2023): the batch split by class into a head and a tail part,
 * each the sum of its samples' losses divided by the batch size (the official code's
 * normalization), so that `loss = head + tail` is the mean loss. Pair it with
 * `sharpnessAware({ sharpOn: 'tail' })`: the tail classes get the sharpness-aware gradient, the
 * head classes their clean gradient.
 *
 * @param perSampleLoss one loss per example, `[batch]`.
 * @param labels class indices (`int32 [batch]`) or one-hot (or soft) labels `[batch, classes]`.
 * @param options.tail the class indices that form the tail.
 * @returns `{ loss, perSample, parts: { head, tail } }`, ready to return from a loss closure.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs';
 * import { classSplit, sharpnessAware } from '@flatmin/core';
 * import { gradient } from '@flatmin/perturb-gradient';
 *
 * const optimizer = sharpnessAware({ base: tf.train.sgd(0.1), perturbation: gradient({ rho: 0.05 }), sharpOn: 'tail' });
 * const model = tf.sequential({ layers: [tf.layers.dense({ units: 3, inputShape: [4] })] });
 * const x = tf.randomNormal([8, 4]);
 * const labels = tf.tensor1d([0, 1, 2, 0, 0, 1, 2, 0], 'int32');
 * optimizer.minimize(() => {
 *   const logits = model.apply(x) as tf.Tensor2D;
 *   const perSample = tf.losses.softmaxCrossEntropy(tf.oneHot(labels, 3), logits, undefined, undefined, tf.Reduction.NONE) as tf.Tensor1D;
 *   return classSplit(perSample, labels, { tail: [2] });
 * });
 * ```
 */
export function classSplit(
  perSampleLoss: tf.Tensor1D,
  labels: tf.Tensor,
  options: { tail: readonly number[] },
): {
  /** head + tail: the batch's mean loss. */
  loss: tf.Scalar;
  /** The per-sample losses given. */
  perSample: tf.Tensor1D;
  /** The loss split by class. */
  parts: {
    /** The head classes' losses summed, divided by the batch size. */
    head: tf.Scalar;
    /** The tail classes' losses summed, divided by the batch size. */
    tail: tf.Scalar;
  };
} {
  if (!(perSampleLoss instanceof tf.Tensor) || perSampleLoss.rank !== 1) {
    throw new FlatminError('classSplit: perSampleLoss must be a rank-1 tensor, one loss per example.');
  }
  if (!(labels instanceof tf.Tensor) || (labels.rank !== 1 && labels.rank !== 2) || labels.shape[0] !== perSampleLoss.shape[0]) {
    throw new FlatminError('classSplit: labels must be class indices [batch] or one-hot labels [batch, classes] with the same batch size as perSampleLoss.');
  }
  const tail = options?.tail;
  if (!Array.isArray(tail) || !tail.every((c) => Number.isInteger(c) && c >= 0)) {
    throw new FlatminError('classSplit: options.tail must be an array of class indices (integers >= 0).');
  }
  const batch = perSampleLoss.shape[0];
  const { head: headLoss, tail: tailLoss } = tf.tidy(() => {
    let inTail: tf.Tensor1D;
    if (labels.rank === 1) {
      const classes = tf.tensor1d(tail.length === 0 ? [-1] : tail, 'int32');
      inTail = tf.cast(tf.any(tf.equal(tf.expandDims(tf.cast(labels, 'int32'), 1), tf.expandDims(classes, 0)), 1), 'float32') as tf.Tensor1D;
    } else {
      const classCount = labels.shape[1]!;
      const indicator = tf.tensor2d(Array.from({ length: classCount }, (_, c) => [tail.includes(c) ? 1 : 0]));
      inTail = tf.reshape(tf.matMul(tf.cast(labels, 'float32'), indicator), [batch]) as tf.Tensor1D;
    }
    const tailSum = tf.sum(tf.mul(perSampleLoss, inTail));
    const headSum = tf.sum(tf.mul(perSampleLoss, tf.sub(1, inTail)));
    return { head: tf.div(headSum, batch) as tf.Scalar, tail: tf.div(tailSum, batch) as tf.Scalar };
  });
  return { loss: tf.add(headLoss, tailLoss) as tf.Scalar, perSample: perSampleLoss, parts: { head: headLoss, tail: tailLoss } };
}

/**
 * Σ wₙ ℓₙ / Σ wₙ: the weights come from the per-sample losses of this very forward pass, through
 * a gradient stop (a custom gradient of zero), so the backward pass differentiates only ℓₙ and
 * never the (possibly non-differentiable: top-k, comparisons) weighting.
 */
function weightedLoss(objective: NormalizedObjective, weigh: (perSample: tf.Tensor1D) => tf.Tensor1D, who: string): tf.Scalar {
  const perSample = objective.perSample;
  if (perSample === null) {
    throw new FlatminError(`${who} weighs the per-sample losses of the adversarial pass, but the closure returned none. Return { loss, perSample } from a custom loop.`);
  }
  const weights = stopGradient((x) => {
    const w = weigh(x as tf.Tensor1D);
    if (!(w instanceof tf.Tensor) || w.rank !== 1 || w.shape[0] !== perSample.shape[0]) {
      throw new FlatminError(`${who}: weighSamples must return one weight per sample (a rank-1 tensor of length ${perSample.shape[0]}).`);
    }
    return w;
  }, perSample);
  return tf.div(tf.sum(tf.mul(weights, perSample)), tf.sum(weights)) as tf.Scalar;
}

/** `fn(x)` as a constant for the backward pass (its ops are not recorded; its gradient is zero). */
function stopGradient(fn: (x: tf.Tensor) => tf.Tensor, x: tf.Tensor): tf.Tensor {
  const stopped = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const input = args[0] as tf.Tensor;
    return { value: fn(input), gradFunc: () => tf.zerosLike(input) };
  });
  return stopped(x);
}
