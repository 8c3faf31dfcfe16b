// What each published tarball holds, read from the tarball `pnpm pack` made (what npm serves).
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';
import { describe, expect, inject, it } from 'vitest';
import { checkTarball, readJson, root } from '../scripts/packages.mjs';

const packed = inject('packed');
const versionOf = (name: string) => packed.find((p) => p.name === name)!.version;

/** Every module specifier a declaration file imports: import/export declarations, `import('x')` types, `/// <reference types>`. */
function declarationImports(file: string): string[] {
  const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.ES2022, true);
  const found: string[] = source.typeReferenceDirectives.map((d) => d.fileName);
  const visit = (node: ts.Node) => {
    if ((ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) found.push(node.moduleSpecifier.text);
    if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument) && ts.isStringLiteral(node.argument.literal)) found.push(node.argument.literal.text);
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

it('packs every published package (each packages/* that is not private)', () => {
  const names = packed.map((p) => p.name).sort();
  for (const name of [
    '@flatmin/average-swa',
    '@flatmin/average-ema',
    '@flatmin/backend',
    '@flatmin/core',
    '@flatmin/landscape',
    '@flatmin/lr-schedule',
    '@flatmin/perturb-adaptive',
    '@flatmin/perturb-friendly',
    '@flatmin/perturb-gradient',
    '@flatmin/perturb-noise',
    '@flatmin/lora',
    '@flatmin/perturb-sparse',
    '@flatmin/schedule-adaptive',
    '@flatmin/schedule-every-k',
    '@flatmin/schedule-random',
    '@flatmin/schedule-rho',
    'flatmin',
  ]) {
    expect(names).toContain(name);
  }
  expect(names).not.toContain('@flatmin/test-kit');
});

describe.each(packed)('$name tarball', (pkg) => {
  const manifest = readJson(join(pkg.unpacked, 'package.json'));
  const files = (readdirSync(pkg.unpacked, { recursive: true }) as string[]).map((f) => f.split('\\').join('/'));

  it('has the root LICENSE, a README and a package.json', () => {
    expect(readFileSync(join(pkg.unpacked, 'LICENSE'), 'utf8')).toBe(readFileSync(join(root, 'LICENSE'), 'utf8'));
    expect(readFileSync(join(pkg.unpacked, 'README.md'), 'utf8')).toBe(readFileSync(join(root, pkg.folder, 'README.md'), 'utf8'));
    expect(manifest.license).toBe('MIT');
  });

  it('exports every entry as types + default (ESM; require(esm) on Node >= 20.19), with the files present', () => {
    expect(manifest.type).toBe('module');
    expect(manifest.engines).toEqual({ node: '>=20.19' });
    for (const [subpath, target] of Object.entries(manifest.exports as Record<string, string | Record<string, string>>)) {
      if (subpath === './package.json') continue;
      expect(Object.keys(target), subpath).toEqual(['types', 'default']);
      const { types, default: js } = target as Record<string, string>;
      expect(types!.replace(/\.d\.ts$/, '.js'), subpath).toBe(js);
      expect(existsSync(join(pkg.unpacked, types!)), types).toBe(true);
      expect(existsSync(join(pkg.unpacked, js!)), js).toBe(true);
    }
    expect(files.filter((f) => f.endsWith('.d.ts')).length).toBeGreaterThan(0);
  });

  it('has no workspace: range; a sibling peer is ^<its version> (refuses the next 0.x minor)', () => {
    expect(JSON.stringify(manifest)).not.toContain('workspace:');
    const peers = (manifest.peerDependencies ?? {}) as Record<string, string>;
    for (const [name, range] of Object.entries(peers)) if (name.startsWith('@flatmin/')) expect(range, name).toBe(`^${versionOf(name)}`);
    if (pkg.name === '@flatmin/perturb-gradient') expect(peers['@flatmin/core']).toBe(`^${versionOf('@flatmin/core')}`);
  });

  it("types import only relative files and the public entry points of the package's peers", () => {
    const allowed = new Set([...Object.keys(manifest.peerDependencies ?? {}), ...Object.keys(manifest.dependencies ?? {})]);
    const bad: string[] = [];
    for (const file of files.filter((f) => f.endsWith('.d.ts'))) {
      for (const specifier of declarationImports(join(pkg.unpacked, file))) {
        if (specifier.startsWith('.')) continue;
        const name = specifier.split('/').slice(0, specifier.startsWith('@') ? 2 : 1).join('/');
        if (!allowed.has(name) || /\/(dist|src|lib|build)\//.test(`${specifier}/`)) bad.push(`${file}: ${specifier}`);
      }
    }
    expect(bad).toEqual([]);
  });

  it('is clean for publint (strict) and attw --profile esm-only', async () => {
    expect(await checkTarball(pkg.tarball)).toEqual([]);
  }, 120_000);
});
