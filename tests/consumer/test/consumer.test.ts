// An outside user's app: an empty folder, `npm install` of the packed tarballs and
// @tensorflow/tfjs, then ESM, CommonJS, the README's CommonJS blocks, an esbuild bundle,
// TypeScript (nodenext and bundler), and saving a model with and without its optimizer.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { root } from '../scripts/packages.mjs';
import { ALL_REGISTERED, bundleAndRun } from './bundle.js';

const run = promisify(execFile);
const packed = inject('packed');
let app = '';

/** Run `code` as `file` in the app with Node; returns the last line it printed, parsed. */
async function runInApp(file: string, code: string): Promise<Record<string, unknown>> {
  writeFileSync(join(app, file), code);
  const { stdout } = await run(process.execPath, [file], { cwd: app, timeout: 120_000 });
  return JSON.parse(stdout.trim().split('\n').at(-1)!);
}

beforeAll(async () => {
  app = mkdtempSync(join(tmpdir(), 'flatmin-app-'));
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'flatmin-app', private: true, type: 'module' }, null, 2));
  // One install for every case. --ignore-scripts: core-js (via tfjs) only prints a message.
  await run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', '--ignore-scripts', '--loglevel=error', ...packed.map((p) => p.tarball), '@tensorflow/tfjs@4.22.0'], {
    cwd: app,
    timeout: 240_000,
  });
});

afterAll(() => {
  if (app !== '') rmSync(app, { recursive: true, force: true });
});

/** Trains a tiny dense model with SAM for 2 epochs; prints the losses and how far the weights moved. */
const train = (imports: string) => `${imports}
async function main() {
  const model = tf.sequential({ layers: [tf.layers.dense({ units: 1, inputShape: [3] })] });
  model.compile({ optimizer: sharpnessAware({ base: tf.train.sgd(0.1), perturbation: gradient({ rho: 0.05 }), seed: 1 }), loss: 'meanSquaredError' });
  const xs = tf.randomNormal([32, 3], 0, 1, 'float32', 1);
  const ys = xs.sum(1, true);
  const before = model.getWeights().map((w) => Array.from(w.dataSync()));
  const history = await model.fit(xs, ys, { epochs: 2, verbose: 0 });
  const after = model.getWeights().map((w) => Array.from(w.dataSync()));
  const moved = Math.max(...after.flat().map((v, i) => Math.abs(v - before.flat()[i])));
  console.log(JSON.stringify({ losses: history.history.loss, moved, optimizer: model.optimizer.getClassName() }));
}
main();
`;

function expectTrained(result: Record<string, unknown>) {
  const losses = result['losses'] as number[];
  expect(losses).toHaveLength(2);
  for (const loss of losses) expect(Number.isFinite(loss)).toBe(true);
  expect(losses[1]!).toBeLessThan(losses[0]!);
  expect(result['moved'] as number).toBeGreaterThan(1e-3);
  expect(result['optimizer']).toBe('SharpnessAwareOptimizer');
}

describe('an npm app with the packed tarballs', () => {
  it('trains from an ESM script (import)', async () => {
    const imports = "import * as tf from '@tensorflow/tfjs';\nimport { sharpnessAware } from '@flatmin/core';\nimport { gradient } from '@flatmin/perturb-gradient';";
    expectTrained(await runInApp('train.mjs', train(imports)));
  });

  it("trains through the unscoped 'flatmin' preset package, whose dependencies on the parts npm resolves", async () => {
    const imports = [
      "import * as tf from '@tensorflow/tfjs';",
      "import { presets, sam } from 'flatmin';",
      "if (Object.keys(presets).length !== 23) throw new Error('flatmin lists ' + Object.keys(presets).length + ' presets');",
      // The template's sharpnessAware({ base, perturbation: gradient({ rho }), seed }) as the preset.
      'const gradient = (options) => options;',
      'const sharpnessAware = ({ base, perturbation, seed }) => sam({ base, ...perturbation, seed });',
    ].join('\n');
    expectTrained(await runInApp('train-flatmin.mjs', train(imports)));
  });

  it('the flatmin bin runs from the installed tarball: `npx flatmin list --json`, a bad method exits 2, a tiny demo trains on MNIST', async () => {
    const list = await run('npx', ['--no', 'flatmin', 'list', '--json'], { cwd: app, timeout: 60_000 });
    expect((JSON.parse(list.stdout) as { presets: unknown[] }).presets).toHaveLength(23);
    const bin = join(app, 'node_modules', '.bin', 'flatmin');
    const bad = await run(bin, ['demo', '--method', 'nosuch'], { cwd: app, timeout: 60_000 }).then(
      () => ({ code: 0, stderr: '' }),
      (error: { code: number; stderr: string }) => error,
    );
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/unknown method 'nosuch' in --method/);
    const demo = await run(bin, ['demo', '--method', 'lookSam', '--train', '64', '--test', '32', '--epochs', '1', '--batch', '32', '--backend', 'cpu', '--json'], { cwd: app, timeout: 120_000 });
    const report = JSON.parse(demo.stdout) as { runs: { method: string; steps: number }[] };
    expect(report.runs.map((r) => [r.method, r.steps])).toEqual([
      ['SGD', 2],
      ['lookSam', 2],
    ]);
  });

  it("`flatmin bench --repro` from the installed tarball: a tiny imbalance section writes its report and its picture (vega, resvg)", async () => {
    const bin = join(app, 'node_modules', '.bin', 'flatmin');
    const out = join(app, 'repro-out');
    await run(bin, ['bench', '--repro', '--quick', '--section', 'imbalance', '--train', '64', '--test', '32', '--epochs', '1', '--seeds', '1', '--backend', 'cpu', '--out', out], { cwd: app, timeout: 180_000 });
    const report = JSON.parse(readFileSync(join(out, 'repro.json'), 'utf8')) as { runs: { method: string; lossEvaluations: number; steps: number }[] };
    expect(report.runs.map((r) => [r.method, r.lossEvaluations / r.steps])).toEqual([
      ['sgd', 1],
      ['sam', 2],
      ['imbSam', 3],
    ]);
    expect(readFileSync(join(out, 'repro.md'), 'utf8')).toContain('## Class imbalance');
    expect(readFileSync(join(out, 'imbalance.svg'), 'utf8').startsWith('<svg')).toBe(true);
    expect(readFileSync(join(out, 'imbalance.png')).subarray(1, 4).toString('latin1')).toBe('PNG');
  });

  it('trains from a CommonJS script (require of ESM, Node >= 20.19), and requires every entry point', async () => {
    const imports = [
      "const tf = require('@tensorflow/tfjs');",
      "const { sharpnessAware } = require('@flatmin/core');",
      "const { gradient } = require('@flatmin/perturb-gradient');",
      "for (const entry of ['@flatmin/core', '@flatmin/core/kit', '@flatmin/perturb-gradient', '@flatmin/backend', 'flatmin', 'flatmin/cli']) if (Object.keys(require(entry)).length === 0) throw new Error(entry + ' exports nothing');",
    ].join('\n');
    expectTrained(await runInApp('train.cjs', train(imports)));
  });

  it("@flatmin/landscape measures and draws in the app (vega, and resvg's native binary from its optional dependency), from ESM and CommonJS", async () => {
    const code = (imports: string) => `${imports}
async function main() {
  const w = tf.variable(tf.tensor1d([1, 2]));
  const line = await lineLandscape(() => tf.sum(tf.square(w)), [w], { steps: 5, seed: 1 });
  const { svg, png } = await plotLine({ w: line }, { width: 200, height: 150 });
  console.log(JSON.stringify({ points: line.loss.length, svg: svg.startsWith('<svg'), png: Array.from(png.slice(1, 4)), width: new DataView(png.buffer, png.byteOffset).getUint32(16) }));
}
main();
`;
    const expected = { points: 5, svg: true, png: [0x50, 0x4e, 0x47], width: 200 };
    expect(await runInApp('landscape.mjs', code("import * as tf from '@tensorflow/tfjs';\nimport { lineLandscape, plotLine } from '@flatmin/landscape';"))).toEqual(expected);
    expect(await runInApp('landscape.cjs', code("const tf = require('@tensorflow/tfjs');\nconst { lineLandscape, plotLine } = require('@flatmin/landscape');"))).toEqual(expected);
  });

  it("runs the READMEs' CommonJS blocks (```cjs) as written", async () => {
    const blocks = ['README.md', ...packed.map((p) => join(p.folder, 'README.md'))].flatMap((readme) =>
      [...readFileSync(join(root, readme), 'utf8').matchAll(/```cjs\n([\s\S]*?)```/g)].map((m) => ({ readme, code: m[1]! })),
    );
    expect(blocks.map((b) => b.readme).sort()).toEqual(['README.md', 'packages/backend/README.md', 'packages/core/README.md', 'packages/perturb-gradient/README.md']);
    for (const [index, { readme, code }] of blocks.entries()) {
      writeFileSync(join(app, `readme-${index}.cjs`), code);
      await expect(run(process.execPath, [`readme-${index}.cjs`], { cwd: app, timeout: 120_000 }), readme).resolves.toBeDefined();
    }
  });

  it('an esbuild bundle of bare imports keeps every registration', async () => {
    expect((await bundleAndRun(app)).printed).toEqual(ALL_REGISTERED);
  });

  it.each(['nodenext', 'bundler'])('type-checks with moduleResolution %s (both packages, @flatmin/core/kit)', async (resolution) => {
    writeFileSync(
      join(app, 'app.ts'),
      `import * as tf from '@tensorflow/tfjs';
import { sharpnessAware, type Perturbation, type SharpnessAwareOptimizer } from '@flatmin/core';
import { checkNumber, registerComponent } from '@flatmin/core/kit';
import { gradient, type GradientOptions } from '@flatmin/perturb-gradient';
import { useBestBackend, type BackendChoice } from '@flatmin/backend';

const options: GradientOptions = { rho: checkNumber('rho', 0.05, { min: 0 }, 'app') };
const perturbation: Perturbation = gradient(options);
const optimizer: SharpnessAwareOptimizer = sharpnessAware({ base: tf.train.sgd(0.1), perturbation });
registerComponent('perturbation', 'again', () => gradient(options));
const choice: Promise<BackendChoice> = useBestBackend({ log: false });
// @ts-expect-error rho is a number
gradient({ rho: 'big' });
export { choice, optimizer };
`,
    );
    const files = ['app.ts'];
    if (resolution === 'nodenext') {
      // A CommonJS TypeScript file: `import` compiles to require(), of an ES module (TypeScript >= 5.8).
      writeFileSync(join(app, 'app-cjs.cts'), "import { sharpnessAware } from '@flatmin/core';\nimport { gradient } from '@flatmin/perturb-gradient';\nexport const make = (base: Parameters<typeof sharpnessAware>[0]['base']) => sharpnessAware({ base, perturbation: gradient() });\n");
      files.push('app-cjs.cts');
    }
    const module = resolution === 'nodenext' ? 'nodenext' : 'esnext';
    // skipLibCheck off so that flatmin's own .d.ts files are checked too.
    const config = { compilerOptions: { module, moduleResolution: resolution, target: 'es2022', strict: true, noEmit: true, types: [], skipLibCheck: false, lib: ['es2022', 'dom'] }, files };
    writeFileSync(join(app, `tsconfig.${resolution}.json`), JSON.stringify(config));
    const tsc = join(dirname(createRequire(import.meta.url).resolve('typescript/package.json')), 'bin', 'tsc');
    const result = await run(process.execPath, [tsc, '-p', `tsconfig.${resolution}.json`], { cwd: app }).catch((e: { stdout: string }) => ({ stdout: e.stdout }));
    // tfjs' own declarations do not pass a strict lib check (its errors name its files and their
    // continuation lines are indented); every other error counts.
    const errors = result.stdout.split('\n').filter((line) => line.trim() !== '' && !line.startsWith(' ') && !line.startsWith('node_modules/@tensorflow/'));
    expect(errors).toEqual([]);
  });
});

describe('saving a model (packages/core/README.md, "Saving a model")', () => {
  // Saves to JSON files through tfjs' own save handler (file:// needs tfjs-node).
  const SAVE = `import * as tf from '@tensorflow/tfjs';
import { writeFileSync } from 'node:fs';
import { sharpnessAware } from '@flatmin/core';
import { gradient } from '@flatmin/perturb-gradient';
const model = tf.sequential({ layers: [tf.layers.dense({ units: 1, inputShape: [3] })] });
model.compile({ optimizer: sharpnessAware({ base: tf.train.sgd(0.1), perturbation: gradient({ rho: 0.05 }) }), loss: 'meanSquaredError' });
const xs = tf.randomNormal([16, 3], 0, 1, 'float32', 1);
await model.fit(xs, xs.sum(1, true), { epochs: 1, verbose: 0 });
const saveTo = (file) => tf.io.withSaveHandler(async (artifacts) => {
  writeFileSync(file, JSON.stringify({ ...artifacts, weightData: Buffer.from(artifacts.weightData).toString('base64') }));
  return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
});
await model.save(saveTo('plain.json'));
await model.save(saveTo('with-optimizer.json'), { includeOptimizer: true });
console.log(JSON.stringify({ saved: true }));
`;
  const load = (imports: string) => `import * as tf from '@tensorflow/tfjs';
import { readFileSync } from 'node:fs';
${imports}
const result = {};
for (const file of ['plain.json', 'with-optimizer.json']) {
  const saved = JSON.parse(readFileSync(file, 'utf8'));
  const bytes = Buffer.from(saved.weightData, 'base64');
  saved.weightData = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
  try {
    const model = await tf.loadLayersModel(tf.io.fromMemory(saved));
    const entry = { loaded: true, prediction: model.predict(tf.ones([1, 3])).dataSync()[0], optimizer: model.optimizer?.getClassName() ?? null };
    if (model.optimizer) {
      const xs = tf.randomNormal([16, 3], 0, 1, 'float32', 2);
      entry.resumedLoss = (await model.fit(xs, xs.sum(1, true), { epochs: 1, verbose: 0 })).history.loss[0];
    }
    result[file] = entry;
  } catch (error) {
    result[file] = { loaded: false, error: error.message };
  }
}
console.log(JSON.stringify(result));
`;

  it('a default save loads anywhere; includeOptimizer: true loads only after importing flatmin, then resumes training', async () => {
    expect(await runInApp('save.mjs', SAVE)).toEqual({ saved: true });
    const plainApp = await runInApp('load-plain.mjs', load(''));
    expect(plainApp['plain.json']).toMatchObject({ loaded: true, optimizer: null });
    expect(Number.isFinite((plainApp['plain.json'] as { prediction: number }).prediction)).toBe(true);
    expect(plainApp['with-optimizer.json']).toEqual({ loaded: false, error: expect.stringMatching(/^Unknown (layer|optimizer): SharpnessAwareOptimizer\b/) });

    const flatminApp = await runInApp('load-flatmin.mjs', load("import '@flatmin/core';\nimport '@flatmin/perturb-gradient';"));
    expect(flatminApp['with-optimizer.json']).toMatchObject({ loaded: true, optimizer: 'SharpnessAwareOptimizer' });
    expect(Number.isFinite((flatminApp['with-optimizer.json'] as { resumedLoss: number }).resumedLoss)).toBe(true);
    expect((flatminApp['with-optimizer.json'] as { prediction: number }).prediction).toBe((plainApp['plain.json'] as { prediction: number }).prediction);
  });
});
