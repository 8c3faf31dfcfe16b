/**
 * `learnedRho`: LETS — ρ learned by gradient descent on the squared gap between the validation
 * and the training loss after one SAM step.
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { type ComponentState, FlatminConfigError, FlatminError, type ObserveContext, type Schedule, type ScheduleContext } from '@flatmin/core';
import { checkNumber, checkOptions, registerComponent, variableKey } from '@flatmin/core/kit';

/**
 * Options of {@link learnedRho}: LETS (Wang, Jiang, Fu & Zhang, "Enhancing Sharpness-Aware
 * Minimization by Learning Perturbation Radius", ECML PKDD 2024).
 *
 * @example
 * ```ts
 * const options: LearnedRhoOptions = { rho0: 0.05, lr: 0.01, every: 1, validation: () => validationLoss() };
 * ```
 */
export interface LearnedRhoOptions {
  /** ρ₀, the radius before the first update of ρ, a finite number ≥ 0 (default 0.05; 0 stays 0: the base optimizer exactly). */
  rho0?: number;
  /** The learning rate of ρ's own gradient descent, a finite number > 0 (default 0.01; ours — tune it to the scale of the hypergradient). */
  lr?: number;
  /** Update ρ every `every` steps, a whole number ≥ 1 (default 1). */
  every?: number;
  /**
   * The validation loss at the current weights, `() => tf.Scalar` (required): a closure over a
   * validation batch, e.g. `() => tf.losses.meanSquaredError(yVal, model.apply(xVal))`. It is
   * differentiated with respect to the updated variables, so it must depend on them through tfjs
   * ops, and it must not change layer state (call the model with `training: false`, the default of
   * `model.apply`).
   */
  validation?: () => tf.Scalar;
}

const WHERE = 'learnedRho';
const KEYS = ['rho0', 'lr', 'every', 'validation'] as const;
/** The state key of the learned ρ (a float32 device scalar). */
const RHO = 'rho';
/** The per-variable slot of ∂w*(ρ)/∂ρ, kept from a sharp step to the next step's update of ρ. */
const DIRECTION = 'rhoDirection';
/** Guards the division by ρ (at ρ = 0 the difference g_adv − g is exactly 0, and so is the direction). */
const TINY = 1e-12;

/**
 * LETS' learned radius (Wang, Jiang, Fu & Zhang, "Enhancing Sharpness-Aware Minimization by
 * Learning Perturbation Radius", ECML PKDD 2024): ρ is the upper-level variable of a bilevel
 * problem, learned by gradient descent on
 *
 *   F(ρ) = ½ (L_val(w*(ρ)) − L_train(w*(ρ)))²,  w*(ρ) = w − η ∇L_train(w + ε(ρ)),
 *
 * the squared generalization gap after one SAM step (η the base optimizer's `learningRate`). Every
 * step is sharp. The hypergradient, by the chain rule, is
 *
 *   ∂F/∂ρ = (L_val − L_train)(w*) · ⟨∇L_val(w*) − ∇L_train(w*), ∂w*(ρ)/∂ρ⟩,  ∂w*(ρ)/∂ρ = −η H(w + ε) u,
 *
 * with ε = ρu (every flatmin perturbation is linear in ρ: SAM's u = g/‖g‖, ASAM's, ...). The
 * Hessian-vector product is approximated from the two gradients SAM already has,
 * H u ≈ (∇L(w + ε) − ∇L(w))/ρ — exact when the loss is quadratic (the test checks it against
 * central finite differences of F on a least-squares problem), a first-order difference otherwise —
 * so no second-order pass is needed. The steps alternate, as the paper's algorithm does: step t
 * takes the SAM update with ρ_t and keeps d_t = −η (g_adv − g)/ρ_t; step t + 1 starts at
 * w_{t+1} = w*(ρ_t), where its clean pass gives L_train and ∇L_train, one validation pass gives
 * L_val and ∇L_val, and ρ_{t+1} = max(0, ρ_t − lr · ∂F/∂ρ) is used at once.
 *
 * - ρ lives on the device (a float32 scalar in the schedule state under `rho`, saved exactly by
 *   `getWeights`); nothing is read on the host.
 * - w_{t+1} = w*(ρ_t) holds for plain SGD; with momentum or Adam the step's update is the base
 *   optimizer's and the hypergradient still uses the SGD form −η H u (documented approximation).
 *   The training loss in the gap is the next batch's, a stochastic estimate of the same quantity.
 * - ρ is kept ≥ 0; once at 0 it stays there (the direction is 0). The learned ρ replaces the
 *   perturbation's own `rho`, which is not used.
 *
 * Cost: every `every` steps one extra forward and backward pass of the validation batch (not
 * counted in `lossEvaluations`, which counts the training closure) and one parameter-sized buffer
 * (d) held from the step before. The validation closure is not part of a saved config: `fromConfig`
 * refuses `learnedRho` by the key `validation`; rebuild the optimizer with `learnedRho({ validation })`
 * and restore its state (with the learned ρ) through `setWeights`. With `model.fit` it works as long
 * as the closure can see a validation batch; a custom loop is the natural home.
 *
 * @param options see {@link LearnedRhoOptions}; invalid values throw a `FlatminConfigError` naming the key.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs';
 * import { sharpnessAware } from '@flatmin/core';
 * import { gradient } from '@flatmin/perturb-gradient';
 * import { learnedRho } from '@flatmin/schedule-rho';
 *
 * const model = tf.sequential({ layers: [tf.layers.dense({ units: 1, inputShape: [3] })] });
 * const [xVal, yVal] = [tf.randomNormal([16, 3]), tf.randomNormal([16, 1])];
 * const lets = sharpnessAware({
 *   base: tf.train.sgd(0.05),
 *   perturbation: gradient(),
 *   schedule: learnedRho({ rho0: 0.05, lr: 0.01, validation: () => tf.losses.meanSquaredError(yVal, model.apply(xVal) as tf.Tensor) as tf.Scalar }),
 * });
 * ```
 */
export function learnedRho(options?: LearnedRhoOptions): Schedule {
  const checked = checkOptions(options, KEYS, WHERE);
  const rho0 = checkNumber('rho0', checked.rho0 === undefined ? 0.05 : checked.rho0, { min: 0 }, WHERE);
  const lr = checkNumber('lr', checked.lr === undefined ? 0.01 : checked.lr, { min: 0, minExclusive: true }, WHERE);
  const every = checkNumber('every', checked.every === undefined ? 1 : checked.every, { min: 1, integer: true }, WHERE);
  const validation = checked.validation;
  if (typeof validation !== 'function') {
    throw new FlatminConfigError(
      'validation',
      validation,
      'a function () => tf.Scalar giving the loss of a validation batch (required; a saved config has none: rebuild with learnedRho({ validation }) and restore the state with setWeights)',
      WHERE,
    );
  }
  return {
    kind: 'schedule',
    name: WHERE,
    config: Object.freeze({ rho0, lr, every }),
    needsGradient: true,
    decide(context: ScheduleContext, state: ComponentState) {
      const stored = state[RHO];
      const rho = (stored === undefined || typeof stored === 'number' ? tf.scalar(rho0) : stored) as tf.Scalar;
      const directions = directionsOf(state, context);
      if (directions === null) {
        return { decision: { sharp: true, rho }, state: stored === rho ? state : { ...state, [RHO]: rho } };
      }
      const next = tf.relu(tf.sub(rho, tf.mul(lr, hypergradient(context, directions, validation)))) as tf.Scalar;
      const kept: Record<string, ComponentState[string]> = {};
      for (const [key, value] of Object.entries(state)) if (!key.endsWith(`:${DIRECTION}`)) kept[key] = value;
      return { decision: { sharp: true, rho: next }, state: { ...kept, [RHO]: next } };
    },
    observe(context: ObserveContext, state: ComponentState) {
      if ((context.step + 1) % every !== 0) return state;
      const eta = context.learningRate;
      if (!Number.isFinite(eta)) {
        throw new FlatminError(`${WHERE}: the base optimizer has no numeric learningRate (got ${eta}); LETS' one-step update w − η g_adv needs it.`);
      }
      if (context.grads === null) throw new FlatminError(`${WHERE}: no clean gradient at step ${context.step}; LETS needs g and g_adv.`);
      const scale = tf.div(-eta, tf.maximum(context.rho, TINY));
      const fresh: Record<string, tf.Tensor> = {};
      for (const [name, adversarial] of Object.entries(context.gradsAdv)) {
        const clean = context.grads[name];
        if (clean !== undefined) fresh[variableKey(name, DIRECTION)] = tf.mul(tf.sub(adversarial, clean), scale);
      }
      return { ...state, ...fresh };
    },
  };
}

/** d_v = ∂w*_v(ρ)/∂ρ for the updated variables kept from the step before, or null when no update of ρ is due. */
function directionsOf(state: ComponentState, context: ScheduleContext): Map<tf.Variable, tf.Tensor> | null {
  if (context.step === 0) return null;
  const directions = new Map<tf.Variable, tf.Tensor>();
  for (const variable of context.variables) {
    const d = state[variableKey(variable.name, DIRECTION)];
    if (d !== undefined && typeof d !== 'number') directions.set(variable, d);
  }
  return directions.size === 0 ? null : directions;
}

/** ∂F/∂ρ = (L_val − L_train) · Σ_v ⟨∇_v L_val − ∇_v L_train, d_v⟩ at the current weights w*(ρ_prev). */
function hypergradient(context: ScheduleContext, directions: Map<tf.Variable, tf.Tensor>, validation: () => tf.Scalar): tf.Scalar {
  if (context.grads === null || context.loss === null) {
    throw new FlatminError(`${WHERE}: no clean pass before decide at step ${context.step}; LETS needs L_train and its gradient.`);
  }
  const { value, grads: validationGrads } = tf.variableGrads(validation, [...directions.keys()]);
  if (value.rank !== 0) throw new FlatminError(`${WHERE}: the validation closure must return a scalar (got rank ${value.rank}).`);
  let dot: tf.Scalar = tf.scalar(0);
  for (const [variable, d] of directions) {
    const train = context.grads[variable.name];
    const valid = validationGrads[variable.name];
    const gap = valid === undefined ? (train === undefined ? undefined : tf.neg(train)) : train === undefined ? valid : tf.sub(valid, train);
    if (gap !== undefined) dot = tf.add(dot, tf.sum(tf.mul(gap, d)));
  }
  return tf.mul(tf.sub(value, context.loss), dot);
}

registerComponent('schedule', WHERE, (config) => learnedRho(config as LearnedRhoOptions));
