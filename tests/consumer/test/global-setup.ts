// Packs the published packages once for every test file: the tarballs, and each unpacked.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { packPublished } from '../scripts/packages.mjs';

export type Packed = { name: string; version: string; folder: string; tarball: string; unpacked: string };

declare module 'vitest' {
  export interface ProvidedContext {
    packed: Packed[];
  }
}

export default async function setup(project: TestProject): Promise<() => void> {
  const dir = mkdtempSync(join(tmpdir(), 'flatmin-packed-'));
  mkdirSync(join(dir, 'tarballs'));
  const packed = (await packPublished(join(dir, 'tarballs'))).map((p) => {
    const target = join(dir, 'unpacked', p.folder.split('/').at(-1)!);
    mkdirSync(target, { recursive: true });
    execFileSync('tar', ['-xzf', p.tarball, '-C', target]);
    return { ...p, unpacked: join(target, 'package') };
  });
  project.provide('packed', packed);
  return () => rmSync(dir, { recursive: true, force: true });
}
