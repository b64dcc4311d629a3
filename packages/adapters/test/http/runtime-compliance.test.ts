/**
 * core's transport compliance suite with every member in Deno, then in Bun:
 * each member is a real Transport served by `createFetchHandler` on the
 * runtime's own server (Deno.serve; Bun.serve through a Hono router) and
 * dialling with `FetchLink`, driven from here through core's JSON bridge
 * (runtime/compliance-host.ts). The runtimes' binaries come from
 * node_modules/.bin; one that cannot start fails every case here.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { type ComplianceSetup, runMemberCompliance } from '@raftwire/core/compliance';
import { type ComplianceMember, type Wire, remoteComplianceMember, toWire } from '@raftwire/core/testing';
import { afterAll } from 'vitest';
import { type ScriptRuntime, requireRuntime, runtimeCommand } from '../../../../tools/runtimes.mjs';

const HOST = fileURLToPath(new URL('./runtime/compliance-host.ts', import.meta.url));

interface Host {
  child: ChildProcess;
  url: string;
  stderr: string[];
}

const hosts = new Map<string, Promise<Host>>();

function startHost(runtime: ScriptRuntime): Promise<Host> {
  requireRuntime(runtime);
  const { command, args } = runtimeCommand(runtime, HOST);
  const child = spawn(command, args, { cwd: fileURLToPath(new URL('../..', import.meta.url)), stdio: ['ignore', 'pipe', 'pipe'] });
  const stderr: string[] = [];
  createInterface({ input: child.stderr as NodeJS.ReadableStream }).on('line', (l) => {
    if (stderr.length < 200) stderr.push(l);
  });
  return new Promise<Host>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${runtime} compliance host did not start in 30 s: ${stderr.join('\n')}`)), 30_000);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`${runtime} compliance host exited (${signal ?? code}) before listening: ${stderr.join('\n')}`));
    });
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).once('line', (line) => {
      clearTimeout(timer);
      resolve({ child, url: (JSON.parse(line) as { control: string }).control, stderr });
    });
  });
}

function host(runtime: ScriptRuntime): Promise<Host> {
  let h = hosts.get(runtime);
  if (h === undefined) {
    h = startHost(runtime);
    hosts.set(runtime, h);
  }
  return h;
}

async function call(h: Host, body: Record<string, unknown>): Promise<Wire> {
  const res = await fetch(h.url, { method: 'POST', body: JSON.stringify(body), signal: AbortSignal.timeout(60_000) });
  const answer = (await res.json()) as { ok?: Wire; error?: { message: string; code: string | null } };
  if (answer.error) throw Object.assign(new Error(answer.error.message), answer.error.code ? { code: answer.error.code } : {});
  return answer.ok ?? null;
}

afterAll(async () => {
  for (const h of hosts.values()) {
    const host = await h.catch(() => undefined);
    if (host === undefined) continue;
    await call(host, { op: 'exit' }).catch(() => {});
    if (host.child.exitCode === null) host.child.kill('SIGKILL');
  }
});

for (const runtime of ['deno', 'bun'] as const) {
  runMemberCompliance(`fetch handler in ${runtime}`, async (count: number, setup: ComplianceSetup) => {
    const h = await host(runtime);
    const created = (await fetch(h.url, {
      method: 'POST',
      body: JSON.stringify({ op: 'create', count, setup: toWire(setup) }),
      signal: AbortSignal.timeout(60_000),
    }).then((r) => r.json())) as { members?: { id: string; url: string }[]; error?: { message: string } };
    if (created.members === undefined) throw new Error(`${runtime} could not make members: ${created.error?.message}`);
    const members: ComplianceMember[] = created.members.map((m, index) =>
      remoteComplianceMember(BigInt(`0x${m.id}`), m.url, (method, args) => call(h, { op: 'invoke', index, method, args })),
    );
    return {
      members,
      dropConnections: async (index: number) => {
        await call(h, { op: 'drop', index });
      },
      close: async () => {
        await call(h, { op: 'close' });
      },
    };
  });
}
