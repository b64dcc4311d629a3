import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const here = (p: string): string => fileURLToPath(new URL(p, import.meta.url));

// The page's members use simple-peer 9, whose dependencies expect a few Node globals
// (feasibility §7): `global`, and the npm `events`, `process` and `buffer` packages.
export default defineConfig({
  root: here('./src/web'),
  base: './',
  define: { global: 'globalThis' },
  resolve: {
    alias: {
      events: here('./node_modules/events/events.js'),
      process: here('./node_modules/process/browser.js'),
      buffer: here('./node_modules/buffer/index.js'),
    },
  },
  build: { outDir: here('./dist/web'), emptyOutDir: true, target: 'es2022', chunkSizeWarningLimit: 2000 },
  server: { host: '127.0.0.1' },
  logLevel: 'warn',
});
