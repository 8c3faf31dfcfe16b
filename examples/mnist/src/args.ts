/** Command-line flags of the demo. */
import { parseFlags, UsageError } from '@flatmin/cli-kit';

export { UsageError };

export type BackendName = 'cpu' | 'wasm';

export interface DemoOptions {
  /** Passes over the training set. */
  readonly epochs: number;
  /** Training samples (the first N of the fixed 8,000-sample training pool). */
  readonly train: number;
  /** Test samples (the first N of the fixed 2,000-sample test pool). */
  readonly test: number;
  /** Mini-batch size. */
  readonly batch: number;
  /** SAM's neighbourhood radius ρ. */
  readonly rho: number;
  /** Learning rate of the SGD base optimizer (both runs). */
  readonly lr: number;
  /** Seed of the initial weights (both runs) and of SAM's random source. */
  readonly seed: number;
  /** Force a backend instead of `useBestBackend()`'s choice. */
  readonly backend?: BackendName;
  /** Whether `--quick` was given (smaller defaults). */
  readonly quick: boolean;
}

export type ParsedArgs = { readonly help: true } | ({ readonly help: false } & DemoOptions);

/** The full run: a meaningful SGD-vs-SAM comparison in a few minutes on 2 cores (wasm). */
export const DEFAULTS = { epochs: 10, train: 8000, test: 2000, batch: 64, rho: 0.05, lr: 0.1, seed: 1 } as const;
/** `--quick`: the whole demo in well under a minute. Explicit flags still win. */
export const QUICK_DEFAULTS = { ...DEFAULTS, epochs: 5, train: 4000, test: 1000 } as const;

export const USAGE = `Usage: pnpm demo [flags]      (or, in examples/mnist: node dist/demo.js [flags])

Trains an MLP (784-256-256-10) on real MNIST digits twice, with plain SGD and with
SAM (sharpnessAware + gradient({ rho })), from the same initial weights and data
order, and prints test accuracy, training loss and time per step of each.

Flags:
  --quick          small run (${QUICK_DEFAULTS.train} train / ${QUICK_DEFAULTS.test} test, ${QUICK_DEFAULTS.epochs} epochs), under a minute
  --epochs N       passes over the training set      (default ${DEFAULTS.epochs})
  --train N        training samples, 1..8000         (default ${DEFAULTS.train})
  --test N         test samples, 1..2000             (default ${DEFAULTS.test})
  --batch N        mini-batch size                   (default ${DEFAULTS.batch})
  --rho R          SAM radius, > 0                   (default ${DEFAULTS.rho})
  --lr L           SGD learning rate, > 0            (default ${DEFAULTS.lr})
  --seed N         initial weights and SAM's seed    (default ${DEFAULTS.seed})
  --backend NAME   cpu or wasm (default: the best one installed)
  --help           show this text
`;

/** A bad command line; the message says which flag and what it accepts. */
const LIMITS = { train: 8000, test: 2000 } as const;

export function parseDemoArgs(argv: readonly string[]): ParsedArgs {
  const values = parseFlags(argv, {
    quick: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
    epochs: { type: 'string' },
    train: { type: 'string' },
    test: { type: 'string' },
    batch: { type: 'string' },
    rho: { type: 'string' },
    lr: { type: 'string' },
    seed: { type: 'string' },
    backend: { type: 'string' },
  });
  if (values['help']) return { help: true };

  const quick = values['quick'] === true;
  const defaults = quick ? QUICK_DEFAULTS : DEFAULTS;
  const integer = (key: 'epochs' | 'train' | 'test' | 'batch' | 'seed', min: number, max = Number.MAX_SAFE_INTEGER) => {
    const text = values[key];
    if (text === undefined) return defaults[key];
    const value = Number(text);
    if (typeof text !== 'string' || !/^\d+$/.test(text.trim()) || value < min || value > max) {
      const range = max === Number.MAX_SAFE_INTEGER ? `an integer >= ${min}` : `an integer from ${min} to ${max}`;
      throw new UsageError(`--${key} must be ${range}, got '${text}'`);
    }
    return value;
  };
  const positive = (key: 'rho' | 'lr') => {
    const text = values[key];
    if (text === undefined) return defaults[key];
    const value = Number(text);
    if (typeof text !== 'string' || text.trim() === '' || !Number.isFinite(value) || value <= 0) {
      throw new UsageError(`--${key} must be a number > 0, got '${text}'`);
    }
    return value;
  };

  const backend = values['backend'];
  if (backend !== undefined && backend !== 'cpu' && backend !== 'wasm') {
    throw new UsageError(`--backend must be 'cpu' or 'wasm', got '${backend}'`);
  }
  return {
    help: false,
    quick,
    epochs: integer('epochs', 1),
    train: integer('train', 1, LIMITS.train),
    test: integer('test', 1, LIMITS.test),
    batch: integer('batch', 1),
    rho: positive('rho'),
    lr: positive('lr'),
    seed: integer('seed', 0),
    ...(backend !== undefined ? { backend } : {}),
  };
}

/** The first sentence of node's parseArgs error, plus a hint for values that start with '-'. */
