/**
 * Option checks shared by the noise factories (each error names the key and the factory).
 *
 * @module
 */
import { checkChoice, checkNumber } from '@flatmin/core/kit';
import { NOISE_SCALES, type NoiseScale } from './scale.js';

/** σ: absent → `fallback`, otherwise a finite number ≥ 0 (null refused). */
export function resolveSigma(value: unknown, where: string, fallback = 0.01): number {
  return checkNumber('sigma', value === undefined ? fallback : value, { min: 0 }, where);
}

/** The scale: absent → `'standard'`, otherwise one of {@link NOISE_SCALES}. */
export function resolveScale(value: unknown, where: string): NoiseScale {
  return value === undefined ? 'standard' : checkChoice('scale', value, NOISE_SCALES, where);
}

/** An optional whole number ≥ 1 (`totalSteps`): absent → undefined, null refused. */
export function resolveOptionalSteps(key: string, value: unknown, where: string): number | undefined {
  return value === undefined ? undefined : checkNumber(key, value, { min: 1, integer: true }, where);
}
