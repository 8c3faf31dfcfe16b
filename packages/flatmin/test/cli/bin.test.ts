// The built bin as a user runs it (`npx flatmin …` runs bin/flatmin.js with node): exit codes,
// stdout holding only the JSON, progress on stderr as one line per update (not a terminal).
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { BIN } from './helpers.js';

const run = async (args: string[]) => {
  expect(existsSync(new URL('../../dist/cli/main.js', import.meta.url)), 'dist/cli/main.js is missing: build first (pnpm turbo run build --filter=flatmin)').toBe(true);
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [BIN, ...args], { timeout: 60_000 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
};

describe('the flatmin bin (bin/flatmin.js over dist/cli, a child process)', () => {
  it('is the package.json bin, with a node shebang', () => {
    const manifest = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { bin: Record<string, string> };
    expect(manifest.bin).toEqual({ flatmin: './bin/flatmin.js' });
    expect(readFileSync(BIN, 'utf8').split('\n')[0]).toBe('#!/usr/bin/env node');
  });

  it('list --json: 23 presets on stdout, exit 0', async () => {
    const { code, stdout } = await run(['list', '--json']);
    expect(code).toBe(0);
    expect((JSON.parse(stdout) as { presets: unknown[] }).presets).toHaveLength(23);
  });

  it('demo --method nosuch: exit 2, the method named on stderr, nothing on stdout', async () => {
    const { code, stdout, stderr } = await run(['demo', '--method', 'nosuch']);
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toMatch(/^error: flatmin demo: unknown method 'nosuch' in --method/);
  });

  it('a tiny demo --json: stdout is exactly the JSON document, the bars are lines on stderr', async () => {
    const { code, stdout, stderr } = await run(['demo', '--method', 'sam', '--train', '64', '--test', '32', '--epochs', '1', '--batch', '32', '--backend', 'cpu', '--json']);
    expect(code, stderr).toBe(0);
    const report = JSON.parse(stdout) as { runs: { method: string; steps: number }[] };
    expect(report.runs.map((r) => [r.method, r.steps])).toEqual([
      ['SGD', 2],
      ['sam', 2],
    ]);
    expect(stderr).not.toContain('\r');
    expect(stderr).toMatch(/\nsam +\[█{24}\] 2\/2 \| loss \d/);
  });
});
