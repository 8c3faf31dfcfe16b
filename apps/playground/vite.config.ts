import { resolve } from 'node:path';
import { defineConfig } from 'vite';

// Relative asset paths: dist/ works from any folder or static host.
export default defineConfig({
  root: import.meta.dirname,
  base: './',
  resolve: { dedupe: ['@tensorflow/tfjs-core'] },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    chunkSizeWarningLimit: 2000,
    rollupOptions: {
      input: { main: resolve(import.meta.dirname, 'index.html'), webglCheck: resolve(import.meta.dirname, 'webgl-check.html') },
    },
  },
});
