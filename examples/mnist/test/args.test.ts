import { describe, expect, it } from 'vitest';
import { DEFAULTS, parseDemoArgs, QUICK_DEFAULTS, UsageError } from '../src/args.js';

describe('parseDemoArgs', () => {
  it('uses the defaults with no flags', () => {
    expect(parseDemoArgs([])).toEqual({ help: false, quick: false, ...DEFAULTS });
  });

  it('--quick picks the small defaults; explicit flags still win', () => {
    expect(parseDemoArgs(['--quick'])).toEqual({ help: false, quick: true, ...QUICK_DEFAULTS });
    expect(parseDemoArgs(['--quick', '--epochs', '1'])).toMatchObject({ quick: true, epochs: 1, train: QUICK_DEFAULTS.train });
  });

  it('reads every flag, in both --flag value and --flag=value forms', () => {
    const parsed = parseDemoArgs([
      '--epochs', '3', '--train=512', '--test', '256', '--batch', '32',
      '--rho', '0.1', '--lr=0.05', '--seed', '7', '--backend', 'cpu',
    ]);
    expect(parsed).toEqual({
      help: false, quick: false, epochs: 3, train: 512, test: 256, batch: 32, rho: 0.1, lr: 0.05, seed: 7, backend: 'cpu',
    });
  });

  it('accepts a leading -- (as `pnpm demo -- --quick` may pass it)', () => {
    expect(parseDemoArgs(['--', '--quick'])).toMatchObject({ quick: true });
  });

  it('--help and -h ask for the usage', () => {
    expect(parseDemoArgs(['--help'])).toEqual({ help: true });
    expect(parseDemoArgs(['-h', '--epochs', '2'])).toEqual({ help: true });
  });

  it.each([
    [['--epochs', '0'], /--epochs must be an integer >= 1, got '0'/],
    [['--epochs', '2.5'], /--epochs must be an integer/],
    [['--train', '9000'], /--train must be an integer from 1 to 8000, got '9000'/],
    [['--test', '0'], /--test must be an integer from 1 to 2000/],
    [['--batch', 'big'], /--batch must be an integer >= 1, got 'big'/],
    [['--rho', '0'], /--rho must be a number > 0, got '0'/],
    [['--rho=-0.1'], /--rho must be a number > 0, got '-0.1'/],
    [['--rho', '-0.1'], /Option '--rho' argument is ambiguous: write --rho=VALUE/],
    [['--lr', 'fast'], /--lr must be a number > 0, got 'fast'/],
    [['--backend', 'gpu'], /--backend must be 'cpu' or 'wasm', got 'gpu'/],
    [['--epoch', '3'], /Unknown option '--epoch'/],
    [['--epochs'], /argument missing/],
    [['--quick=yes'], /does not take an argument/],
    [['extra'], /Unexpected argument 'extra'/],
  ])('rejects %j', (argv, message) => {
    expect(() => parseDemoArgs(argv)).toThrow(UsageError);
    expect(() => parseDemoArgs(argv)).toThrow(message);
  });
});
