/**
 * ImbSAM (Zhou et al., ICCV 2023): SAM on the tail classes only.
 *
 * @module
 */
import type { SharpnessAwareOptimizer } from '@flatmin/core';
import { gradient } from '@flatmin/perturb-gradient';
import { defined, GuardedOptimizer, type MethodSettings, needsObjective, resolvePreset } from './preset.js';

/** The paper keys of {@link imbSam}. */
export interface ImbSamKeys {
  /** SAM's radius ρ for the tail part (default 0.05). */
  rho?: number;
}

/** Options of {@link imbSam}: `rho` (0.05), and the settings. */
export type ImbSamOptions = MethodSettings & ImbSamKeys;

/**
 * ImbSAM — Zhou, Qu, Xu & Shen, "ImbSAM: A Closer Look at Sharpness-Aware Minimization in
 * Class-Imbalanced Recognition", ICCV 2023: the update ∇L_head(w) + ∇L_tail(w + ε_tail), ε_tail
 * from ∇L_tail alone. `sharpnessAware({ base, perturbation: gradient({ rho }), sharpOn: 'tail' })`
 * with the loss closure returning `classSplit(perSampleLoss, labels, { tail })` from
 * `@flatmin/core`. Default ρ = 0.05. Three passes per step (tail clean, tail adversarial, head).
 *
 * It needs the loss split in head and tail parts, which `model.fit`'s closure cannot give: under
 * `model.fit` the step throws a `FlatminError` naming `imbSam` with the custom-loop call.
 *
 * @example
 * ```ts
 * import { classSplit } from '@flatmin/core';
 * const optimizer = imbSam({ base: tf.train.sgd(0.1), rho: 0.05 });
 * optimizer.minimize(() => {
 *   const perSample = tf.losses.softmaxCrossEntropy(tf.oneHot(labels, 3), model.apply(x), undefined, undefined, tf.Reduction.NONE);
 *   return classSplit(perSample, labels, { tail: [2] });
 * });
 * ```
 */
export function imbSam(options: ImbSamOptions): SharpnessAwareOptimizer {
  const { method, settings } = resolvePreset<ImbSamKeys>(options, 'imbSam', ['rho']);
  return new GuardedOptimizer(
    { ...settings, perturbation: gradient(defined(method)), sharpOn: 'tail' },
    needsObjective(
      'imbSam (ImbSAM, Zhou et al., ICCV 2023)',
      "the loss split in 'head' and 'tail' parts",
      'optimizer.minimize(() => classSplit(lossPerExample(model.apply(x), y), labels, { tail }))',
    ),
  );
}
