/**
 * BAR, the balancedness-aware regularizer for LoRA: α_t·|‖A‖² − ‖B‖²| per LoRA layer.
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { FlatminConfigError, type LayersLike } from '@flatmin/core';
import { checkNumber, checkOptions } from '@flatmin/core/kit';
import { isLayersLike, loraLayers } from './layers.js';

/** What {@link BalancednessOptions.optimizer} needs: its completed updates (every tfjs optimizer has it). */
export interface StepCounter {
  /** The optimizer's completed updates, the step t of `alpha(t)`. */
  readonly iterations: number;
}

/**
 * Options of {@link balancedness}.
 *
 * @example
 * ```ts
 * const constant: BalancednessOptions = { alpha: 0.01 };
 * ```
 */
export interface BalancednessOptions {
  /**
   * α_t: a finite number ≥ 0 (default 0.01), or a function of the step t (the optimizer's completed
   * updates) returning one — e.g. the linear decay `(t) => 0.01 * (1 - t / T)`. A function needs
   * `optimizer`.
   */
  alpha?: number | ((step: number) => number);
  /** Where the step t comes from when `alpha` is a function: any tfjs optimizer (its `iterations`). */
  optimizer?: StepCounter;
}

/** The BAR term as a function of a model, plus {@link Balancedness.attach} for `model.fit`. */
export interface Balancedness {
  /** Σ over the model's LoRA layers of α_t·|‖A‖²_F − ‖B‖²_F| (0 for a model without LoRA layers). */
  (model: LayersLike): tf.Scalar;
  /**
   * Add the term to the loss `model.fit` minimizes (through the first LoRA layer's `addLoss`, as a
   * kernel regularizer is added), so the fit loss is the compiled loss plus BAR. Call once.
   */
  attach(model: LayersLike): void;
  /** The options, as given (for display). */
  readonly config: Readonly<{
    /** α as given, or `'function'` when it is a schedule. */
    alpha: number | 'function';
  }>;
}

const WHERE = 'balancedness';

/**
 * BAR, the balancedness-aware regularizer (Li, Zhang & He, "Implicit Regularization of
 * Sharpness-Aware Minimization for Scale-Invariant Problems", NeurIPS 2024): SAM drives the LoRA
 * factors towards balancedness ‖A‖² = ‖B‖²; BAR adds that pull explicitly, at the cost of one
 * norm per factor instead of SAM's second pass:
 *
 *   loss += α_t · Σ_layers |‖A‖²_F − ‖B‖²_F|
 *
 * A `[r, in]` and B `[out, r]` of each {@link LoraDense} (the paper's factors, unscaled by α/r).
 * The gradient is 2α_t·sign(‖A‖² − ‖B‖²)·(A, −B) (0 where the two are equal). α_t is computed on
 * the host from the step and uploaded: no device read.
 *
 * Use it in a custom loop (`optimizer.minimize(() => tf.add(loss(), bar(model)))`) or, under
 * `model.fit`, with `bar.attach(model)`.
 *
 * @param options see {@link BalancednessOptions}; a bad value throws a `FlatminConfigError` naming the key.
 * @returns `(model) => tf.Scalar`, with `attach(model)`.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs';
 * import { balancedness, loraDense } from '@flatmin/lora';
 *
 * const model = tf.sequential({ layers: [loraDense({ units: 2, rank: 2, inputShape: [3], seed: 1 })] });
 * const optimizer = tf.train.sgd(0.1);
 * const bar = balancedness({ alpha: (t) => 0.01 * (1 - t / 1000), optimizer });
 * const penalty = bar(model); // α_0 (‖A‖² − 0): B starts at zero
 * ```
 */
export function balancedness(options?: BalancednessOptions): Balancedness {
  const checked = checkOptions(options, ['alpha', 'optimizer'], WHERE);
  const alpha = checked.alpha === undefined ? 0.01 : checked.alpha;
  if (typeof alpha !== 'function') checkNumber('alpha', alpha, { min: 0 }, WHERE);
  const optimizer = checked.optimizer;
  if (optimizer !== undefined && (optimizer === null || typeof (optimizer as StepCounter).iterations !== 'number')) {
    throw new FlatminConfigError('optimizer', optimizer, 'a tfjs optimizer (anything with a numeric `iterations`)', WHERE);
  }
  if (typeof alpha === 'function' && optimizer === undefined) {
    throw new FlatminConfigError('optimizer', optimizer, 'the optimizer whose `iterations` is the step t of alpha(t)', WHERE);
  }
  const alphaAt = (): number => {
    if (typeof alpha === 'number') return alpha;
    const step = optimizer!.iterations;
    return checkNumber('alpha', alpha(step), { min: 0 }, `${WHERE}: alpha(${step})`);
  };
  const term = (model: LayersLike): tf.Scalar => {
    if (!isLayersLike(model)) throw new FlatminConfigError('model', model, 'a tfjs-layers model', WHERE);
    const layers = loraLayers(model);
    const a = alphaAt();
    return tf.tidy(() => {
      if (layers.length === 0) return tf.scalar(0);
      const gaps = layers.map((layer) => tf.abs(tf.sub(tf.sum(tf.square(layer.loraA)), tf.sum(tf.square(layer.loraB)))));
      return tf.mul(gaps.length === 1 ? gaps[0]! : tf.addN(gaps), a) as tf.Scalar;
    });
  };
  const attach = (model: LayersLike): void => {
    const first = loraLayers(model)[0];
    if (first === undefined) throw new FlatminConfigError('model', model, 'a model with at least one LoRA layer', `${WHERE}(...).attach`);
    first.addLoss(() => term(model));
  };
  return Object.assign(term, { attach, config: Object.freeze({ alpha: typeof alpha === 'number' ? alpha : ('function' as const) }) });
}
