/**
 * `--method a,b,c`: preset names from the `presets` catalog, and how the CLI builds each one for a
 * `model.fit` run (the settings a preset needs from the run, e.g. `totalSteps`).
 *
 * @module
 */

import { FlatminConfigError, type SharpnessAwareOptimizer } from '@flatmin/core';
import * as tf from '@tensorflow/tfjs-core';
import { type PresetInfo, presets } from '../catalog.js';
import { UsageError } from './io.js';

/** The presets whose schedule or noise is planned over the run: the CLI passes the run's step count. */
const PLANNED = new Set(['aeSam', 'lpfSgd', 'ssamD', 'flatLora']);

/** What each non-closure need asks of the loop, for the refusal message. */
const NEEDS: Record<string, string> = {
  perSample: 'per-sample losses ({ loss, perSample }) from a custom loop',
  parts: 'named loss parts (classSplit) from a custom loop',
  validation: 'a validation-loss closure as its `validation` option',
  validationData: "validation losses during training (fit's validationData)",
  teacher: "its EMA teacher built from the model (the averager's teach(model)) before the first step",
};

/** The presets the CLI can train with `model.fit` and a plain loss closure. */
export function runnablePresets(): PresetInfo[] {
  return Object.values(presets).filter((p) => p.needs === 'closure');
}

/**
 * The presets named by `--method` (comma-separated, case-insensitive; `sgd` is the baseline,
 * always run, and is dropped here). An unknown name, or — unless `options.anyNeeds` (`flatmin
 * bench`, which builds each preset's loop itself) — a preset that needs more than the plain
 * closure `model.fit` passes, is a {@link UsageError} naming it.
 */
export function parseMethods(command: string, text: string | undefined, fallback: readonly string[], options: { readonly anyNeeds?: boolean } = {}): PresetInfo[] {
  const names = text === undefined ? [...fallback] : text.split(',').map((name) => name.trim());
  const byLower = new Map(Object.values(presets).map((p) => [p.name.toLowerCase(), p]));
  const chosen: PresetInfo[] = [];
  for (const name of names) {
    if (name === '') throw new UsageError(`flatmin ${command}: --method has an empty name in '${text}': write names separated by commas, e.g. --method sam,lookSam`);
    if (name.toLowerCase() === 'sgd') continue;
    const preset = byLower.get(name.toLowerCase());
    if (preset === undefined) {
      throw new UsageError(`flatmin ${command}: unknown method '${name}' in --method: choose from ${Object.keys(presets).join(', ')} (flatmin list describes them)`);
    }
    if (preset.needs !== 'closure' && options.anyNeeds !== true) {
      throw new UsageError(
        `flatmin ${command}: method '${preset.name}' needs ${NEEDS[preset.needs]}, and flatmin ${command} trains with model.fit, which passes a plain loss: ` +
          `use it from your own loop (see the flatmin README), or pick one of ${runnablePresets().map((p) => p.name).join(', ')}`,
      );
    }
    if (!chosen.includes(preset)) chosen.push(preset);
  }
  return chosen;
}

/** What the CLI passes to a preset besides `base`. */
export interface RunPlan {
  /** The base optimizer (a fresh one per preset). */
  readonly base: tf.Optimizer;
  /** The preset's seed. */
  readonly seed: number;
  /** The run's planned steps (for the presets with a planned schedule). */
  readonly totalSteps: number;
  /** SAM's radius, when `--rho` was given: passed as the preset's `rho`. */
  readonly rho?: number;
  /** A validation-loss closure, passed as the preset's `validation` (the presets that need one: LETS). */
  readonly validation?: () => tf.Scalar;
}

/** The preset with the run's settings; a `--rho` the preset does not take is a {@link UsageError}. */
export function createPreset(command: string, preset: PresetInfo, plan: RunPlan): SharpnessAwareOptimizer {
  const options: Record<string, unknown> = { base: plan.base, seed: plan.seed };
  if (PLANNED.has(preset.name)) options['totalSteps'] = plan.totalSteps;
  if (plan.rho !== undefined) options['rho'] = plan.rho;
  if (plan.validation !== undefined && preset.needs === 'validation') options['validation'] = plan.validation;
  try {
    return preset.create(options as Parameters<PresetInfo['create']>[0]);
  } catch (error) {
    if (error instanceof FlatminConfigError && error.key === 'rho' && plan.rho !== undefined) {
      throw new UsageError(`flatmin ${command}: --rho does not apply to method '${preset.name}' (${error.message})`);
    }
    throw error;
  }
}

/**
 * Check at parse time that every chosen preset takes `--rho` (a throwaway optimizer each, disposed),
 * so a bad combination fails before any training.
 */
export function checkRho(command: string, chosen: readonly PresetInfo[], rho: number | undefined): void {
  if (rho === undefined) return;
  for (const preset of chosen) {
    const base = tf.train.sgd(0.1);
    createPreset(command, preset, { base, seed: 0, totalSteps: 1, rho }).dispose();
  }
}
