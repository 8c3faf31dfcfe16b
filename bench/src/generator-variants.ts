/**
 * What the generators benchmark measures: the base (SGD), every perturbation generator of flatmin
 * through `sharpnessAware` with the core's defaults, and the floors in plain tfjs each generator is
 * checked against.
 */
import * as tf from '@tensorflow/tfjs-core';
import { type Combiner, mix, type Perturbation, type SharpnessAwareOptimizer, sharpnessAware } from '@flatmin/core';
import { adaptive, fisher } from '@flatmin/perturb-adaptive';
import { friendly, varianceSuppressed } from '@flatmin/perturb-friendly';
import { gradient } from '@flatmin/perturb-gradient';
import { filterNoise, fisherNoise, gaussian, worstOfK } from '@flatmin/perturb-noise';
import { dynamicMask, fisherMask, randomMask, sparse } from '@flatmin/perturb-sparse';
import { forwardThenPass } from 'flatmin/cli';
import type { Step } from './measure.js';
import { twoPasses } from './variants.js';

export const LEARNING_RATE = 0.01;
export const SEED = 1;
/** k of `worstOfK` and of its floor. */
export const K = 4;

/**
 * The targets, as ratios of step times (medians of per-round paired ratios):
 * - `onePass`: a one-pass noise generator / the base ≤ 1.10;
 * - `twoPass`: a two-pass method / the base ≤ 2.05;
 * - `overFloor`: worst-of-k / its floor (k forward-only evaluations + one forward-backward pass by
 *   hand) ≤ 1.10. The issue only says "against its floor"; 1.10 is this benchmark's choice: the
 *   same 10 % allowance the one-pass noise gets over its floor (the base).
 */
export const TARGETS = { onePass: 1.1, twoPass: 2.05, overFloor: 1.1, hostReads: 0 } as const;

/**
 * How a variant is checked: `onePass` and `twoPass` against the base, `worstOfK` against its floor,
 * `floor` and `reference` not at all (they are what the others are compared with).
 */
export type Kind = 'base' | 'floor' | 'reference' | 'onePass' | 'twoPass' | 'worstOfK';

export interface GeneratorSpec {
  readonly key: string;
  readonly label: string;
  readonly kind: Kind;
  /** What it is, for the results file. */
  readonly description: string;
  /** Loss-closure calls per step it is expected to make (checked against the telemetry). */
  readonly evaluations: number;
  /** The floor variant its target is checked against (`base` for one-pass noise). */
  readonly floor?: string;
  /** The variant its cost is reported against in the stage table ("what it adds over"). */
  readonly over?: string;
  /** The sharpnessAware configuration (flatmin variants only). */
  readonly sam?: () => { perturbation: Perturbation; combiner?: Combiner };
}

const sam = (perturbation: () => Perturbation, combiner?: () => Combiner) => () =>
  combiner === undefined ? { perturbation: perturbation() } : { perturbation: perturbation(), combiner: combiner() };

/** In this order in the tables; the first is the base every ratio divides by. */
export const GENERATORS: readonly GeneratorSpec[] = [
  { key: 'base', label: 'SGD (base)', kind: 'base', evaluations: 1, description: `tf.train.sgd(${LEARNING_RATE}).minimize(loss, false, variables): the floor of one-pass noise` },
  {
    key: 'twoPasses',
    label: 'floor: two plain passes',
    kind: 'floor',
    evaluations: 2,
    description: 'tf.variableGrads twice at w, sgd.applyGradients of the second: the floor of every two-pass method',
  },
  {
    key: 'kForward',
    label: `floor: ${K} forward + 1 pass`,
    kind: 'floor',
    evaluations: K + 1,
    description: `${K} forward-only evaluations of the loss at w (tf.tidy), then tf.variableGrads and sgd.applyGradients: the floor of worstOfK({ k: ${K} })`,
  },
  {
    key: 'handNoise',
    label: 'hand-rolled noise, 1 pass',
    kind: 'reference',
    evaluations: 1,
    over: 'base',
    description:
      'plain tfjs: z = tf.randomNormal(shape, 0, 1, seed) per variable, keep w (tf.clone), w += 0.01 z, tf.variableGrads, w back, sgd.applyGradients: what the noise itself costs',
  },
  { key: 'sam', label: 'SAM gradient', kind: 'twoPass', evaluations: 2, floor: 'twoPasses', over: 'twoPasses', description: 'gradient({ rho: 0.05 })', sam: sam(() => gradient({ rho: 0.05 })) },
  { key: 'asam', label: 'ASAM adaptive', kind: 'twoPass', evaluations: 2, floor: 'twoPasses', over: 'sam', description: 'adaptive() (ρ 0.5, η 0.01, element-wise)', sam: sam(() => adaptive()) },
  { key: 'fisherSam', label: 'Fisher SAM fisher', kind: 'twoPass', evaluations: 2, floor: 'twoPasses', over: 'sam', description: 'fisher() (ρ 0.1, η 1)', sam: sam(() => fisher()) },
  { key: 'friendly', label: 'F-SAM friendly', kind: 'twoPass', evaluations: 2, floor: 'twoPasses', over: 'sam', description: 'friendly() (ρ 0.05, σ 1, λ 0.9)', sam: sam(() => friendly()) },
  { key: 'vasso', label: 'VaSSO varianceSuppressed', kind: 'twoPass', evaluations: 2, floor: 'twoPasses', over: 'sam', description: 'varianceSuppressed() (ρ 0.05, θ 0.9)', sam: sam(() => varianceSuppressed()) },
  {
    key: 'ssamF',
    label: 'SSAM-F sparse+fisherMask',
    kind: 'twoPass',
    evaluations: 2,
    floor: 'twoPasses',
    over: 'sam',
    description: 'sparse(gradient(), fisherMask()) (ρ 0.05, sparsity 0.5, refresh every 5 steps)',
    sam: sam(() => sparse(gradient(), fisherMask())),
  },
  {
    key: 'ssamD',
    label: 'SSAM-D sparse+dynamicMask',
    kind: 'twoPass',
    evaluations: 2,
    floor: 'twoPasses',
    over: 'sam',
    description: 'sparse(gradient(), dynamicMask()) (ρ 0.05, sparsity 0.5, drop rate 0.5, refresh every 5 steps)',
    sam: sam(() => sparse(gradient(), dynamicMask())),
  },
  {
    key: 'esam',
    label: 'ESAM sparse+randomMask',
    kind: 'twoPass',
    evaluations: 2,
    floor: 'twoPasses',
    over: 'sam',
    description: 'sparse(gradient(), randomMask()) (ρ 0.05, keep 0.5 per variable)',
    sam: sam(() => sparse(gradient(), randomMask())),
  },
  ...(['standard', 'matrix', 'element', 'filter'] as const).map(
    (scale): GeneratorSpec => ({
      key: `gaussian-${scale}`,
      label: `gaussian ${scale}`,
      kind: 'onePass',
      evaluations: 1,
      floor: 'base',
      over: 'handNoise',
      description: `gaussian({ scale: '${scale}' }) (σ 0.01), default adversarial() combiner: one pass at w + ε`,
      sam: sam(() => gaussian({ scale })),
    }),
  ),
  {
    key: 'rwp',
    label: 'RWP gaussian filter+mix',
    kind: 'twoPass',
    evaluations: 2,
    floor: 'twoPasses',
    over: 'twoPasses',
    description: "gaussian({ scale: 'filter' }) with combiner mix({ lambda: 0.5 }): the clean pass and the noisy pass",
    sam: sam(
      () => gaussian({ scale: 'filter' }),
      () => mix({ lambda: 0.5 }),
    ),
  },
  {
    key: 'filterNoise',
    label: 'LPF filterNoise',
    kind: 'onePass',
    evaluations: 1,
    floor: 'base',
    over: 'handNoise',
    description: 'filterNoise() (γ 0.002, no schedule): one pass at w + ε',
    sam: sam(() => filterNoise()),
  },
  {
    key: 'fisherNoise',
    label: 'mARWP fisherNoise',
    kind: 'twoPass',
    evaluations: 2,
    floor: 'twoPasses',
    over: 'twoPasses',
    description: 'fisherNoise() (σ 0.01, η 1, decay 0.9), default adversarial() combiner: needs the clean gradient, so two passes',
    sam: sam(() => fisherNoise()),
  },
  {
    key: 'worstOfK',
    label: `worstOfK k=${K}`,
    kind: 'worstOfK',
    evaluations: K + 1,
    floor: 'kForward',
    over: 'kForward',
    description: `worstOfK({ k: ${K} }) (σ 0.01, standard): ${K} forward-only evaluations at w + δ_j, one pass at w + ε`,
    sam: sam(() => worstOfK({ k: K })),
  },
];

/** One variant, built on the current backend for one model. */
export interface GeneratorVariant {
  readonly spec: GeneratorSpec;
  readonly step: Step;
  /** The sharpnessAware optimizer, for its telemetry (flatmin variants only). */
  readonly sam?: SharpnessAwareOptimizer;
  dispose(): void;
}

/** The variants of `specs`, each with a fresh SGD of its own, all updating `variables`. */
export function buildGenerators(specs: readonly GeneratorSpec[], loss: () => tf.Scalar, variables: tf.Variable[]): GeneratorVariant[] {
  return specs.map((spec): GeneratorVariant => {
    const base = tf.train.sgd(LEARNING_RATE);
    if (spec.sam !== undefined) {
      // The core's defaults (onNonFinite 'skip', telemetry on) are left to the core.
      const optimizer = sharpnessAware({ base, ...spec.sam(), seed: SEED });
      return { spec, sam: optimizer, step: () => void optimizer.minimize(loss, false, variables), dispose: () => optimizer.dispose() };
    }
    const step: Step =
      spec.key === 'twoPasses'
        ? twoPasses(loss, variables, base)
        : spec.key === 'kForward'
          ? forwardThenPass(loss, variables, base, K)
          : spec.key === 'handNoise'
            ? handRolledNoise(loss, variables, base, 0.01)
            : () => void base.minimize(loss, false, variables);
    return { spec, step, dispose: () => base.dispose() };
  });
}

/** `k` forward-only evaluations of the loss, then one forward+backward pass and the base update: the floor of worst-of-k (in `flatmin/cli`, shared with `flatmin bench`). */
export { forwardThenPass };

/**
 * Gaussian weight noise written directly against tfjs: one seeded `tf.randomNormal` per variable,
 * w + σz, the gradient there, w put back, the base update of that gradient. No guard, no telemetry.
 */
export function handRolledNoise(loss: () => tf.Scalar, variables: tf.Variable[], base: tf.Optimizer, sigma: number): Step {
  let seed = SEED;
  return () => {
    const kept = variables.map((v) => tf.clone(v));
    tf.tidy(() => {
      for (const v of variables) v.assign(tf.add(v, tf.mul(tf.randomNormal(v.shape, 0, 1, 'float32', seed++), sigma)));
    });
    const noisy = tf.variableGrads(loss, variables);
    for (const [i, v] of variables.entries()) v.assign(kept[i]!);
    tf.dispose(kept);
    base.applyGradients(noisy.grads);
    tf.dispose([noisy.value, ...Object.values(noisy.grads)]);
  };
}
