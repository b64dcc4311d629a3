#!/usr/bin/env node
// Bootstrap for `npm start`, `npm test` and `npm run raftwire -- <args>` on a machine that has
// only Node 20 and npm: pinned pnpm, a frozen install, the build, and (for tests) Debian's
// chromium and etcd. Uses nothing but Node's standard library.
//
// `raftwire` installs and builds only when needed (the lockfile changed since the last install,
// a source is newer than the last build), saying so on stderr, then runs apps/cli/dist/main.js
// with the arguments: stdout is the CLI's alone, signals are passed on, and its exit code is ours.
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { constants } from 'node:os';
import { delimiter, dirname, join } from 'node:path';

const osSignals = constants.signals;
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const PNPM_VERSION = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).packageManager.split('@')[1];
const localPnpmBin = join(root, '.cache', 'pnpm', 'node_modules', '.bin');
const localPnpm = join(localPnpmBin, 'pnpm');
const command = process.argv[2];
const extra = process.argv.slice(3);

// `raftwire` keeps stdout for the CLI (`get` prints a value there): bootstrap output goes to stderr.
const quietStdout = command === 'raftwire';
const stdio = quietStdout ? ['inherit', 2, 'inherit'] : 'inherit';

function step(title) {
  if (quietStdout) console.error(`▶ ${title}`);
  else console.log(`\n▶ ${title}`);
}

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { stdio, cwd: root, ...opts, env: { ...process.env, ...opts.env } });
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

const nodedir = existsSync('/usr/include/node/node.h') ? { npm_config_nodedir: '/usr' } : {};
const installStamp = join(root, '.cache', 'install.stamp');
const buildStamp = join(root, '.cache', 'build.stamp');

/** What an install depends on: the lockfile and every workspace package.json (hashed). */
function installKey() {
  const h = createHash('sha256');
  h.update(readFileSync(join(root, 'pnpm-lock.yaml')));
  h.update(readFileSync(join(root, 'package.json')));
  return h.digest('hex');
}

function writeStamp(file, text) {
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, text);
}

function install(p) {
  step('pnpm install --frozen-lockfile');
  p(['install', '--frozen-lockfile'], { env: { PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD: '1', ...nodedir } });
  writeStamp(installStamp, installKey());
}

function build(p) {
  step('build');
  p(['run', 'build']);
  writeStamp(buildStamp, new Date().toISOString());
}

/** Newest modification time (ms) of the TypeScript sources and configs the CLI is built from. */
function newestSource() {
  let newest = 0;
  const walk = (dir) => {
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const full = join(dir, e.name);
      if (e.isDirectory()) walk(full);
      else if (/\.(ts|mts|json)$/.test(e.name)) newest = Math.max(newest, statSync(full).mtimeMs);
    }
  };
  for (const dir of ['packages/core', 'packages/raft', 'packages/adapters', 'apps/cli']) {
    walk(join(root, dir, 'src'));
    for (const f of ['tsconfig.json', 'package.json']) {
      const full = join(root, dir, f);
      if (existsSync(full)) newest = Math.max(newest, statSync(full).mtimeMs);
    }
  }
  for (const f of ['tsconfig.base.json', 'tsconfig.build.json']) newest = Math.max(newest, statSync(join(root, f)).mtimeMs);
  return newest;
}

function readText(file) {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return null;
  }
}

/**
 * `npm run raftwire -- <args>`: the pinned pnpm, install and build only when needed, then the CLI.
 * Ctrl-C reaches the CLI (from the terminal's process group, and passed on here when sent to us
 * alone); its exit code becomes ours, so a cluster stopped by Ctrl-C exits 0 and npm says nothing.
 */
function runRaftwire() {
  const needInstall = !existsSync(join(root, 'node_modules', '.modules.yaml')) || readText(installStamp) !== installKey();
  const main = join(root, 'apps', 'cli', 'dist', 'main.js');
  const needBuild = needInstall || !existsSync(main) || !existsSync(buildStamp) || statSync(buildStamp).mtimeMs < newestSource();
  if (needInstall || needBuild) {
    const [pnpm, pnpmPre] = ensurePnpm();
    const p = (args, opts) => must(pnpm, [...pnpmPre, ...args], opts);
    if (needInstall) install(p);
    build(p);
  }
  const child = spawn(process.execPath, [main, ...extra], { stdio: 'inherit', cwd: process.cwd() });
  const forward = (sig) => () => {
    if (child.exitCode === null && child.signalCode === null) child.kill(sig);
  };
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(sig, forward(sig));
  child.on('error', (err) => {
    console.error(`✖ cannot run ${main}: ${err.message}`);
    process.exit(1);
  });
  child.on('exit', (code, signal) => {
    if (signal) {
      // Die of the same signal (the shell then reports it as such); 128+n when it cannot be re-raised.
      process.removeAllListeners(signal);
      process.kill(process.pid, signal);
      setTimeout(() => process.exit(128 + (osSignals[signal] ?? 1)), 100).unref();
      return;
    }
    process.exit(code ?? 1);
  });
}

if (command === 'raftwire') {
  runRaftwire();
} else {
  const [pnpm, pnpmPre] = ensurePnpm();
  const p = (args, opts) => must(pnpm, [...pnpmPre, ...args], opts);
  install(p);
  build(p);
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
    console.error('usage: node scripts/run.mjs start|test|raftwire [args...]');
    process.exit(2);
  }
}
