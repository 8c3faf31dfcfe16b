/**
 * `sparse(inner, mask)`: any gradient-based perturbation, restricted to the coordinates a mask
 * keeps (SSAM of Mi et al., NeurIPS 2022; ESAM's random weight perturbation, Du et al., ICLR 2022).
 *
 * @module
 */
import type * as tf from '@tensorflow/tfjs-core';
import {
  type ComponentState,
  FlatminConfigError,
  FlatminError,
  type JsonValue,
  type NamedTensors,
  type ObserveContext,
  type Perturbation,
  type PerturbationContext,
} from '@flatmin/core';
import { checkChoice, checkOptions, elementwise, globalNorm, lookupComponent, pickNamed, registerComponent } from '@flatmin/core/kit';
import { isMask, lookupMask, type Mask, type MaskSelection } from './mask.js';

/**
 * Options of {@link sparse}.
 *
 * @example
 * ```ts
 * const options: SparseOptions = { normalize: 'full' }; // the official SSAM code's normalization
 * ```
 */
export interface SparseOptions {
  /**
   * Which gradient the inner perturbation normalizes (default `'masked'`):
   * - `'masked'` (the seed formula): the inner perturbation sees the masked gradient m⊙g, so
   *   with SAM ε = ρ (m⊙g)/‖m⊙g‖ — the full radius goes to the kept coordinates.
   * - `'full'` (the official SSAM code): the inner perturbation sees g and its ε is masked,
   *   ε = m⊙ρ g/‖g‖, i.e. ρ (m⊙g)/‖g‖ for SAM (‖ε‖ ≤ ρ).
   */
  normalize?: 'masked' | 'full';
}

const WHERE = 'sparse';
const KEYS = ['normalize'] as const;
const NORMALIZE = ['masked', 'full'] as const;
const INNER = 'inner-';
const MASK = 'mask-';

/**
 * A sparse perturbation: the inner perturbation's ε restricted to the coordinates the mask keeps
 * (Mi, Shen, Ren, Zhou, Sun, Ji & Tao, "Make Sharpness-Aware Minimization Stronger: A Sparsified
 * Perturbation Approach", NeurIPS 2022 — SSAM; Du, Yan, Feng, Zhou, Zhen, Goh & Tan, "Efficient
 * Sharpness-aware Minimization for Improved Training of Neural Networks", ICLR 2022 — ESAM's
 * stochastic weight perturbation).
 *
 * Each sharp step the mask gives m (per element, or per variable), then
 * - `normalize: 'masked'` (default, the seed formula): the inner perturbation sees m⊙g (its
 *   `context.grads` and `context.gradNorm()` are of the masked gradient), so with SAM
 *   ε = ρ (m⊙g)/‖m⊙g‖;
 * - `normalize: 'full'` (the official SSAM code): the inner perturbation sees g, and its ε is
 *   masked: ε = m⊙ρ g/‖g‖.
 * In both modes ε is masked on the way out (a coordinate the mask drops is never perturbed, also
 * when the inner perturbation is not linear in g) and multiplied by the mask's scale (ESAM's 1/β).
 * With `'masked'` and an inner perturbation that declares `vanishesWithGradient` (SAM for any p,
 * ASAM, Fisher SAM: ε_i = 0 where the g_i it is given is 0) ε is already 0 off the mask, so the
 * second multiply is skipped and the inner ‖ε‖ is kept for the telemetry (no extra reduction).
 *
 * State, `observe`, ρ and serialization are delegated: the state holds the inner perturbation's
 * state (slots prefixed `inner-`) and the mask's (prefixed `mask-`), so `getWeights` saves both;
 * `config` is `{ inner: { name, config }, mask: { name, config }, normalize }`, and the factory is
 * registered as `('perturbation', 'sparse')` so `fromConfig` rebuilds the composite (the inner
 * perturbation's package must be imported, as for any component).
 *
 * @param inner the perturbation to sparsify, e.g. `gradient({ rho })` from `@flatmin/perturb-gradient`.
 * @param mask {@link fisherMask}, {@link dynamicMask}, {@link randomMask} or your own {@link Mask}.
 * @param options see {@link SparseOptions}.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs';
 * import { sharpnessAware } from '@flatmin/core';
 * import { gradient } from '@flatmin/perturb-gradient';
 * import { dynamicMask, fisherMask, randomMask, sparse } from '@flatmin/perturb-sparse';
 *
 * const ssamF = sharpnessAware({ base: tf.train.sgd(0.1), perturbation: sparse(gradient({ rho: 0.1 }), fisherMask({ sparsity: 0.5 })) });
 * const ssamD = sharpnessAware({ base: tf.train.sgd(0.1), perturbation: sparse(gradient({ rho: 0.1 }), dynamicMask({ totalSteps: 1000 })) });
 * const esam = sharpnessAware({ base: tf.train.sgd(0.1), perturbation: sparse(gradient({ rho: 0.05 }), randomMask({ keep: 0.5 })), seed: 1 });
 * ```
 */
export function sparse(inner: Perturbation, mask: Mask, options?: SparseOptions): Perturbation {
  const { normalize: given } = checkOptions(options, KEYS, WHERE);
  const normalize = given === undefined ? 'masked' : checkChoice('normalize', given, NORMALIZE, WHERE);
  if (!isPerturbation(inner)) {
    throw new FlatminConfigError('inner', inner, "a flatmin perturbation (e.g. gradient({ rho }) from '@flatmin/perturb-gradient')", WHERE);
  }
  if (!isMask(mask)) throw new FlatminConfigError('mask', mask, 'a mask: fisherMask(), dynamicMask() or randomMask()', WHERE);
  const config = Object.freeze({
    inner: { name: inner.name, config: inner.config as Record<string, JsonValue> },
    mask: { name: mask.name, config: mask.config as Record<string, JsonValue> },
    normalize,
  });
  const needsGradient = inner.needsGradient || mask.needsGradient;

  const perturbation: Perturbation = {
    kind: 'perturbation',
    name: 'sparse',
    config,
    rho: inner.rho,
    needsGradient,
    ...(inner.requires === undefined ? {} : { requires: inner.requires }),
    ...(inner.weighSamples === undefined ? {} : { weighSamples: inner.weighSamples.bind(inner) }),
    compute(context: PerturbationContext, state: ComponentState): { epsilon: NamedTensors; state?: ComponentState } {
      if (mask.needsGradient && context.grads === null) {
        throw new FlatminError(`sparse: the mask '${mask.name}' needs the clean gradient, but no clean pass was made (context.grads is null).`);
      }
      const parts = splitState(state);
      const grads = context.grads === null ? null : pickNamed(context.grads, context.variables);
      const selection = mask.select(
        {
          step: context.step,
          random: context.random,
          normEpsilon: context.normEpsilon,
          learningRate: context.learningRate,
          variables: context.variables,
          grads,
          objective: context.objective,
          gradientOf: context.gradientOf,
        },
        parts.mask,
      );
      let innerContext = context;
      if (normalize === 'masked' && grads !== null) {
        const maskedGrads = applyMask(grads, selection.masks, 1);
        let norm: tf.Scalar | null = null;
        innerContext = { ...context, grads: maskedGrads, gradNorm: () => (norm ??= globalNorm(maskedGrads)) };
      }
      const result = inner.compute(innerContext, parts.inner);
      const scale = selection.scale ?? 1;
      // An inner ε that vanishes with its gradient is already 0 off the mask when it was given m⊙g:
      // only the dropped variables and the scale remain, and its ‖ε‖ stays known (times the scale).
      const alreadyMasked = innerContext !== context && inner.vanishesWithGradient === true;
      const epsilon = applyMask(result.epsilon, selection.masks, scale, alreadyMasked);
      const epsilonNorm =
        alreadyMasked && result.epsilonNorm !== undefined ? (scale === 1 ? result.epsilonNorm : (elementwise.mul(result.epsilonNorm, scale) as tf.Scalar)) : undefined;
      const nextState = result.state === undefined && selection.state === undefined ? undefined : joinState(result.state ?? parts.inner, selection.state ?? parts.mask);
      return { epsilon, ...(epsilonNorm === undefined ? {} : { epsilonNorm }), ...(nextState === undefined ? {} : { state: nextState }) };
    },
  };
  const observeInner = inner.observe?.bind(inner);
  if (observeInner === undefined) return perturbation;
  return {
    ...perturbation,
    observe(context: ObserveContext, state: ComponentState): ComponentState {
      const parts = splitState(state);
      return joinState(observeInner(context, parts.inner), parts.mask);
    },
  };
}

/**
 * Keep what the masks keep: drop `false` entries, multiply by element masks (unless the tensors are
 * already 0 off them: `zeroOffMask`), then by `scale`.
 */
function applyMask(tensors: NamedTensors, masks: MaskSelection['masks'], scale: number, zeroOffMask = false): NamedTensors {
  const out: NamedTensors = {};
  for (const [name, t] of Object.entries(tensors)) {
    const m = masks[name];
    if (m === false) continue;
    const kept = m === undefined || m === true || zeroOffMask ? t : elementwise.mul(t, m);
    out[name] = scale === 1 ? kept : elementwise.mul(kept, scale);
  }
  return out;
}

/** `sparse`'s state split into the inner perturbation's and the mask's (prefixes removed). */
function splitState(state: ComponentState): { inner: ComponentState; mask: ComponentState } {
  const inner: Record<string, tf.Tensor | number> = {};
  const mask: Record<string, tf.Tensor | number> = {};
  for (const [key, value] of Object.entries(state)) {
    const colon = key.lastIndexOf(':');
    const owner = colon > 0 ? key.slice(0, colon + 1) : '';
    const slot = colon > 0 ? key.slice(colon + 1) : key;
    if (slot.startsWith(INNER)) inner[owner + slot.slice(INNER.length)] = value;
    else if (slot.startsWith(MASK)) mask[owner + slot.slice(MASK.length)] = value;
  }
  return { inner, mask };
}

/** The inverse of {@link splitState}: per-variable slots and global keys get their owner's prefix. */
function joinState(inner: ComponentState, mask: ComponentState): ComponentState {
  const out: Record<string, tf.Tensor | number> = {};
  const add = (part: ComponentState, prefix: string) => {
    for (const [key, value] of Object.entries(part)) {
      const colon = key.lastIndexOf(':');
      out[colon > 0 ? `${key.slice(0, colon + 1)}${prefix}${key.slice(colon + 1)}` : `${prefix}${key}`] = value;
    }
  };
  add(inner, INNER);
  add(mask, MASK);
  return out;
}

function isPerturbation(value: unknown): value is Perturbation {
  if (value === null || typeof value !== 'object') return false;
  const p = value as Partial<Perturbation>;
  return p.kind === 'perturbation' && typeof p.compute === 'function' && typeof p.name === 'string';
}

/** Rebuild `sparse` from its config (what `fromConfig` calls). */
function fromConfig(config: Record<string, JsonValue>): Perturbation {
  const { inner, mask, ...options } = config;
  const innerPart = namedPart(inner, 'inner');
  const maskPart = namedPart(mask, 'mask');
  const innerFactory = lookupComponent('perturbation', innerPart.name);
  if (innerFactory === undefined) {
    throw new FlatminConfigError('inner', inner, `a registered perturbation: import the package that defines '${innerPart.name}' before fromConfig`, WHERE);
  }
  const maskFactory = lookupMask(maskPart.name);
  if (maskFactory === undefined) {
    throw new FlatminConfigError('mask', mask, `a registered mask (fisherMask, dynamicMask, randomMask, or one passed to registerMask)`, WHERE);
  }
  return sparse(innerFactory(innerPart.config) as Perturbation, maskFactory(maskPart.config), options as SparseOptions);
}

function namedPart(value: JsonValue | undefined, key: string): { name: string; config: Record<string, JsonValue> } {
  const part = value as { name?: unknown; config?: unknown } | null | undefined;
  if (part === null || typeof part !== 'object' || typeof part.name !== 'string' || part.config === null || typeof part.config !== 'object') {
    throw new FlatminConfigError(key, value, '{ name, config } of a component', WHERE);
  }
  return { name: part.name, config: part.config as Record<string, JsonValue> };
}

registerComponent('perturbation', 'sparse', fromConfig);
