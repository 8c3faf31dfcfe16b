/**
 * Bad inputs, refused at the call and by name — the table every factory and entry point runs.
 *
 * - {@link runFactoryInputSuite}: a component factory (`gradient`, `mix`, …) refuses every
 *   non-object argument (`mix(0.9)`, `surrogateGap(null)`, `gradient([])`) for the key
 *   `options`, refuses unknown keys and each bad value by its key, and accepts no argument, `{}`
 *   and its valid options — with a config it can be rebuilt from.
 * - {@link runRefusalTable}: any call that must throw a named error (`FlatminConfigError` with a
 *   `key`, or `FlatminError`) whose message says what was expected.
 *
 * Errors are recognized by `name` (the kit does not import `@flatmin/core`), so a package's tests
 * run it against the published classes.
 */
import { describe, expect, it } from 'vitest';

/** A component factory as plain JavaScript may call it (any argument). */
export type AnyFactory = (options?: unknown) => unknown;

/** What {@link runFactoryInputSuite} checks a factory against. */
export interface FactoryInputSpec {
  /** The factory's public name: messages must contain it (e.g. `'mix'`). */
  name: string;
  factory: AnyFactory;
  /** Every key the factory takes, in the order its docs list them. */
  keys: readonly string[];
  /** A valid options object with every key set (default `{}`). */
  valid?: Record<string, unknown>;
  /** Options that must be refused naming `key` (one bad value each). */
  invalid?: ReadonlyArray<readonly [key: string, options: Record<string, unknown>]>;
  /** The component kind the factory returns (`'perturbation'`, `'combiner'`, …). */
  kind: string;
}

/** Values that are not an options object: each must be refused as `options`. */
export const NOT_OPTIONS: ReadonlyArray<readonly [label: string, value: unknown]> = [
  ['a number (a positional argument)', 0.9],
  ['zero', 0],
  ['a string', 'sam'],
  ['true', true],
  ['null', null],
  ['an array', []],
  ['an array of options', [{}]],
  ['a function', () => ({})],
];

interface NamedError extends Error {
  key?: string;
}

function thrown(call: () => unknown): NamedError | undefined {
  try {
    call();
  } catch (error) {
    return error as NamedError;
  }
  return undefined;
}

/** Assert that `spec.factory(value)` throws a FlatminConfigError for `options` listing the factory's keys. */
export function expectOptionsRefused(spec: FactoryInputSpec, value: unknown): void {
  const error = thrown(() => spec.factory(value));
  expect(error, `${spec.name}(${String(value)}) must throw`).toBeInstanceOf(Error);
  expect(error!.name).toBe('FlatminConfigError');
  expect(error!.key).toBe('options');
  expect(error!.message).toContain(spec.name);
  for (const key of spec.keys) expect(error!.message).toContain(key);
}

/** Assert that `spec.factory(options)` throws a FlatminConfigError naming `key` and the factory. */
export function expectKeyRefused(spec: FactoryInputSpec, options: Record<string, unknown>, key: string): void {
  const error = thrown(() => spec.factory(options));
  expect(error, `${spec.name}(${JSON.stringify(options)}) must throw naming '${key}'`).toBeInstanceOf(Error);
  expect(error!.name).toBe('FlatminConfigError');
  expect(error!.key).toBe(key);
  expect(error!.message).toContain(spec.name);
  expect(error!.message).toContain(key);
}

function expectComponent(spec: FactoryInputSpec, component: unknown): { config: unknown } {
  expect(component).toBeTypeOf('object');
  const c = component as { kind?: unknown; name?: unknown; config?: unknown };
  expect(c.kind).toBe(spec.kind);
  expect(c.name).toBe(spec.name);
  expect(JSON.parse(JSON.stringify(c.config))).toEqual(c.config);
  return { config: c.config };
}

/** The input table of one component factory (see the module docs). */
export function runFactoryInputSuite(spec: FactoryInputSpec): void {
  describe(`${spec.name}(): inputs refused at the call, by name`, () => {
    it.each(NOT_OPTIONS)('refuses %s as options', (_label, value) => expectOptionsRefused(spec, value));

    it('accepts no argument, undefined and {} (the defaults), and its valid options', () => {
      const defaults = expectComponent(spec, spec.factory()).config;
      expect(expectComponent(spec, spec.factory(undefined)).config).toEqual(defaults);
      expect(expectComponent(spec, spec.factory({})).config).toEqual(defaults);
      expectComponent(spec, spec.factory(spec.valid ?? {}));
    });

    it('is rebuilt from its own config (what fromConfig does)', () => {
      const { config } = expectComponent(spec, spec.factory(spec.valid ?? {}));
      expect(expectComponent(spec, spec.factory(config)).config).toEqual(config);
    });

    it('refuses an unknown key and a misspelt one by name', () => {
      expectKeyRefused(spec, { ...spec.valid, notAnOption: 1 }, 'notAnOption');
      const first = spec.keys[0];
      if (first !== undefined) expectKeyRefused(spec, { [`${first}0`]: spec.valid?.[first] ?? 1 }, `${first}0`);
    });

    if (spec.invalid !== undefined && spec.invalid.length > 0) {
      it.each(spec.invalid.map(([key, options]) => [key, JSON.stringify(options), options] as const))(
        'refuses a bad %s: %s',
        (key, _shown, options) => expectKeyRefused(spec, { ...spec.valid, ...options }, key),
      );
    }
  });
}

/** One call that must be refused. */
export interface Refusal {
  /** Shown in the test name. */
  title: string;
  call: () => unknown;
  /** `'FlatminConfigError'` (then `key` is checked) or `'FlatminError'`. */
  error: 'FlatminConfigError' | 'FlatminError';
  /** The config key the error names (FlatminConfigError only). */
  key?: string;
  /** What the message must say (what was expected, the argument's name). */
  message: RegExp;
}

/** A table of calls that must throw a named error with a message saying what was expected. */
export function runRefusalTable(title: string, rows: readonly Refusal[]): void {
  describe(title, () => {
    it.each(rows.map((row) => [row.title, row] as const))('%s', (_title, row) => expectRefused(row));
  });
}

/** Assert one {@link Refusal}: the named error, its key, its message (and no raw TypeError text). */
export function expectRefused(row: Refusal): void {
  const error = thrown(row.call);
  expect(error, `${row.title} must throw`).toBeInstanceOf(Error);
  expect(error!.name).toBe(row.error);
  if (row.key !== undefined) expect(error!.key).toBe(row.key);
  expect(error!.message).toMatch(row.message);
  expect(error!.message).not.toMatch(/Cannot read properties|is not a function|is not iterable/);
}
