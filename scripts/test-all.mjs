#!/usr/bin/env node
// Runs every test suite (vitest; Playwright e2e when present) and closes with one plain
// line of counts, `tests: N passed, N failed, N skipped`, that any CI log reader understands.
// Exits non-zero when anything failed or when no test ran at all.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, '.cache', 'test-results');
mkdirSync(out, { recursive: true });
const bin = (name) => join(root, 'node_modules', '.bin', name);
const totals = { passed: 0, failed: 0, skipped: 0 };
let status = 0;

function run(title, cmd, args, opts = {}) {
  console.log(`\n▶ ${title}`);
  const r = spawnSync(cmd, args, { stdio: 'inherit', cwd: root, ...opts, env: { ...process.env, ...opts.env } });
  if (r.status !== 0) status = r.status || 1;
}

// vitest: units, integration, simulation (coverage for packages/core)
const vitestJson = join(out, 'vitest.json');
run('vitest', bin('vitest'), [
  'run',
  '--coverage',
  '--reporter=default',
  '--reporter=json',
  `--outputFile.json=${vitestJson}`,
  ...process.argv.slice(2),
]);
if (existsSync(vitestJson)) {
  const r = JSON.parse(readFileSync(vitestJson, 'utf8'));
  totals.passed += r.numPassedTests ?? 0;
  totals.failed += (r.numFailedTests ?? 0) + (r.numFailedTestSuites && !r.numFailedTests ? r.numFailedTestSuites : 0);
  totals.skipped += (r.numPendingTests ?? 0) + (r.numTodoTests ?? 0);
} else {
  totals.failed += 1;
}

// Playwright e2e against the demo, in Debian chromium
const e2eDir = join(root, 'e2e');
const hasE2e =
  existsSync(join(e2eDir, 'playwright.config.ts')) &&
  existsSync(join(e2eDir, 'tests')) &&
  readdirSync(join(e2eDir, 'tests')).some((f) => f.endsWith('.spec.ts'));
if (hasE2e) {
  const pwJson = join(out, 'playwright.json');
  // @playwright/test is a devDependency of e2e/, so its runner lives there (the config resolves the same copy).
  const e2eBin = join(e2eDir, 'node_modules', '.bin', 'playwright');
  run('playwright (e2e)', existsSync(e2eBin) ? e2eBin : bin('playwright'), ['test', '--config', join(e2eDir, 'playwright.config.ts')], {
    env: { PLAYWRIGHT_JSON_OUTPUT_NAME: pwJson, PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD: '1' },
  });
  if (existsSync(pwJson)) {
    const s = JSON.parse(readFileSync(pwJson, 'utf8')).stats ?? {};
    totals.passed += (s.expected ?? 0) + (s.flaky ?? 0);
    totals.failed += s.unexpected ?? 0;
    totals.skipped += s.skipped ?? 0;
  } else {
    totals.failed += 1;
  }
}

const ran = totals.passed + totals.failed;
console.log(`\ntests: ${totals.passed} passed, ${totals.failed} failed, ${totals.skipped} skipped`);
if (ran === 0) {
  console.error('no test ran');
  process.exit(1);
}
process.exit(status !== 0 || totals.failed > 0 ? status || 1 : 0);
