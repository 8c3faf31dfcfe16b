/**
 * Errors thrown by flatmin packages.
 *
 * @module
 */

/**
 * An invalid configuration value, thrown when a factory or `sharpnessAware` is called.
 * It names the key, the value it got and the valid range, so the message alone says what to fix.
 *
 * @example
 * ```ts
 * try {
 *   gradient({ rho: -1 });
 * } catch (error) {
 *   if (error instanceof FlatminConfigError) console.log(error.key); // 'rho'
 * }
 * ```
 */
export class FlatminConfigError extends Error {
  /** The config key that holds the bad value, e.g. `'rho'` or `'accumulate.steps'`. */
  readonly key: string;
  /** The value that was given. */
  readonly value: unknown;
  /** The valid range, in words, e.g. `'a finite number >= 0'`. */
  readonly expected: string;

  constructor(key: string, value: unknown, expected: string, where?: string) {
    super(`${where ? `${where}: ` : ''}invalid config '${key}' = ${describe(value)}; expected ${expected}.`);
    this.name = 'FlatminConfigError';
    this.key = key;
    this.value = value;
    this.expected = expected;
  }
}

/**
 * A runtime failure of the sharpness-aware step (no gradient registered, a non-finite step with `onNonFinite: 'throw'`, ...).
 *
 * @example
 * ```ts
 * try {
 *   sharpnessAware({ base, perturbation: dataSelection(gradient()) }).minimize(() => loss); // a plain closure
 * } catch (error) {
 *   if (error instanceof FlatminError) console.log(error.message); // names dataSelection and the call it needs
 * }
 * ```
 */
export class FlatminError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'FlatminError';
  }
}

function describe(value: unknown): string {
  if (typeof value === 'function') return 'a function';
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean' || value == null) return String(value);
  const name = (value as { constructor?: { name?: unknown } }).constructor?.name;
  if (typeof name === 'string' && name !== 'Object' && name !== 'Array' && name !== '') return `a ${name}`;
  try {
    return JSON.stringify(value);
  } catch {
    return String(value);
  }
}

/** Range descriptions for {@link checkNumber}. */
export interface NumberRange {
  /** Smallest allowed value (inclusive unless `minExclusive`). */
  min?: number;
  /** Largest allowed value (inclusive unless `maxExclusive`). */
  max?: number;
  /** Refuse `min` itself (value > min). */
  minExclusive?: boolean;
  /** Refuse `max` itself (value < max). */
  maxExclusive?: boolean;
  /** Require a whole number. */
  integer?: boolean;
  /** Allow `Infinity` (only meaningful with no `max`). */
  allowInfinity?: boolean;
}

/**
 * Validate a numeric config value and return it, or throw a {@link FlatminConfigError}
 * naming `key`, the value and the range. Component packages use it for every numeric key.
 *
 * @example
 * ```ts
 * const rho = checkNumber('rho', options.rho === undefined ? 0.05 : options.rho, { min: 0 }, 'gradient');
 * ```
 */
export function checkNumber(key: string, value: unknown, range: NumberRange = {}, where?: string): number {
  const expected = describeRange(range);
  if (typeof value !== 'number' || Number.isNaN(value)) throw new FlatminConfigError(key, value, expected, where);
  if (!Number.isFinite(value) && !(range.allowInfinity && value === Infinity)) {
    throw new FlatminConfigError(key, value, expected, where);
  }
  if (range.integer && !Number.isInteger(value)) throw new FlatminConfigError(key, value, expected, where);
  if (range.min !== undefined && (range.minExclusive ? value <= range.min : value < range.min)) {
    throw new FlatminConfigError(key, value, expected, where);
  }
  if (range.max !== undefined && (range.maxExclusive ? value >= range.max : value > range.max)) {
    throw new FlatminConfigError(key, value, expected, where);
  }
  return value;
}

/**
 * Validate that `value` is one of `choices` and return it, or throw a {@link FlatminConfigError}.
 *
 * @example
 * ```ts
 * const granularity = checkChoice('granularity', options.granularity ?? 'element', ['element', 'filter'], 'adaptive');
 * // adaptive({ granularity: 'row' }) → FlatminConfigError naming 'granularity'
 * ```
 */
export function checkChoice<T extends string>(key: string, value: unknown, choices: readonly T[], where?: string): T {
  if (typeof value !== 'string' || !(choices as readonly string[]).includes(value)) {
    throw new FlatminConfigError(key, value, `one of ${choices.map((c) => `'${c}'`).join(', ')}`, where);
  }
  return value as T;
}

/**
 * The options argument of a component factory, checked: `undefined` gives `{}`; anything that is
 * not a plain options object (a number such as `mix(0.9)`, a string, `null`, an array, a function)
 * throws a {@link FlatminConfigError} for the key `options`, showing the keys the factory takes;
 * then every key must be one of `known`. Every factory calls it first, so a positional argument is
 * never silently ignored.
 *
 * @example
 * ```ts
 * export function myPerturbation(options: { rho?: number } = {}) {
 *   const checked = checkOptions(options, ['rho'], 'myPerturbation');
 *   const rho = checkNumber('rho', checked.rho ?? 0.05, { min: 0 }, 'myPerturbation');
 *   // ...
 * }
 * ```
 */
export function checkOptions<T extends object>(options: T | undefined, known: readonly string[], where: string): T {
  if (options === undefined) return {} as T;
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    const shape = known.length === 0 ? 'no arguments (or {})' : `an options object { ${known.join(', ')} }`;
    throw new FlatminConfigError('options', options, `${shape}, e.g. ${where}(${known.length === 0 ? '' : `{ ${known[0]}: … }`})`, where);
  }
  checkKnownKeys(options, known, where);
  return options;
}

/**
 * Throw a {@link FlatminConfigError} for keys of `options` that are not in `known` (catches typos such as `rh0`).
 *
 * @example
 * ```ts
 * checkKnownKeys({ rh0: 0.1 }, ['rho'], 'gradient'); // throws a FlatminConfigError with key 'rh0': no such key; known keys: rho
 * ```
 */
export function checkKnownKeys(options: object, known: readonly string[], where: string): void {
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) {
      throw new FlatminConfigError(key, (options as Record<string, unknown>)[key], `no such key; known keys: ${known.join(', ')}`, where);
    }
  }
}

function describeRange(range: NumberRange): string {
  const parts: string[] = [];
  if (range.min !== undefined) parts.push(`${range.minExclusive ? '>' : '>='} ${range.min}`);
  if (range.max !== undefined) parts.push(`${range.maxExclusive ? '<' : '<='} ${range.max}`);
  const kind = range.integer ? 'an integer' : range.allowInfinity ? 'a number' : 'a finite number';
  return parts.length ? `${kind} ${parts.join(' and ')}` : kind;
}
