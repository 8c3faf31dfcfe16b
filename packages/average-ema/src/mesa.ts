/**
 * MESA (Du, Zhou, Feng, Tan & Goh, NeurIPS 2022): an EMA of the weights whose model is a teacher,
 * and the trajectory loss λτ²·KL(softmax(f_EMA/τ) ‖ softmax(f/τ)).
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { type AveragerContext, type ComponentState, FlatminError } from '@flatmin/core';
import { attachAverager, checkNumber, checkOptions, registerComponent } from '@flatmin/core/kit';
import type { EmaAverager } from './ema.js';
import { averagesOf, emaStep } from './ema-step.js';
import { checkBoolean, checkDecay } from './options.js';
import { trajectoryKL } from './kl.js';
import { buildTeacher, syncTeacher, type TeacherLink, teacherLogits } from './teacher.js';

/**
 * Options of {@link mesa}.
 *
 * @example
 * ```ts
 * const options: MesaOptions = { decay: 0.9998, lambda: 0.8, tau: 5 };
 * const averager = mesa(options);
 * ```
 */
export interface MesaOptions {
  /** The EMA decay, in (0, 1) (default 0.9998). */
  decay?: number;
  /** λ, the weight of the trajectory loss, ≥ 0 (default 0.8; the official MESA script uses 0.3). */
  lambda?: number;
  /** τ, the temperature, > 0 (default 5). */
  tau?: number;
  /** timm's EMA warmup (see `ema`); default false, as the official code's `ModelEmaV2`. */
  warmup?: boolean;
}

/** A loss function as `model.compile` takes it. */
export type LossFunction = (yTrue: tf.Tensor, yPred: tf.Tensor) => tf.Tensor;

/** The models {@link MesaAverager.teach} builds. */
export interface MesaModels {
  /** Compile and fit this one: the student behind a layer that records each batch for the teacher (same variables as the student). */
  readonly model: tfl.LayersModel;
  /** The EMA model (never trained itself: its weights follow the averages after every update). Dispose it when done. */
  readonly teacher: tfl.LayersModel;
}

/** The averager {@link mesa} makes: an EMA averager with a teacher and the trajectory loss. */
export interface MesaAverager extends EmaAverager {
  /** λτ² · mean over the batch of Σ_classes p_T (log p_T − log p_S), p = softmax(logits/τ); no gradient flows into the teacher's logits. */
  trajectoryLoss(studentLogits: tf.Tensor, teacherLogits: tf.Tensor): tf.Scalar;
  /** `base(yTrue, logits) + trajectoryLoss(logits, teacher(x))`, for `compile` on the model {@link MesaAverager.teach} returns. */
  loss(base: LossFunction): LossFunction;
  /** Build the teacher (a copy of `student`, a single-input model that outputs logits) and the model to train. */
  teach(student: tfl.LayersModel): MesaModels;
}

const WHERE = 'mesa';
const KNOWN_KEYS = ['decay', 'lambda', 'tau', 'warmup'] as const;

/**
 * MESA, "Memory-Efficient Sharpness-Aware" training (Du, Zhou, Feng, Tan & Goh, NeurIPS 2022,
 * "Sharpness-Aware Training for Free"): an EMA of the weights (as {@link ema}: the first update
 * copies w, then w̄ ← d w̄ + (1 − d) w) whose model is the teacher, and the trajectory loss
 * λτ²·KL(softmax(f_EMA(x)/τ) ‖ softmax(f(x)/τ)) added to the training loss — a sharpness proxy at
 * the cost of one teacher forward per loss evaluation, with a plain optimizer.
 *
 * Under `model.fit`, a loss function sees (yTrue, yPred) only, so the teacher cannot get the batch
 * from it: {@link MesaAverager.teach} returns a training model (the student behind an identity
 * layer that records the batch input) and the teacher (a copy of the student that is never trained itself);
 * compile the training model with {@link MesaAverager.loss}, and attach the averager
 * (`sharpnessAware({ averager })`, or `attach(student)` with its `callback()` next to any
 * optimizer). After each update the teacher's weights become the new averages; its BatchNorm
 * statistics are the student's, and it runs in inference mode. The teacher is part of the saved
 * state: its weights are the averages (saved by the optimizer's or the handle's `getWeights`) and
 * the student's statistics, so after `setWeights` (of a fresh optimizer or handle, with the
 * student's weights restored and `teach(student)` called on it) the teacher is rebuilt from them
 * at once and an interrupted run resumes exactly.
 *
 * @param options see {@link MesaOptions}; invalid values throw a `FlatminConfigError` naming the key.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs';
 * import { mesa } from '@flatmin/average-ema';
 *
 * const averager = mesa({ lambda: 0.8, tau: 5 });
 * const { model: trainer } = averager.teach(student); // student outputs logits
 * trainer.compile({ optimizer: tf.train.adam(1e-3), loss: averager.loss((y, logits) => tf.losses.softmaxCrossEntropy(y, logits)) });
 * await trainer.fit(x, y, { epochs: 5, callbacks: [averager.attach(student).callback()] });
 * ```
 */
export function mesa(options?: MesaOptions): MesaAverager {
  const checked = checkOptions(options, KNOWN_KEYS, WHERE);
  const decay = checkDecay(checked.decay, 0.9998, WHERE);
  const lambda = checkNumber('lambda', checked.lambda === undefined ? 0.8 : checked.lambda, { min: 0 }, WHERE);
  const tau = checkNumber('tau', checked.tau === undefined ? 5 : checked.tau, { min: 0, minExclusive: true }, WHERE);
  const warmup = checkBoolean('warmup', checked.warmup, false, WHERE);
  const settings = { decay, warmup };
  let link: TeacherLink | null = null;

  const trajectoryLoss = (studentLogits: tf.Tensor, teacher: tf.Tensor): tf.Scalar => trajectoryKL(studentLogits, teacher, lambda, tau);

  const averager: MesaAverager = {
    kind: 'averager',
    name: WHERE,
    config: Object.freeze({ decay, lambda, tau, warmup }),
    update: (context: AveragerContext, state: ComponentState) => {
      const next = emaStep(context, state, settings);
      if (link !== null) syncTeacher(link, averagesOf(next));
      return next;
    },
    averaged: averagesOf,
    // setWeights restored the averages (optimizer or standalone handle): the teacher follows at once.
    restored: (state: ComponentState) => {
      if (link !== null) syncTeacher(link, averagesOf(state));
    },
    attach: (target) => attachAverager(averager, target),
    trajectoryLoss,
    loss: (base) => (yTrue, yPred) => {
      if (link === null || link.input === null) {
        throw new FlatminError('mesa(...).loss: no teacher batch; compile the model that mesa(...).teach(student) returns, not the student.');
      }
      return tf.add(base(yTrue, yPred), trajectoryLoss(yPred, teacherLogits(link)));
    },
    teach: (student) => {
      const built = buildTeacher(student);
      link = built.link;
      return { model: built.model, teacher: built.link.teacher };
    },
  };
  return averager;
}

registerComponent('averager', WHERE, (config) => mesa(config as MesaOptions));
