// `pnpm version-packages` on a copy of the workspace's manifests and changesets config, with one
// `minor` changeset: a 0.x minor stays 0.x (no 1.0.0 from the `workspace:^` peer), the fixed group
// moves together, and the sibling peer is still `workspace:^` (published as ^<new version>).
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { PUBLISHED, readJson, root } from '../scripts/packages.mjs';

const copy = mkdtempSync(join(tmpdir(), 'flatmin-release-'));
afterAll(() => rmSync(copy, { recursive: true, force: true }));

it('a minor changeset versions every published package one 0.x minor up, peers still workspace:^', () => {
  for (const file of ['package.json', 'pnpm-workspace.yaml', 'scripts/version-packages.mjs', '.changeset/config.json']) {
    mkdirSync(dirname(join(copy, file)), { recursive: true });
    cpSync(join(root, file), join(copy, file));
  }
  for (const group of ['packages', 'tests', 'tools', 'examples', 'apps']) {
    for (const name of readdirSync(join(root, group))) {
      if (!existsSync(join(root, group, name, 'package.json'))) continue;
      mkdirSync(join(copy, group, name), { recursive: true });
      cpSync(join(root, group, name, 'package.json'), join(copy, group, name, 'package.json'));
    }
  }
  mkdirSync(join(copy, 'bench'));
  cpSync(join(root, 'bench', 'package.json'), join(copy, 'bench', 'package.json'));
  symlinkSync(join(root, 'node_modules'), join(copy, 'node_modules'), 'dir');
  writeFileSync(join(copy, '.changeset', 'a-minor.md'), "---\n'@flatmin/core': minor\n---\n\nA minor change.\n");

  const before = Object.fromEntries(PUBLISHED.map((folder) => [folder, readJson(join(copy, folder, 'package.json'))]));
  execFileSync(process.execPath, [join(copy, 'scripts', 'version-packages.mjs')], { cwd: copy, stdio: 'pipe' });

  const [major, minor] = (before['packages/core'].version as string).split('.').map(Number) as [number, number];
  const expected = major === 0 ? `0.${minor + 1}.0` : `${major}.${minor + 1}.0`;
  for (const folder of PUBLISHED) {
    const after = readJson(join(copy, folder, 'package.json'));
    expect(after.version, folder).toBe(expected);
    expect(after.peerDependencies, folder).toEqual(before[folder].peerDependencies);
  }
  expect(readJson(join(copy, 'packages/perturb-gradient/package.json')).peerDependencies['@flatmin/core']).toBe('workspace:^');
}, 120_000);
