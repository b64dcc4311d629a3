/**
 * How `raftwire cluster` starts a member on a given JavaScript runtime. The
 * binary is the one inside the runtime's npm package when it can be resolved
 * from here (the `deno` and `bun` packages ship their binaries), else the
 * command of that name on the PATH.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { MemberRuntime } from './raft-listener.js';
import { UsageError } from './usage-error.js';

export const MEMBER_RUNTIMES: readonly MemberRuntime[] = ['node', 'deno', 'bun'];

/** Where each registry package keeps its binary. */
const BINARY_IN_PACKAGE: Record<Exclude<MemberRuntime, 'node'>, string> = { deno: 'deno', bun: 'bin/bun.exe' };

/** Parses `--runtimes node,deno,bun`. */
export function parseRuntimes(text: string): MemberRuntime[] {
  const list = text.split(',').map((s) => s.trim());
  for (const r of list) {
    if (!(MEMBER_RUNTIMES as readonly string[]).includes(r)) {
      throw new UsageError(`--runtimes: ${JSON.stringify(r)} is not one of ${MEMBER_RUNTIMES.join(', ')}`);
    }
  }
  if (list.length === 0) throw new UsageError('--runtimes: name at least one runtime');
  return list as MemberRuntime[];
}

function binary(runtime: MemberRuntime, current: MemberRuntime): string {
  if (runtime === current) return process.execPath;
  if (runtime === 'node') return 'node';
  try {
    const pkg = createRequire(import.meta.url).resolve(`${runtime}/package.json`);
    const bin = join(dirname(pkg), BINARY_IN_PACKAGE[runtime]);
    if (existsSync(bin)) return bin;
  } catch {
    // Not installed as a package next to the CLI: use the PATH.
  }
  return runtime;
}

/** The command and arguments that run `main` (the CLI's entry) with `args` on `runtime`. */
export function memberCommand(
  runtime: MemberRuntime,
  current: MemberRuntime,
  main: string,
  args: readonly string[],
): { command: string; args: string[] } {
  const command = binary(runtime, current);
  if (runtime === 'deno') return { command, args: ['run', '-A', main, ...args] };
  return { command, args: [main, ...args] };
}
