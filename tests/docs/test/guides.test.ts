// Every guide under docs/guides runs as written: its ```ts/```js blocks are transpiled to ESM and
// executed by Node against the BUILT packages, as the package READMEs' are (`<!-- not-runnable -->`
// skips a block). docs/Guides.md (the site's parent page) lists every guide, the guides' relative
// links point at files that exist, and the root README links every guide.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { readmeSnippets, runReadmeSnippet } from '@flatmin/test-kit';
import { describe, expect, it } from 'vitest';

const here = join(import.meta.dirname, '..');
const root = join(here, '..', '..');
const guidesDir = join(root, 'docs', 'guides');
const guides = readdirSync(guidesDir)
  .filter((name) => name.endsWith('.md'))
  .sort();

/** Relative link targets of a markdown file (no URLs, no in-page anchors), without their #anchor. */
function relativeLinks(markdown: string): string[] {
  return [...markdown.matchAll(/\]\(([^)\s]+)\)/g)]
    .map((m) => m[1]!)
    .filter((target) => !/^[a-z]+:/i.test(target) && !target.startsWith('#'))
    .map((target) => target.split('#')[0]!);
}

describe('docs/Guides.md', () => {
  const index = readFileSync(join(root, 'docs', 'Guides.md'), 'utf8');
  const frontmatter = /^---\n([\s\S]*?)\n---\n/.exec(index)?.[1] ?? '';
  const children = [...frontmatter.matchAll(/^ {2}[^:\n]+: \.\/guides\/([\w.-]+\.md)$/gm)].map((m) => m[1]!);

  it('renders every guide into the API site (frontmatter children) and links each', () => {
    expect(guides.length).toBeGreaterThanOrEqual(8);
    expect([...children].sort()).toEqual(guides);
    for (const guide of guides) expect(index).toContain(`](guides/${guide})`);
  });

  it('is what typedoc renders next to the API', () => {
    const typedoc = JSON.parse(readFileSync(join(root, 'typedoc.json'), 'utf8')) as { projectDocuments?: string[] };
    expect(typedoc.projectDocuments).toEqual(['docs/Guides.md']);
  });

  it('is linked, with every guide, from the root README', () => {
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    expect(readme).toContain('](docs/Guides.md)');
    for (const guide of guides) expect(readme).toContain(`](docs/guides/${guide})`);
  });
});

for (const guide of guides) {
  const path = join(guidesDir, guide);
  const markdown = readFileSync(path, 'utf8');
  const snippets = readmeSnippets(markdown);
  describe(`docs/guides/${guide}`, () => {
    it('has at least one runnable code block', () => {
      expect(snippets.length).toBeGreaterThan(0);
    });
    it('links only to files that exist', () => {
      for (const target of relativeLinks(markdown)) expect(existsSync(resolve(dirname(path), target)), target).toBe(true);
    });
    for (const [index] of snippets.entries()) {
      it(`code block #${index} runs`, () => {
        runReadmeSnippet(path, index, here);
      });
    }
  });
}
