// `flatmin bench --repro`: the data variants, the statistics and verdicts (against hand-computed
// values), the flags, and one tiny run of three sections end to end on cpu.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, describe, expect, it } from 'vitest';
import type { Dataset } from '../../src/cli/data.js';
import { main } from '../../src/cli/main.js';
import { parseRepro, REPRO_DEFAULTS, REPRO_QUICK, REPRO_SECTIONS, type ReproReport, type ReproRun } from '../../src/cli/repro.js';
import { flipLabels, longTailed } from '../../src/cli/repro-data.js';
import { paired, reproMarkdown, summarize, verdict } from '../../src/cli/repro-report.js';
import { collector } from './helpers.js';

const out = mkdtempSync(join(tmpdir(), 'flatmin-repro-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));

/** `size` one-pixel images whose pixel is the index, labels index mod 10. */
function cycling(size: number): Dataset {
  return { images: Float32Array.from({ length: size }, (_, i) => i), labels: Uint8Array.from({ length: size }, (_, i) => i % 10), size };
}

describe('flipLabels (symmetric label noise)', () => {
  const data = cycling(1000);

  it('changes exactly round(q·n) labels, each to another digit, all nine others about equally often; the images are shared', () => {
    const noisy = flipLabels(data, 0.4, 3);
    const changed = [...noisy.labels].map((label, i) => [label, data.labels[i]!] as const).filter(([a, b]) => a !== b);
    expect(noisy.flipped).toBe(400);
    expect(changed).toHaveLength(400);
    const offsets = new Array<number>(10).fill(0);
    for (const [now, was] of changed) offsets[(now - was + 10) % 10]! += 1;
    expect(offsets[0]).toBe(0);
    // 400 draws over 9 offsets: ~44 each; a binomial(400, 1/9) is in [20, 70] with overwhelming probability.
    for (const count of offsets.slice(1)) {
      expect(count).toBeGreaterThan(20);
      expect(count).toBeLessThan(70);
    }
    expect(noisy.images).toBe(data.images);
    expect([...data.labels.slice(0, 10)]).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]); // the input is not modified
  });

  it('is a function of its seed; 0 flips nothing; a fraction outside [0, 1] is refused', () => {
    expect([...flipLabels(data, 0.2, 5).labels]).toEqual([...flipLabels(data, 0.2, 5).labels]);
    expect([...flipLabels(data, 0.2, 5).labels]).not.toEqual([...flipLabels(data, 0.2, 6).labels]);
    expect([...flipLabels(data, 0, 5).labels]).toEqual([...data.labels]);
    expect(flipLabels(cycling(7), 0.5, 1).flipped).toBe(4); // round(3.5)
    expect(() => flipLabels(data, 1.5, 1)).toThrow(/fraction/);
    expect(() => flipLabels(data, Number.NaN, 1)).toThrow(/fraction/);
  });
});

describe('longTailed', () => {
  it('keeps every head sample and every factor-th sample of each tail digit, in order, with their images', () => {
    const data = cycling(300); // 30 of each digit
    const lt = longTailed(data, [7, 8, 9], 15);
    expect(lt.perClass).toEqual([30, 30, 30, 30, 30, 30, 30, 2, 2, 2]);
    expect(lt.size).toBe(216);
    // Digit 7's kept samples are its 1st and 16th: indices 7 and 157.
    const sevens = [...lt.images].filter((_, i) => lt.labels[i] === 7);
    expect(sevens).toEqual([7, 157]);
    expect([...lt.images].every((pixel, i) => pixel % 10 === lt.labels[i])).toBe(true);
    expect([...lt.images]).toEqual([...lt.images].sort((a, b) => a - b));
    expect(longTailed(data, [7], 1).size).toBe(300);
    expect(() => longTailed(data, [7], 0)).toThrow(/factor/);
    expect(() => longTailed(data, [7], 1.5)).toThrow(/factor/);
  });
});

describe('summaries, paired differences and verdicts', () => {
  it('summarize: mean, sample standard deviation, min, max', () => {
    const s = summarize([1, 2, 3, 4]);
    expect(s).toMatchObject({ n: 4, mean: 2.5, min: 1, max: 4 });
    expect(s.sd).toBeCloseTo(Math.sqrt(5 / 3), 12);
    expect(summarize([7])).toEqual({ n: 1, mean: 7, sd: 0, min: 7, max: 7 });
    expect(summarize([]).n).toBe(0);
    expect(Number.isNaN(summarize([]).mean)).toBe(true);
  });

  it('paired: differences by seed, seeds on one side only left out; the verdict from the sign and the wins', () => {
    const a = [{ seed: 1, value: 0.9 }, { seed: 2, value: 0.8 }, { seed: 3, value: 0.7 }, { seed: 9, value: 5 }];
    const b = [{ seed: 1, value: 0.85 }, { seed: 2, value: 0.82 }, { seed: 3, value: 0.6 }];
    const p = paired(a, b);
    expect(p.n).toBe(3);
    expect(p.wins).toBe(2);
    expect(p.difference.mean).toBeCloseTo((0.05 - 0.02 + 0.1) / 3, 12);
    expect(verdict(p)).toBe('mostly');
    expect(verdict(paired(a.slice(0, 1), b))).toBe('holds');
    expect(verdict(paired(b, a))).toBe('no');
    // Positive on average but on one seed of three only.
    expect(verdict(paired([{ seed: 1, value: 1 }, { seed: 2, value: 0 }, { seed: 3, value: 0 }], [{ seed: 1, value: 0 }, { seed: 2, value: 0.1 }, { seed: 3, value: 0.1 }]))).toBe('mixed');
    expect(verdict(paired([], b))).toBe('no');
    // A tie on every seed is not a gain.
    expect(verdict(paired(b, b))).toBe('no');
  });
});

/** A report with the given runs and the label-noise and efficiency sections. */
function fakeReport(runs: ReproRun[]): ReproReport {
  return {
    command: 'bench --repro',
    argv: ['bench', '--repro'],
    date: '2026-12-02T00:00:00.000Z',
    seconds: 60,
    backend: 'cpu',
    machine: { cpus: 2, cpuModel: 'test', platform: 'linux x64', node: 'v20' },
    settings: { ...REPRO_DEFAULTS, noise: undefined, seed: 1, seeds: 2, quick: false, sections: ['labelNoise', 'efficiency'] } as never,
    data: { noise20: { size: 10, perClass: [], flipped: 2 }, clean: { size: 10, perClass: [] } },
    methods: {
      labelNoise: [{ key: 'sgd', label: 'SGD', settings: '' }, { key: 'sam', label: 'SAM', settings: '' }],
      efficiency: [{ key: 'sgd', label: 'SGD', settings: '' }, { key: 'sam', label: 'SAM', settings: '' }, { key: 'rst', label: 'RST p=0.5', settings: '' }],
    },
    runs,
  };
}

function run(data: string, method: string, seed: number, testAccuracy: number, cpuSeconds = 1, lossEvaluations = 10): ReproRun {
  return { data, method, seed, testAccuracy, perClassAccuracy: [], trainLoss: 0.1, steps: 10, sharpSteps: lossEvaluations - 10, lossEvaluations, seconds: cpuSeconds, cpuSeconds };
}

describe('reproMarkdown', () => {
  it('prints the paired Δ with the wins, the verdict, SAM\'s gain kept and the cost ratio, from the runs', () => {
    const md = reproMarkdown(
      fakeReport([
        run('noise20', 'sgd', 1, 0.8),
        run('noise20', 'sgd', 2, 0.7),
        run('noise20', 'sam', 1, 0.83),
        run('noise20', 'sam', 2, 0.74),
        run('clean', 'sgd', 1, 0.9, 2),
        run('clean', 'sgd', 2, 0.9, 4),
        run('clean', 'sam', 1, 0.92, 4, 20),
        run('clean', 'sam', 2, 0.92, 8, 20),
        run('clean', 'rst', 1, 0.915, 3, 15),
        run('clean', 'rst', 2, 0.915, 6, 15),
      ]),
      ['label-noise'],
    );
    // SAM − SGD at 20 %: +3 and +4 points → +3.50 on 2 of 2 seeds; mean ± sd of SAM: 78.50 ± 6.36.
    expect(md).toContain('| SAM | 78.50 ± 6.36 | +3.50 (2/2) |');
    expect(md).toContain('- SAM above SGD? 20 %: yes, on every seed.');
    expect(md).toContain('![test accuracy against the label-noise level, per method](label-noise.svg)');
    // RST kept (91.5 − 90) / (92 − 90) = 75 % of SAM's gain, at 1.5 × SGD's CPU time, 1.5 passes, sharp fraction 0.5.
    expect(md).toMatch(/\| RST p=0\.5 \| 91\.50 ± 0\.00 \| −0\.50 \(0\/2\) \| 75 % \| 1\.50 \| 1\.50 \| 0\.50 \|/);
    expect(md).toContain("SAM's gain over SGD here: +2.00 points (yes, on every seed).");
    expect(md).not.toContain('--quick');
  });
});

describe('flatmin bench --repro flags', () => {
  it('defaults, --quick, --section (in the report\'s order), and refusals that name the flag', () => {
    const full = parseRepro(['--repro']);
    expect(full).toMatchObject({ train: REPRO_DEFAULTS.train, epochs: REPRO_DEFAULTS.epochs, seeds: REPRO_DEFAULTS.seeds, sections: [...REPRO_SECTIONS], out: 'flatmin-repro', quick: false });
    expect(parseRepro(['--repro', '--quick'])).toMatchObject({ train: REPRO_QUICK.train, epochs: REPRO_QUICK.epochs, seeds: REPRO_QUICK.seeds, hessianIterations: REPRO_QUICK.hessianIterations, quick: true });
    expect(parseRepro(['--repro', '--quick', '--train', '300'])).toMatchObject({ train: 300 });
    expect(parseRepro(['--repro', '--section', 'imbalance, labelNoise'])).toMatchObject({ sections: ['labelNoise', 'imbalance'] });
    expect(parseRepro(['--repro', '--help'])).toBe('help');
    expect(() => parseRepro(['--repro', '--section', 'noise'])).toThrow(/--section has an unknown section 'noise'/);
    expect(() => parseRepro(['--repro', '--train', '7501'])).toThrow(/--train must be an integer from 1 to 7500/);
    expect(() => parseRepro(['--repro', '--seeds', '0'])).toThrow(/--seeds/);
    expect(() => parseRepro(['--repro', '--out', ' '])).toThrow(/--out/);
    expect(() => parseRepro(['--repro', '--rounds', '3'])).toThrow(/rounds/);
  });
});

describe('flatmin bench --repro, a tiny run', () => {
  it('trains every method of flatness, averaging and imbalance (cpu); counts the passes; writes the report, the JSON and the pictures; leaks nothing', async () => {
    const io = collector();
    const before = tf.memory().numTensors;
    const dir = join(out, 'tiny');
    const argv = ['bench', '--repro', '--quick', '--section', 'flatness,averaging,imbalance', '--train', '128', '--test', '64', '--epochs', '1', '--seeds', '1', '--seed', '2', '--backend', 'cpu', '--out', dir, '--json'];
    const code = await main(argv, io);
    expect(io.err().split('\n').filter((line) => line.startsWith('error'))).toEqual([]);
    expect(code).toBe(0);
    expect(tf.memory().numTensors).toBe(before);
    const report = JSON.parse(io.out()) as ReproReport;
    expect(report).toEqual(JSON.parse(readFileSync(join(dir, 'repro.json'), 'utf8')));
    expect(report.argv).toEqual(argv);
    const keys = (data: string) => report.runs.filter((r) => r.data === data).map((r) => r.method);
    expect(keys('clean')).toEqual(['sgd', 'sam', 'asam', 'swa', 'swad', 'ema', 'swa+sam', 'swad+sam', 'ema+sam']);
    expect(keys('longTailed')).toEqual(['sgd', 'sam', 'imbSam']);
    // 128 samples, batch 64: 2 steps; the long-tailed set keeps 1 in 15 of digits 7–9.
    expect(report.data['longTailed']!.perClass.slice(7).every((n) => n <= 2)).toBe(true);
    const byKey = (data: string, method: string) => report.runs.find((r) => r.data === data && r.method === method)!;
    expect(byKey('clean', 'sgd').steps).toBe(2);
    const passes = (data: string, method: string) => byKey(data, method).lossEvaluations / byKey(data, method).steps;
    expect(passes('clean', 'sgd')).toBe(1);
    expect(passes('clean', 'sam')).toBe(2);
    expect(passes('clean', 'swa')).toBe(1);
    expect(passes('clean', 'swa+sam')).toBe(2);
    expect(passes('longTailed', 'imbSam')).toBe(3);
    // The averagers report their last iterate apart; the others do not.
    expect(byKey('clean', 'ema').finalAccuracy).toBeTypeOf('number');
    expect(byKey('clean', 'sam').finalAccuracy).toBeUndefined();
    // Flatness: SGD, SAM, ASAM measured; the first seed's line (--quick: 11 points) passes s = 0 at the measured loss.
    for (const method of ['sgd', 'sam', 'asam']) {
      const g = byKey('clean', method).geometry!;
      expect(g.lambdaMax).toBeGreaterThan(0);
      expect(g.trace).toBeGreaterThan(0);
      expect(g.line!.s).toHaveLength(11);
      expect(g.line!.s[5]).toBe(0);
      expect(g.line!.loss[5]).toBeCloseTo(g.loss, 4);
    }
    expect(byKey('clean', 'swa').geometry).toBeUndefined();
    const md = readFileSync(join(dir, 'repro.md'), 'utf8');
    for (const heading of ['## Flatter minima', '## Weight averaging', '## Class imbalance']) expect(md).toContain(heading);
    expect(md).not.toContain('## Robustness to label noise');
    expect(md).toContain('**This is a `--quick` run');
    for (const name of ['landscape', 'averaging', 'imbalance']) {
      expect(md).toContain(`(${name}.svg)`);
      expect(readFileSync(join(dir, `${name}.svg`), 'utf8').startsWith('<svg')).toBe(true);
      expect([...readFileSync(join(dir, `${name}.png`)).subarray(1, 4)].map((c) => String.fromCharCode(c)).join('')).toBe('PNG');
    }
    expect(existsSync(join(dir, 'label-noise.svg'))).toBe(false);
    expect(io.err()).toMatch(/\[12\/12\] longTailed seed 2 ImbSAM/);
  }, 120_000);
});
