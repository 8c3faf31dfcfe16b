/**
 * What every preset shares: the options it takes besides the paper's keys, their check, and the
 * optimizer a preset that needs more than a plain loss closure returns.
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { FlatminConfigError, FlatminError, type Objective, type SharpnessAwareConfig, SharpnessAwareOptimizer } from '@flatmin/core';
import { checkOptions } from '@flatmin/core/kit';

/**
 * The keys every preset takes besides its paper's: the base optimizer (required) and the settings
 * of `sharpnessAware` that do not change the method (see `SharpnessAwareConfig` in `@flatmin/core`).
 *
 * @example
 * ```ts
 * const settings: PresetSettings = { base: tf.train.momentum(0.05, 0.9), seed: 42, weightDecay: 5e-4 };
 * const optimizer = sam({ ...settings, rho: 0.1 });
 * ```
 */
export type PresetSettings = Pick<
  SharpnessAwareConfig,
  | 'base'
  | 'seed'
  | 'scope'
  | 'weightDecay'
  | 'weightDecayInPerturbation'
  | 'decoupledWeightDecay'
  | 'onNonFinite'
  | 'accumulate'
  | 'telemetry'
  | 'keptInAdversarialPass'
>;

/**
 * The settings of a preset that is not itself an averager: {@link PresetSettings} plus an optional
 * `averager` (e.g. `ema()` from `@flatmin/average-ema`) kept next to the method.
 *
 * @example
 * ```ts
 * import { ema } from '@flatmin/average-ema';
 * const optimizer = lookSam({ base: tf.train.sgd(0.1), k: 5, averager: ema({ decay: 0.999 }) });
 * ```
 */
export type MethodSettings = PresetSettings & Pick<SharpnessAwareConfig, 'averager'>;

const SETTING_KEYS = [
  'base',
  'seed',
  'scope',
  'weightDecay',
  'weightDecayInPerturbation',
  'decoupledWeightDecay',
  'onNonFinite',
  'accumulate',
  'telemetry',
  'keptInAdversarialPass',
] as const;

/** The checked options of one preset call: the paper's keys and the settings for `sharpnessAware`. */
export interface Resolved<T> {
  readonly method: T;
  readonly settings: Omit<SharpnessAwareConfig, 'perturbation'>;
}

/**
 * Check a preset's options (an object with `base`; only the paper's keys and the settings; an
 * unknown key is a `FlatminConfigError` naming it) and split them.
 */
export function resolvePreset<T extends object>(
  options: unknown,
  name: string,
  methodKeys: readonly (keyof T & string)[],
  withAverager = true,
): Resolved<Partial<T>> {
  const known = [...SETTING_KEYS, ...(withAverager ? ['averager'] : []), ...methodKeys];
  if (options === undefined) throw new FlatminConfigError('base', undefined, `a tfjs optimizer, e.g. ${name}({ base: tf.train.sgd(0.1) })`, name);
  const checked = checkOptions(options as Record<string, unknown>, known, name);
  if (checked['base'] === undefined) throw new FlatminConfigError('base', undefined, `a tfjs optimizer, e.g. ${name}({ base: tf.train.sgd(0.1) })`, name);
  const method: Record<string, unknown> = {};
  const settings: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(checked)) {
    if (value === undefined) continue;
    if ((methodKeys as readonly string[]).includes(key)) method[key] = value;
    else settings[key] = value;
  }
  return { method: method as Partial<T>, settings: settings as unknown as Omit<SharpnessAwareConfig, 'perturbation'> };
}

/** `value` when given (null included: the part refuses it by name), else `fallback`. */
export function given<T>(value: T | undefined, fallback: T): T {
  return value === undefined ? fallback : value;
}

/** The keys of `source` that are defined, as an options object for a part factory. */
export function defined<T extends object>(source: T): { [K in keyof T]?: Exclude<T[K], undefined> } {
  return Object.fromEntries(Object.entries(source).filter(([, value]) => value !== undefined)) as { [K in keyof T]?: Exclude<T[K], undefined> };
}

/**
 * Run a part's factory, reporting its bad `partKey` under the preset's own name for it (ESAM's β is
 * `randomMask`'s `keep`, Flat-LoRA's σ is `filterNoise`'s `gamma`).
 */
export function asKey<T>(preset: string, presetKey: string, partKey: string, make: () => T): T {
  try {
    return make();
  } catch (error) {
    if (error instanceof FlatminConfigError && error.key === partKey) throw new FlatminConfigError(presetKey, error.value, error.expected, preset);
    throw error;
  }
}

/** What a preset that needs more than `model.fit`'s plain closure checks before and during a step. */
export interface PresetGuard {
  /** Checked at every `minimize` before the step (e.g. MESA's teacher was built). */
  readonly beforeStep?: () => void;
  /** Called with what the loss closure returned, inside the step; throws when it lacks what the method needs. */
  readonly objective?: (returned: unknown) => void;
}

/**
 * A {@link SharpnessAwareOptimizer} whose `minimize` first runs the preset's guard, so a method
 * that needs more than a plain loss closure (ImbSAM's head/tail parts, ESAM's per-sample losses,
 * MESA's teacher) fails with a `FlatminError` that names the preset and shows the custom-loop call
 * — under `model.fit` too — instead of a message about one of its parts. The step is the core's:
 * the class adds no state, and `getClassName()`, `getConfig()` and `model.save` are the
 * `SharpnessAwareOptimizer`'s (a saved model loads back as a plain `SharpnessAwareOptimizer`).
 *
 * @internal
 */
export class GuardedOptimizer extends SharpnessAwareOptimizer {
  readonly #guard: PresetGuard;

  constructor(config: SharpnessAwareConfig, guard: PresetGuard) {
    super(config);
    this.#guard = guard;
  }

  override minimize(f: Objective, returnCost = false, varList?: tf.Variable[]): tf.Scalar | null {
    this.#guard.beforeStep?.();
    const check = this.#guard.objective;
    if (check === undefined || typeof f !== 'function') return super.minimize(f, returnCost, varList);
    const checked = (() => {
      const out = f();
      check(out);
      return out;
    }) as Objective;
    return super.minimize(checked, returnCost, varList);
  }
}

/** A guard that refuses a plain scalar from the loss closure (what `model.fit` passes). */
export function needsObjective(preset: string, what: string, call: string): PresetGuard {
  return {
    objective: (returned) => {
      if (returned instanceof tf.Tensor) {
        throw new FlatminError(
          `${preset} needs ${what}, but the loss closure returned a plain scalar (model.fit always passes one). Call it from a custom loop: ${call}.`,
        );
      }
    },
  };
}
