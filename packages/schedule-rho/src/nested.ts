/**
 * An inner schedule's state inside its wrapper's: every key of the inner state gets the `inner-`
 * prefix on its slot (per-variable keys `name:slot` → `name:inner-slot`, global keys `key` →
 * `inner-key`), so the optimizer still follows per-variable keys when variables are renamed.
 *
 * @module
 */
import type { ComponentState, JsonValue, Schedule } from '@flatmin/core';
import { FlatminConfigError } from '@flatmin/core';
import { lookupComponent } from '@flatmin/core/kit';

const PREFIX = 'inner-';

/** The inner schedule's state, prefixes removed (keys without the prefix are not the inner's). */
export function innerState(state: ComponentState): ComponentState {
  const out: Record<string, ComponentState[string]> = {};
  for (const [key, value] of Object.entries(state)) {
    const colon = key.lastIndexOf(':');
    const owner = colon > 0 ? key.slice(0, colon + 1) : '';
    const slot = colon > 0 ? key.slice(colon + 1) : key;
    if (slot.startsWith(PREFIX)) out[owner + slot.slice(PREFIX.length)] = value;
  }
  return out;
}

/** The inverse of {@link innerState}: the inner schedule's state with its keys prefixed. */
export function wrapState(inner: ComponentState): ComponentState {
  const out: Record<string, ComponentState[string]> = {};
  for (const [key, value] of Object.entries(inner)) {
    const colon = key.lastIndexOf(':');
    out[colon > 0 ? `${key.slice(0, colon + 1)}${PREFIX}${key.slice(colon + 1)}` : `${PREFIX}${key}`] = value;
  }
  return out;
}

/** Whether `value` is a flatmin schedule. */
export function isSchedule(value: unknown): value is Schedule {
  if (value === null || typeof value !== 'object') return false;
  const s = value as Partial<Schedule>;
  return s.kind === 'schedule' && typeof s.decide === 'function' && typeof s.name === 'string';
}

/** Rebuild a saved `{ name, config }` schedule through the component registry. */
export function rebuildSchedule(saved: JsonValue | undefined, key: string, where: string): Schedule {
  const entry = saved as { name?: unknown; config?: unknown } | undefined;
  if (entry === undefined || entry === null || typeof entry !== 'object' || typeof entry.name !== 'string') {
    throw new FlatminConfigError(key, saved, 'a saved schedule { name, config }', where);
  }
  const factory = lookupComponent('schedule', entry.name);
  if (factory === undefined) {
    throw new FlatminConfigError(key, saved, `a registered schedule: import the package that defines '${entry.name}' before fromConfig`, where);
  }
  return factory((entry.config ?? {}) as Record<string, JsonValue>) as Schedule;
}
