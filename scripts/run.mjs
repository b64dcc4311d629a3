#!/usr/bin/env node
// Bootstrap for `npm start` and `npm test` on a machine that has only Node 20 and npm:
// pinned pnpm, a frozen install, the build, and (for tests) Debian's chromium and etcd.
// Uses nothing but Node's standard library.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const PNPM_VERSION = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).packageManager.split('@')[1];
const localPnpmBin = join(root, '.cache', 'pnpm', 'node_modules', '.bin');
const localPnpm = join(localPnpmBin, 'pnpm');
const command = process.argv[2];
const extra = process.argv.slice(3);

function step(title) {
  console.log(`\n▶ ${title}`);
}

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { stdio: 'inherit', cwd: root, ...opts, env: { ...process.env, ...opts.env } });
  if (r.error) throw r.error;
  return r.status ?? 1;
}

function must(cmd, args, opts) {
  const status = run(cmd, args, opts);
  if (status !== 0) {
    console.error(`\n✖ ${cmd} ${args.join(' ')} exited with ${status}`);
    process.exit(status);
  }
}

function pnpmOnPath() {
  const r = spawnSync('pnpm', ['--version'], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : null;
}

/**
 * Returns [cmd, prefixArgs] to run the pinned pnpm. When it had to be installed locally, its bin
 * directory goes first on the PATH, so package scripts that call `pnpm` find the same one.
 */
function ensurePnpm() {
  if (pnpmOnPath() === PNPM_VERSION) return ['pnpm', []];
  if (!existsSync(localPnpm)) {
    step(`installing pnpm ${PNPM_VERSION} into .cache/pnpm`);
    must('npm', [
      'install',
      '--prefix',
      join(root, '.cache', 'pnpm'),
      '--no-save',
      '--no-package-lock',
      '--no-audit',
      '--no-fund',
      `pnpm@${PNPM_VERSION}`,
    ]);
  }
  process.env.PATH = `${localPnpmBin}${delimiter}${process.env.PATH ?? ''}`;
  if (pnpmOnPath() !== PNPM_VERSION) {
    console.error(`\n✖ could not run pnpm ${PNPM_VERSION} from ${localPnpmBin}`);
    process.exit(1);
  }
  return ['pnpm', []];
}

/**
 * Installs Debian `packages` through apt-get unless every one of `binaries` exists; on failure
 * prints what to install and why (`needed`) and exits.
 */
function ensureApt(packages, binaries, needed) {
  if (binaries.every((b) => existsSync(b))) return;
  step(`installing Debian ${packages.join(' and ')}`);
  const env = { DEBIAN_FRONTEND: 'noninteractive' };
  const sudo = process.getuid?.() === 0 ? [] : ['sudo'];
  const aptGet = (args) => (sudo.length ? run('sudo', ['apt-get', ...args], { env }) : run('apt-get', args, { env }));
  if (
    aptGet(['update']) !== 0 ||
    aptGet(['install', '-y', '--no-install-recommends', ...packages]) !== 0 ||
    !binaries.every((b) => existsSync(b))
  ) {
    console.error(
      `\n✖ ${binaries.join(' or ')} is missing and \`apt-get install ${packages.join(' ')}\` failed.\n` +
        `  ${needed}.\n` +
        `  Install it yourself (as root: apt-get update && apt-get install -y ${packages.join(' ')}) and run \`npm test\` again.`,
    );
    process.exit(1);
  }
}

function ensureChromium() {
  ensureApt(
    ['chromium'],
    ['/usr/bin/chromium'],
    'The browser tests drive Debian chromium through Playwright and cannot download a browser',
  );
}

/** Debian's etcd 3.4 (etcd-server, etcd-client): the etcd interop tests run a real etcd cluster. */
function ensureEtcd() {
  ensureApt(
    ['etcd-server', 'etcd-client'],
    ['/usr/bin/etcd', '/usr/bin/etcdctl'],
    'The etcd interop tests run a real etcd 3.4 cluster on 127.0.0.1 and cannot download one',
  );
}

const [pnpm, pnpmPre] = ensurePnpm();
const p = (args, opts) => must(pnpm, [...pnpmPre, ...args], opts);
const nodedir = existsSync('/usr/include/node/node.h') ? { npm_config_nodedir: '/usr' } : {};

step('pnpm install --frozen-lockfile');
p(['install', '--frozen-lockfile'], { env: { PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD: '1', ...nodedir } });
step('build');
p(['run', 'build']);

if (command === 'start') {
  p(['run', 'start:app', ...extra]);
} else if (command === 'test') {
  ensureChromium();
  ensureEtcd();
  step('lint');
  p(['run', 'lint']);
  step('typecheck');
  p(['run', 'typecheck']);
  step('tests (inside a loopback-only network namespace)');
  p(['run', 'test:all', ...extra]);
} else {
  console.error('usage: node scripts/run.mjs start|test');
  process.exit(2);
}
