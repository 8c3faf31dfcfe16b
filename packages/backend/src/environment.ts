/**
 * Small platform helpers: Node detection, dynamic import of optional modules, "not installed"
 * detection, and finding the wasm binaries on disk. Internal (not re-exported).
 *
 * @module
 */

import type { ModuleImporter } from './types.js';

interface NodeProcessLike {
  versions?: { node?: string };
}

/** True when running in Node.js (or a runtime that presents itself as Node, such as Bun). */
export function isNode(): boolean {
  const process = (globalThis as { process?: NodeProcessLike }).process;
  return typeof process?.versions?.node === 'string';
}

/**
 * Dynamic `import()` of a specifier held in a variable, so TypeScript does not require the
 * optional modules to exist and bundlers do not try to resolve them at build time.
 */
export const dynamicImport: ModuleImporter = (specifier) => import(/* @vite-ignore */ /* webpackIgnore: true */ specifier);

/**
 * Whether `error` says that `specifier` itself is not installed (as opposed to the module being
 * present but failing: a missing native binding, a missing transitive dependency, a crash).
 */
export function isNotInstalled(error: unknown, specifier: string): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  const message = errorMessage(error);
  const notFound =
    code === 'ERR_MODULE_NOT_FOUND' ||
    code === 'MODULE_NOT_FOUND' ||
    /cannot find (module|package)|failed to resolve|failed to load url|could not resolve/i.test(message);
  if (!notFound) return false;
  // The specifier must be named as a whole, e.g. `'@tensorflow/tfjs-node'` but not as the
  // prefix of `'@tensorflow/tfjs-node-gpu'`, nor a path inside it (`.../tfjs_binding.node`).
  const escaped = specifier.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  return new RegExp(`(^|[^\\w@/.-])${escaped}(?![\\w/.-])`).test(message);
}

/** The first line of an error's message, shortened, for a one-line report. */
export function shortMessage(error: unknown, max = 160): string {
  const line = errorMessage(error).split('\n').find((part) => part.trim() !== '') ?? 'unknown error';
  const trimmed = line.trim();
  return trimmed.length > max ? `${trimmed.slice(0, max - 1)}…` : trimmed;
}

function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message;
  if (typeof error === 'object' && error !== null && typeof (error as { message?: unknown }).message === 'string') {
    return (error as { message: string }).message;
  }
  return String(error);
}

interface NodeModuleBuiltin {
  createRequire(from: string): { resolve(id: string): string };
}
interface NodeFsBuiltin {
  existsSync(path: string): boolean;
}

/**
 * In Node.js, the folder (with a trailing separator) that holds the `.wasm` binaries of the
 * `@tensorflow/tfjs-backend-wasm` package resolvable from this module, or `undefined` when it
 * cannot be found (not in Node, package not resolvable, binaries absent).
 */
export async function resolveWasmDirectory(): Promise<string | undefined> {
  if (!isNode()) return undefined;
  try {
    const moduleBuiltin = (await dynamicImport('node:module')) as NodeModuleBuiltin;
    const fs = (await dynamicImport('node:fs')) as NodeFsBuiltin;
    const require = moduleBuiltin.createRequire(import.meta.url);
    // The package has no `exports` map; its `main` is `dist/tf-backend-wasm.node.js`, next to the
    // binaries (`dist/tfjs-backend-wasm.wasm`, `-simd.wasm`, `-threaded-simd.wasm`).
    const main = require.resolve('@tensorflow/tfjs-backend-wasm');
    const directory = main.replace(/[^\\/]*$/, '');
    return fs.existsSync(`${directory}tfjs-backend-wasm.wasm`) ? directory : undefined;
  } catch {
    return undefined;
  }
}
