// `flatmin list`: the catalog, as a table and as JSON.
import { describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { collector } from './helpers.js';

const NAMES = ['sam', 'asam', 'fisherSam', 'fsam', 'vasso', 'ssamF', 'ssamD', 'esam', 'gsam', 'rwp', 'lpfSgd', 'flatLora', 'marwp', 'lookSam', 'rst', 'aeSam', 'lets', 'imbSam', 'swa', 'swad', 'ema', 'mesa', 'ogSam'];

describe('flatmin list', () => {
  it('--json lists all 23 presets with their paper, parts and passes', async () => {
    const io = collector();
    expect(await main(['list', '--json'], io)).toBe(0);
    const report = JSON.parse(io.out()) as { command: string; presets: Record<string, unknown>[] };
    expect(report.command).toBe('list');
    expect(report.presets.map((p) => p['name'])).toEqual(NAMES);
    for (const p of report.presets) {
      for (const key of ['method', 'authors', 'paper', 'venue', 'passes', 'needs']) expect(typeof p[key], `${p['name']}.${key}`).toBe('string');
      expect((p['paper'] as string).length).toBeGreaterThan(10);
      expect(p['year']).toBeGreaterThan(1990);
      expect((p['parts'] as string[]).length).toBeGreaterThan(0);
    }
    const sam = report.presets[0]!;
    expect(sam).toMatchObject({ method: 'SAM', venue: 'ICLR', year: 2021, passes: '2', paper: 'Sharpness-Aware Minimization for Efficiently Improving Generalization' });
    expect(report.presets.find((p) => p['name'] === 'lookSam')).toMatchObject({ passes: '1 + 1/k' });
  });

  it('prints a table with a row per preset, then the parts and the papers', async () => {
    const io = collector();
    expect(await main(['list'], io)).toBe(0);
    const text = io.out();
    expect(text).toMatch(/^preset +method +paper +passes\/step +needs\n/);
    expect(text).toMatch(/\nlookSam +LookSAM +Liu, Mai, Chen, Hsieh & You, CVPR 2022 +1 \+ 1\/k +closure\n/);
    expect(text).toContain('  sam: @flatmin/perturb-gradient: gradient({ rho, p })');
    expect(text).toContain('  ogSam: "Improving Sharpness-Aware Minimization by Lookahead"');
    for (const name of NAMES) expect(text).toMatch(new RegExp(`\\n${name} `));
  });
});
