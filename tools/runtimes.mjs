// How tests and benchmarks start a member on another JavaScript runtime: each runtime's binary
// comes from the registry package pinned in the root package.json, never from the PATH or a
// download. A runtime that cannot start fails the test with a line saying so.
//
// The binary itself is run, not the node_modules/.bin shim: the shims are a shell script (bun)
// and a Node script (deno) that start the binary as their child, so a signal sent to the shim
// (the SIGKILL of a crash test) would not reach the runtime.

import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/** Where each registry package keeps its binary, relative to the package. */
const BINARY_IN_PACKAGE = { deno: 'deno', bun: 'bin/bun.exe', workerd: 'bin/workerd' };

/** The runtimes a member can run on, beside Node itself. */
export const OTHER_RUNTIMES = Object.freeze(['deno', 'bun', 'workerd']);

/** Absolute path of a runtime's binary inside its package in the root node_modules. */
export function runtimeBinary(name) {
  const rel = BINARY_IN_PACKAGE[name];
  if (rel === undefined) throw new Error(`no binary known for runtime ${name}`);
  return join(root, 'node_modules', name, rel);
}

const versions = new Map();

/**
 * The runtime's version line; throws, saying what is missing, when its binary is absent or cannot
 * start. A test that needs the runtime calls it first (in its beforeAll) and fails: it never skips.
 */
export function requireRuntime(name) {
  if (name === 'node') return process.version;
  const cached = versions.get(name);
  if (cached !== undefined) return cached;
  const bin = runtimeBinary(name);
  if (!existsSync(bin)) {
    throw new Error(`${name} not found at ${bin}: it is a pinned dev dependency; run pnpm install --frozen-lockfile at the root`);
  }
  const r = spawnSync(bin, ['--version'], { encoding: 'utf8', timeout: 30_000 });
  const out = `${r.stdout ?? ''}${r.stderr ?? ''}`.trim();
  if (r.status !== 0) {
    throw new Error(`${name} at ${bin} cannot start (exit ${r.status ?? r.signal ?? r.error?.message}): ${out.split('\n')[0] ?? ''}`);
  }
  const line = out.split('\n')[0] ?? '';
  versions.set(name, line);
  return line;
}

/** The command that runs `script` (a .js or .ts file) with `args` on `name` (node, deno or bun). */
export function runtimeCommand(name, script, args = []) {
  if (name === 'node') return { command: process.execPath, args: [script, ...args] };
  if (name === 'deno') return { command: runtimeBinary('deno'), args: ['run', '-A', script, ...args] };
  if (name === 'bun') return { command: runtimeBinary('bun'), args: [script, ...args] };
  throw new Error(`no command for runtime ${name}`);
}
