/**
 * Which variables a step updates and which it perturbs. Both come from the variables `minimize`
 * receives and, for frozen ones, from a model or list the user names: never from tfjs'
 * process-wide variable registry, so an unrelated variable (another model, an optimizer's slots)
 * never changes a result.
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { FlatminConfigError, FlatminError } from './errors.js';
import type { StepVariables } from './step/context.js';

/** A tfjs-layers model (or layer), seen only through the fields flatmin reads. */
export interface LayersLike {
  /** The model's layers; nested models' layers are walked too. */
  readonly layers: readonly unknown[];
}

/**
 * Where frozen parameters come from: a tfjs-layers model, a list of variables, or a function
 * returning one. The function is called at every step with that step's updated variables (what
 * `minimize` received, trainable ones), so a scope can find the frozen weights that belong to them
 * (a LoRA layer's W₀ next to its A and B).
 */
export type VariableSource = LayersLike | readonly tf.Variable[] | ((update: readonly tf.Variable[]) => readonly tf.Variable[]);

/** A scope that also perturbs frozen parameters (a LoRA base W₀, a frozen backbone). */
export interface ScopeOptions {
  /**
   * The frozen parameters: a tfjs-layers model (the weights its layers create as parameters,
   * frozen now — never BatchNorm's moving statistics or other non-trainable state), a list of
   * variables, or a function of the step's updated variables returning one.
   */
  frozen: VariableSource;
  /** Also perturb the updated (trainable) variables. Default true. */
  trainable?: boolean;
  /** Keep only the candidates for which this returns true. */
  filter?: (variable: tf.Variable) => boolean;
}

/**
 * Which variables are perturbed:
 * - `'trainable'` (default): the variables the base optimizer updates (`varList`'s trainable ones).
 * - a predicate, called for each updated variable: perturb those for which it returns true.
 * - {@link ScopeOptions}: the updated variables (unless `trainable: false`) and the frozen
 *   parameters of a model or list, optionally filtered.
 *
 * Optimizer slots and BatchNorm statistics are never parameters; only the updated variables are
 * ever changed by the base optimizer.
 *
 * @example
 * ```ts
 * // Perturb a frozen backbone too (its weights are not updated):
 * const optimizer = sharpnessAware({ base: tf.train.sgd(0.1), perturbation: gradient(), scope: { frozen: backbone } });
 * ```
 */
export type Scope = 'trainable' | ScopeOptions | ((variable: tf.Variable) => boolean);

/** Check a scope when the optimizer is built. */
export function checkScope(scope: unknown): Scope {
  if (scope === 'trainable' || typeof scope === 'function') return scope as Scope;
  if (scope !== null && typeof scope === 'object' && !Array.isArray(scope)) {
    const options = scope as Record<string, unknown>;
    for (const key of Object.keys(options)) {
      if (!['frozen', 'trainable', 'filter'].includes(key)) throw new FlatminConfigError(`scope.${key}`, options[key], 'no such key; known keys: frozen, trainable, filter', 'sharpnessAware');
    }
    const frozen = options['frozen'];
    const isSource = Array.isArray(frozen) || typeof frozen === 'function' || (frozen !== null && typeof frozen === 'object' && Array.isArray((frozen as LayersLike).layers));
    if (!isSource) throw new FlatminConfigError('scope.frozen', frozen, 'a tfjs-layers model, an array of tf.Variable, or a function returning one', 'sharpnessAware');
    if (options['trainable'] !== undefined && typeof options['trainable'] !== 'boolean') throw new FlatminConfigError('scope.trainable', options['trainable'], 'true or false', 'sharpnessAware');
    if (options['filter'] !== undefined && typeof options['filter'] !== 'function') throw new FlatminConfigError('scope.filter', options['filter'], 'a function (variable) => boolean', 'sharpnessAware');
    return scope as Scope;
  }
  throw new FlatminConfigError('scope', scope, "'trainable', a predicate (variable) => boolean, or { frozen: model or variables, trainable?, filter? }", 'sharpnessAware');
}

/** The update, perturbed and gradient variables of a step. */
export function stepVariables(scope: Scope, varList: unknown): StepVariables {
  const update = updateVariables(varList);
  const perturbed = perturbedVariables(scope, update);
  const seen = new Set(update);
  const gradient = [...update, ...perturbed.filter((v) => !seen.has(v))];
  return { update, perturbed, gradient };
}

/** `varList`'s trainable variables; without one, every trainable variable (tfjs' own default). */
function updateVariables(varList: unknown): tf.Variable[] {
  if (varList === undefined || varList === null) {
    const all = Object.values(tf.engine().registeredVariables).filter((v) => v.trainable);
    if (all.length === 0) throw new FlatminError('minimize: there are no trainable variables: pass varList or create trainable variables.');
    return all;
  }
  if (!Array.isArray(varList)) throw new FlatminError(`minimize: varList must be an array of tf.Variable, got ${describe(varList)}.`);
  varList.forEach((v, i) => {
    if (!(v instanceof tf.Variable)) throw new FlatminError(`minimize: varList[${i}] is ${describe(v)}, not a tf.Variable (make one with tf.variable(tensor)).`);
  });
  const update = (varList as tf.Variable[]).filter((v) => v.trainable);
  if (update.length === 0) throw new FlatminError('minimize: varList has no trainable variable.');
  return update;
}

function perturbedVariables(scope: Scope, update: tf.Variable[]): tf.Variable[] {
  if (scope === 'trainable') return update;
  if (typeof scope === 'function') return update.filter((v) => scope(v));
  const candidates = [...(scope.trainable === false ? [] : update), ...frozenParameters(scope.frozen, update)];
  const unique = [...new Set(candidates)];
  return scope.filter === undefined ? unique : unique.filter((v) => scope.filter!(v));
}

/** The frozen parameters of a source (trainable ones are excluded: they come from `varList`). */
export function frozenParameters(source: VariableSource, update: readonly tf.Variable[] = []): tf.Variable[] {
  const variables = typeof source === 'function' ? source(update) : Array.isArray(source) ? source : modelParameters(source as LayersLike);
  return (variables as tf.Variable[]).filter((v) => v instanceof tf.Variable && !v.trainable && !v.isDisposed);
}

/** Every parameter the model's layers created (their `_trainableWeights`, frozen or not), recursively. */
function modelParameters(model: LayersLike): tf.Variable[] {
  const out: tf.Variable[] = [];
  for (const layer of model.layers) {
    const l = layer as { layers?: unknown[]; _trainableWeights?: Array<{ read(): tf.Variable }> };
    if (Array.isArray(l.layers)) out.push(...modelParameters(l as LayersLike));
    else for (const w of l._trainableWeights ?? []) out.push(w.read());
  }
  return out;
}

function describe(value: unknown): string {
  if (value instanceof tf.Tensor) return `a ${value.constructor.name === 'Variable' ? 'Variable' : 'plain tf.Tensor'} of shape [${value.shape.join(', ')}]`;
  if (Array.isArray(value)) return 'an array';
  return value === null ? 'null' : typeof value;
}
