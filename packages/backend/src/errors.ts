/**
 * Errors thrown by `@flatmin/backend`.
 *
 * This package deliberately does not depend on `@flatmin/core` (choosing a backend must work
 * before, and without, any optimizer package), so it defines its own small error classes with
 * the same `name` and fields as core's. Test for them by `error.name`, which works across
 * packages, rather than with `instanceof` against core's class.
 *
 * @module
 */

import type { BackendAttempt } from './types.js';

/**
 * An invalid option passed to {@link useBestBackend}. It has the same `name`
 * (`'FlatminConfigError'`) and fields (`key`, `value`, `expected`) as `FlatminConfigError` from
 * `@flatmin/core`, so code that handles config errors by name handles this one too; it is a
 * separate class because this package does not depend on core.
 *
 * @example
 * ```ts
 * try {
 *   await useBestBackend({ order: ['gpu' as never] });
 * } catch (error) {
 *   if (error instanceof Error && error.name === 'FlatminConfigError') {
 *     console.log((error as BackendConfigError).key); // 'order'
 *   }
 * }
 * ```
 */
export class BackendConfigError extends Error {
  /** The option that holds the bad value, e.g. `'order'`. */
  readonly key: string;
  /** The value that was given (for `order`, the offending entry). */
  readonly value: unknown;
  /** The valid values, in words. */
  readonly expected: string;

  constructor(key: string, value: unknown, expected: string, detail?: string) {
    super(
      `useBestBackend: invalid config '${key}' = ${describeValue(value)}; expected ${expected}.` +
        (detail ? ` ${detail}` : ''),
    );
    this.name = 'FlatminConfigError';
    this.key = key;
    this.value = value;
    this.expected = expected;
  }
}

/**
 * Thrown by {@link useBestBackend} when no backend in `order` could be used. `tried` lists every
 * attempt with its reason (the same list a successful call returns); the message says the same in
 * words. The previously active backend, if there was one, is restored before this is thrown.
 *
 * @example
 * ```ts
 * try {
 *   await useBestBackend({ order: ['tensorflow'] });
 * } catch (error) {
 *   if (error instanceof NoBackendError) {
 *     for (const attempt of error.tried) console.log(attempt.module, attempt.reason);
 *   }
 * }
 * ```
 */
export class NoBackendError extends Error {
  /** Every attempt made, in order, each with `ok: false` and a reason. */
  readonly tried: readonly BackendAttempt[];

  constructor(message: string, tried: readonly BackendAttempt[]) {
    super(message);
    this.name = 'FlatminError';
    this.tried = tried;
  }
}

function describeValue(value: unknown): string {
  if (typeof value === 'function') return 'a function';
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean' || value == null) return String(value);
  try {
    return JSON.stringify(value);
  } catch {
    return String(value);
  }
}
