#!/usr/bin/env node
// Runs every test suite (vitest; Playwright e2e when present) and closes with one plain
// line of counts, `tests: N passed, N failed, N skipped`, that any CI log reader understands.
// Exits non-zero when anything failed, when no test ran at all, or when any test was skipped
// or left todo: a test that needs a missing tool (Chromium, openssl...) must fail saying what
// to install, never drop out of the run. The skipped tests are listed by name. Only a name
// filter given on the command line (-t / --testNamePattern, --grep) makes the tests it leaves
// out expected skips.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, '.cache', 'test-results');
mkdirSync(out, { recursive: true });
const bin = (name) => join(root, 'node_modules', '.bin', name);
const totals = { passed: 0, failed: 0, skipped: 0 };
/** `file > test (status)` of every skipped or todo test. */
const skippedTests = [];
/** Files whose tests did not run because a hook failed. */
const hookFailures = [];
let status = 0;
const args = process.argv.slice(2);
const nameFilter = args.some((a) => /^(-t|--testNamePattern|--grep|-g)(=|$)/.test(a));

function run(title, cmd, args, opts = {}) {
  console.log(`\n▶ ${title}`);
  const r = spawnSync(cmd, args, { stdio: 'inherit', cwd: root, ...opts, env: { ...process.env, ...opts.env } });
  if (r.status !== 0) status = r.status || 1;
}

// vitest: units, integration, simulation (coverage for packages/core)
const vitestJson = join(out, 'vitest.json');
run('vitest', bin('vitest'), ['run', '--coverage', '--reporter=default', '--reporter=json', `--outputFile.json=${vitestJson}`, ...args]);
if (existsSync(vitestJson)) {
  const r = JSON.parse(readFileSync(vitestJson, 'utf8'));
  totals.passed += r.numPassedTests ?? 0;
  totals.failed += (r.numFailedTests ?? 0) + (r.numFailedTestSuites && !r.numFailedTests ? r.numFailedTestSuites : 0);
  totals.skipped += (r.numPendingTests ?? 0) + (r.numTodoTests ?? 0);
  for (const file of r.testResults ?? []) {
    const notRun = (file.assertionResults ?? []).filter((t) => t.status !== 'passed' && t.status !== 'failed');
    const name = relative(root, file.name);
    if (file.status === 'failed' && notRun.length > 0) {
      // A hook failed (e.g. a beforeAll saying which tool is missing): vitest marks the tests it kept from running skipped.
      const why = (file.message ?? '').split('\n')[0] || 'see the error printed above';
      hookFailures.push(`${name}: ${notRun.length} test(s) not run because a hook failed (${why})`);
    } else {
      for (const t of notRun) skippedTests.push(`${name} > ${t.fullName} (${t.status})`);
    }
  }
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
    const report = JSON.parse(readFileSync(pwJson, 'utf8'));
    const s = report.stats ?? {};
    totals.passed += (s.expected ?? 0) + (s.flaky ?? 0);
    totals.failed += s.unexpected ?? 0;
    totals.skipped += s.skipped ?? 0;
    const walk = (suite, titles) => {
      for (const spec of suite.specs ?? []) {
        for (const t of spec.tests ?? []) {
          if (t.status === 'skipped') skippedTests.push(`e2e/${spec.file} > ${[...titles, spec.title].join(' > ')} (skipped)`);
        }
      }
      for (const child of suite.suites ?? []) walk(child, child.title ? [...titles, child.title] : titles);
    };
    for (const suite of report.suites ?? []) walk(suite, []);
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
for (const f of hookFailures) console.error(`✖ ${f}`);
const skipsFail = skippedTests.length > 0 && !nameFilter;
if (skippedTests.length > 0) {
  console.error(
    nameFilter
      ? `\n${skippedTests.length} test(s) not selected by the name filter:`
      : `\n✖ ${skippedTests.length} test(s) skipped or todo, and a skip fails the run (a test that needs a missing tool must fail saying what to install):`,
  );
  for (const t of skippedTests) console.error(`  - ${t}`);
}
process.exit(status !== 0 || totals.failed > 0 || skipsFail ? status || 1 : 0);
