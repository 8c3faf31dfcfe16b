// Every function, class and constant a published package exports has an @example in its doc
// comment (read from the BUILT declarations, as a user's editor shows them). That a doc comment
// exists at all, on every export and member, is checked by the docs build itself
// (typedoc.json: validation.notDocumented with treatWarningsAsErrors).
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const packagesDir = join(import.meta.dirname, '..', '..', '..', 'packages');
const entries = readdirSync(packagesDir)
  .filter((name) => name !== 'test-kit')
  .flatMap((name) => ['index', 'kit'].map((entry) => ({ name: entry === 'index' ? `@flatmin/${name}` : `@flatmin/${name}/${entry}`, file: join(packagesDir, name, 'dist', `${entry}.d.ts`) })))
  .filter(({ file }) => existsSync(file));

const program = ts.createProgram(
  entries.map(({ file }) => file),
  { noEmit: true, skipLibCheck: true, module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext },
);
const checker = program.getTypeChecker();

/** The exported functions, classes and variables of an entry point that have no @example. */
function withoutExample(file: string): string[] {
  const source = program.getSourceFile(file);
  const module = source === undefined ? undefined : checker.getSymbolAtLocation(source);
  if (module === undefined) throw new Error(`cannot read ${file}`);
  const missing: string[] = [];
  for (const exported of checker.getExportsOfModule(module)) {
    const symbol = exported.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(exported) : exported;
    const declarations = (symbol.declarations ?? []).filter((d) => ts.isFunctionDeclaration(d) || ts.isClassDeclaration(d) || ts.isVariableDeclaration(d));
    if (declarations.length === 0) continue; // interfaces and type aliases
    const hasExample = declarations.some((d) => ts.getJSDocTags(d).some((tag) => tag.tagName.text === 'example'));
    if (!hasExample) missing.push(exported.name);
  }
  return missing;
}

describe('the API reference', () => {
  it('reads every entry point', () => {
    expect(entries.length).toBeGreaterThanOrEqual(18);
  });
  for (const { name, file } of entries) {
    it(`${name}: every exported function, class and constant has an @example`, () => {
      expect(withoutExample(file)).toEqual([]);
    });
  }
});
