// What the CLI tests share: a collecting stream pair and the built bin.
import { fileURLToPath } from 'node:url';
import type { CliIo } from '../../src/cli/io.js';

/** A stdout/stderr pair that collects what the CLI writes (not a terminal). */
export function collector(): CliIo & { out: () => string; err: () => string } {
  const out: string[] = [];
  const err: string[] = [];
  return {
    stdout: { write: (text: string) => out.push(text) },
    stderr: { write: (text: string) => err.push(text) },
    out: () => out.join(''),
    err: () => err.join(''),
  };
}

/** The built `flatmin` bin (the `bin` of package.json), as a user's `npx flatmin` runs it. */
export const BIN = fileURLToPath(new URL('../../bin/flatmin.js', import.meta.url));
