// What a package's built `dist/` does when it is imported, read from its syntax (TypeScript's
// parser): which files run code at import time (registrations), which use top-level await,
// and which files a bundler must keep for a bare `import 'pkg'` to reach the registrations.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';

export type DistFile = {
  /** `./dist/x.js`, as `sideEffects` and `exports` spell it. */
  path: string;
  /** Top-level statements that run code at import time (not declarations, imports or exports). */
  effects: string[];
  /** `await` outside any function (require(esm) refuses such a module). */
  topLevelAwait: boolean;
  /** Files this one re-exports from or imports for effect only (`export … from`, `import './x.js'`). */
  passesThrough: string[];
};

const callsRegister = (node: ts.Node): boolean => {
  if (ts.isCallExpression(node) && /register/i.test(node.expression.getText())) return true;
  if (ts.isFunctionLike(node)) return false;
  return ts.forEachChild(node, callsRegister) ?? false;
};

const hasTopLevelAwait = (node: ts.Node): boolean => {
  if (ts.isFunctionLike(node) || ts.isClassStaticBlockDeclaration(node)) return false;
  if (ts.isAwaitExpression(node) || (ts.isForOfStatement(node) && node.awaitModifier !== undefined)) return true;
  return ts.forEachChild(node, hasTopLevelAwait) ?? false;
};

function effectsOf(statement: ts.Statement): boolean {
  if (ts.isImportDeclaration(statement) || ts.isExportDeclaration(statement)) return false;
  if (ts.isFunctionDeclaration(statement) || ts.isClassDeclaration(statement)) return callsRegister(statement);
  if (ts.isVariableStatement(statement)) return callsRegister(statement);
  if (ts.isTypeAliasDeclaration(statement) || ts.isInterfaceDeclaration(statement) || ts.isEmptyStatement(statement)) return false;
  return true; // an expression statement, an `if`, a loop, …: it runs at import time
}

/** Every `.js` file of `packageDir/dist`, analysed. */
export function analyseDist(packageDir: string): Map<string, DistFile> {
  const dist = join(packageDir, 'dist');
  const files = new Map<string, DistFile>();
  const toPath = (absolute: string) => `./${relative(packageDir, absolute).split('\\').join('/')}`;
  for (const entry of readdirSync(dist, { recursive: true }) as string[]) {
    if (!entry.endsWith('.js')) continue;
    const absolute = join(dist, entry);
    const source = ts.createSourceFile(absolute, readFileSync(absolute, 'utf8'), ts.ScriptTarget.ES2022, true, ts.ScriptKind.JS);
    const local = (specifier: ts.Expression | undefined) =>
      specifier !== undefined && ts.isStringLiteral(specifier) && specifier.text.startsWith('.') ? toPath(resolve(dirname(absolute), specifier.text)) : undefined;
    const passesThrough: string[] = [];
    for (const s of source.statements) {
      if (ts.isExportDeclaration(s) && !s.isTypeOnly) {
        const target = local(s.moduleSpecifier);
        if (target !== undefined) passesThrough.push(target);
      } else if (ts.isImportDeclaration(s)) {
        const target = local(s.moduleSpecifier);
        if (target !== undefined && s.importClause === undefined) passesThrough.push(target);
      }
    }
    files.set(toPath(absolute), {
      path: toPath(absolute),
      effects: source.statements.filter(effectsOf).map((s) => s.getText()),
      topLevelAwait: hasTopLevelAwait(source),
      passesThrough,
    });
  }
  return files;
}

/** The files an entry point's `exports` resolve to (`default` or `import` condition). */
export function entryFiles(manifest: { exports: Record<string, string | Record<string, string>> }): string[] {
  return Object.values(manifest.exports)
    .map((target) => (typeof target === 'string' ? target : (target['default'] ?? target['import'])))
    .filter((target): target is string => target?.endsWith('.js') ?? false);
}

/**
 * What `sideEffects` must list: every file that runs code at import time, and every file through
 * which an entry point passes (re-exports, effect-only imports) to such a file — a bundler drops a
 * bare `import 'pkg'` of an entry that is not listed, and with it the registrations behind it.
 */
export function requiredSideEffects(packageDir: string, manifest: Parameters<typeof entryFiles>[0]): string[] {
  const files = analyseDist(packageDir);
  const required = new Set([...files.values()].filter((f) => f.effects.length > 0).map((f) => f.path));
  const reaches = (path: string, seen: Set<string>): boolean => {
    if (seen.has(path)) return required.has(path);
    seen.add(path);
    let found = required.has(path);
    for (const next of files.get(path)?.passesThrough ?? []) if (reaches(next, seen)) found = true;
    if (found) required.add(path);
    return found;
  };
  for (const entry of entryFiles(manifest)) reaches(entry, new Set());
  return [...required].sort();
}
