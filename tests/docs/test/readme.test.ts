// Every package README's ```ts blocks run as written (transpiled to ESM, executed by Node),
// against the BUILT packages, with `@tensorflow/tfjs` as a user would install it.
// A block preceded by `<!-- not-runnable -->` is skipped.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readmeSnippets, runReadmeSnippet } from '@flatmin/test-kit';
import { describe, expect, it } from 'vitest';

const here = join(import.meta.dirname, '..');
const packagesDir = join(here, '..', '..', 'packages');
const published = readdirSync(packagesDir).filter((name) => name !== 'test-kit');

for (const name of published) {
  const readme = join(packagesDir, name, 'README.md');
  const snippets = readmeSnippets(readFileSync(readme, 'utf8'));
  describe(`@flatmin/${name} README`, () => {
    it('has at least one runnable snippet', () => {
      expect(snippets.length).toBeGreaterThan(0);
    });
    for (const [index] of snippets.entries()) {
      it(`snippet #${index} runs`, () => {
        runReadmeSnippet(readme, index, here);
      });
    }
  });
}
