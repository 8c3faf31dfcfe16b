// ARCHITECTURE.md stays true: every repository path it names exists.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..', '..', '..');
const text = readFileSync(join(root, 'ARCHITECTURE.md'), 'utf8');
// Inline-code spans that look like repository paths: start with a top-level folder or a root file.
const paths = [...text.matchAll(/`([^`\s]+)`/g)]
  .map((m) => m[1]!)
  .filter((p) => /^(packages|examples|apps|bench|tests|tools|docs|scripts)(\/|$)|^[\w.-]+\.(ts|json|md)$/.test(p))
  .filter((p) => !p.includes('<'));

describe('ARCHITECTURE.md', () => {
  it('names paths', () => {
    expect(paths.length).toBeGreaterThan(20);
  });
  for (const path of new Set(paths)) {
    it(`names ${path}, which exists`, () => {
      expect(existsSync(join(root, path)), path).toBe(true);
    });
  }
});
