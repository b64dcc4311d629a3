#!/usr/bin/env node
// `pnpm bench <suite>`: runs bench/src/<suite>.ts with tsx and writes bench/results/<suite>.json.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const suites = readdirSync(join(here, 'src'))
  .filter((f) => f.endsWith('.ts') && !['report.ts'].includes(f) && !f.startsWith('_'))
  .map((f) => f.slice(0, -3));
const suite = process.argv[2];
if (!suite || !suites.includes(suite)) {
  console.error(`usage: pnpm bench <suite>\nsuites: ${suites.join(', ')}`);
  process.exit(2);
}
const file = join(here, 'src', `${suite}.ts`);
if (!existsSync(file)) process.exit(2);
const r = spawnSync(process.execPath, ['--import', 'tsx', '--expose-gc', file, ...process.argv.slice(3)], {
  stdio: 'inherit',
  cwd: join(here, '..'),
});
process.exit(r.status ?? 1);
