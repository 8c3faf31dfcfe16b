// Test-only pieces: an alternating schedule with state, adjust and observe (to test composition),
// a validation closure on the problem's validation rows, and per-step readings of the telemetry.
import * as tf from '@tensorflow/tfjs-core';
import type { ComponentState, NamedTensors, Schedule, SharpnessAwareOptimizer } from '@flatmin/core';
import { mapNamed, registerComponent, variableKey } from '@flatmin/core/kit';
import type { LinearProblem, TfLinear } from '@flatmin/test-kit';
import { VALIDATION_ROWS } from './reference.js';

/**
 * Sharp on even steps (counted by its own host counter `count`, not by context.step, so its state
 * matters), plain on odd ones where g is scaled by `scale`; `observe` keeps the last g_adv of each
 * variable under `name:lastAdv`.
 */
export function alternating(options: { scale?: number } = {}): Schedule {
  const scale = options.scale ?? 0.5;
  return {
    kind: 'schedule',
    name: 'alternatingForTests',
    config: { scale },
    decide: (_context, state) => {
      const count = typeof state['count'] === 'number' ? state['count'] : 0;
      return { decision: { sharp: count % 2 === 0, rho: 123 }, state: { ...state, count: count + 1 } };
    },
    adjust: (context) => ({ grads: mapNamed(context.grads, (g) => tf.mul(g, scale)) }),
    observe: (context, state) => {
      const next: Record<string, ComponentState[string]> = { ...state };
      for (const [name, g] of Object.entries(context.gradsAdv as NamedTensors)) next[variableKey(name, 'lastAdv')] = tf.clone(g);
      return next;
    },
  };
}
registerComponent('schedule', 'alternatingForTests', (config) => alternating(config as { scale?: number }));

/** L_val on the validation rows, for the variables of `model` (or of the latest linear model made). */
export function validationOf(problem: LinearProblem, model?: TfLinear): () => tf.Scalar {
  const x = tf.keep(tf.tensor2d(VALIDATION_ROWS.map((i) => problem.x[i]!)));
  const y = tf.keep(tf.tensor2d(VALIDATION_ROWS.map((i) => problem.y[i]!)));
  let variables: [tf.Variable, tf.Variable] | null = model === undefined ? null : [model.w, model.b];
  return () => {
    if (variables === null || variables[0].isDisposed) variables = latestLinear();
    const [w, b] = variables;
    return tf.mean(tf.sum(tf.square(tf.sub(tf.add(tf.matMul(x, w), b), y)), 1)) as tf.Scalar;
  };
}

/**
 * The w and b of the linear model made last. `runOptimizerSuite` makes its model just before it
 * calls the case's `make()` and does not hand it over, so a validation closure made in `make()` finds
 * the variables here, at its first call (before the base optimizer creates any slot variable).
 */
function latestLinear(): [tf.Variable, tf.Variable] {
  const registered = Object.values((tf.engine() as unknown as { state: { registeredVariables: Record<string, tf.Variable> } }).state.registeredVariables);
  const w = registered.filter((v) => v.name.endsWith('/w')).at(-1);
  const b = w === undefined ? undefined : registered.find((v) => v.name === `${w.name.slice(0, -2)}/b`);
  if (w === undefined || b === undefined) throw new Error('no linear model variables are registered');
  return [w, b];
}

/** Run `steps` steps of `optimizer` on `loss`, reading the telemetry after each (tests only: reads the device). */
export async function stepsWithTelemetry(optimizer: SharpnessAwareOptimizer, model: TfLinear, steps: number, loss = model.loss(), before?: (t: number) => void) {
  const rhos: number[] = [];
  const sharp: boolean[] = [];
  for (let t = 0; t < steps; t += 1) {
    before?.(t);
    optimizer.minimize(loss, false, model.variables);
    const telemetry = await optimizer.telemetry();
    rhos.push(telemetry.rho);
    sharp.push(telemetry.sharp);
  }
  return { rhos, sharp };
}

/** |a − e| ≤ tol·max(|e|, 1e-3) for each entry, with a message naming the step. */
export function expectCloseList(actual: readonly number[], expected: readonly number[], tolerance: number): void {
  if (actual.length !== expected.length) throw new Error(`lengths differ: ${actual.length} vs ${expected.length}`);
  actual.forEach((a, t) => {
    const e = expected[t]!;
    if (!(Math.abs(a - e) <= tolerance * Math.max(Math.abs(e), 1e-3))) throw new Error(`step ${t}: got ${a}, expected ${e}`);
  });
}
