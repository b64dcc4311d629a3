#!/usr/bin/env node
// The packages as a stranger gets them: every public workspace package packed with `pnpm pack`,
// each tarball checked for what a publish must carry, and all of them installed with plain
// `npm install` into a scratch project outside the workspace (third-party dependencies from the
// npm registry, through a cache of this test's own in the system temp directory).
//
// Used by consumer/test/consumer.test.ts, and run as a script before the test run
// (`node consumer/install.mjs --warm`, outside tools/loopback-only) to fill that cache: inside
// the loopback-only namespace the registry is out of reach and npm installs --offline.
// Uses nothing but Node's standard library (and the pnpm and npm on the PATH).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
/** Where this test keeps what may be kept between runs (the npm cache) and its scratch projects. */
export const WORK = join(tmpdir(), 'raftwire-consumer');
export const NPM_CACHE = join(WORK, 'npm-cache');

/** Packages the page needs beside ours: simple-peer (an optional peer of the WebRTC adapter) and the globals it expects. */
export const PAGE_DEPENDENCIES = Object.freeze({ 'simple-peer': '9.11.1', buffer: '6.0.3', events: '3.3.0', process: '0.11.10' });

/** Optional packages an HTTP-only install must not pull in. */
const NOT_INSTALLED_BY_DEFAULT = ['node-datachannel', '@roamhq/wrtc'];
const DEPENDENCY_FIELDS = ['dependencies', 'peerDependencies', 'optionalDependencies', 'devDependencies'];

const readJson = (p) => JSON.parse(readFileSync(p, 'utf8'));

/** Every workspace package that is not private: `{ dir, name, version }`, dir relative to the root. */
export function publicPackages() {
  const out = [];
  for (const group of ['packages', 'apps']) {
    for (const d of readdirSync(join(ROOT, group)).sort()) {
      const file = join(ROOT, group, d, 'package.json');
      if (!existsSync(file)) continue;
      const pkg = readJson(file);
      if (pkg.private !== true) out.push({ dir: `${group}/${d}`, name: pkg.name, version: pkg.version });
    }
  }
  return out;
}

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, ...opts, env: { ...process.env, ...opts.env } });
  if (r.error) throw new Error(`cannot run ${cmd}: ${r.error.message}`);
  return r;
}

function files(dir, base = dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...files(p, base));
    else out.push(relative(base, p).split(sep).join('/'));
  }
  return out;
}

/** Every string target of an exports map, with the condition path that leads to it. */
function exportTargets(exp, path = []) {
  if (typeof exp === 'string') return [{ path, target: exp }];
  if (exp === null || typeof exp !== 'object') return [];
  return Object.entries(exp).flatMap(([k, v]) => exportTargets(v, [...path, k]));
}

/**
 * Checks one unpacked package against what a publish must carry; returns one line per problem,
 * each naming the package.
 */
export function checkPackage(pkgDir, { name, dir, version }, rootPkg, license) {
  const problems = [];
  const fail = (msg) => problems.push(`${name}: ${msg}`);
  const pkg = readJson(join(pkgDir, 'package.json'));
  const all = files(pkgDir);
  if (pkg.private) fail('is private');
  for (const field of DEPENDENCY_FIELDS) {
    for (const [dep, spec] of Object.entries(pkg[field] ?? {})) {
      if (/^(workspace|link|file):/.test(String(spec))) fail(`${field}.${dep} is ${JSON.stringify(spec)}: a protocol npm cannot install`);
      if (dep.startsWith('@raftwire/') && field !== 'devDependencies' && spec !== version) {
        fail(`${field}.${dep} is ${JSON.stringify(spec)}, not the workspace version ${version}`);
      }
    }
  }
  for (const dep of [...NOT_INSTALLED_BY_DEFAULT, 'simple-peer', 'prom-client']) {
    // The CLI serves /metrics itself, so prom-client is its own dependency; no package hard-depends on a WebRTC stack.
    const allowed = name === '@raftwire/cli' && dep === 'prom-client';
    if (pkg.dependencies?.[dep] !== undefined && !allowed) fail(`depends on ${dep}: it must be an optional peer dependency`);
    if (pkg.peerDependencies?.[dep] !== undefined && pkg.peerDependenciesMeta?.[dep]?.optional !== true)
      fail(`peer dependency ${dep} is not optional`);
  }
  if (pkg.license !== 'Apache-2.0') fail(`license is ${JSON.stringify(pkg.license)}, not Apache-2.0`);
  if (!all.includes('LICENSE')) fail('ships no LICENSE file');
  else if (readFileSync(join(pkgDir, 'LICENSE'), 'utf8') !== license) fail('LICENSE differs from the repository root LICENSE');
  if (!all.includes('README.md')) fail('ships no README.md');
  if (typeof pkg.description !== 'string' || pkg.description.length < 20) fail('has no description');
  if (!Array.isArray(pkg.keywords) || pkg.keywords.length === 0) fail('has no keywords');
  if (pkg.engines?.node !== '>=20') fail(`engines.node is ${JSON.stringify(pkg.engines?.node)}, not ">=20"`);
  if (pkg.repository?.url !== rootPkg.repository?.url || pkg.repository?.directory !== dir) {
    fail(`repository is ${JSON.stringify(pkg.repository)}, want the root's url with directory ${JSON.stringify(dir)}`);
  }
  if (pkg.type !== 'module') fail('is not "type": "module"');
  for (const f of all) {
    if (!/^(dist|src)\//.test(f) && !['package.json', 'README.md', 'LICENSE'].includes(f))
      fail(`ships ${f}, outside dist, src, README.md and LICENSE`);
    if (/(^|\/)(test|tests|__tests__)\//.test(f) || /\.test\.[cm]?[jt]s$/.test(f) || f.endsWith('.tsbuildinfo')) fail(`ships ${f}`);
  }
  // The exports map: every target present, `types` first wherever both are given.
  if (pkg.exports === undefined) fail('has no exports map');
  for (const [sub, cond] of Object.entries(pkg.exports ?? {})) {
    if (cond !== null && typeof cond === 'object') {
      const keys = Object.keys(cond);
      if (keys.includes('types') && keys[0] !== 'types') fail(`exports["${sub}"] lists ${keys[0]} before types`);
    }
    for (const { target } of exportTargets(cond)) {
      if (!existsSync(join(pkgDir, target))) fail(`exports["${sub}"] points at ${target}, which is not in the package`);
    }
  }
  // No stale build output: each emitted module has its source; each map's sources are shipped.
  for (const f of all.filter((x) => x.startsWith('dist/'))) {
    const m = /^dist\/(.*)\.(js|d\.ts)$/.exec(f);
    if (m && !all.includes(`src/${m[1]}.ts`) && !all.includes(`src/${m[1]}.mts`)) {
      fail(`${f} has no src/${m[1]}.ts: stale build output (delete ${dir}/dist and run pnpm run build)`);
    }
    if (f.endsWith('.map')) {
      const map = readJson(join(pkgDir, f));
      for (const s of map.sources ?? []) {
        const target = relative(pkgDir, resolve(pkgDir, dirname(f), map.sourceRoot ?? '', s))
          .split(sep)
          .join('/');
        if (!all.includes(target)) fail(`${f} maps to ${s}, which is not shipped`);
      }
    }
  }
  for (const [bin, target] of Object.entries(typeof pkg.bin === 'string' ? { [pkg.name]: pkg.bin } : (pkg.bin ?? {}))) {
    const file = join(pkgDir, target);
    if (!existsSync(file)) fail(`bin ${bin} points at ${target}, which is not in the package`);
    else if (!readFileSync(file, 'utf8').startsWith('#!/usr/bin/env node\n'))
      fail(`bin ${bin} (${target}) does not start with #!/usr/bin/env node`);
  }
  return problems;
}

/** Runs a command to its end without blocking (packs run side by side); resolves with its status and output. */
function runAsync(cmd, args, opts = {}) {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(cmd, args, { ...opts, env: { ...process.env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    child.stderr.on('data', (d) => {
      out += d;
    });
    child.once('error', (err) => reject(new Error(`cannot run ${cmd}: ${err.message}`)));
    child.once('close', (status) => resolvePromise({ status, out }));
  });
}

/** Packs every public package into `outDir`; resolves with `{ name, dir, version, tarball }` per package. */
export async function packAll(outDir) {
  mkdirSync(outDir, { recursive: true });
  return Promise.all(
    publicPackages().map(async (p) => {
      const abs = join(ROOT, p.dir);
      if (!existsSync(join(abs, 'dist'))) throw new Error(`${p.name}: ${p.dir}/dist is missing: run pnpm run build first`);
      const r = await runAsync('pnpm', ['pack', '--pack-destination', outDir], { cwd: abs });
      if (r.status !== 0) throw new Error(`${p.name}: pnpm pack failed (exit ${r.status}):\n${r.out}`);
      const tarball = join(outDir, `${p.name.replace(/^@/, '').replace('/', '-')}-${p.version}.tgz`);
      if (!existsSync(tarball)) throw new Error(`${p.name}: pnpm pack wrote no ${tarball}:\n${r.out}`);
      return { ...p, tarball };
    }),
  );
}

/** Unpacks each tarball and checks it; returns every problem found (empty when all is well). */
export function checkAll(packed, outDir) {
  const rootPkg = readJson(join(ROOT, 'package.json'));
  const license = readFileSync(join(ROOT, 'LICENSE'), 'utf8');
  const problems = [];
  for (const p of packed) {
    const into = join(outDir, 'unpacked', p.name.replace('/', '+'));
    rmSync(into, { recursive: true, force: true });
    mkdirSync(into, { recursive: true });
    const r = run('tar', ['-xzf', p.tarball, '-C', into]);
    if (r.status !== 0) throw new Error(`${p.name}: cannot unpack ${p.tarball}: ${r.stderr}`);
    problems.push(...checkPackage(join(into, 'package'), p, rootPkg, license));
  }
  return problems;
}

/**
 * Writes a scratch project depending on every tarball (plus `extra` registry packages) and runs
 * plain `npm install` in it. `offline`: only from the cache (inside tools/loopback-only).
 */
export function npmInstall(project, packed, { offline = false, extra = PAGE_DEPENDENCIES } = {}) {
  mkdirSync(project, { recursive: true });
  const dependencies = Object.fromEntries([...packed.map((p) => [p.name, `file:${p.tarball}`]), ...Object.entries(extra)]);
  writeFileSync(
    join(project, 'package.json'),
    `${JSON.stringify({ name: 'raftwire-consumer', private: true, type: 'module', dependencies }, null, 2)}\n`,
  );
  const args = [
    'install',
    '--no-audit',
    '--no-fund',
    '--no-update-notifier',
    '--cache',
    NPM_CACHE,
    offline ? '--offline' : '--prefer-offline',
  ];
  const r = run('npm', args, { cwd: project, env: { npm_config_loglevel: 'error' } });
  if (r.status !== 0) {
    const hint = offline
      ? `\nnpm ran --offline (no registry inside tools/loopback-only) and its cache lacks a package: run \`node consumer/install.mjs --warm\` outside the namespace first (the test:all script does)`
      : '';
    throw new Error(`npm install failed in ${project} (exit ${r.status}):\n${(r.stderr || r.stdout).trim()}${hint}`);
  }
  return { output: `${r.stdout}${r.stderr}`, args };
}

/** Packs and checks into a fresh scratch directory under {@link WORK}; `install()` then runs npm in its project. */
export async function prepareConsumer({ offline = false } = {}) {
  mkdirSync(WORK, { recursive: true });
  const dir = mkdtempSync(join(WORK, 'run-'));
  const tarballs = join(dir, 'tarballs');
  const packed = await packAll(tarballs);
  const problems = checkAll(packed, tarballs);
  const project = join(dir, 'project');
  return { dir, project, packed, problems, install: () => npmInstall(project, packed, { offline }) };
}

// As a script: `--warm` fills the npm cache (packs and installs once, then removes the scratch dir).
if (process.argv[1] === fileURLToPath(import.meta.url)) {
  if (!process.argv.includes('--warm')) {
    console.error('usage: node consumer/install.mjs --warm');
    process.exit(2);
  }
  let dir;
  try {
    const c = await prepareConsumer();
    dir = c.dir;
    c.install();
    console.log(`consumer: npm cache ready at ${NPM_CACHE}`);
  } catch (err) {
    // Not fatal here: the consumer test then fails itself, with this reason.
    console.error(`consumer: could not fill the npm cache: ${err instanceof Error ? err.message : String(err)}`);
  } finally {
    if (dir) rmSync(dir, { recursive: true, force: true });
  }
}
