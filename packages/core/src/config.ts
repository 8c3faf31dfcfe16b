/**
 * The configuration of `sharpnessAware`, checked once when the optimizer is built.
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { adversarial } from './combiners.js';
import { checkChoice, checkKnownKeys, checkNumber, FlatminConfigError } from './errors.js';
import type { ComponentKind } from './registry.js';
import { always } from './schedule.js';
import type { Averager, Combiner, Perturbation, Schedule } from './types.js';
import { checkScope, type Scope } from './variables.js';

/** What to do with a non-finite loss or gradient (see {@link SharpnessAwareConfig.onNonFinite}). */
export type NonFinitePolicy = 'skip' | 'throw' | 'ignore';

/** Gradient accumulation over micro-batches (see {@link SharpnessAwareConfig.accumulate}). */
export interface AccumulateOptions {
  /** Micro-batches per update, N ≥ 1. */
  steps: number;
  /**
   * Where the adversarial gradient is taken. ε always comes from the mean clean gradient ḡ of the
   * N micro-batches (N + 1 passes per update, 2N with `'all'`).
   * - `'last'` (default): on the last micro-batch, and every micro-batch reaches the update: the
   *   adversarial gradient is estimated as ḡ + (∇L_N(w + ε) − ∇L_N(w)). With ρ = 0 this is plain
   *   gradient accumulation.
   * - `'lastOnly'`: the seeds' data-parallel variant: the update is the last micro-batch's
   *   adversarial gradient alone; the other micro-batches only shape ε. Same cost as `'last'`.
   * - `'all'`: on every micro-batch at w + ε, averaged (exact, 2N passes). It needs every
   *   micro-batch at once, so it works only through `minimizeMicroBatches`.
   */
  adversarial?: 'last' | 'lastOnly' | 'all';
}

/** The configuration of `sharpnessAware`. */
export interface SharpnessAwareConfig {
  /** Any tfjs optimizer: it does the actual update with the final gradient. */
  base: tf.Optimizer;
  /** Where to look for the worst case: builds ε (e.g. `gradient({ rho: 0.05 })` for SAM). */
  perturbation: Perturbation;
  /** When to pay for the second pass, and with which ρ. Default `always()`. */
  schedule?: Schedule;
  /** How g and g_adv make the update. Default `adversarial()` (SAM). */
  combiner?: Combiner;
  /** Which weights to keep (SWA, EMA, ...): updated after every step. */
  averager?: Averager;
  /** Which variables are perturbed. Default `'trainable'` (see {@link Scope}). */
  scope?: Scope;
  /**
   * L2 regularization λ ≥ 0: λw is added to the update direction once per update (default 0).
   * With Adam this is not AdamW: use {@link decoupledWeightDecay} for that.
   */
  weightDecay?: number;
  /** Also add `weightDecay`'s λw to the gradient the perturbation sees (the PyTorch ports' behaviour). Default false. */
  weightDecayInPerturbation?: boolean;
  /**
   * Decoupled weight decay λ ≥ 0 (AdamW, SGDW: Loshchilov & Hutter, ICLR 2019): w ← w − ηλw before
   * the base optimizer's update, η the base optimizer's learning rate at that step (default 0).
   */
  decoupledWeightDecay?: number;
  /**
   * Names of loss parts (returned by the closure as `{ parts }`) that get the sharpness-aware
   * gradient; the other parts take their clean gradient (ImbSAM with `classSplit`). Needs a custom
   * loop (`model.fit` passes a plain loss). Default: the whole loss.
   */
  sharpOn?: string | string[];
  /** Seed of the one generator every random draw comes from, an integer in [0, 2³²). Default: drawn once from `Math.random()` (see `getConfig().seed`). */
  seed?: number;
  /**
   * A non-finite loss or update direction:
   * - `'skip'` (default): decided on the device with no host read — the weights, the base
   *   optimizer's slots and every component's tensor state keep their old values exactly, and the
   *   step is counted in `telemetry().skippedSteps` (with telemetry on, the check reuses the
   *   telemetry's Σg², so a gradient with |g| above ~1e19, whose square overflows float32, counts
   *   as non-finite too; with `telemetry: false` it sums the elements);
   * - `'throw'`: reads one scalar per step and throws a `FlatminError` before any update;
   * - `'ignore'`: tfjs' own behaviour (NaN flows into the weights).
   */
  onNonFinite?: NonFinitePolicy;
  /** Gradient accumulation: a number N or `{ steps: N, adversarial }`. Default 1 (none). */
  accumulate?: number | AccumulateOptions;
  /** Compute the per-step telemetry scalars on the device (a few reductions per step). Default true. */
  telemetry?: boolean;
  /**
   * The adversarial pass calls the loss closure a second time. `'dispose'` (default) undoes what that
   * call did besides returning the loss: variables it wrote get their values back, tensors it kept
   * and pushed into arrays (tfjs-layers' metrics) are dropped, other kept tensors (a stateful RNN's
   * carried state) take the clean call's values. `'keep'` leaves the second call's kept tensors and
   * array pushes as they are, for a custom-loop closure that manages what it keeps itself. Not for
   * tfjs-layers: its `trainOnBatch` then returns the metrics of both calls, and `fit`/`fitDataset`
   * leak the second call's metrics (they dispose only the first). Variables are restored either way.
   */
  keptInAdversarialPass?: 'dispose' | 'keep';
}

/** The checked configuration. */
export interface Settings {
  /** See {@link SharpnessAwareConfig.scope}. */
  readonly scope: Scope;
  /** See {@link SharpnessAwareConfig.weightDecay}. */
  readonly weightDecay: number;
  /** See {@link SharpnessAwareConfig.weightDecayInPerturbation}. */
  readonly weightDecayInPerturbation: boolean;
  /** See {@link SharpnessAwareConfig.decoupledWeightDecay}. */
  readonly decoupledWeightDecay: number;
  /** See {@link SharpnessAwareConfig.sharpOn}; `null` for the whole loss. */
  readonly sharpOn: readonly string[] | null;
  /** See {@link SharpnessAwareConfig.seed}: the seed given or the one drawn. */
  readonly seed: number;
  /** See {@link SharpnessAwareConfig.onNonFinite}. */
  readonly onNonFinite: NonFinitePolicy;
  /** See {@link SharpnessAwareConfig.accumulate}, always in its object form. */
  readonly accumulate: {
    /** Micro-batches per update. */
    readonly steps: number;
    /** Where the adversarial gradient is taken (see {@link AccumulateOptions.adversarial}). */
    readonly adversarial: 'last' | 'lastOnly' | 'all';
  };
  /** See {@link SharpnessAwareConfig.telemetry}. */
  readonly telemetry: boolean;
  /** See {@link SharpnessAwareConfig.keptInAdversarialPass}. */
  readonly keptInAdversarialPass: 'dispose' | 'keep';
}

/** The components, checked for shape. */
export interface Components {
  readonly perturbation: Perturbation;
  readonly schedule: Schedule;
  readonly combiner: Combiner;
  readonly averager: Averager | undefined;
}

export const CONFIG_KEYS = [
  'base',
  'perturbation',
  'schedule',
  'combiner',
  'averager',
  'scope',
  'weightDecay',
  'weightDecayInPerturbation',
  'decoupledWeightDecay',
  'sharpOn',
  'seed',
  'onNonFinite',
  'accumulate',
  'telemetry',
  'keptInAdversarialPass',
] as const;

const WHERE = 'sharpnessAware';

/** Check a config and resolve its defaults; throws a FlatminConfigError naming the first bad key. */
export function resolveConfig(config: SharpnessAwareConfig): { base: tf.Optimizer; components: Components; settings: Settings } {
  if (config == null || typeof config !== 'object' || Array.isArray(config)) {
    throw new FlatminConfigError('config', config, 'an object with at least { base, perturbation }', WHERE);
  }
  checkKnownKeys(config, CONFIG_KEYS, WHERE);
  const base = checkBase(config.base);
  const components: Components = {
    perturbation: checkComponent('perturbation', config.perturbation, 'gradient({ rho: 0.05 }) from @flatmin/perturb-gradient', ['compute']),
    schedule: checkComponent('schedule', given(config.schedule, always()), 'always() or a schedule package factory', ['decide']),
    combiner: checkComponent('combiner', given(config.combiner, adversarial()), 'adversarial(), mix() or surrogateGap()', ['combine']),
    averager: config.averager === undefined ? undefined : checkComponent('averager', config.averager, 'an averager such as ema()', ['update', 'averaged']),
  };
  const accumulate = typeof config.accumulate === 'number' || config.accumulate === undefined ? { steps: given(config.accumulate, 1) } : config.accumulate;
  if (typeof accumulate !== 'object' || accumulate === null) {
    throw new FlatminConfigError('accumulate', config.accumulate, 'a whole number >= 1 or { steps, adversarial }', WHERE);
  }
  checkKnownKeys(accumulate, ['steps', 'adversarial'], `${WHERE} accumulate`);
  const sharpOn = config.sharpOn === undefined ? null : checkParts(config.sharpOn);
  const settings: Settings = {
    scope: checkScope(given(config.scope, 'trainable')),
    weightDecay: checkNumber('weightDecay', given(config.weightDecay, 0), { min: 0 }, WHERE),
    weightDecayInPerturbation: checkBoolean('weightDecayInPerturbation', given(config.weightDecayInPerturbation, false)),
    decoupledWeightDecay: checkNumber('decoupledWeightDecay', given(config.decoupledWeightDecay, 0), { min: 0 }, WHERE),
    sharpOn,
    seed: checkNumber('seed', given(config.seed, Math.floor(Math.random() * 2 ** 32)), { integer: true, min: 0, max: 2 ** 32, maxExclusive: true }, WHERE),
    onNonFinite: checkChoice('onNonFinite', given(config.onNonFinite, 'skip'), ['skip', 'throw', 'ignore'], WHERE),
    accumulate: {
      steps: checkNumber('accumulate.steps', accumulate.steps, { integer: true, min: 1 }, WHERE),
      adversarial: checkChoice('accumulate.adversarial', given(accumulate.adversarial, 'last'), ['last', 'lastOnly', 'all'], WHERE),
    },
    telemetry: checkBoolean('telemetry', given(config.telemetry, true)),
    keptInAdversarialPass: checkChoice('keptInAdversarialPass', given(config.keptInAdversarialPass, 'dispose'), ['dispose', 'keep'], WHERE),
  };
  if (sharpOn !== null && settings.accumulate.steps > 1) {
    throw new FlatminConfigError('sharpOn', config.sharpOn, 'no sharpOn together with accumulate > 1 (not supported)', WHERE);
  }
  return { base, components, settings };
}

function checkComponent<T extends { kind: string }>(kind: ComponentKind, value: T | undefined, example: string, methods: readonly string[]): T {
  if (value == null || typeof value !== 'object' || value.kind !== kind) {
    throw new FlatminConfigError(kind, value, `a ${kind} component, e.g. ${example}`, WHERE);
  }
  const record = value as unknown as Record<string, unknown>;
  for (const method of methods) {
    if (typeof record[method] !== 'function') throw new FlatminConfigError(`${kind}.${method}`, record[method], 'a function', WHERE);
  }
  if (typeof record['name'] !== 'string') throw new FlatminConfigError(`${kind}.name`, record['name'], 'the factory name, a string', WHERE);
  if (kind === 'perturbation') {
    checkNumber('perturbation.rho', record['rho'], { min: 0 }, WHERE);
    checkBoolean('perturbation.needsGradient', record['needsGradient']);
  }
  if (kind === 'combiner') checkBoolean('combiner.needsGradient', record['needsGradient']);
  return value;
}

function checkParts(value: unknown): string[] {
  const parts = typeof value === 'string' ? [value] : value;
  if (!Array.isArray(parts) || parts.length === 0 || !parts.every((p) => typeof p === 'string' && p.length > 0)) {
    throw new FlatminConfigError('sharpOn', value, 'a part name or a non-empty list of part names', WHERE);
  }
  return [...new Set(parts as string[])];
}

function checkBoolean(key: string, value: unknown): boolean {
  if (typeof value !== 'boolean') throw new FlatminConfigError(key, value, 'true or false', WHERE);
  return value;
}

const TWO_COPIES =
  'this app loads two copies of @tensorflow/tfjs-core (the optimizer comes from one, @flatmin/core uses the other). ' +
  'Run `npm ls @tensorflow/tfjs-core` to see them, then keep one: `npm dedupe` (or `pnpm dedupe`), the same version range everywhere, ' +
  'or an `overrides` (npm) / `pnpm.overrides` / `resolutions` (yarn) entry; bundlers: alias @tensorflow/tfjs-core to one path';

let warnedTwoCopies = false;

/**
 * `base` must be a tfjs optimizer. One made by another copy of tfjs-core is refused when it lacks
 * what the step calls (an older or newer copy) with a message that says so and how to dedupe, and
 * accepted with a one-time warning when it has it (two copies of the same version share one engine).
 */
function checkBase(base: unknown): tf.Optimizer {
  if (base === undefined) {
    throw new FlatminConfigError('base', base, 'a tfjs optimizer such as tf.train.sgd(0.1): the config has no base', WHERE);
  }
  const object = base !== null && typeof base === 'object';
  const foreign = object && !(base instanceof tf.Optimizer && Object.prototype.isPrototypeOf.call(tf.Optimizer.prototype, base)) && looksLikeOptimizer(base);
  if (!object || !(base instanceof tf.Optimizer)) {
    const expected = foreign
      ? `a tfjs optimizer from the same @tensorflow/tfjs-core as @flatmin/core: it is a ${constructorName(base)} from another copy; ${TWO_COPIES}`
      : 'a tfjs optimizer such as tf.train.sgd(0.1)';
    throw new FlatminConfigError('base', base, expected, WHERE);
  }
  if (foreign && !warnedTwoCopies) {
    warnedTwoCopies = true;
    console.warn(`flatmin: sharpnessAware's base is a ${constructorName(base)} from another copy of tfjs-core; ${TWO_COPIES}.`);
  }
  return base;
}

/** Whether `value` looks like an optimizer of some tfjs-core copy (its class name, or its own getClassName/applyGradients). */
function looksLikeOptimizer(value: object): boolean {
  const candidate = value as { applyGradients?: unknown; getClassName?: unknown };
  return /Optimizer$/.test(constructorName(value)) || (typeof candidate.applyGradients === 'function' && typeof candidate.getClassName === 'function');
}

function constructorName(value: object): string {
  const name = (value as { constructor?: { name?: unknown } }).constructor?.name;
  return typeof name === 'string' ? name : 'object';
}

/** A config value, or its default when the key is absent (`undefined`); `null` is a value, refused by the key's check. */
function given<T>(value: T | undefined, fallback: T): T {
  return value === undefined ? fallback : value;
}
