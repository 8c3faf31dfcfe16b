/**
 * `flatmin <command>`: dispatch, help, and the exit codes (0 done, 1 a failure, 2 a bad command line).
 *
 * @module
 */
import { BENCH_USAGE, parseBench, runBench } from './bench.js';
import { DEMO_USAGE, parseDemo, runDemo } from './demo.js';
import { type CliIo, UsageError } from './io.js';
import { LANDSCAPE_USAGE, parseLandscape, runLandscape } from './landscape.js';
import { LIST_USAGE, parseList, runList } from './list.js';
import { parseRepro, REPRO_USAGE, runRepro } from './repro.js';

/** `flatmin --help`. */
export const USAGE = `Usage: flatmin <command> [flags]

Flat-minima optimizers for TensorFlow.js: every method as a preset (sam, asam, lookSam, ...).

Commands:
  demo        train an MLP on real MNIST digits with SGD and chosen presets; the result table
  bench       step cost of presets against SGD (ratios, floors, memory, reads, targets); --repro: papers' claims
  landscape   train, then measure flatness and draw the 1-D/2-D loss landscapes (SVG + PNG)
  list        every preset with its paper, its parts and its passes per step

Every command takes --help, --backend tensorflow|wasm|cpu, --seed N and --json (results as JSON
on stdout; progress on stderr). The commands that train need @tensorflow/tfjs next to flatmin
(npm i flatmin @tensorflow/tfjs); add @tensorflow/tfjs-backend-wasm or @tensorflow/tfjs-node for speed.

Examples:
  npx flatmin demo --quick
  npx flatmin demo --method sam,asam,lookSam --epochs 3
  npx flatmin bench --method sam,lookSam --json > bench.json
  npx flatmin bench --repro --quick --out ./repro
  npx flatmin bench --method all --quick
  npx flatmin landscape --method sam --out ./landscape
  npx flatmin list
`;

const COMMANDS = ['demo', 'bench', 'landscape', 'list'] as const;

/**
 * Run the CLI on `argv` (the arguments after `flatmin`) and resolve to the exit code: 0 done,
 * 1 a failure (its message on stderr), 2 a bad command line (a message naming the flag, the value
 * or the method, on stderr). With `--json`, `console.log` output of the libraries goes to stderr,
 * so stdout holds one JSON document.
 */
export async function main(argv: readonly string[], io: CliIo = { stdout: process.stdout, stderr: process.stderr }): Promise<number> {
  const args = argv[0] === '--' ? argv.slice(1) : [...argv];
  const [command, ...rest] = args;
  const restoreConsole = args.includes('--json') ? consoleToStderr(io) : () => {};
  try {
    if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
      io.stdout.write(USAGE);
      return command === undefined ? 2 : 0;
    }
    const help = (usage: string) => {
      io.stdout.write(usage);
      return 0;
    };
    switch (command) {
      case 'demo': {
        const options = parseDemo(rest);
        if (options === 'help') return help(DEMO_USAGE);
        await runDemo(options, io);
        return 0;
      }
      case 'bench': {
        if (rest.includes('--repro')) {
          const repro = parseRepro(rest);
          if (repro === 'help') return help(REPRO_USAGE);
          await runRepro(repro, io, args);
          return 0;
        }
        const options = parseBench(rest);
        if (options === 'help') return help(BENCH_USAGE);
        await runBench(options, io);
        return 0;
      }
      case 'landscape': {
        const options = parseLandscape(rest);
        if (options === 'help') return help(LANDSCAPE_USAGE);
        await runLandscape(options, io);
        return 0;
      }
      case 'list': {
        const options = parseList(rest);
        if (options === 'help') return help(LIST_USAGE);
        runList(options, io);
        return 0;
      }
      default:
        throw new UsageError(`flatmin: unknown command '${command}': choose from ${COMMANDS.join(', ')}`);
    }
  } catch (error) {
    if (error instanceof UsageError) {
      io.stderr.write(`error: ${error.message}\nRun flatmin ${COMMANDS.includes(command as (typeof COMMANDS)[number]) ? `${command} ` : ''}--help to see the flags.\n`);
      return 2;
    }
    io.stderr.write(`error: ${error instanceof Error ? error.message : String(error)}\n`);
    if (process.env['FLATMIN_DEBUG'] && error instanceof Error) io.stderr.write(`${error.stack}\n`);
    return 1;
  } finally {
    restoreConsole();
  }
}

/** Route console.log/info to stderr until the returned function is called. */
function consoleToStderr(io: CliIo): () => void {
  const { log, info } = console;
  const toStderr = (...parts: unknown[]) => {
    io.stderr.write(`${parts.map(String).join(' ')}\n`);
  };
  console.log = toStderr;
  console.info = toStderr;
  return () => {
    console.log = log;
    console.info = info;
  };
}
