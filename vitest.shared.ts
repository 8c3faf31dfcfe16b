// One vitest configuration for every package: tests run against each package's
// TypeScript sources (aliases below), on the deterministic `cpu` backend.
// The built `dist/` is exercised separately by the plain-Node smoke test.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { defineConfig } from 'vitest/config';

const root = import.meta.dirname;
const packagesDir = join(root, 'packages');
// Exact matches: `@flatmin/core/kit` is core's component-author subpath.
const alias = [
  { find: /^@flatmin\/core\/kit$/, replacement: join(packagesDir, 'core', 'src', 'kit.ts') },
  ...readdirSync(packagesDir).map((name) => ({ find: new RegExp(`^@flatmin/${name}$`), replacement: join(packagesDir, name, 'src', 'index.ts') })),
];

export function sharedConfig(dir: string) {
  return defineConfig({
    root: dir,
    resolve: { alias },
    test: {
      include: ['test/**/*.test.ts'],
      setupFiles: [join(root, 'packages', 'test-kit', 'src', 'setup.ts')],
      testTimeout: 120_000,
      hookTimeout: 120_000,
      pool: 'forks',
      reporters: ['default', 'json'],
      outputFile: { json: join(dir, 'test-results.json') },
    },
  });
}
