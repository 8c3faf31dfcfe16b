// The commands that train, each on a tiny run (cpu): the JSON shape, that SGD and the chosen
// method ran, the files written, the ratios, no leaked tensors, progress on stderr only.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, describe, expect, it } from 'vitest';
import type { BenchReport } from '../../src/cli/bench.js';
import type { DemoReport } from '../../src/cli/demo.js';
import type { LandscapeReport } from '../../src/cli/landscape.js';
import { main } from '../../src/cli/main.js';
import { buildMlp } from '../../src/cli/model.js';
import { collector } from './helpers.js';

const TINY = ['--train', '128', '--test', '64', '--epochs', '1', '--batch', '64', '--backend', 'cpu'];
const out = mkdtempSync(join(tmpdir(), 'flatmin-cli-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));

describe('flatmin demo', () => {
  it('--json: SGD and the chosen presets ran the same steps; one JSON document on stdout, the bars on stderr; nothing leaks', async () => {
    const io = collector();
    const before = tf.memory().numTensors;
    expect(await main(['demo', '--method', 'sam,lookSam', '--json', '--seed', '3', ...TINY], io)).toBe(0);
    const report = JSON.parse(io.out()) as DemoReport;
    expect(report).toMatchObject({ command: 'demo', backend: 'cpu', settings: { methods: ['sam', 'lookSam'], epochs: 1, train: 128, test: 64, batch: 64, seed: 3 } });
    expect(report.runs.map((r) => r.method)).toEqual(['SGD', 'sam', 'lookSam']);
    for (const run of report.runs) {
      expect(run.steps).toBe(2);
      expect(run.testAccuracy).toBeGreaterThanOrEqual(0);
      expect(run.testAccuracy).toBeLessThanOrEqual(1);
      expect(Number.isFinite(run.trainLoss)).toBe(true);
      expect(run.secondsPerStep).toBeGreaterThan(0);
    }
    // Counted passes: SGD 1, SAM 2, LookSAM (k = 5) sharp at step 0 of 2: 3 / 2.
    expect(report.runs.map((r) => r.passesPerStep)).toEqual([1, 2, 1.5]);
    expect(report.runs[0]!.timeVsSgd).toBe(1);
    expect(report.runs[1]!.timeVsSgd).toBeCloseTo(report.runs[1]!.secondsPerStep / report.runs[0]!.secondsPerStep, 12);
    expect(io.err()).toMatch(/^backend cpu\n/);
    expect(io.err()).toMatch(/\nSGD +\[█{24}\] 2\/2 \| loss \d+\.\d{4} \| \d+s\n/);
    expect(io.err()).toMatch(/\nlookSam +\[█{24}\] 2\/2 \| loss /);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('prints the table without --json', async () => {
    const io = collector();
    expect(await main(['demo', '--method', 'rst', ...TINY], io)).toBe(0);
    expect(io.out()).toMatch(/method +test accuracy +train loss +time\/step +time vs SGD +passes\/step\n/);
    expect(io.out()).toMatch(/\nSGD +\d+\.\d\d% +\d+\.\d{4} +\d+\.\d ms +1\.00 +1\.00\n/);
    expect(io.out()).toMatch(/\nrst +\d+\.\d\d% +\d+\.\d{4} +\d+\.\d ms +\d+\.\d\d +\d\.\d\d\n/);
  });
});

describe('flatmin landscape', () => {
  it('writes the metrics, the line (SVG + PNG) and each surface (SVG + PNG) to --out', async () => {
    const io = collector();
    const dir = join(out, 'landscape');
    const code = await main(['landscape', '--method', 'sam', '--out', dir, '--points', '3', '--grid', '2', '--samples', '2', '--iterations', '2', '--json', ...TINY], io);
    expect(code, io.err()).toBe(0);
    const report = JSON.parse(io.out()) as LandscapeReport;
    expect(report.runs.map((r) => r.method)).toEqual(['SGD', 'sam']);
    for (const name of ['line.svg', 'line.png', 'SGD-surface.svg', 'SGD-surface.png', 'sam-surface.svg', 'sam-surface.png', 'metrics.json']) {
      expect(existsSync(join(dir, name)), name).toBe(true);
      expect(report.files).toContain(join(dir, name));
    }
    expect(readFileSync(join(dir, 'line.svg'), 'utf8')).toMatch(/^<svg[\s\S]*SGD[\s\S]*sam[\s\S]*<\/svg>\s*$/);
    expect([...readFileSync(join(dir, 'sam-surface.png')).subarray(0, 8)]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    expect(JSON.parse(readFileSync(join(dir, 'metrics.json'), 'utf8'))).toEqual(report);
    for (const run of report.runs) {
      expect(run.line.s).toEqual([-1, 0, 1]);
      // s = 0 is the trained weights: the line's middle point is the held-out loss L(w).
      expect(run.line.loss[1]).toBeCloseTo(run.loss, 5);
      expect(run.surface.loss).toHaveLength(2);
      expect(run.flatness.samples).toBe(2);
      expect(Number.isFinite(run.hessianEigenvalue)).toBe(true);
    }
  });
});

describe('flatmin landscape --load', () => {
  it('measures saved models (model.json + weights, as model.save writes them) instead of training, named after their folders', async () => {
    // A model saved the way tfjs' file:// handler lays it out: model.json next to weights.bin.
    const folder = join(out, 'saved', 'my-mlp');
    mkdirSync(folder, { recursive: true });
    const model = buildMlp(5);
    await model.save(
      tf.io.withSaveHandler(async (artifacts) => {
        writeFileSync(join(folder, 'weights.bin'), new Uint8Array(artifacts.weightData as ArrayBuffer));
        writeFileSync(join(folder, 'model.json'), JSON.stringify({ modelTopology: artifacts.modelTopology, weightsManifest: [{ paths: ['weights.bin'], weights: artifacts.weightSpecs }] }));
        return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
      }),
    );
    model.dispose();
    const io = collector();
    const dir = join(out, 'landscape-loaded');
    const code = await main(['landscape', '--load', folder, '--out', dir, '--points', '3', '--grid', '2', '--samples', '1', '--iterations', '1', '--json', ...TINY], io);
    expect(code, io.err()).toBe(0);
    const report = JSON.parse(io.out()) as LandscapeReport;
    expect(report.runs.map((r) => r.method)).toEqual(['my-mlp']);
    expect(report.settings.load).toEqual([folder]);
    expect(existsSync(join(dir, 'my-mlp-surface.png'))).toBe(true);
    // An untrained 10-class MLP: about chance on held-out digits, and L(w) is the line's middle point.
    expect(report.runs[0]!.testAccuracy).toBeLessThan(0.4);
    expect(report.runs[0]!.line.loss[1]).toBeCloseTo(report.runs[0]!.loss, 5);
  });

  it('refuses a path without model.json, and --load together with --method, naming the flag', async () => {
    for (const argv of [['--load', join(out, 'nowhere')], ['--load', join(out, 'saved', 'my-mlp'), '--method', 'sam']]) {
      const io = collector();
      expect(await main(['landscape', ...argv, '--out', join(out, 'x'), ...TINY], io)).toBe(2);
      expect(io.err()).toMatch(/--load/);
      expect(io.out()).toBe('');
    }
  });
});

describe('flatmin bench', () => {
  it('returns the per-round ratios to SGD with their spread and the counted floors', async () => {
    const io = collector();
    expect(await main(['bench', '--method', 'sam', '--rounds', '2', '--steps', '1', '--warmup', '1', '--batch', '16', '--backend', 'cpu', '--json'], io), io.err()).toBe(0);
    const report = JSON.parse(io.out()) as BenchReport;
    expect(report.rows.map((r) => r.method)).toEqual(['SGD', 'sam']);
    const [sgd, sam] = report.rows;
    expect(sgd!.ratio).toEqual({ median: 1, min: 1, max: 1 });
    expect(sgd!.floor).toBe(1);
    expect(sam!.floor).toBe(2);
    expect(sam!.nominalPasses).toBe('2');
    expect(sam!.ratio.min).toBeLessThanOrEqual(sam!.ratio.median);
    expect(sam!.ratio.median).toBeLessThanOrEqual(sam!.ratio.max);
    expect(sam!.ratio.median).toBeGreaterThan(0);
    expect(sam!.overFloor).toBeCloseTo(sam!.ratio.median - 2, 12);
    expect(io.err()).toMatch(/bench +\[█{24}\] 4\/4 \| round 2\/2/);
  });
});
