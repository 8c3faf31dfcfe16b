/**
 * The end of a step: L2 weight decay, the non-finite guard, the base update (with decoupled weight
 * decay), the averager.
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { elementwise } from '../elementwise.js';
import { FlatminError } from '../errors.js';
import { elementSum } from '../tensor-math.js';
import type { NamedTensors } from '../types.js';
import type { Step } from './context.js';
import type { Verdict } from './scope.js';

/** `weightDecay` (L2): λw added to the update direction, once per update. */
export function withWeightDecay(step: Step, direction: NamedTensors): NamedTensors {
  const decay = step.env.settings.weightDecay;
  if (decay === 0) return direction;
  return step.scope.tidy(() => addDecay(direction, step.variables.update, decay));
}

/** g + λw for each of `variables` that has an entry in `grads` (the others are left out). */
export function addDecay(grads: NamedTensors, variables: readonly tf.Variable[], decay: number): NamedTensors {
  const out: NamedTensors = {};
  for (const v of variables) {
    const g = grads[v.name];
    if (g !== undefined) out[v.name] = elementwise.axpy(g, decay, v);
  }
  return out;
}

/**
 * One device verdict: are the loss and every element of the update direction finite? A sum is
 * finite iff every element is (a NaN or an infinity carries through it; +∞ + −∞ is NaN), barring
 * float32 overflow of the sum itself. `squares` is Σ‖direction‖² when the telemetry already
 * computed it (then |g| above ~1e19 counts as non-finite too); otherwise the plain Σ of the
 * elements is used, one reduction per variable and no squaring pass. `'throw'` reads the verdict
 * (one scalar) and throws before anything is written; `'ignore'` makes no verdict.
 */
export function guard(step: Step, loss: tf.Scalar, direction: NamedTensors, squares: tf.Scalar | null): Verdict | null {
  const policy = step.env.settings.onNonFinite;
  if (policy === 'ignore') return null;
  const verdict = step.scope.tidy(() => {
    const total = tf.add(loss, squares ?? elementSum(Object.values(direction)));
    return { ok: tf.cast(tf.isFinite(total), 'float32') as tf.Scalar };
  });
  if (policy === 'throw' && verdict.ok.dataSync()[0] === 0) {
    throw new FlatminError(
      `non-finite loss or gradient at step ${step.context.step} (onNonFinite: 'throw'); nothing was updated. Lower the learning rate or ρ, or use onNonFinite: 'skip'.`,
    );
  }
  return policy === 'skip' ? verdict : null;
}

/** Decoupled weight decay w ← w − ηλw (η the base's learning rate), then the base optimizer's update; every write recorded. */
export function applyUpdate(step: Step, direction: NamedTensors): void {
  const { base, settings } = step.env;
  const decoupled = settings.decoupledWeightDecay;
  const variables = step.variables.update.filter((v) => direction[v.name] !== undefined);
  step.scope.recordWrites(base, () => {
    if (decoupled > 0) {
      const eta = step.context.learningRate;
      if (!Number.isFinite(eta)) {
        throw new FlatminError("decoupledWeightDecay needs the base optimizer's learningRate, but it has none (a number field).");
      }
      tf.tidy(() => {
        for (const v of variables) v.assign(elementwise.mul(v, 1 - eta * decoupled));
      });
    }
    base.applyGradients(variables.map((v) => ({ name: v.name, tensor: direction[v.name]! })));
  });
}

/** The averager sees the new weights (its new state is staged like every component's). */
export function average(step: Step): void {
  const averager = step.env.averagerComponent;
  if (averager === undefined) return;
  const context = { ...step.context, variables: step.variables.update };
  step.scope.run('averager', (state) => ({ state: averager.update(context, state) }));
}
