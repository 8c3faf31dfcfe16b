// `sideEffects` lists exactly what a bundler must keep: the files that register with tfjs'
// serialization or flatmin's component registry when imported, and the entry points that lead
// to them. Checked twice: against the built dist's syntax, and with a real esbuild bundle.
import { realpathSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PUBLISHED, readJson, root } from '../scripts/packages.mjs';
import { ALL_REGISTERED, bundleAndRun } from './bundle.js';
import { analyseDist, requiredSideEffects } from './dist-analysis.js';

const here = join(import.meta.dirname, '..');

describe.each(PUBLISHED)('%s', (folder) => {
  const dir = join(root, folder);
  const manifest = readJson(join(dir, 'package.json'));

  it('lists in sideEffects exactly the files that register at import time and the entries that lead to them', () => {
    const required = requiredSideEffects(dir, manifest);
    expect(manifest.sideEffects === false ? [] : [...manifest.sideEffects].sort()).toEqual(required);
    // A package with nothing to keep says so plainly.
    if (required.length === 0) expect(manifest.sideEffects).toBe(false);
  });

  it('has no top-level await in dist (require(esm) refuses it)', () => {
    const withAwait = [...analyseDist(dir).values()].filter((f) => f.topLevelAwait).map((f) => f.path);
    expect(withAwait).toEqual([]);
  });
});

it('the analysis finds the registrations: registerClass in optimizer.js, registerComponent in combiners, schedule and gradient', () => {
  const effects = (folder: string) =>
    Object.fromEntries([...analyseDist(join(root, folder)).values()].filter((f) => f.effects.length > 0).map((f) => [f.path, f.effects.map((e) => e.split('(')[0])]));
  expect(effects('packages/core')).toEqual({
    './dist/combiners.js': ['registerComponent', 'registerComponent', 'registerComponent'],
    './dist/optimizer.js': ['tf.serialization.registerClass'],
    './dist/schedule.js': ['registerComponent'],
  });
  expect(effects('packages/perturb-gradient')).toEqual({ './dist/gradient.js': ['registerComponent'] });
  expect(effects('packages/backend')).toEqual({});
});

it('an esbuild bundle of `import "@flatmin/core"; import "@flatmin/perturb-gradient"` keeps every registration', async () => {
  const { printed, kept } = await bundleAndRun(here);
  expect(printed).toEqual(ALL_REGISTERED);
  for (const folder of ['packages/core', 'packages/perturb-gradient']) {
    const dir = join(root, folder);
    const registering = [...analyseDist(dir).values()].filter((f) => f.effects.length > 0);
    for (const file of registering) expect(kept, `${folder}/${file.path} is in the bundle`).toContain(realpathSync(join(dir, file.path)));
  }
}, 120_000);
