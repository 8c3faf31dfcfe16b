import { sharedConfig } from '../../vitest.shared.js';

// The shared configuration (cpu backend, the packages' sources through aliases) for the
// Node tests; the browser test builds the page with Vite and drives headless Chromium.
export default sharedConfig(import.meta.dirname);
