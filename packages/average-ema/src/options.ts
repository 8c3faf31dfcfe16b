/**
 * Option checks shared by the factories of this package.
 *
 * @module
 */
import { FlatminConfigError } from '@flatmin/core';
import { checkNumber } from '@flatmin/core/kit';

/** decay ∈ (0, 1), `fallback` when absent (null is refused). */
export function checkDecay(value: unknown, fallback: number, where: string): number {
  return checkNumber('decay', value === undefined ? fallback : value, { min: 0, max: 1, minExclusive: true, maxExclusive: true }, where);
}

/** A boolean option, `fallback` when absent (null is refused). */
export function checkBoolean(key: string, value: unknown, fallback: boolean, where: string): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') throw new FlatminConfigError(key, value, 'true or false', where);
  return value;
}
