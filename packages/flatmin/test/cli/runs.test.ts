// The commands that train, each on a tiny run (cpu): the JSON shape, that SGD and the chosen
// method ran, the files written, the ratios, no leaked tensors, progress on stderr only.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, describe, expect, it } from 'vitest';
import { presets } from '../../src/catalog.js';
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

/** The catalog's passes per step when they are a plain number ('2', '3', '1 (2 with sam: true)', ...), else undefined. */
const exactPasses = (passes: string) => /^(\d+)(?: \(.*\))?$/.exec(passes)?.[1];

describe('flatmin bench', () => {
  const TINY_BENCH = ['--rounds', '1', '--warmup', '0', '--hidden', '8', '--batch', '8', '--backend', 'cpu', '--json'];

  it('--method all: a row per preset (whatever it needs), hand-rolled SAM, worstOfK and its floor; floors, reads, memory and targets', async () => {
    const io = collector();
    const before = tf.memory().numTensors;
    expect(await main(['bench', '--method', 'all', '--steps', '1', ...TINY_BENCH], io), io.err()).toBe(0);
    expect(tf.memory().numTensors).toBe(before);
    const report = JSON.parse(io.out()) as BenchReport;
    expect(report.rows.map((r) => r.method)).toEqual(['SGD', ...Object.keys(presets), 'handRolled', 'worstOfK-floor', 'worstOfK']);
    expect(report.model).toEqual({ layers: [784, 8, 8, 10], parameters: 784 * 8 + 8 + 8 * 8 + 8 + 8 * 10 + 10, parameterBytes: 4 * (784 * 8 + 8 + 8 * 8 + 8 + 8 * 10 + 10) });
    const row = (method: string) => report.rows.find((r) => r.method === method)!;
    for (const preset of Object.values(presets)) {
      const exact = exactPasses(preset.passes);
      if (exact !== undefined) expect(row(preset.name).floor, preset.name).toBe(Number(exact));
      // AE-SAM reads its one scalar (is this step sharp?) per step; every other preset none.
      expect(row(preset.name).reads.step, preset.name).toBe(preset.name === 'aeSam' ? 1 : 0);
    }
    // The first step of LookSAM is a sharp one (t = 0); LETS' validation pass starts at the second step; MESA's teacher forward is not a pass.
    expect([row('lookSam').floor, row('lets').floor, row('mesa').floor]).toEqual([2, 2, 1]);
    expect(row('handRolled')).toMatchObject({ kind: 'handRolled', floor: 2, reads: { step: 1 } });
    expect(row('worstOfK-floor')).toMatchObject({ kind: 'floor', evaluations: 5 });
    expect(row('worstOfK').evaluations).toBe(5);
    // worstOfK is held against its floor's measured ratio, not against its evaluations.
    expect(row('worstOfK').floor).toBeCloseTo(row('worstOfK-floor').ratio.median, 12);
    expect(row('worstOfK').ratioToFloor!.median).toBeCloseTo(row('worstOfK').secondsPerStep.median / row('worstOfK-floor').secondsPerStep.median, 9);
    expect(row('SGD')).toMatchObject({ kind: 'base', checks: [], pass: true, memory: { overBaseBytes: 0, timesParameters: 0 } });
    expect(row('sam').kind).toBe('twoPass');
    expect(row('lpfSgd').kind).toBe('onePass');
    expect(row('lookSam').kind).toBe('lookSam');
    const limits = (method: string) => Object.fromEntries(row(method).checks.map((c) => [c.what, c.limit]));
    expect(limits('sam')).toEqual({ ratio: 2.05, memory: 2, reads: 0 });
    expect(limits('lookSam')).toEqual({ ratio: 1.25, memory: 2, reads: 0 });
    expect(limits('lpfSgd')).toEqual({ ratio: 1.1, memory: 2, reads: 0 });
    expect(limits('aeSam')).toEqual({ memory: 2, reads: 1 });
    expect(limits('worstOfK')).toEqual({ ratioToFloor: 1.1, memory: 2, reads: 0 });
    expect(limits('handRolled')).toEqual({ memory: 2 });
    for (const r of report.rows) {
      for (const c of r.checks) expect(c.pass).toBe(c.value <= c.limit);
      expect(r.pass).toBe(r.checks.every((c) => c.pass));
      expect(r.memory.timesParameters).toBeCloseTo(r.memory.overBaseBytes / report.model.parameterBytes, 12);
      // The memory check leaves out up to 256 B of scalars (a step's ρ, ‖g‖, verdict) above the parameter-sized buffers.
      const memory = r.checks.find((c) => c.what === 'memory');
      if (memory !== undefined) expect(memory.value).toBeCloseTo((r.memory.overBaseBytes - Math.min(256, Math.max(0, r.memory.overBaseBytes))) / report.model.parameterBytes, 12);
    }
    expect(report.pass).toBe(report.rows.every((r) => r.pass));
    // One round: SAM's ratio to its SGD block over the hand-rolled SAM's ratio to its own.
    expect(report.samOverHandRolled!.median).toBeCloseTo(row('sam').ratio.median / row('handRolled').ratio.median, 9);
    expect(row('SGD').roundRatio).toEqual({ median: 1, min: 1, max: 1 });
    // The headline pairs each block with an SGD block of its own; the same-round pairing is kept apart.
    expect(row('sam').roundRatio.median).toBeCloseTo(row('sam').secondsPerStep.median / row('SGD').secondsPerStep.median, 9);
  });

  it('over 5 steps: LookSAM (k = 5) makes 1 + 1/5 passes per step, LETS 2 + 4/5 (a validation pass from the second step)', async () => {
    const io = collector();
    expect(await main(['bench', '--method', 'lookSam,lets', '--steps', '5', ...TINY_BENCH], io), io.err()).toBe(0);
    const report = JSON.parse(io.out()) as BenchReport;
    expect(report.rows.map((r) => [r.method, r.floor])).toEqual([
      ['SGD', 1],
      ['lookSam', 1.2],
      ['lets', 2.8],
    ]);
  });

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
