/**
 * The default schedule: every step is sharp, with the perturbation's own ρ.
 *
 * @module
 */
import { checkOptions } from './errors.js';
import { registerComponent } from './registry.js';
import type { Schedule } from './types.js';

/**
 * Every step takes the sharp two-pass step with the perturbation's `rho`: plain SAM's
 * schedule, and `sharpnessAware`'s default. Other schedules live in their own packages
 * (`everyK` for LookSAM, `randomly` for RST, `adaptivePolicy` for AE-SAM, `rhoSchedule`).
 *
 * @example
 * ```ts
 * const optimizer = sharpnessAware({ base: tf.train.sgd(0.1), perturbation: gradient(), schedule: always() });
 * ```
 */
export function always(options?: Record<string, never>): Schedule {
  checkOptions(options, [], 'always');
  return {
    kind: 'schedule',
    name: 'always',
    config: {},
    decide: () => ({ decision: { sharp: true } }),
  };
}

registerComponent('schedule', 'always', () => always());
