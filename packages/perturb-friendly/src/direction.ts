/**
 * What both perturbations of this package share: the clean gradients of the perturbed variables,
 * ε = ρ·d/(‖d‖ + ε₀) with one global norm, and the bookkeeping of per-variable running state.
 *
 * @module
 */
import type * as tf from '@tensorflow/tfjs-core';
import { type ComponentState, FlatminError, type NamedTensors, type PerturbationContext } from '@flatmin/core';
import { elementwise, globalNorm, normalizeGlobal, pick, pickNamed, variableKey } from '@flatmin/core/kit';

/** The state slot of the flag that says a variable's running average has started (a device scalar 1). */
export const STARTED = 'started';

/** The clean gradients of the perturbed variables, in their order; a FlatminError when no clean pass was made. */
export function cleanGradients(context: PerturbationContext, where: string): NamedTensors {
  if (context.grads === null) {
    throw new FlatminError(`${where}() needs the clean gradient, but no clean pass was made (context.grads is null).`);
  }
  return pickNamed(context.grads, context.variables);
}

/**
 * ε = ρ·d/(‖d‖₂ + normEpsilon) with one global norm over every entry of `directions`, and
 * ‖ε‖ = ρ‖d‖/(‖d‖ + normEpsilon) for the telemetry (no extra reduction). A zero d gives ε = 0.
 */
export function alongDirection(directions: NamedTensors, context: PerturbationContext): { epsilon: NamedTensors; epsilonNorm: tf.Scalar } {
  const norm = globalNorm(Object.values(directions));
  return {
    epsilon: normalizeGlobal(directions, context.rho, context.normEpsilon, norm),
    epsilonNorm: elementwise.div(elementwise.mul(context.rho, norm), elementwise.add(norm, context.normEpsilon)) as tf.Scalar,
  };
}

/** The tensor stored under `variableKey(name, slot)`, or `undefined` when there is none yet. */
export function stored(state: ComponentState, name: string, slot: string): tf.Tensor | undefined {
  const value = state[variableKey(name, slot)];
  return value === undefined || typeof value === 'number' ? undefined : value;
}

/**
 * The next state: `fresh` (keyed `variableKey(name, slot)`) over everything of `state` it does not
 * replace, so the running averages of variables that got no gradient this step are kept as they are.
 */
export function nextState(state: ComponentState, fresh: Record<string, tf.Tensor>): ComponentState {
  return { ...state, ...fresh };
}

/**
 * `started ? running : first`, whole tensors, chosen on the device by `pick` (a shared buffer on cpu
 * and wasm: no element is computed; `tf.where` elsewhere). The flag is a device scalar, not a host
 * number, because a skipped (non-finite) first step leaves zeros behind for the keys it created:
 * they must read as "not started" again, and only the device knows.
 */
export function selectStarted(started: tf.Tensor, running: tf.Tensor, first: tf.Tensor): tf.Tensor {
  return pick(started as tf.Scalar, running, first);
}
