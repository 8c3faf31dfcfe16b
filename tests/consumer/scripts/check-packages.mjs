// `pnpm check:packages`: pack every published package (after `pnpm build`) and run publint and
// `attw --profile esm-only` on the tarballs. Exits 1 on any problem.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkTarball, packPublished } from './packages.mjs';

const destination = mkdtempSync(join(tmpdir(), 'flatmin-pack-'));
let failed = false;
try {
  for (const { name, tarball } of await packPublished(destination)) {
    const problems = await checkTarball(tarball);
    console.log(problems.length === 0 ? `${name}: publint and attw clean` : `${name}:\n  ${problems.join('\n  ')}`);
    failed ||= problems.length > 0;
  }
} finally {
  rmSync(destination, { recursive: true, force: true });
}
if (failed) process.exit(1);
