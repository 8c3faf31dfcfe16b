// `pnpm version-packages`: `changeset version`, kept in 0.x.
//
// A component package names its sibling as a peer with `workspace:^`, which pnpm publishes as
// `^<version>` — in 0.x that refuses the next minor, as it should. changesets, seeing a 0.x
// minor leave that range, bumps the dependent a *major* (and, through the `fixed` group, every
// package) to 1.0.0. While changesets plans the release, such peers read `workspace:^0` (a 0.x
// minor stays in range, so the fixed group's bump is the plain one); afterwards they are
// `workspace:^` again. Peers on a package at 1.0.0 or later are left alone.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..');
const readJson = (file) => JSON.parse(readFileSync(file, 'utf8'));
const writeJson = (file, value) => writeFileSync(file, `${JSON.stringify(value, null, 2)}\n`);

/** Every workspace package's package.json, from pnpm-workspace.yaml's `packages:` globs (`dir` or `dir/*`). */
function workspaceManifests() {
  const yaml = readFileSync(join(root, 'pnpm-workspace.yaml'), 'utf8');
  const globs = [...(yaml.match(/^packages:\n((?:\s+-\s.*\n?)+)/m)?.[1] ?? '').matchAll(/-\s+['"]?([^'"\n]+)/g)].map((m) => m[1].trim());
  const dirs = globs.flatMap((glob) =>
    glob.endsWith('/*') ? readdirSync(join(root, glob.slice(0, -2)), { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => join(glob.slice(0, -2), d.name)) : [glob],
  );
  return dirs.map((dir) => join(root, dir, 'package.json')).filter((file) => existsSync(file));
}

const manifests = workspaceManifests();
const versions = new Map(manifests.map((file) => readJson(file)).map((m) => [m.name, m.version]));
const restore = [];
for (const file of manifests) {
  const manifest = readJson(file);
  const changed = [];
  for (const [name, range] of Object.entries(manifest.peerDependencies ?? {})) {
    if (range !== 'workspace:^' || !versions.get(name)?.startsWith('0.')) continue;
    manifest.peerDependencies[name] = 'workspace:^0';
    changed.push(name);
  }
  if (changed.length === 0) continue;
  writeJson(file, manifest);
  restore.push({ file, changed });
}

try {
  const cli = createRequire(join(root, 'package.json')).resolve('@changesets/cli/bin.js');
  execFileSync(process.execPath, [cli, 'version'], { cwd: root, stdio: 'inherit' });
} finally {
  for (const { file, changed } of restore) {
    const manifest = readJson(file);
    for (const name of changed) manifest.peerDependencies[name] = 'workspace:^';
    writeJson(file, manifest);
  }
}
