/** Command-line flags of the benchmarks: the step-time benchmark and the generators benchmark. */
import { type FlagValues, parseFlags, UsageError } from '@flatmin/cli-kit';

export { UsageError };

export type BackendName = 'cpu' | 'wasm';

/** The backends `--backend both` (the default) measures, in the order they run. */
export const ALL_BACKENDS: readonly BackendName[] = ['wasm', 'cpu'];

export interface BenchOptions {
  /** Timed rounds; each runs one block of every variant, in an order shuffled every round. */
  readonly rounds: number;
  /** Steps per block (k). */
  readonly steps: number;
  /** The backends to measure, one after the other (model and data rebuilt for each). */
  readonly backends: readonly BackendName[];
}

export const DEFAULTS = { rounds: 20, steps: 10 } as const;

export const USAGE = `Usage: pnpm bench [-- flags]      (or, in bench: node dist/step-time.js [flags])

Step time, peak memory and host reads of SAM (sharpnessAware + gradient({ rho: 0.05 }))
against its base optimizer (SGD), MLP 784-256-256-10, batch 128, synthetic data. Every round
runs one block of each variant, in an order shuffled from round to round:
  SGD (base), SAM default (onNonFinite 'skip', telemetry on), SAM no telemetry,
  SAM no guard (onNonFinite 'ignore'), SAM bare (both off), hand-rolled SAM (plain tfjs).

Flags:
  --rounds N       timed rounds, each one block of every variant  (default ${DEFAULTS.rounds})
  --steps N        steps per block                                (default ${DEFAULTS.steps})
  --backend NAME   cpu, wasm, or both (wasm, then cpu)            (default both)
  --help           show this text

Exits 0 whether the targets pass or not (it is a report), 2 on bad flags.
`;

/** Flags of earlier versions, now measured by the variants of every run. */
const REMOVED: Record<string, string> = {
  'on-non-finite': "--on-non-finite was removed: every run measures 'SAM no guard' (onNonFinite 'ignore') next to 'SAM default' ('skip')",
  'no-telemetry': "--no-telemetry was removed: every run measures 'SAM no telemetry' and 'SAM bare' next to 'SAM default'",
};

export function parseBenchArgs(argv: readonly string[]): { help: true } | ({ help: false } & BenchOptions) {
  const values = parseFlags(argv, {
    rounds: { type: 'string' },
    steps: { type: 'string' },
    backend: { type: 'string' },
    // Recognized only to say what replaced them.
    'on-non-finite': { type: 'string' },
    'no-telemetry': { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values['help']) return { help: true };
  for (const [flag, message] of Object.entries(REMOVED)) {
    if (values[flag] !== undefined) throw new UsageError(message);
  }
  return { help: false, ...commonOptions(values, DEFAULTS) };
}

/** `--rounds`, `--steps` and `--backend`, checked, with `defaults` for the two counts. */
function commonOptions(values: FlagValues, defaults: { readonly rounds: number; readonly steps: number }): BenchOptions {
  const integer = (key: 'rounds' | 'steps') => {
    const text = values[key];
    if (text === undefined) return defaults[key];
    if (typeof text !== 'string' || !/^\d+$/.test(text.trim()) || Number(text) < 1) {
      throw new UsageError(`--${key} must be an integer >= 1, got '${text}'`);
    }
    return Number(text);
  };
  const backend = values['backend'] ?? 'both';
  if (backend !== 'both' && backend !== 'cpu' && backend !== 'wasm') {
    throw new UsageError(`--backend must be 'cpu', 'wasm' or 'both', got '${backend}'`);
  }
  return { rounds: integer('rounds'), steps: integer('steps'), backends: backend === 'both' ? ALL_BACKENDS : [backend] };
}

/**
 * The generators benchmark's defaults: 19 variants per round, so fewer rounds and shorter blocks
 * than the step-time benchmark (both backends in ~10 min on 2 idle cores, about twice that when shared). 5 steps per block: the
 * masks refresh every 5 steps, so every block holds exactly one refresh.
 */
export const GENERATOR_DEFAULTS = { rounds: 8, steps: 5 } as const;

export const GENERATORS_USAGE = `Usage: pnpm bench:generators [-- flags]      (or, in bench: node dist/generators.js [flags])

Step time of every perturbation generator of flatmin against the base optimizer (SGD), side by
side in one run per backend: MLP 784-256-256-10, batch 128, synthetic data, every generator through
sharpnessAware({ base: sgd(0.01), perturbation, seed: 1 }) with the core defaults (guard and
telemetry on), next to its floor in plain tfjs (one pass = the base, two plain passes, k forward
evaluations + one pass). Every round runs one block of each variant, in an order shuffled from
round to round. Also: loss evaluations and host reads per step, peak step memory.

Flags:
  --rounds N       timed rounds, each one block of every variant  (default ${GENERATOR_DEFAULTS.rounds})
  --steps N        steps per block (a multiple of 5 keeps one mask refresh per block)  (default ${GENERATOR_DEFAULTS.steps})
  --backend NAME   cpu, wasm, or both (wasm, then cpu)            (default both)
  --clock NAME     cpu (this process's CPU time, default) or wall: the clock the ratios and
                   targets use; the other is reported next to it
  --only LIST      comma-separated variant keys to measure (the base and the floors they need are added)
  --help           show this text

Exits 0 whether the targets pass or not (it is a report), 2 on bad flags.
`;

export interface GeneratorOptions extends BenchOptions {
  /** The clock the ratios and targets use: this process's CPU time (default) or the wall clock. */
  readonly clock: 'cpu' | 'wall';
  /** Variant keys to measure (null: all). */
  readonly only: readonly string[] | null;
}

export function parseGeneratorArgs(argv: readonly string[]): { help: true } | ({ help: false } & GeneratorOptions) {
  const values = parseFlags(argv, {
    rounds: { type: 'string' },
    steps: { type: 'string' },
    backend: { type: 'string' },
    only: { type: 'string' },
    clock: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values['help']) return { help: true };
  const clock = values['clock'] ?? 'cpu';
  if (clock !== 'cpu' && clock !== 'wall') throw new UsageError(`--clock must be 'cpu' or 'wall', got '${clock}'`);
  const only = values['only'];
  if (only !== undefined && (typeof only !== 'string' || only.trim() === '')) throw new UsageError('--only needs a comma-separated list of variant keys');
  return {
    help: false,
    ...commonOptions(values, GENERATOR_DEFAULTS),
    clock,
    only: typeof only === 'string' ? only.split(',').map((key) => key.trim()).filter((key) => key !== '') : null,
  };
}

/**
 * The schedules benchmark's defaults: 5 variants per round, blocks of 10 steps (a multiple of 5,
 * so every block of LookSAM k = 5 holds exactly two sharp steps).
 */
export const SCHEDULE_DEFAULTS = { rounds: 10, steps: 10 } as const;

export const SCHEDULES_USAGE = `Usage: pnpm bench:schedules [-- flags]      (or, in bench: node dist/schedules.js [flags])

Step time of the schedules that ration SAM's second pass, against the base optimizer (SGD), side
by side in one run per backend: MLP 784-256-256-10, batch 128, synthetic data; SGD, SAM
(gradient({ rho: 0.05 })), LookSAM everyK({ k: 5 }), RST randomly({ p: 0.5 }) and AE-SAM
adaptivePolicy({ totalSteps }), each through sharpnessAware({ base: sgd(0.01), perturbation:
gradient(), schedule, seed: 1 }) with the core defaults (guard and telemetry on), and two
references: a plain one-pass step through sharpnessAware (everyK({ k: 1e9, alpha: 0 })) and
LookSAM without its reuse (everyK({ k: 5, alpha: 0 })). Every round runs one block of each
variant, in an order shuffled from round to round. Also: the measured sharp fraction, loss
evaluations and host reads per step.

Flags:
  --rounds N       timed rounds, each one block of every variant  (default ${SCHEDULE_DEFAULTS.rounds})
  --steps N        steps per block, a multiple of 5               (default ${SCHEDULE_DEFAULTS.steps})
  --backend NAME   cpu, wasm, or both (wasm, then cpu)            (default both)
  --clock NAME     cpu (this process's CPU time, default) or wall: the clock the ratios and
                   targets use; the other is reported next to it
  --help           show this text

Targets (ratio to the base, median of the per-round paired ratios):
  LookSAM k=5      ≤ 1.25 (floor 1 + 1/k = 1.2)
  RST p=0.5        ≤ 1.55, the issue's fixed limit (nominal floor 1 + p = 1.5); and, because the
                   seeded draws of the timed window need not give a fraction of p, the same
                   allowance over the floor of what was drawn: per round ratio − (1 + that block's
                   sharp fraction), median ≤ +0.05. The drawn fraction is printed.
  AE-SAM           the ratio of the total times ≤ 1 + its measured sharp fraction + 0.05

Exits 0 whether the targets pass or not (it is a report), 2 on bad flags.
`;

export interface ScheduleOptions extends BenchOptions {
  /** The clock the ratios and targets use: this process's CPU time (default) or the wall clock. */
  readonly clock: 'cpu' | 'wall';
}

export function parseScheduleArgs(argv: readonly string[]): { help: true } | ({ help: false } & ScheduleOptions) {
  const values = parseFlags(argv, {
    rounds: { type: 'string' },
    steps: { type: 'string' },
    backend: { type: 'string' },
    clock: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values['help']) return { help: true };
  const clock = values['clock'] ?? 'cpu';
  if (clock !== 'cpu' && clock !== 'wall') throw new UsageError(`--clock must be 'cpu' or 'wall', got '${clock}'`);
  const common = commonOptions(values, SCHEDULE_DEFAULTS);
  if (common.steps % 5 !== 0) throw new UsageError(`--steps must be a multiple of 5 (LookSAM k = 5: the same sharp steps in every block), got ${common.steps}`);
  return { help: false, ...common, clock };
}

/** The MNIST quality run's defaults (the demo's data, MLP and learning rate; a smaller budget). */
export const MNIST_DEFAULTS = { train: 8000, test: 2000, epochs: 3, batch: 64, lr: 0.1, rho: 0.05, seeds: 3 } as const;

export const MNIST_USAGE = `Usage: pnpm bench:schedules-mnist [-- flags]      (or, in bench: node dist/schedules-mnist.js [flags])

Test accuracy on real MNIST (the demo's data split and MLP 784-256-256-10, model.fit on wasm) of
SGD, SAM, LookSAM everyK({ k: 5 }), RST randomly({ p: 0.5 }) and AE-SAM adaptivePolicy({ totalSteps }),
each over several seeds (the seed sets the initial weights and the optimizer's generator):
mean, min–max, the fraction of sharp steps and the wall time per run.

Flags:
  --train N        training samples, 1..8000          (default ${MNIST_DEFAULTS.train})
  --test N         test samples, 1..2000              (default ${MNIST_DEFAULTS.test})
  --epochs N       passes over the training set       (default ${MNIST_DEFAULTS.epochs})
  --batch N        mini-batch size                    (default ${MNIST_DEFAULTS.batch})
  --seeds N        seeds 1..N per method              (default ${MNIST_DEFAULTS.seeds})
  --backend NAME   wasm or cpu                        (default wasm)
  --looksam-sweep  instead of the methods above: LookSAM everyK({ k: 5 }) with α 0, 0.1, 0.3, 0.7
                   × granularity 'global', 'tensor' (α 0 keeps no state, so one run), next to SGD
                   and SAM; results to schedules-mnist-looksam.json
  --help           show this text

Learning rate ${MNIST_DEFAULTS.lr} (SGD, and the base of every flatmin optimizer), ρ ${MNIST_DEFAULTS.rho}.
Exits 0 on a completed run, 2 on bad flags.
`;

export interface MnistOptions {
  readonly train: number;
  readonly test: number;
  readonly epochs: number;
  readonly batch: number;
  readonly seeds: number;
  readonly backend: BackendName;
  /** Run the LookSAM α × granularity sweep instead of the default methods. */
  readonly looksamSweep: boolean;
}

export function parseMnistArgs(argv: readonly string[]): { help: true } | ({ help: false } & MnistOptions) {
  const values = parseFlags(argv, {
    train: { type: 'string' },
    test: { type: 'string' },
    epochs: { type: 'string' },
    batch: { type: 'string' },
    seeds: { type: 'string' },
    backend: { type: 'string' },
    'looksam-sweep': { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values['help']) return { help: true };
  const integer = (key: 'train' | 'test' | 'epochs' | 'batch' | 'seeds') => {
    const text = values[key];
    if (text === undefined) return MNIST_DEFAULTS[key];
    if (typeof text !== 'string' || !/^\d+$/.test(text.trim()) || Number(text) < 1) {
      throw new UsageError(`--${key} must be an integer >= 1, got '${text}'`);
    }
    return Number(text);
  };
  const backend = values['backend'] ?? 'wasm';
  if (backend !== 'cpu' && backend !== 'wasm') throw new UsageError(`--backend must be 'cpu' or 'wasm', got '${backend}'`);
  const options: MnistOptions = { train: integer('train'), test: integer('test'), epochs: integer('epochs'), batch: integer('batch'), seeds: integer('seeds'), backend, looksamSweep: values['looksam-sweep'] === true };
  if (options.train > 8000) throw new UsageError(`--train must be at most 8000 (the demo's training pool), got ${options.train}`);
  if (options.test > 2000) throw new UsageError(`--test must be at most 2000 (the demo's test pool), got ${options.test}`);
  return { help: false, ...options };
}
