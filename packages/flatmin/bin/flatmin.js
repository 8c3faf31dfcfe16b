#!/usr/bin/env node
// The `flatmin` command (`npx flatmin --help`): the CLI of dist/cli (TypeScript in src/cli).
// Kept outside dist so the bin exists before a build (pnpm links it at install time).
import { main } from '../dist/cli/main.js';

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error) => {
    process.stderr.write(`error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exitCode = 1;
  },
);
