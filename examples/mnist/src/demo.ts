#!/usr/bin/env node
/**
 * flatmin demo: SGD vs SAM on real MNIST digits. `pnpm demo --help` lists the flags.
 */
import { main } from './cli.js';

process.exitCode = await main(process.argv.slice(2));
