// The console's build: static files for the hub's dist/console (http/console-files.ts serves them at /console/).
// Preact's JSX through Vite's own transform; no plugin, no inline script or style (the hub's CSP allows neither).
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/console/',
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: {
    outDir: fileURLToPath(new URL('../hub/dist/console/', import.meta.url)),
    emptyOutDir: true,
    // Everything as files: an inlined asset would be a data: URL the CSP refuses.
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    reportCompressedSize: false,
    chunkSizeWarningLimit: 1024,
  },
  logLevel: 'warn',
});
