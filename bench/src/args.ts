/** Command-line flags of the step-time benchmark. */
import { parseFlags, UsageError } from '@flatmin/cli-kit';

export { UsageError };

export type BackendName = 'cpu' | 'wasm';

export interface BenchOptions {
  /** Timed rounds; each runs a block of base steps and a block of SAM steps. */
  readonly rounds: number;
  /** Steps per block (k). */
  readonly steps: number;
  /** Force a backend instead of `useBestBackend()`'s choice. */
  readonly backend?: BackendName;
  /** SAM's `onNonFinite` policy; absent: the core's default. */
  readonly onNonFinite?: NonFinitePolicy;
  /** Pass `telemetry: false` to SAM (no per-step norms/cosine on the device). */
  readonly noTelemetry: boolean;
}

export type NonFinitePolicy = 'skip' | 'throw' | 'ignore';

export const DEFAULTS = { rounds: 20, steps: 10 } as const;

export const USAGE = `Usage: pnpm bench [flags]      (or, in bench: node dist/step-time.js [flags])

Step time, peak memory and host reads of SAM (sharpnessAware + gradient({ rho: 0.05 }))
against its base optimizer (SGD), MLP 784-256-256-10, batch 128, synthetic data.

Flags:
  --rounds N       timed rounds, each a block of base steps then a block of SAM steps (default ${DEFAULTS.rounds})
  --steps N        steps per block                                                     (default ${DEFAULTS.steps})
  --backend NAME   cpu or wasm (default: the best one installed)
  --on-non-finite P  SAM's onNonFinite policy: skip, throw or ignore (default: the core's default, skip)
  --no-telemetry   SAM with telemetry: false
  --help           show this text
`;

export function parseBenchArgs(argv: readonly string[]): { help: true } | ({ help: false } & BenchOptions) {
  const values = parseFlags(argv, {
    rounds: { type: 'string' },
    steps: { type: 'string' },
    backend: { type: 'string' },
    'on-non-finite': { type: 'string' },
    'no-telemetry': { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values['help']) return { help: true };
  const integer = (key: 'rounds' | 'steps') => {
    const text = values[key];
    if (text === undefined) return DEFAULTS[key];
    if (typeof text !== 'string' || !/^\d+$/.test(text.trim()) || Number(text) < 1) {
      throw new UsageError(`--${key} must be an integer >= 1, got '${text}'`);
    }
    return Number(text);
  };
  const backend = values['backend'];
  if (backend !== undefined && backend !== 'cpu' && backend !== 'wasm') {
    throw new UsageError(`--backend must be 'cpu' or 'wasm', got '${backend}'`);
  }
  const onNonFinite = values['on-non-finite'];
  if (onNonFinite !== undefined && onNonFinite !== 'skip' && onNonFinite !== 'throw' && onNonFinite !== 'ignore') {
    throw new UsageError(`--on-non-finite must be 'skip', 'throw' or 'ignore', got '${onNonFinite}'`);
  }
  return {
    help: false,
    rounds: integer('rounds'),
    steps: integer('steps'),
    noTelemetry: values['no-telemetry'] === true,
    ...(backend !== undefined ? { backend } : {}),
    ...(onNonFinite !== undefined ? { onNonFinite } : {}),
  };
}
