// Three raftwire members in one Node process, over HTTP on 127.0.0.1: they elect a leader,
// replicate a write, and read it back linearizably on every member.
//   npm install @raftwire/member @raftwire/raft @raftwire/core
//   node http-cluster.mjs [base-port]        (members listen on base-port, +1, +2; default 2380)
import { createConsoleLogger } from '@raftwire/core';
import { createHttpMember } from '@raftwire/member/http';
import { encodeKvCommand, MemoryStorage } from '@raftwire/raft';

const base = Number(process.argv[2] ?? 2380);
// The initial cluster: every member is given the same list (its own entry included).
const peers = [1n, 2n, 3n].map((id, i) => ({ id, url: `http://127.0.0.1:${base + i}` }));
const logger = createConsoleLogger({ level: 'warn' }); // the default logs every event at info

// One call per member: server, client, transport and Raft node, wired together and started.
// Plain http needs `insecure: true`; between hosts pass `tls: { key, cert, ca }` (mutual TLS).
// `storage` keeps the log in memory here; `dataDir: './member-1'` keeps it on disk.
const members = await Promise.all(
  peers.map(({ id, url }) => createHttpMember({ id, listen: url, peers, storage: new MemoryStorage(), insecure: true, logger })),
);
for (const m of members) m.stopped.then((s) => console.log(`member ${m.id} stopped: ${s.reason}`));

// A write on any member: it waits for a leader, is forwarded to it, and resolves once
// committed by a majority and applied here (with the previous value, if any).
const timeout = () => ({ signal: AbortSignal.timeout(10_000) });
const value = new TextEncoder().encode('hello');
const { prev } = await members[2].node.propose(encodeKvCommand({ op: 'put', key: 'greeting', value }), timeout());
console.log(`put greeting (previous value: ${prev === null ? 'none' : 'some'})`);

// Linearizable reads (ReadIndex): each member confirms the leader is current, then reads.
for (const m of members) {
  const v = await m.node.read('greeting', timeout());
  console.log(`member ${m.id} reads greeting = ${new TextDecoder().decode(v)}`);
}
const { leader, term, commit } = members[0].node.status();
console.log(`leader is member ${leader} in term ${term}, commit index ${commit}`);

// close() stops the node, then the transport, server and client; it is idempotent.
await Promise.all(members.map((m) => m.close()));
