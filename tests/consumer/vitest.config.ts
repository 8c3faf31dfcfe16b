import { mergeConfig } from 'vitest/config';
import { sharedConfig } from '../../vitest.shared.js';

// The tarballs are packed once (globalSetup); installing them with npm takes a while.
export default mergeConfig(sharedConfig(import.meta.dirname), {
  test: { globalSetup: ['test/global-setup.ts'], testTimeout: 300_000, hookTimeout: 300_000 },
});
