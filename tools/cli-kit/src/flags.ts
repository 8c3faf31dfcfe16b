/** Command-line flags for the demo and the benchmarks: node's strict `parseArgs`, friendly errors. */
import { type ParseArgsConfig, parseArgs } from 'node:util';

/** A bad command line: the message says which flag and what is expected. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** The parsed flag values (strings for valued flags, booleans for switches). */
export type FlagValues = Record<string, string | boolean | undefined>;

/**
 * Parse `argv` strictly (no positionals, no unknown flags) against `options`. A leading `--`
 * is ignored (`pnpm demo -- --quick` may pass it through). Errors become a {@link UsageError}
 * with the first sentence of node's message.
 */
export function parseFlags(argv: readonly string[], options: NonNullable<ParseArgsConfig['options']>): FlagValues {
  const args = argv[0] === '--' ? argv.slice(1) : [...argv];
  try {
    return parseArgs({ args, strict: true, allowPositionals: false, options }).values as FlagValues;
  } catch (error) {
    throw new UsageError(describeParseError(error));
  }
}

function describeParseError(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const first = message.split(/\.(?:\s|$)/)[0]!;
  const flag = /^Option '(--[a-z-]+)' argument is ambiguous/.exec(first)?.[1];
  return flag === undefined ? first : `${first}: write ${flag}=VALUE for a value that starts with '-'`;
}
