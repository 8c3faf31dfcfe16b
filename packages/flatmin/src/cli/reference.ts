/**
 * Steps written directly against tfjs, that `flatmin bench` times beside the presets: SAM as a
 * tfjs user would write it without flatmin, and the floor of worst-of-k (k forward-only
 * evaluations and one forward-backward pass).
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Step } from './measure.js';

/**
 * SAM as a tfjs user writes it without flatmin (Foret et al., ICLR 2021): g = ∇L(w) with
 * `tf.variableGrads`, ‖g‖ read back to the host with `dataSync()`, each variable assigned
 * w + ρ g/‖g‖, `tf.variableGrads` again at w + ε, each variable assigned back from a kept copy,
 * and `base.applyGradients` of the second gradient. No non-finite guard, no telemetry, no care for
 * BatchNorm statistics (a model with BatchNorm would update them twice per step): one host read
 * per step, the "what a user would write instead" line of `flatmin bench`.
 *
 * @param loss the loss closure.
 * @param variables the variables it trains.
 * @param base the base optimizer that applies the gradient at w + ε.
 * @param rho SAM's radius ρ.
 * @returns one SAM step.
 *
 * @example
 * ```ts
 * import { handRolledSam } from 'flatmin/cli';
 *
 * const step = handRolledSam(() => lossOf(model.apply(x), y), variables, tf.train.sgd(0.1), 0.05);
 * for (let i = 0; i < 10; i++) step();
 * ```
 */
export function handRolledSam(loss: () => tf.Scalar, variables: readonly tf.Variable[], base: tf.Optimizer, rho: number): Step {
  const list = [...variables];
  return () => {
    const clean = tf.variableGrads(loss, list);
    const squared = tf.tidy(() => tf.addN(list.map((v) => tf.sum(tf.square(clean.grads[v.name]!)))));
    const norm = Math.sqrt(squared.dataSync()[0]!);
    squared.dispose();
    const kept = list.map((v) => tf.clone(v));
    for (const v of list) tf.tidy(() => v.assign(tf.add(v, tf.mul(clean.grads[v.name]!, rho / (norm + 1e-12)))));
    tf.dispose([clean.value, ...Object.values(clean.grads)]);
    const adversarial = tf.variableGrads(loss, list);
    for (const [i, v] of list.entries()) v.assign(kept[i]!);
    tf.dispose(kept);
    base.applyGradients(adversarial.grads);
    tf.dispose([adversarial.value, ...Object.values(adversarial.grads)]);
  };
}

/**
 * `k` forward-only evaluations of the loss (each in a `tf.tidy`), then one forward-backward pass
 * (`tf.variableGrads`) and the base update: the floor of worst-of-k (`worstOfK({ k })` of
 * `@flatmin/perturb-noise`), what its step costs at least.
 *
 * @param loss the loss closure.
 * @param variables the variables it trains.
 * @param base the base optimizer.
 * @param k the forward-only evaluations per step.
 * @returns one step.
 *
 * @example
 * ```ts
 * import { forwardThenPass } from 'flatmin/cli';
 *
 * const floor = forwardThenPass(() => lossOf(model.apply(x), y), variables, tf.train.sgd(0.1), 4);
 * floor();
 * ```
 */
export function forwardThenPass(loss: () => tf.Scalar, variables: readonly tf.Variable[], base: tf.Optimizer, k: number): Step {
  const list = [...variables];
  return () => {
    for (let j = 0; j < k; j++) {
      tf.tidy(() => {
        loss();
      });
    }
    const pass = tf.variableGrads(loss, list);
    base.applyGradients(pass.grads);
    tf.dispose([pass.value, ...Object.values(pass.grads)]);
  };
}
