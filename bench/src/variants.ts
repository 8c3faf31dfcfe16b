/**
 * The optimizers a round measures: the base (SGD), SAM with the core's defaults, SAM without
 * each of its two extras, and SAM as a tfjs user would write it by hand.
 */
import * as tf from '@tensorflow/tfjs-core';
import { type SharpnessAwareOptimizer, sharpnessAware } from '@flatmin/core';
import { gradient } from '@flatmin/perturb-gradient';
import type { Step } from './measure.js';

export const LEARNING_RATE = 0.01;
export const RHO = 0.05;
export const SEED = 1;

export type VariantKey = 'base' | 'default' | 'noTelemetry' | 'noGuard' | 'bare' | 'handRolled' | 'twoPasses';

export interface VariantSpec {
  readonly key: VariantKey;
  readonly label: string;
  /** What it is, for the results file. */
  readonly description: string;
  /** The two SAM options (only the sharpnessAware variants). */
  readonly sam?: { readonly onNonFinite: 'skip' | 'ignore'; readonly telemetry: boolean };
}

/** In this order in the tables; the first is the base every ratio divides by. */
export const VARIANTS: readonly VariantSpec[] = [
  { key: 'base', label: 'SGD (base)', description: `tf.train.sgd(${LEARNING_RATE}).minimize(loss, false, variables)` },
  {
    key: 'default',
    label: 'SAM default',
    description: `sharpnessAware({ base: sgd, perturbation: gradient({ rho: ${RHO} }), onNonFinite: 'skip', telemetry: true }) (the core's defaults)`,
    sam: { onNonFinite: 'skip', telemetry: true },
  },
  { key: 'noTelemetry', label: 'SAM no telemetry', description: 'SAM default with telemetry: false', sam: { onNonFinite: 'skip', telemetry: false } },
  { key: 'noGuard', label: 'SAM no guard', description: "SAM default with onNonFinite: 'ignore'", sam: { onNonFinite: 'ignore', telemetry: true } },
  { key: 'bare', label: 'SAM bare', description: "SAM with onNonFinite: 'ignore' and telemetry: false", sam: { onNonFinite: 'ignore', telemetry: false } },
  {
    key: 'handRolled',
    label: 'hand-rolled SAM',
    description: 'tf.variableGrads for g, ε = ρg/‖g‖ on the device, assign w+ε, tf.variableGrads again, assign w back from a kept copy, sgd.applyGradients',
  },
  {
    key: 'twoPasses',
    label: 'two passes, no ε',
    description: 'tf.variableGrads twice at w, sgd.applyGradients of the second: the floor of any two-pass method',
  },
];

/** One variant, built on the current backend for one model. */
export interface Variant {
  readonly spec: VariantSpec;
  readonly step: Step;
  /** The sharpnessAware optimizer, for its telemetry (SAM variants only). */
  readonly sam?: SharpnessAwareOptimizer;
  dispose(): void;
}

/** Every variant of {@link VARIANTS}, each with a fresh SGD of its own, all updating `variables`. */
export function buildVariants(loss: () => tf.Scalar, variables: tf.Variable[]): Variant[] {
  return VARIANTS.map((spec): Variant => {
    const base = tf.train.sgd(LEARNING_RATE);
    if (spec.sam !== undefined) {
      const sam = sharpnessAware({ base, perturbation: gradient({ rho: RHO }), seed: SEED, ...spec.sam });
      return { spec, sam, step: () => void sam.minimize(loss, false, variables), dispose: () => sam.dispose() };
    }
    const step: Step =
      spec.key === 'handRolled'
        ? handRolledSam(loss, variables, base, RHO)
        : spec.key === 'twoPasses'
          ? twoPasses(loss, variables, base)
          : () => void base.minimize(loss, false, variables);
    return { spec, step, dispose: () => base.dispose() };
  });
}

/**
 * SAM written directly against tfjs, as a user would without flatmin (no non-finite guard,
 * no telemetry, no care for BatchNorm statistics or kept tensors of the closure):
 * g = ∇L(w), ε = ρ g/‖g‖, g_adv = ∇L(w + ε), then the base optimizer applies g_adv at w.
 */
export function handRolledSam(loss: () => tf.Scalar, variables: tf.Variable[], base: tf.Optimizer, rho: number): Step {
  return () => {
    const clean = tf.variableGrads(loss, variables);
    // What a user would write: tf.clone (a copy on wasm, a shared buffer on cpu).
    const kept = variables.map((v) => tf.clone(v));
    tf.tidy(() => {
      const grads = variables.map((v) => clean.grads[v.name]!);
      const norm = tf.sqrt(tf.addN(grads.map((g) => tf.sum(tf.square(g)))));
      const scale = tf.div(rho, tf.add(norm, 1e-12));
      for (const [i, v] of variables.entries()) v.assign(tf.add(v, tf.mul(grads[i]!, scale)));
    });
    tf.dispose([clean.value, ...Object.values(clean.grads)]);
    const adversarial = tf.variableGrads(loss, variables);
    for (const [i, v] of variables.entries()) v.assign(kept[i]!);
    tf.dispose(kept);
    base.applyGradients(adversarial.grads);
    tf.dispose([adversarial.value, ...Object.values(adversarial.grads)]);
  };
}

/** Two forward+backward passes at w and the base update of the second: what every two-pass method pays at least. */
export function twoPasses(loss: () => tf.Scalar, variables: tf.Variable[], base: tf.Optimizer): Step {
  return () => {
    const first = tf.variableGrads(loss, variables);
    tf.dispose([first.value, ...Object.values(first.grads)]);
    const second = tf.variableGrads(loss, variables);
    base.applyGradients(second.grads);
    tf.dispose([second.value, ...Object.values(second.grads)]);
  };
}
