/**
 * ESAM's sharpness-sensitive data selection: the adversarial gradient over the samples whose loss
 * rises most under ε.
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { FlatminConfigError, type JsonValue, type Perturbation, type WeighSamplesContext } from '@flatmin/core';
import { checkNumber, checkOptions, lookupComponent, registerComponent } from '@flatmin/core/kit';

/**
 * Options of {@link dataSelection}.
 *
 * @example
 * ```ts
 * const options: DataSelectionOptions = { gamma: 0.5 };
 * ```
 */
export interface DataSelectionOptions {
  /** γ ∈ (0, 1], the fraction of the batch the adversarial gradient is taken over (default 0.5); 1 keeps every sample: exactly the inner perturbation. */
  gamma?: number;
}

const WHERE = 'dataSelection';
const KEYS = ['gamma'] as const;

/**
 * ESAM's sharpness-sensitive data selection (Du, Yan, Feng, Zhou, Zhen, Goh & Tan, "Efficient
 * Sharpness-aware Minimization for Improved Training of Neural Networks", ICLR 2022): ε as `inner`
 * builds it, then the adversarial gradient over the ⌈γ·n⌉ samples (at least one) of the batch
 * whose loss rises most under ε, ℓₙ(w + ε) − ℓₙ(w): g_adv = ∇ (1/|S|) Σ_{n∈S} ℓₙ(w + ε). The
 * per-sample losses at w + ε come from the adversarial pass's own forward pass, so the selection
 * costs no extra pass; it runs on the device (`tf.topk`), with no host read. ESAM is
 * `dataSelection(sparse(gradient({ rho }), randomMask({ keep: β })), { gamma })`.
 *
 * It needs the per-sample losses: call it from a custom loop whose closure returns
 * `{ loss, perSample }` (under `model.fit` the step throws a `FlatminError` naming it). The clean
 * pass always runs (the rise needs ℓₙ(w)). The official code (dydjw9/Efficient_SAM) keeps the
 * samples whose rise is at least the ⌊γ·n⌋-th largest (one more than ⌈γ·n⌉ when γ·n is whole,
 * and every tie); here exactly ⌈γ·n⌉, ties by lower index.
 *
 * State, ρ, `observe` and `requires` come from `inner` (plus `perSample`); `config` is
 * `{ inner: { name, config }, gamma }`, registered for `fromConfig`.
 *
 * @param inner the perturbation that builds ε, e.g. `gradient({ rho })` or a `sparse(...)` one.
 * @param options see {@link DataSelectionOptions}; a bad value throws a `FlatminConfigError` naming the key.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs';
 * import { sharpnessAware } from '@flatmin/core';
 * import { gradient } from '@flatmin/perturb-gradient';
 * import { dataSelection, randomMask, sparse } from '@flatmin/perturb-sparse';
 *
 * const esam = sharpnessAware({
 *   base: tf.train.momentum(0.05, 0.9),
 *   perturbation: dataSelection(sparse(gradient({ rho: 0.05 }), randomMask({ keep: 0.6 })), { gamma: 0.5 }),
 *   seed: 1,
 * });
 * ```
 */
export function dataSelection(inner: Perturbation, options?: DataSelectionOptions): Perturbation {
  const { gamma: given } = checkOptions(options, KEYS, WHERE);
  const gamma = checkNumber('gamma', given === undefined ? 0.5 : given, { min: 0, minExclusive: true, max: 1 }, WHERE);
  if (inner === null || typeof inner !== 'object' || inner.kind !== 'perturbation' || typeof inner.compute !== 'function') {
    throw new FlatminConfigError('inner', inner, "a flatmin perturbation (e.g. gradient({ rho }) from '@flatmin/perturb-gradient')", WHERE);
  }
  const requires = [...new Set([...(inner.requires ?? []), 'perSample' as const])];
  const perturbation: Perturbation = {
    kind: 'perturbation',
    name: WHERE,
    config: Object.freeze({ inner: { name: inner.name, config: inner.config as Record<string, JsonValue> }, gamma }),
    rho: inner.rho,
    needsGradient: true,
    requires,
    compute: (context, state) => inner.compute(context, state),
    weighSamples: (context: WeighSamplesContext) => selectRising(context, gamma),
  };
  const observe = inner.observe?.bind(inner);
  return observe === undefined ? perturbation : { ...perturbation, observe };
}

/** 1 for the ⌈γ·n⌉ samples with the largest ℓₙ(w + ε) − ℓₙ(w), 0 for the others. */
function selectRising({ perSample, cleanPerSample }: WeighSamplesContext, gamma: number): tf.Tensor1D {
  const n = perSample.shape[0];
  const keep = Math.max(1, Math.ceil(gamma * n - 1e-9));
  if (keep >= n || cleanPerSample === null) return tf.onesLike(perSample);
  const { indices } = tf.topk(tf.sub(perSample, cleanPerSample), keep);
  return tf.sum(tf.oneHot(indices, n), 0) as tf.Tensor1D;
}

registerComponent('perturbation', WHERE, (config) => {
  const { inner, ...options } = config as { inner?: { name?: unknown; config?: unknown } } & Record<string, JsonValue>;
  const factory = typeof inner?.name === 'string' ? lookupComponent('perturbation', inner.name) : undefined;
  if (factory === undefined || inner?.config === null || typeof inner?.config !== 'object') {
    throw new FlatminConfigError('inner', inner as JsonValue, 'a registered perturbation { name, config }: import its package before fromConfig', WHERE);
  }
  return dataSelection(factory(inner.config as Record<string, JsonValue>) as Perturbation, options as DataSelectionOptions);
});
