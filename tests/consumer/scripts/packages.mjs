// The published packages as npm gets them: `pnpm pack` (which rewrites `workspace:` ranges to
// real ones), then publint and arethetypeswrong on each tarball. Used by `check-packages.mjs`
// and by the tests in ../test.
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { publint } from 'publint';
import { formatMessage } from 'publint/utils';

const run = promisify(execFile);
const require = createRequire(import.meta.url);

/** The repository root. */
export const root = join(import.meta.dirname, '..', '..', '..');

/** Every published package's folder, relative to the root: each `packages/*` whose package.json is not private. */
export const PUBLISHED = readdirSync(join(root, 'packages'), { withFileTypes: true })
  .filter((entry) => entry.isDirectory() && existsSync(join(root, 'packages', entry.name, 'package.json')))
  .map((entry) => `packages/${entry.name}`)
  .filter((folder) => JSON.parse(readFileSync(join(root, folder, 'package.json'), 'utf8')).private !== true)
  .sort();

/** @param {string} file */
export const readJson = (file) => JSON.parse(readFileSync(file, 'utf8'));

/** The pnpm that runs this script (its `npm_execpath`), else the root's `packageManager` through npx. */
function pnpm() {
  const exec = process.env['npm_execpath'];
  if (exec !== undefined && /pnpm/.test(exec)) return /\.[cm]?js$/.test(exec) ? { file: process.execPath, args: [exec] } : { file: exec, args: [] };
  return { file: 'npx', args: ['-y', readJson(join(root, 'package.json')).packageManager] };
}

/**
 * `pnpm pack` every published package into `destination`.
 * @param {string} destination
 * @returns {Promise<Array<{ name: string, version: string, folder: string, tarball: string }>>}
 */
export async function packPublished(destination) {
  const { file, args } = pnpm();
  return Promise.all(
    PUBLISHED.map(async (folder) => {
      const { name, version } = readJson(join(root, folder, 'package.json'));
      await run(file, [...args, 'pack', '--pack-destination', destination], { cwd: join(root, folder) });
      return { name, version, folder, tarball: join(destination, `${name.startsWith('@') ? name.slice(1).replace('/', '-') : name}-${version}.tgz`) };
    }),
  );
}

/**
 * publint (strict, suggestions count) and `attw --profile esm-only` on one tarball.
 * @param {string} tarball
 * @returns {Promise<string[]>} the problems, empty when both are clean
 */
export async function checkTarball(tarball) {
  const data = readFileSync(tarball);
  const linted = await publint({ pack: { tarball: data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength) }, level: 'suggestion', strict: true });
  const problems = linted.messages.map((m) => `publint ${m.type}: ${formatMessage(m, linted.pkg, { color: false })}`);
  const attw = join(dirname(require.resolve('@arethetypeswrong/cli/package.json')), 'dist', 'index.js');
  try {
    await run(process.execPath, [attw, tarball, '--profile', 'esm-only', '--format', 'ascii', '--no-color'], { env: { ...process.env, FORCE_COLOR: '0' } });
  } catch (error) {
    const e = /** @type {{ stdout?: string, stderr?: string, message: string }} */ (error);
    problems.push(`attw: ${e.stdout || e.stderr || e.message}`);
  }
  return problems;
}
