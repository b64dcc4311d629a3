// How tests and benchmarks start a member on another JavaScript runtime: each runtime's binary
// comes from the registry package pinned in the root package.json (node_modules/.bin), never
// from the PATH or a download. A runtime that cannot start fails the test with a line saying so.

import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/** The runtimes a member can run on, beside Node itself. */
export const OTHER_RUNTIMES = Object.freeze(['deno', 'bun', 'workerd']);

/** Absolute path of a runtime's binary in the root node_modules/.bin. */
export function runtimeBinary(name) {
  return join(root, 'node_modules', '.bin', name);
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
