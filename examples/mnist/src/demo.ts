#!/usr/bin/env node
/**
 * `pnpm demo`: the `flatmin demo` command of the published `flatmin` package (the same code
 * `npx flatmin demo` runs). `pnpm demo --help` lists the flags.
 */
import { main } from 'flatmin/cli';

process.exitCode = await main(['demo', ...process.argv.slice(2)]);
