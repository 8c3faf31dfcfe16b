/**
 * Runs the ```ts and ```js code blocks of a README as a user would: transpiled to plain ESM and
 * executed by Node in the package folder (so imports resolve to the BUILT packages).
 * A block preceded by `<!-- not-runnable -->` is skipped.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';

/** The runnable ```ts blocks of a markdown file. */
export function readmeSnippets(markdown: string): string[] {
  const blocks: string[] = [];
  const pattern = /(<!--\s*not-runnable\s*-->\s*)?```(?:ts|js)\n([\s\S]*?)```/g;
  for (const match of markdown.matchAll(pattern)) if (match[1] === undefined) blocks.push(match[2]!);
  return blocks;
}

/** Transpile and run snippet `index` of `readmePath` with Node in `cwd`; returns its stdout (throws with stderr on failure). */
export function runReadmeSnippet(readmePath: string, index: number, cwd: string): string {
  const code = readmeSnippets(readFileSync(readmePath, 'utf8'))[index];
  if (code === undefined) throw new Error(`${readmePath} has no runnable snippet #${index}`);
  const js = ts.transpileModule(code, { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, verbatimModuleSyntax: false } }).outputText;
  const file = join(cwd, `.readme-snippet-${process.pid}-${index}.mjs`);
  writeFileSync(file, js);
  try {
    return execFileSync(process.execPath, [file], { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 120_000 });
  } catch (error) {
    const e = error as { stderr?: string; stdout?: string; message: string };
    throw new Error(`README snippet #${index} of ${readmePath} failed:\n${e.stderr ?? ''}\n${e.stdout ?? ''}\n${e.message}`);
  } finally {
    rmSync(file, { force: true });
  }
}
