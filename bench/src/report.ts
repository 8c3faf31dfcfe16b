/** What the benchmarks share to report: the source and machine measured, number formats, the results file. */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import type { HostReads } from './measure.js';

/** The commit measured and the uncommitted changes under packages/ (null outside a git checkout). */
export function sourceState(): { commit: string; changedUnderPackages: string[] } | null {
  const cwd = new URL('..', import.meta.url).pathname;
  const git = (...args: string[]) => execFileSync('git', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  try {
    const commit = git('rev-parse', '--short', 'HEAD').trim();
    const changed = git('status', '--porcelain', '--', '../packages').split('\n').filter((line) => line.trim() !== '');
    return { commit, changedUnderPackages: changed.map((line) => line.slice(3)) };
  } catch {
    return null;
  }
}

/** One console line about the source measured (nothing outside a git checkout). */
export function logSource(source: ReturnType<typeof sourceState>): void {
  if (source === null) return;
  const changes = source.changedUnderPackages.length;
  console.log(`source: commit ${source.commit}${changes > 0 ? `, ${changes} uncommitted change(s) under packages/` : ', packages/ clean'}`);
}

/** The machine, for the results file (the load average says how shared it was). */
export function machineInfo() {
  return { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model ?? 'unknown', platform: `${os.platform()} ${os.arch()}`, node: process.version, loadAverage: os.loadavg() };
}

/** Write `results` as bench/results/<name> (gitignored) and say where. */
export function writeResults(name: string, results: unknown): void {
  const resultsDir = new URL('../results/', import.meta.url);
  mkdirSync(resultsDir, { recursive: true });
  const file = new URL(name, resultsDir);
  writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
  console.log(`\nwrote ${file.pathname}`);
}

/** Reads per step by the step's code, plus the kernel-internal ones when there are any. */
export function readsPerStep(reads: HostReads, steps: number): string {
  const inside = reads.insideKernels > 0 ? ` (+${reads.insideKernels / steps} in kernels)` : '';
  return `${reads.step / steps}${inside}`;
}

/** A number with its sign (+, or a real minus sign). */
export function signed(value: number, digits: number): string {
  const text = value.toFixed(digits);
  return value >= 0 && !text.startsWith('-') ? `+${text}` : text.replace('-', '−');
}

export function formatBytes(bytes: number): string {
  const sign = bytes < 0 ? '-' : '';
  const size = Math.abs(bytes);
  if (size >= 1024 * 1024) return `${sign}${(size / 1024 / 1024).toFixed(2)} MiB`;
  if (size >= 1024) return `${sign}${(size / 1024).toFixed(1)} KiB`;
  return `${sign}${size} B`;
}

/** Seconds as milliseconds with two decimals. */
export function ms(seconds: number): string {
  return (seconds * 1000).toFixed(2);
}
