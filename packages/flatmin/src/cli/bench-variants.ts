/**
 * What `flatmin bench` times: the base (SGD), every preset — each fed what its `needs` asks from
 * the loop (per-sample losses, `classSplit` parts, a validation closure, MESA's teacher) — SAM as a
 * tfjs user writes it by hand, and worst-of-k with its floor.
 *
 * @module
 */
import { classSplit, type Objective, sharpnessAware } from '@flatmin/core';
import type { MesaAverager } from '@flatmin/average-ema';
import { worstOfK } from '@flatmin/perturb-noise';
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { type PresetInfo, presets } from '../catalog.js';
import type { Step } from './measure.js';
import { createPreset } from './methods.js';
import { buildMlp, perSampleCrossEntropy } from './model.js';
import { forwardThenPass, handRolledSam } from './reference.js';

/** The benchmark's methods that are not presets: SAM written by hand, and worst-of-k (with its floor). */
export const BENCH_EXTRAS = ['handRolled', 'worstOfK'] as const;
/** k of the `worstOfK` line and of its floor. */
export const WORST_OF_K = 4;
/** SAM's ρ in the hand-rolled line (SAM's default). */
export const HAND_ROLLED_RHO = 0.05;
/** The tail classes of ImbSAM's `classSplit` in the benchmark. */
export const IMB_TAIL = [7, 8, 9] as const;

/**
 * How a row is checked:
 * - `'base'`: SGD, what every ratio divides by;
 * - `'twoPass'`: two forward-backward passes per step (SAM and its variants, RWP, mARWP): ratio ≤ 2.05;
 * - `'lookSam'`: LookSAM, k = 5: ratio ≤ 1.25;
 * - `'onePass'`: one pass per step (the one-pass noise, the averagers' plain steps, OG-SAM): ratio ≤ 1.10;
 * - `'worstOfK'`: k forward-only evaluations + one pass, checked against its own floor: ≤ 1.10 of it;
 * - `'floor'`: the plain-tfjs floor of worst-of-k (no target);
 * - `'handRolled'`: SAM as a tfjs user writes it (no target: flatmin's SAM is printed against it);
 * - `'other'`: the rest (RST, AE-SAM, LETS, ImbSAM, MESA): their floor is printed, no ratio target.
 * Every row but the base is checked for peak extra memory ≤ 2× the parameter bytes.
 */
export type RowKind = 'base' | 'twoPass' | 'lookSam' | 'onePass' | 'worstOfK' | 'floor' | 'handRolled' | 'other';

/**
 * The kind of a preset's row (see {@link RowKind}), from its name and its catalog passes.
 *
 * @example
 * ```ts
 * import { presets } from 'flatmin';
 * import { presetKind } from 'flatmin/cli';
 *
 * presetKind(presets.sam); // 'twoPass'
 * ```
 */
export function presetKind(preset: PresetInfo): RowKind {
  if (preset.name === 'lookSam') return 'lookSam';
  if (preset.passes === '2' || preset.passes.startsWith('2 (')) return 'twoPass';
  if (preset.passes === '1' || preset.passes.startsWith('1 (')) return 'onePass';
  return 'other';
}

/** The data of a benchmark run: a training batch and a validation batch. */
export interface BenchData {
  /** The training batch's images `[batch, 784]`. */
  readonly xs: tf.Tensor2D;
  /** Its one-hot labels `[batch, 10]`. */
  readonly ys: tf.Tensor2D;
  /** Its class indices `[batch]` (int32, for `classSplit`). */
  readonly labels: tf.Tensor1D;
  /** The validation batch's images (LETS' closure). */
  readonly xv: tf.Tensor2D;
  /** Its one-hot labels. */
  readonly yv: tf.Tensor2D;
}

/** One timed variant. */
export interface BenchVariant {
  /** `'SGD'`, the preset's name, `'handRolled'`, `'worstOfK'` or `'worstOfK-floor'`. */
  readonly method: string;
  /** How its row is checked. */
  readonly kind: RowKind;
  /** One step. */
  readonly step: Step;
  /** Forward-backward passes (loss evaluations) made so far, counted (LETS: with its validation passes). */
  readonly evaluations: () => number;
  /** Passes per step in words (the catalog's for a preset). */
  readonly nominalPasses: string;
  /** What the row is, where it differs from the plain setup. */
  readonly notes: string;
  /** A variable its steps write (for `settle`). */
  readonly settleOn: tf.Variable;
  /** Free its model and optimizer. */
  dispose(): void;
}

/** What each variant is built with. */
export interface VariantPlan {
  /** The seed of the initial weights and of the presets. */
  readonly seed: number;
  /** The width of both hidden layers. */
  readonly hidden: number;
  /** The base SGD's learning rate. */
  readonly lr: number;
  /** The steps each variant will make (for the presets with a planned schedule). */
  readonly totalSteps: number;
}

function meanCrossEntropy(labels: tf.Tensor, probabilities: tf.Tensor): tf.Scalar {
  return tf.mean(perSampleCrossEntropy(labels, probabilities)) as tf.Scalar;
}

/** A counter around a closure. */
function counting<T>(f: () => T): { f: () => T; calls: () => number } {
  let calls = 0;
  return {
    f: () => {
      calls++;
      return f();
    },
    calls: () => calls,
  };
}

/**
 * The variants of `methods` (preset names and {@link BENCH_EXTRAS}), each on a model of its own
 * with the same initial weights, after the base SGD; `worstOfK` brings its floor just before it.
 *
 * @example
 * ```ts
 * import { buildBenchVariants } from 'flatmin/cli';
 *
 * const variants = buildBenchVariants(['sam', 'handRolled'], data, { seed: 1, hidden: 256, lr: 0.1, totalSteps: 50 });
 * variants[1].step();
 * for (const v of variants) v.dispose();
 * ```
 */
export function buildBenchVariants(methods: readonly string[], data: BenchData, plan: VariantPlan): BenchVariant[] {
  const variants: BenchVariant[] = [];
  try {
    const model = () => {
      const built = buildMlp(plan.seed, plan.hidden);
      return { model: built, variables: built.trainableWeights.map((w) => w.read() as tf.Variable) };
    };
    const plainLoss = (m: tfl.LayersModel) => () => tf.tidy(() => meanCrossEntropy(data.ys, m.apply(data.xs) as tf.Tensor));
    const plain = (method: string, kind: RowKind, nominalPasses: string, notes: string, build: (loss: () => tf.Scalar, variables: tf.Variable[], base: tf.Optimizer) => Step) => {
      const { model: m, variables } = model();
      const base = tf.train.sgd(plan.lr);
      const loss = counting(plainLoss(m));
      variants.push({
        method,
        kind,
        step: build(loss.f, variables, base),
        evaluations: loss.calls,
        nominalPasses,
        notes,
        settleOn: variables[0]!,
        dispose: () => {
          base.dispose();
          m.dispose();
        },
      });
    };
    plain('SGD', 'base', '1', 'tf.train.sgd(lr).minimize(loss, false, variables)', (loss, variables, base) => () => void base.minimize(loss, false, variables));
    for (const name of methods) {
      if (name === 'handRolled') {
        plain('handRolled', 'handRolled', '2', `SAM by hand in plain tfjs (ρ ${HAND_ROLLED_RHO}): variableGrads, ‖g‖ by dataSync, assign w + ρg/‖g‖, variableGrads, assign back, applyGradients`, (loss, variables, base) =>
          handRolledSam(loss, variables, base, HAND_ROLLED_RHO),
        );
      } else if (name === 'worstOfK') {
        plain('worstOfK-floor', 'floor', `${WORST_OF_K} forward + 1`, `plain tfjs: ${WORST_OF_K} forward-only evaluations, then variableGrads and applyGradients: the floor of worstOfK`, (loss, variables, base) =>
          forwardThenPass(loss, variables, base, WORST_OF_K),
        );
        const { model: m, variables } = model();
        const optimizer = sharpnessAware({ base: tf.train.sgd(plan.lr), perturbation: worstOfK({ k: WORST_OF_K }), seed: plan.seed });
        const loss = plainLoss(m);
        variants.push({
          method: 'worstOfK',
          kind: 'worstOfK',
          step: () => void optimizer.minimize(loss, false, variables),
          evaluations: () => optimizer.lossEvaluations,
          nominalPasses: `${WORST_OF_K} forward + 1`,
          notes: `sharpnessAware({ perturbation: worstOfK({ k: ${WORST_OF_K} }) }) (@flatmin/perturb-noise; not a preset), checked against worstOfK-floor`,
          settleOn: variables[0]!,
          dispose: () => {
            optimizer.dispose();
            m.dispose();
          },
        });
      } else {
        variants.push(presetVariant(presets[name]!, data, plan, model()));
      }
    }
    return variants;
  } catch (error) {
    for (const variant of variants) variant.dispose();
    throw error;
  }
}

/** One preset, with the closure (and options) its `needs` asks for. */
function presetVariant(preset: PresetInfo, data: BenchData, plan: VariantPlan, built: { model: tfl.Sequential; variables: tf.Variable[] }): BenchVariant {
  const { model, variables } = built;
  const validation = counting(() => tf.tidy(() => meanCrossEntropy(data.yv, model.apply(data.xv) as tf.Tensor)));
  const optimizer = createPreset('bench', preset, { base: tf.train.sgd(plan.lr), seed: plan.seed, totalSteps: plan.totalSteps, validation: validation.f });
  let objective: Objective;
  let notes = '';
  let trainer: tfl.LayersModel | undefined;
  let teacher: tfl.LayersModel | undefined;
  switch (preset.needs) {
    case 'perSample':
      objective = () => tf.tidy(() => {
        const perSample = perSampleCrossEntropy(data.ys, model.apply(data.xs) as tf.Tensor);
        return { loss: tf.mean(perSample) as tf.Scalar, perSample };
      });
      notes = 'the closure returns { loss, perSample }';
      break;
    case 'parts':
      objective = () => tf.tidy(() => classSplit(perSampleCrossEntropy(data.ys, model.apply(data.xs) as tf.Tensor), data.labels, { tail: IMB_TAIL }));
      notes = `classSplit(perSample, labels, { tail: [${IMB_TAIL.join(', ')}] })`;
      break;
    case 'validation':
      objective = () => tf.tidy(() => meanCrossEntropy(data.ys, model.apply(data.xs) as tf.Tensor));
      notes = 'validation: a closure on a second batch (its passes counted in the floor)';
      break;
    case 'validationData':
      objective = () => tf.tidy(() => meanCrossEntropy(data.ys, model.apply(data.xs) as tf.Tensor));
      notes = 'plain steps: no validation event fires in a timed step';
      break;
    case 'teacher': {
      const averager = optimizer.averager!.component as MesaAverager;
      const models = averager.teach(model);
      trainer = models.model;
      teacher = models.teacher;
      const lossOf = averager.loss((y, p) => meanCrossEntropy(y, p));
      const train = trainer;
      objective = () => tf.tidy(() => lossOf(data.ys, train.apply(data.xs) as tf.Tensor) as tf.Scalar);
      notes = "teach(model) first; the loss is averager.loss(cross-entropy) on the model it returns (the MLP's softmax outputs stand for the logits: same cost)";
      break;
    }
    default:
      objective = () => tf.tidy(() => meanCrossEntropy(data.ys, model.apply(data.xs) as tf.Tensor));
  }
  return {
    method: preset.name,
    kind: presetKind(preset),
    step: () => void optimizer.minimize(objective, false, variables),
    evaluations: () => optimizer.lossEvaluations + validation.calls(),
    nominalPasses: preset.passes,
    notes,
    settleOn: variables[0]!,
    dispose: () => {
      optimizer.dispose();
      teacher?.dispose();
      // MESA's training model holds the student as a layer: disposing it disposes the student.
      (trainer ?? model).dispose();
    },
  };
}
