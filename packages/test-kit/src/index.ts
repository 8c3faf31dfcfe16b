/**
 * `@flatmin/test-kit` (private): the shared, table-driven harness every flatmin package
 * runs its components through — float64 references of a linear model with analytic
 * gradients, leak/read/round-trip/config-error assertions, and `runOptimizerSuite`.
 */
export * from './fit.js';
export * from './harness.js';
export * from './inputs.js';
export * from './linear.js';
export * from './readme.js';
export * from './wasm.js';
