/** Test helper: runs `raftwire member` as a child process and collects its log lines. */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { freePortBlock } from '../../../tools/ports.mjs';
import { type ScriptRuntime, runtimeCommand } from '../../../tools/runtimes.mjs';

export const CLI_MAIN = fileURLToPath(new URL('../dist/main.js', import.meta.url));

export interface MemberProcess {
  id: string;
  peerUrl: string;
  apiUrl: string;
  child: ChildProcess;
  lines: string[];
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>;
  exit: { code: number | null; signal: NodeJS.Signals | null; at: number } | null;
}

/** A free TCP port on 127.0.0.1 below the ephemeral range (bound then released; see tools/ports.mjs). */
export { freePort } from '../../../tools/ports.mjs';

/** The child's stdout and stderr lines, as they come. */
export function collectLines(child: ChildProcess): string[] {
  const lines: string[] = [];
  let buf = '';
  const onData = (d: Buffer) => {
    buf += d.toString('utf8');
    let i = buf.indexOf('\n');
    while (i >= 0) {
      lines.push(buf.slice(0, i));
      buf = buf.slice(i + 1);
      i = buf.indexOf('\n');
    }
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  return lines;
}

/** Polls `cond` every `intervalMs` until it returns something truthy; fails after `timeoutMs`, naming `what` (an error `cond` threw is the cause). */
export async function waitFor<T>(
  what: string,
  timeoutMs: number,
  cond: () => Promise<T | undefined | null | false>,
  intervalMs = 25,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await cond();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`, { cause: last });
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** Starts `raftwire member` on `runtime` (default node; deno and bun from node_modules). */
export function spawnMember(
  args: { id: string; peerUrl: string; apiUrl: string; extra: string[] },
  runtime: ScriptRuntime = 'node',
): MemberProcess {
  if (!existsSync(CLI_MAIN)) throw new Error(`${CLI_MAIN} is missing: run pnpm run build first`);
  // Plain http unless the test passes certificate flags (secure-cluster.test.ts runs the TLS path).
  const security = args.extra.includes('--peer-cert-file') || args.extra.includes('--insecure') ? [] : ['--insecure'];
  const cmd = runtimeCommand(runtime, CLI_MAIN, [
    'member',
    '--id',
    args.id,
    '--listen',
    args.peerUrl,
    '--api',
    args.apiUrl,
    ...security,
    ...args.extra,
  ]);
  const child = spawn(cmd.command, cmd.args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const lines = collectLines(child);
  const m: MemberProcess = {
    ...args,
    child,
    lines,
    exit: null,
    exited: new Promise((resolve) => {
      child.on('exit', (code, signal) => {
        m.exit = { code, signal, at: Date.now() };
        resolve(m.exit);
      });
    }),
  };
  return m;
}

/** JSON over HTTP; never throws for HTTP statuses. */
export async function api(
  url: string,
  init: { method?: string; body?: string; timeoutMs?: number } = {},
): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(url, {
    method: init.method ?? 'GET',
    ...(init.body === undefined ? {} : { body: init.body }),
    signal: AbortSignal.timeout(init.timeoutMs ?? 15_000),
  });
  const text = await res.text();
  let body: Record<string, unknown> = {};
  try {
    body = JSON.parse(text) as Record<string, unknown>;
  } catch {
    body = { raw: text };
  }
  return { status: res.status, body };
}

/** Runs `fn(i)` for i in [0, n) with at most `concurrency` at once. */
export async function pool(n: number, concurrency: number, fn: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    for (;;) {
      const i = next++;
      if (i >= n) return;
      await fn(i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, n) }, worker));
}

/**
 * A base port P with P..P+2n-1 free, for `raftwire cluster --base-port P --size n`: below the
 * ephemeral range (outgoing connections cannot take it meanwhile) and away from the defaults.
 */
export function freeBasePort(size = 3): Promise<number> {
  return freePortBlock(2 * size);
}
