/**
 * Test helper: runs the member Worker in workerd (the binary from the pinned
 * `workerd` package) with a generated config: one socket on 127.0.0.1, the
 * Durable Object's storage on a local disk directory (kept across restarts),
 * outbound fetch allowed to loopback only.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runtimeBinary } from '../../../tools/runtimes.mjs';
import { collectLines } from '../../cli/test/member-process.js';

export interface WorkerdMember {
  url: string;
  child: ChildProcess;
  lines: string[];
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Writes `dir/config.capnp` (and the bundle beside it) for a member listening on `port`. */
export function writeWorkerdConfig(dir: string, bundle: string, port: number, member: Record<string, unknown>): string {
  mkdirSync(join(dir, 'do'), { recursive: true });
  copyFileSync(bundle, join(dir, 'worker.js'));
  const config = `using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [
    (name = "main", worker = .member),
    (name = "loopback", network = (allow = ["local"], deny = [])),
    (name = "do-disk", disk = (path = ${JSON.stringify(join(dir, 'do'))}, writable = true)),
  ],
  sockets = [ (name = "http", address = "127.0.0.1:${port}", http = (), service = "main") ],
);
const member :Workerd.Worker = (
  modules = [ (name = "worker", esModule = embed "worker.js") ],
  compatibilityDate = "2025-01-01",
  compatibilityFlags = ["nodejs_compat"],
  durableObjectNamespaces = [ (className = "RaftMember", uniqueKey = "raftwire-member") ],
  durableObjectStorage = (localDisk = "do-disk"),
  bindings = [
    (name = "MEMBER", durableObjectNamespace = "RaftMember"),
    (name = "RAFTWIRE_MEMBER", text = ${JSON.stringify(JSON.stringify(member))}),
  ],
  globalOutbound = "loopback",
);
`;
  const path = join(dir, 'config.capnp');
  writeFileSync(path, config);
  return path;
}

export function startWorkerd(config: string, port: number): WorkerdMember {
  const child = spawn(runtimeBinary('workerd'), ['serve', config, '--verbose'], { stdio: ['ignore', 'pipe', 'pipe'] });
  const lines = collectLines(child);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  return { url: `http://127.0.0.1:${port}`, child, lines, exited };
}
