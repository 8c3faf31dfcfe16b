// The bars off a terminal: one line per update (at most one per interval), the final state.
import { describe, expect, it } from 'vitest';
import { Progress } from '../../src/cli/progress.js';

describe('Progress (cli-progress) when the output is not a terminal', () => {
  it('prints the start, one line per update with interval 0, and the final state; no carriage returns', () => {
    const chunks: string[] = [];
    const bar = new Progress('SAM', 4, { write: (text: string) => chunks.push(text) }, { interval: 0 });
    bar.update(1, 'loss 2.5000');
    bar.update(2, 'loss 1.2500');
    bar.stop();
    const lines = chunks.join('').split('\n').filter((line) => line !== '');
    expect(lines).toHaveLength(4);
    expect(lines[0]).toMatch(/^SAM +\[░{24}\] 0\/4 \| {2}\| 0s$/);
    expect(lines[1]).toMatch(/^SAM +\[█{6}░{18}\] 1\/4 \| loss 2\.5000 \| 0s$/);
    expect(lines[2]).toMatch(/^SAM +\[█{12}░{12}\] 2\/4 \| loss 1\.2500 \| 0s$/);
    expect(lines[3]).toBe(lines[2]);
    expect(chunks.join('')).not.toContain('\r');
  });

  it('with the default interval, fast updates print no extra line', () => {
    const chunks: string[] = [];
    const bar = new Progress('SGD', 100, { write: (text: string) => chunks.push(text) });
    for (let i = 1; i <= 99; i++) bar.update(i);
    bar.stop();
    expect(chunks.join('').split('\n').filter((line) => line !== '')).toHaveLength(2);
  });
});
