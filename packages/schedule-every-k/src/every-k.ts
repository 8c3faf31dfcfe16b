/**
 * LookSAM's schedule: a sharp step every k steps; in between one pass whose gradient gets back the
 * sharpness component g_v stored at the last sharp step.
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { type ComponentState, FlatminError, type NamedTensors, type ObserveContext, type Schedule, type ScheduleContext } from '@flatmin/core';
import { checkChoice, checkNumber, checkOptions, elementwise, flatDot, globalDot, globalNorm, registerComponent, variableKey } from '@flatmin/core/kit';

/**
 * Options of {@link everyK}: LookSAM (Liu, Mai, Chen, Hsieh & You, CVPR 2022, "Towards Efficient
 * and Scalable Sharpness-Aware Minimization").
 *
 * @example
 * ```ts
 * const options: EveryKOptions = { k: 5, alpha: 0.7, granularity: 'global' };
 * const schedule = everyK(options);
 * ```
 */
export interface EveryKOptions {
  /** The period k: steps t with t mod k = 0 (t counts from 0) are sharp. A whole number ≥ 1 (default 5; 1 is SAM exactly). */
  k?: number;
  /**
   * α, the weight of the reused sharpness component on the other steps, a finite number ≥ 0
   * (default 0.7, the paper's; 0 is plain every-k SAM). On a small MLP on MNIST every α > 0 was
   * worse than 0 and 0.7 cost 2.4 points: see "Choosing α" in the README before keeping 0.7.
   */
  alpha?: number;
  /**
   * Where the projection and the norms are taken: `'global'` (default, the seed formula) over all
   * updated variables together; `'tensor'` per variable, as the rollovd/LookSAM PyTorch code does.
   */
  granularity?: 'global' | 'tensor';
  /**
   * The counter that picks the sharp steps restarts from 0 every `restartEvery` steps: step t is
   * sharp when (t mod restartEvery) mod k = 0. With the number of batches per epoch, every epoch
   * starts with a sharp step, as in the public PyTorch ports (they count the batch index of the
   * epoch's loader). A whole number ≥ 1; absent (default): the counter never restarts (the
   * paper's Algorithm 1 counts iterations).
   */
  restartEvery?: number;
}

const WHERE = 'everyK';
const KNOWN_KEYS = ['k', 'alpha', 'granularity', 'restartEvery'] as const;
const GRANULARITIES = ['global', 'tensor'] as const;
/** The state slot of a variable's stored sharpness component g_v; ‖g_v‖ is stored next to it (global key, or per variable with `'tensor'`). */
const SHARPNESS = 'gv';
const SHARPNESS_NORM = 'gvNorm';

/**
 * The LookSAM schedule (Liu, Mai, Chen, Hsieh & You, CVPR 2022, "Towards Efficient and Scalable
 * Sharpness-Aware Minimization"). Step t (counted from 0) is sharp when t mod k = 0; a sharp step
 * runs the perturbation and the adversarial pass as usual and then stores the part of the
 * adversarial gradient orthogonal to the clean one,
 *
 * g_v = g_adv − (g·g_adv / ‖g‖²) g,
 *
 * per variable in the schedule's state. Every other step makes ONE forward-backward pass and gives
 * the base optimizer
 *
 * g ← g + α (‖g‖ / ‖g_v‖) g_v
 *
 * (plain g before the first sharp step, for a variable without a stored g_v, or with α = 0).
 * With `granularity: 'global'` (default) the dot product and the norms run over all updated
 * variables together; with `'tensor'` each variable is projected and rescaled on its own. Norms get
 * the optimizer's `normEpsilon` (‖g‖² becomes (‖g‖ + ε)², ‖g_v‖ becomes ‖g_v‖ + ε), so zero
 * gradients never give NaN. With `restartEvery: n` step t is sharp when (t mod n) mod k = 0 (the
 * public ports' per-epoch batch index, n the batches per epoch).
 *
 * Cost: about 1 + 1/k passes per step (k = 5: 10 steps take 12 loss evaluations) and one stored
 * parameter-sized buffer per updated variable. k = 1 is SAM exactly (no state is kept), α = 0 is
 * plain every-k SAM (no state either). With α > 0 and k > 1 the schedule sets `needsGradient`, so
 * every step has the clean gradient even with a perturbation that needs none (`gaussian`).
 *
 * @param options see {@link EveryKOptions}; invalid values throw a `FlatminConfigError` naming the key.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs';
 * import { sharpnessAware } from '@flatmin/core';
 * import { gradient } from '@flatmin/perturb-gradient';
 * import { everyK } from '@flatmin/schedule-every-k';
 *
 * const lookSam = sharpnessAware({ base: tf.train.momentum(0.05, 0.9), perturbation: gradient({ rho: 0.05 }), schedule: everyK({ k: 5, alpha: 0.7 }) });
 * ```
 */
export function everyK(options?: EveryKOptions): Schedule {
  const checked = checkOptions(options, KNOWN_KEYS, WHERE);
  const k = checkNumber('k', checked.k === undefined ? 5 : checked.k, { min: 1, integer: true }, WHERE);
  const alpha = checkNumber('alpha', checked.alpha === undefined ? 0.7 : checked.alpha, { min: 0 }, WHERE);
  const granularity = checked.granularity === undefined ? 'global' : checkChoice('granularity', checked.granularity, GRANULARITIES, WHERE);
  const restartEvery = checked.restartEvery === undefined ? undefined : checkNumber('restartEvery', checked.restartEvery, { min: 1, integer: true }, WHERE);
  // The phase within the current restart period (the plain step count when the counter never restarts).
  const phase = restartEvery === undefined ? (step: number) => step : (step: number) => step % restartEvery;
  const schedule: Schedule = {
    kind: 'schedule',
    name: WHERE,
    config: Object.freeze(restartEvery === undefined ? { k, alpha, granularity } : { k, alpha, granularity, restartEvery }),
    decide: (context: ScheduleContext) => ({ decision: { sharp: phase(context.step) % k === 0 } }),
  };
  // Nothing is ever reused when every step is sharp or α = 0: no state, no extra work.
  if (k === 1 || alpha === 0) return schedule;
  const perTensor = granularity === 'tensor';
  return {
    ...schedule,
    needsGradient: true,
    observe: (context: ObserveContext, state: ComponentState) => ({ ...state, ...sharpnessComponent(context, perTensor) }),
    adjust: (context: ScheduleContext & { readonly grads: NamedTensors; readonly gradNorm?: () => tf.Scalar }, state: ComponentState) => ({ grads: reuse(context, state, alpha, perTensor) }),
  };
}

/** g_v = g_adv − (g·g_adv / (‖g‖ + ε)²) g for every updated variable with both gradients, keyed `name:gv`. */
function sharpnessComponent(context: ObserveContext, perTensor: boolean): Record<string, tf.Tensor> {
  if (context.grads === null) throw new FlatminError(`${WHERE}() needs the clean gradient of the sharp step, but no clean pass was made (context.grads is null).`);
  const clean: NamedTensors = {};
  const adversarial: NamedTensors = {};
  // The updated variables are the trainable ones; frozen variables a scope perturbs are never adjusted.
  for (const v of context.variables) {
    const g = context.grads[v.name];
    const gAdv = context.gradsAdv[v.name];
    if (!v.trainable || g === undefined || gAdv === undefined) continue;
    clean[v.name] = g;
    adversarial[v.name] = gAdv;
  }
  const projection = (dot: tf.Scalar, norm: tf.Scalar) => elementwise.div(dot, tf.square(elementwise.add(norm, context.normEpsilon)));
  const shared = perTensor ? null : projection(globalDot(clean, adversarial), globalNorm(clean));
  const out: Record<string, tf.Tensor> = {};
  const components: tf.Tensor[] = [];
  for (const [name, g] of Object.entries(clean)) {
    const gAdv = adversarial[name]!;
    const coefficient = shared ?? projection(flatDot(g, gAdv), globalNorm([g]));
    const gv = elementwise.sub(gAdv, elementwise.mul(coefficient, g));
    out[variableKey(name, SHARPNESS)] = gv;
    components.push(gv);
    // ‖g_v‖ is the same on every step until the next sharp one: taken once here, not on each reuse.
    if (perTensor) out[variableKey(name, SHARPNESS_NORM)] = globalNorm([gv]);
  }
  if (!perTensor) out[SHARPNESS_NORM] = globalNorm(components);
  return out;
}

/** g + α (‖g‖ / (‖g_v‖ + ε)) g_v for every variable with a stored g_v; the others keep g. */
function reuse(
  context: { readonly grads: NamedTensors; readonly normEpsilon: number; readonly gradNorm?: () => tf.Scalar },
  state: ComponentState,
  alpha: number,
  perTensor: boolean,
): NamedTensors {
  const { grads, normEpsilon } = context;
  const pairs: Array<[string, tf.Tensor, tf.Tensor]> = [];
  for (const [name, g] of Object.entries(grads)) {
    const stored = tensorAt(state, variableKey(name, SHARPNESS));
    if (stored !== null) pairs.push([name, g, stored]);
  }
  if (pairs.length === 0) return grads;
  const scale = (gNorm: tf.Tensor, gvNorm: tf.Tensor) => elementwise.mul(alpha, elementwise.div(gNorm, elementwise.add(gvNorm, normEpsilon)));
  const out: NamedTensors = { ...grads };
  if (perTensor) {
    for (const [name, g, gv] of pairs) out[name] = elementwise.axpy(g, scale(globalNorm([g]), tensorAt(state, variableKey(name, SHARPNESS_NORM)) ?? globalNorm([gv])), gv);
    return out;
  }
  // The norms over the pairs: the step's shared ‖g‖ and the ‖g_v‖ stored with g_v when they cover the same variables.
  const everyGradient = pairs.length === Object.keys(grads).length;
  const everyStored = pairs.length === Object.keys(state).filter((key) => key.endsWith(`:${SHARPNESS}`)).length;
  const gNorm = everyGradient && context.gradNorm !== undefined ? context.gradNorm() : globalNorm(pairs.map((p) => p[1]));
  const gvNorm = (everyStored ? tensorAt(state, SHARPNESS_NORM) : null) ?? globalNorm(pairs.map((p) => p[2]));
  const shared = scale(gNorm, gvNorm);
  for (const [name, g, gv] of pairs) out[name] = elementwise.axpy(g, shared, gv);
  return out;
}

function tensorAt(state: ComponentState, key: string): tf.Tensor | null {
  const value = state[key];
  return value === undefined || typeof value === 'number' ? null : value;
}

registerComponent('schedule', WHERE, (config) => everyK(config as EveryKOptions));
