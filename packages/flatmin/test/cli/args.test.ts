// A bad command line names the flag, the value or the method, on stderr, with exit code 2 — and
// nothing runs (no backend, no data, no training).
import { describe, expect, it } from 'vitest';
import { presets } from '../../src/catalog.js';
import { parseBench } from '../../src/cli/bench.js';
import { DEMO_DEFAULTS, DEMO_QUICK, parseDemo } from '../../src/cli/demo.js';
import { parseLandscape } from '../../src/cli/landscape.js';
import { main } from '../../src/cli/main.js';
import { collector } from './helpers.js';

describe('flatmin <command> with a bad command line', () => {
  it.each([
    [['demo', '--method', 'nosuch'], /unknown method 'nosuch' in --method: choose from sam, asam, .*ogSam/],
    [['demo', '--method', 'sam,nosuch'], /unknown method 'nosuch'/],
    [['demo', '--method', 'sam,,asam'], /--method has an empty name in 'sam,,asam'/],
    [['demo', '--method', 'esam'], /method 'esam' needs per-sample losses .*model\.fit/],
    [['demo', '--method', 'imbSam'], /method 'imbSam' needs named loss parts/],
    [['demo', '--method', 'mesa'], /method 'mesa' needs its EMA teacher/],
    [['demo', '--method', 'swa', '--rho', '0.1'], /--rho does not apply to method 'swa'/],
    [['demo', '--epochs', '0'], /flatmin demo: --epochs must be an integer >= 1, got '0'/],
    [['demo', '--train', '9000'], /--train must be an integer from 1 to 8000, got '9000'/],
    [['demo', '--lr', 'fast'], /--lr must be a number > 0, got 'fast'/],
    [['demo', '--rho', '-0.1'], /Option '--rho' argument is ambiguous: write --rho=VALUE/],
    [['demo', '--backend', 'gpu'], /--backend must be 'tensorflow', 'wasm' or 'cpu', got 'gpu'/],
    [['demo', '--seed', '-1'], /--seed/],
    [['demo', '--epoch', '3'], /Unknown option '--epoch'/],
    [['demo', 'extra'], /Unexpected argument 'extra'/],
    [['bench', '--rounds', '0'], /flatmin bench: --rounds must be an integer >= 1, got '0'/],
    [['bench', '--method', 'nosuch'], /flatmin bench: unknown method 'nosuch'/],
    [['bench', '--method', 'sam,'], /flatmin bench: --method has an empty name in 'sam,'/],
    [['bench', '--hidden', '0'], /flatmin bench: --hidden must be an integer from 1 to 8192, got '0'/],
    [['landscape', '--grid', '1'], /flatmin landscape: --grid must be an integer from 2 to 201, got '1'/],
    [['landscape', '--out', ''], /--out must be a folder/],
    [['list', '--method', 'sam'], /flatmin list: Unknown option '--method'/],
    [['nosuch'], /unknown command 'nosuch': choose from demo, bench, landscape, list/],
  ])('%j exits with 2 and says why', async (argv, message) => {
    const io = collector();
    expect(await main(argv, io)).toBe(2);
    expect(io.out()).toBe('');
    expect(io.err()).toMatch(message);
    expect(io.err()).toMatch(/^error: .*\nRun flatmin .*--help to see the flags\.\n$/s);
  });

  it('bench --repro takes its own flags: --help prints them (exit 0), a bad section exits 2 naming it', async () => {
    const help = collector();
    expect(await main(['bench', '--repro', '--help'], help)).toBe(0);
    expect(help.out()).toMatch(/^Usage: flatmin bench --repro/);
    for (const section of ['labelNoise', 'flatness', 'efficiency', 'averaging', 'imbalance']) expect(help.out()).toContain(`  ${section} `);
    const bad = collector();
    expect(await main(['bench', '--repro', '--section', 'noise'], bad)).toBe(2);
    expect(bad.err()).toMatch(/^error: flatmin bench: --section has an unknown section 'noise'/);
    expect(bad.out()).toBe('');
  });

  it('no command prints the usage with exit code 2; --help with 0', async () => {
    const none = collector();
    expect(await main([], none)).toBe(2);
    expect(none.out()).toMatch(/^Usage: flatmin <command>/);
    const help = collector();
    expect(await main(['--help'], help)).toBe(0);
    expect(help.out()).toMatch(/Commands:\n {2}demo .*\n {2}bench .*\n {2}landscape .*\n {2}list /);
  });

  it.each(['demo', 'bench', 'landscape', 'list'])('%s --help lists --help, --backend, --seed and --json, exit 0', async (command) => {
    const io = collector();
    expect(await main([command, '--help'], io)).toBe(0);
    expect(io.out()).toMatch(new RegExp(`^Usage: flatmin ${command}`));
    for (const flag of ['--json', '--help']) expect(io.out()).toContain(flag);
    if (command !== 'list') for (const flag of ['--backend', '--seed', '--method']) expect(io.out()).toContain(flag);
    expect(io.err()).toBe('');
  });
});

describe('the parsed options', () => {
  it('demo: the defaults, --quick, explicit flags win, a leading --, names case-insensitive, sgd dropped', () => {
    expect(parseDemo([])).toEqual({ json: false, seed: 1, quick: false, methods: ['sam'], epochs: 10, train: 8000, test: 2000, batch: 64, lr: 0.1 });
    expect(parseDemo(['--quick'])).toMatchObject({ quick: true, epochs: DEMO_QUICK.epochs, train: DEMO_QUICK.train, test: DEMO_QUICK.test });
    expect(parseDemo(['--', '--quick', '--epochs=2', '--method', 'SGD,LookSam,asam', '--backend', 'cpu', '--seed', '7', '--json', '--rho', '0.1'])).toEqual({
      json: true,
      seed: 7,
      backend: 'cpu',
      quick: true,
      methods: ['lookSam', 'asam'],
      epochs: 2,
      train: DEMO_QUICK.train,
      test: DEMO_QUICK.test,
      batch: DEMO_DEFAULTS.batch,
      lr: DEMO_DEFAULTS.lr,
      rho: 0.1,
    });
    expect(parseDemo(['-h'])).toBe('help');
  });

  it('every preset model.fit can train is accepted; the five that need more are refused by name', () => {
    const closure = Object.values(presets).filter((p) => p.needs === 'closure').map((p) => p.name);
    expect(closure).toHaveLength(18);
    expect(parseDemo(['--method', closure.join(',')])).toMatchObject({ methods: closure });
    for (const p of Object.values(presets).filter((p) => p.needs !== 'closure')) {
      expect(() => parseDemo(['--method', p.name])).toThrow(new RegExp(`method '${p.name}' needs`));
    }
  });

  it('bench and landscape defaults', () => {
    expect(parseBench([])).toMatchObject({ methods: ['sam', 'lookSam', 'rst'], rounds: 10, steps: 5, warmup: 3, batch: 128, hidden: 256 });
    expect(parseBench(['--hidden', '1024', '--batch', '32'])).toMatchObject({ hidden: 1024, batch: 32 });
    expect(parseBench(['--quick'])).toMatchObject({ rounds: 4, steps: 3 });
    expect(parseLandscape([])).toMatchObject({ methods: ['sam'], out: 'flatmin-landscape', points: 21, grid: 11 });
  });
});

describe('flatmin bench --method', () => {
  it('all: every preset of the catalog, then handRolled and worstOfK', () => {
    expect(parseBench(['--method', 'all'])).toMatchObject({ methods: [...Object.keys(presets), 'handRolled', 'worstOfK'] });
    expect(parseBench(['--method', 'ALL,sam'])).toMatchObject({ methods: [...Object.keys(presets), 'handRolled', 'worstOfK'] });
  });

  it('takes the presets demo refuses (they need more than a plain closure), and the two extras, case-insensitive', () => {
    const needy = Object.values(presets).filter((p) => p.needs !== 'closure').map((p) => p.name);
    expect(needy).toEqual(['esam', 'lets', 'imbSam', 'swad', 'mesa']);
    expect(parseBench(['--method', `${needy.join(',')},HANDROLLED,worstofk,sgd`])).toMatchObject({ methods: [...needy, 'handRolled', 'worstOfK'] });
    for (const name of needy) expect(() => parseDemo(['--method', name])).toThrow(/needs/);
  });
});
