// A raftwire member in Cloudflare's workerd (a Durable Object: ticks from alarms, the log in the
// object's storage, peers over outbound fetch) beside two Node members in this process. They elect
// a leader, a write through a Node member is read back through the workerd member's API, and the
// workerd member writes one that the Node members read.
//   node examples/workerd-member.mjs [base-port]   (after pnpm run build; ports base-port … +2)
// workerd is the binary from the pinned `workerd` package; the Worker is apps/workerd-member,
// bundled into one module by its bundle.mjs.
//
// Plain http, no authentication between members (`insecure: true`): fine on 127.0.0.1. Between
// hosts give the Node members `tls: { key, cert, ca }` and put the Worker behind https.
import { spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createConsoleLogger } from '@raftwire/core';
import { createHttpMember } from '@raftwire/member/http';
import { encodeKvCommand, MemoryStorage } from '@raftwire/raft';
import { bundleWorker } from '../apps/workerd-member/bundle.mjs';
import { runtimeBinary } from '../tools/runtimes.mjs';

const base = Number(process.argv[2] ?? 2380);
const url = (i) => `http://127.0.0.1:${base + i}`;
const peers = [1n, 2n, 3n].map((id, i) => ({ id, url: url(i) })); // member 3 is the workerd one
const logger = createConsoleLogger({ level: 'warn' });

// workerd's config: one socket on 127.0.0.1, the object's storage in a local directory (kept
// across restarts), outbound fetch to loopback only, the member's configuration as a text binding.
const dir = mkdtempSync(join(tmpdir(), 'raftwire-workerd-example-'));
mkdirSync(join(dir, 'do'));
copyFileSync(await bundleWorker(), join(dir, 'worker.js'));
const memberConfig = {
  id: '3',
  peerUrl: url(2),
  logLevel: 'error',
  peers: peers.slice(0, 2).map((p) => ({ id: String(p.id), url: p.url })),
};
writeFileSync(
  join(dir, 'config.capnp'),
  `using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [
    (name = "main", worker = .member),
    (name = "loopback", network = (allow = ["local"], deny = [])),
    (name = "do-disk", disk = (path = ${JSON.stringify(join(dir, 'do'))}, writable = true)),
  ],
  sockets = [ (name = "http", address = "127.0.0.1:${base + 2}", http = (), service = "main") ],
);
const member :Workerd.Worker = (
  modules = [ (name = "worker", esModule = embed "worker.js") ],
  compatibilityDate = "2025-01-01",
  compatibilityFlags = ["nodejs_compat"],
  durableObjectNamespaces = [ (className = "RaftMember", uniqueKey = "raftwire-member") ],
  durableObjectStorage = (localDisk = "do-disk"),
  bindings = [
    (name = "MEMBER", durableObjectNamespace = "RaftMember"),
    (name = "RAFTWIRE_MEMBER", text = ${JSON.stringify(JSON.stringify(memberConfig))}),
  ],
  globalOutbound = "loopback",
);
`,
);
const workerd = spawn(runtimeBinary('workerd'), ['serve', join(dir, 'config.capnp')], { stdio: ['ignore', 'inherit', 'inherit'] });
const workerdExited = new Promise((resolve) => workerd.on('exit', resolve));

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
async function workerdApi(path, init = {}) {
  const r = await fetch(`${url(2)}${path}`, { ...init, signal: AbortSignal.timeout(5000) });
  return { status: r.status, text: await r.text() };
}
// The first request wakes the Durable Object; from then on its alarm keeps it ticking.
for (let i = 0; ; i++) {
  if (workerd.exitCode !== null) throw new Error(`workerd exited with code ${workerd.exitCode}`);
  const ok = await workerdApi('/v1/status').then(
    (r) => r.status === 200,
    () => false,
  );
  if (ok) break;
  if (i > 150) throw new Error('the workerd member did not answer within 30 s');
  await sleep(200);
}

const members = await Promise.all(
  peers
    .slice(0, 2)
    .map(({ id, url }) => createHttpMember({ id, listen: url, peers, storage: new MemoryStorage(), insecure: true, logger })),
);
const timeout = () => ({ signal: AbortSignal.timeout(15_000) });
await members[0].node.propose(encodeKvCommand({ op: 'put', key: 'greeting', value: new TextEncoder().encode('hello') }), timeout());
console.log('put greeting through member 1 (node)');
// The workerd member's reads are linearizable too (ReadIndex through the leader).
const read = await workerdApi('/v1/kv/greeting');
console.log(`member 3 (workerd) reads greeting: ${read.status} ${read.text}`);
const put = await workerdApi('/v1/kv/from-workerd', { method: 'PUT', body: 'hi from a Durable Object' });
console.log(`put from-workerd through member 3 (workerd): ${put.status}`);
for (const m of members) {
  const v = await m.node.read('from-workerd', timeout());
  console.log(`member ${m.id} (node) reads from-workerd = ${new TextDecoder().decode(v)}`);
}
const st = JSON.parse((await workerdApi('/v1/status')).text);
console.log(`member 3 runs on ${st.runtime}; leader is member ${st.leader} in term ${st.term}`);

await Promise.all(members.map((m) => m.close()));
workerd.kill('SIGTERM');
await workerdExited;
rmSync(dir, { recursive: true, force: true });
console.log('closed');
