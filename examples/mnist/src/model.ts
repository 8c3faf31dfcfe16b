/** The demo's MLP 784-256-256-10 — from `flatmin/cli`, re-exported for the benchmarks and examples. */
export { buildMlp, HIDDEN_UNITS } from 'flatmin/cli';
