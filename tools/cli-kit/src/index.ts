export * from './table.js';
export * from './flags.js';
