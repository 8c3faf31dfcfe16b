import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { main, runDemo } from '../src/cli.js';
import { ProgressBar } from '../src/progress.js';
import { formatTable } from '@flatmin/cli-kit';

/** Collects what the demo prints. */
function collector() {
  const chunks: string[] = [];
  return { write: (text: string) => chunks.push(text), text: () => chunks.join('') };
}

describe('the demo end to end (cpu, tiny)', () => {
  it('trains with SGD and SAM through the CLI entry point and prints the table', async () => {
    const out = collector();
    const before = tf.memory().numTensors;
    // 256 samples, batch 128, 1 epoch: 2 steps per run.
    const code = await main(['--train', '256', '--test', '128', '--batch', '128', '--epochs', '1', '--backend', 'cpu'], out);
    expect(code).toBe(0);
    const text = out.text();
    expect(text).toContain('backend cpu');
    expect(text).toMatch(/SGD +\[#{24}\] 2\/2 +loss \d/);
    expect(text).toMatch(/SAM +\[#{24}\] 2\/2 +loss \d/);
    expect(text).toMatch(/method +test accuracy +train loss +time\/step +time vs SGD/);
    expect(text).toMatch(/\nSGD +\d+\.\d\d% +\d+\.\d{4} +\d+\.\d ms +1\.00\n/);
    expect(text).toMatch(/\nSAM +\d+\.\d\d% +\d+\.\d{4} +\d+\.\d ms +\d+\.\d\d\n/);
    expect(text).toMatch(/sharp steps 100% of 2/);
    expect(tf.memory().numTensors).toBe(before); // nothing leaks: data, models, optimizers all disposed
  });

  it('returns comparable numbers: same data, same initial weights, SAM takes the same number of steps', async () => {
    const report = await runDemo(
      { quick: false, epochs: 1, train: 256, test: 128, batch: 64, rho: 0.05, lr: 0.1, seed: 3, backend: 'cpu' },
      collector(),
    );
    expect(report.sgd.steps).toBe(4);
    expect(report.sam.steps).toBe(4);
    expect(report.sam.telemetry.steps).toBe(4);
    for (const run of [report.sgd, report.sam]) {
      expect(run.testAccuracy).toBeGreaterThan(0.3); // 4 steps of lr 0.1 already beat chance (0.1)
      expect(Number.isFinite(run.trainLoss)).toBe(true);
      expect(run.secondsPerStep).toBeGreaterThan(0);
    }
  });

  it('prints the usage for --help and for a bad flag (exit code 2)', async () => {
    const help = collector();
    expect(await main(['--help'], help)).toBe(0);
    expect(help.text()).toMatch(/^Usage: pnpm demo/);
    const out = collector();
    const errors = collector();
    expect(await main(['--rho=-1'], out, errors)).toBe(2);
    expect(out.text()).toBe('');
    expect(errors.text()).toBe("error: --rho must be a number > 0, got '-1'\nRun with --help to see the flags.\n");
  });
});

describe('formatting helpers', () => {
  it('aligns table columns', () => {
    const table = formatTable(
      [{ header: 'name' }, { header: 'value', align: 'right' }],
      [
        ['a', '1.5'],
        ['long name', '10.25'],
      ],
    );
    expect(table.split('\n')).toEqual(['name       value', '---------  -----', 'a            1.5', 'long name  10.25']);
  });

  it('draws the progress bar once at the end when not on a terminal', () => {
    const out = collector();
    const bar = new ProgressBar('SAM', 4, out, 8);
    bar.update(1, 2.5);
    bar.update(2, 1.25);
    expect(out.text()).toBe('');
    bar.finish();
    expect(out.text()).toMatch(/^SAM {2}\[####····\] 2\/4 {2}loss 1\.2500 {2}\d+\.\ds\n$/);
  });
});
