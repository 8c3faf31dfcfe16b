// An app that only imports the packages for their registrations, bundled with esbuild as a
// server app would be (bundle, platform node, ESM, tree shaking), then run with Node.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { build, type Metafile } from 'esbuild';

/** The app: bare imports, then every registration a saved optimizer config needs, by name. */
export const REGISTRATIONS_APP = `
import * as tf from '@tensorflow/tfjs';
import '@flatmin/core';
import '@flatmin/perturb-gradient';

const entry = tf.serialization.SerializationMap.getMap().classNameMap['SharpnessAwareOptimizer'];
const found = { optimizer: entry !== undefined };
if (entry !== undefined) {
  const [cls, fromConfig] = entry;
  const base = { className: 'SGD', config: { learningRate: 0.1 } };
  const components = [['perturbation', 'gradient'], ['schedule', 'always'], ['combiner', 'adversarial'], ['combiner', 'mix'], ['combiner', 'surrogateGap']];
  for (const [kind, name] of components) {
    try {
      const optimizer = fromConfig(cls, { base, perturbation: { name: 'gradient', config: {} }, [kind]: { name, config: {} } });
      found[kind + ':' + name] = optimizer.getConfig()[kind].name;
    } catch (error) {
      found[kind + ':' + name] = String(error.message);
    }
  }
}
console.log(JSON.stringify(found));
`;

/** What the app prints when every registration is in the bundle. */
export const ALL_REGISTERED = {
  optimizer: true,
  'perturbation:gradient': 'gradient',
  'schedule:always': 'always',
  'combiner:adversarial': 'adversarial',
  'combiner:mix': 'mix',
  'combiner:surrogateGap': 'surrogateGap',
};

/**
 * Bundle `REGISTRATIONS_APP` with packages resolved from `resolveDir`'s node_modules, run it,
 * and return what it printed and which input files the bundle kept (absolute paths).
 */
export async function bundleAndRun(resolveDir: string): Promise<{ printed: unknown; kept: string[] }> {
  const out = mkdtempSync(join(tmpdir(), 'flatmin-bundle-'));
  try {
    const outfile = join(out, 'app.mjs');
    const result = await build({
      stdin: { contents: REGISTRATIONS_APP, resolveDir, sourcefile: 'app.mjs', loader: 'js' },
      absWorkingDir: resolveDir,
      bundle: true,
      platform: 'node',
      format: 'esm',
      treeShaking: true,
      outfile,
      metafile: true,
      logLevel: 'silent',
      // tfjs' Node build is CommonJS and calls require('util'): give the ESM bundle a require.
      banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
    });
    const inputs = (Object.values(result.metafile.outputs)[0] as Metafile['outputs'][string]).inputs;
    const kept = Object.entries(inputs)
      .filter(([, input]) => input.bytesInOutput > 0)
      .map(([path]) => resolve(resolveDir, path));
    const stdout = execFileSync(process.execPath, [outfile], { encoding: 'utf8', timeout: 60_000 });
    return { printed: JSON.parse(stdout.trim().split('\n').at(-1)!), kept };
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}
