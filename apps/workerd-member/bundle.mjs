// Bundles the member Worker (dist/worker.js and the raftwire packages it imports, from their
// dist) into one ES module for workerd: dist/worker.bundle.js. Run after `pnpm run build`.
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const here = (p) => fileURLToPath(new URL(p, import.meta.url));

/** Bundles `entry` (default: the member Worker) into `outfile` and returns its path. */
export async function bundleWorker(entry = here('./dist/worker.js'), outfile = here('./dist/worker.bundle.js')) {
  await build({
    entryPoints: [entry],
    outfile,
    bundle: true,
    format: 'esm',
    platform: 'neutral',
    target: 'es2022',
    mainFields: ['module', 'main'],
    logLevel: 'warning',
  });
  return outfile;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  process.stdout.write(`${await bundleWorker()}\n`);
}
