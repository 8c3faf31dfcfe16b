/**
 * The command line: node's strict `parseArgs` per command, then each value checked with a message
 * that names the flag, the value and what it accepts.
 *
 * @module
 */
import { parseArgs } from 'node:util';
import { UsageError } from './io.js';

/** The option specs `parseArgs` takes (the subset the CLI uses). */
export type FlagSpecs = Record<string, { type: 'string' | 'boolean'; short?: string }>;
/** The parsed flag values (strings for valued flags, booleans for switches). */
export type FlagValues = Record<string, string | boolean | undefined>;

/** The backends `--backend` accepts (`@flatmin/backend`'s names for Node). */
export const BACKENDS = ['tensorflow', 'wasm', 'cpu'] as const;
/** A backend `--backend` accepts. */
export type CliBackend = (typeof BACKENDS)[number];

/** Flags every command takes. */
export const COMMON_FLAGS: FlagSpecs = {
  help: { type: 'boolean', short: 'h' },
  json: { type: 'boolean' },
  backend: { type: 'string' },
  seed: { type: 'string' },
};

/** What every command reads from the common flags. */
export interface CommonOptions {
  /** Print one JSON document on stdout instead of tables. */
  readonly json: boolean;
  /** Force a backend; default the best installed one (tfjs-node, wasm, cpu). */
  readonly backend?: CliBackend;
  /** Seed of the initial weights, the presets' randomness and the measurements. */
  readonly seed: number;
}

/**
 * Parse `argv` strictly against `COMMON_FLAGS` plus `specs` (no positionals, no unknown flags);
 * a leading `--` is ignored (`pnpm demo -- --quick` passes it through).
 */
export function parseFlags(command: string, argv: readonly string[], specs: FlagSpecs): FlagValues {
  const args = argv[0] === '--' ? argv.slice(1) : [...argv];
  try {
    return parseArgs({ args, strict: true, allowPositionals: false, options: { ...COMMON_FLAGS, ...specs } }).values as FlagValues;
  } catch (error) {
    throw new UsageError(`flatmin ${command}: ${describeParseError(error)}`);
  }
}

function describeParseError(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const first = message.split(/\.(?:\s|$)/)[0]!;
  const flag = /^Option '(--[a-z-]+)' argument is ambiguous/.exec(first)?.[1];
  return flag === undefined ? first : `${first}: write ${flag}=VALUE for a value that starts with '-'`;
}

/** Reads checked values out of parsed flags, with the command's defaults. */
export class FlagReader {
  constructor(
    private readonly command: string,
    private readonly values: FlagValues,
  ) {}

  private fail(key: string, text: string, expected: string): never {
    throw new UsageError(`flatmin ${this.command}: --${key} must be ${expected}, got '${text}'`);
  }

  /** Whether the switch `--key` was given. */
  flag(key: string): boolean {
    return this.values[key] === true;
  }

  /** The text of `--key`, or undefined. */
  text(key: string): string | undefined {
    const value = this.values[key];
    return typeof value === 'string' ? value : undefined;
  }

  /** A whole number in [min, max], or `fallback` when absent. */
  integer(key: string, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
    const text = this.text(key);
    if (text === undefined) return fallback;
    const value = Number(text);
    if (!/^\d+$/.test(text.trim()) || value < min || value > max) {
      this.fail(key, text, max === Number.MAX_SAFE_INTEGER ? `an integer >= ${min}` : `an integer from ${min} to ${max}`);
    }
    return value;
  }

  /** A finite number > 0, or `fallback` (which may be undefined) when absent. */
  positive<T extends number | undefined>(key: string, fallback: T): number | T {
    const text = this.text(key);
    if (text === undefined) return fallback;
    const value = Number(text);
    if (text.trim() === '' || !Number.isFinite(value) || value <= 0) this.fail(key, text, 'a number > 0');
    return value;
  }

  /** The common flags. */
  common(defaultSeed = 1): CommonOptions {
    const backend = this.text('backend');
    if (backend !== undefined && !(BACKENDS as readonly string[]).includes(backend)) this.fail('backend', backend, BACKENDS.map((b) => `'${b}'`).join(', ').replace(/, ([^,]*)$/, ' or $1'));
    return { json: this.flag('json'), seed: this.integer('seed', defaultSeed, 0), ...(backend !== undefined ? { backend: backend as CliBackend } : {}) };
  }
}
