// Three raftwire members in one Deno process, each serving the raft protocol with Deno.serve
// (createFetchHandler) and dialling its peers with FetchLink (the web fetch API): they elect a
// leader, replicate a write, and read it back linearizably on every member.
//   deno run -A deno-member.ts [base-port]     (members listen on base-port, +1, +2; default 2380)
// In this repository: node_modules/deno/deno run -A examples/deno-member.ts (after pnpm run build).
//
// Plain http, no authentication between members: fine on 127.0.0.1. Between hosts, serve https
// (Deno.serve's `cert`/`key`) and dial https URLs; see docs/runtimes/deno.md.
import { createFetchHandler, FetchLink } from '@raftwire/adapters/http';
import { createConsoleLogger, Transport } from '@raftwire/core';
import { DEFAULT_CLUSTER_ID } from '@raftwire/member';
import { encodeKvCommand, MemoryStorage, RaftNode } from '@raftwire/raft';

declare const Deno: {
  args: string[];
  serve(
    options: { hostname: string; port: number; onListen?: () => void },
    handler: (request: Request) => Promise<Response>,
  ): { shutdown(): Promise<void> };
};

const base = Number(Deno.args[0] ?? 2380);
const peers = [1n, 2n, 3n].map((id, i) => ({ id, url: `http://127.0.0.1:${base + i}` }));
const logger = createConsoleLogger({ level: 'warn' });

async function startMember(id: bigint, url: string) {
  // storage: MemoryStorage here; FileStorage.open(dir) from '@raftwire/raft/node' keeps it on disk (fsync).
  const node = new RaftNode({ id, peers, storage: new MemoryStorage(), logger });
  const link = new FetchLink({ logger });
  const transport = new Transport({ id, clusterId: DEFAULT_CLUSTER_ID, urls: [url], link, raft: node, logger });
  const raftFetch = createFetchHandler(transport.handler, { logger });
  const { hostname, port } = new URL(url);
  const listening = Promise.withResolvers<void>();
  // Not request.signal: Deno aborts it after every response, streams included, so pass a signal
  // of your own (serveFetch from '@raftwire/adapters/http' does all of this for you).
  const server = Deno.serve({ hostname, port: Number(port), onListen: () => listening.resolve() }, (request) =>
    raftFetch.handle(request, { signal: new AbortController().signal }),
  );
  await listening.promise;
  transport.start();
  node.setTransport(transport);
  await node.start();
  const close = async () => {
    await node.stop();
    await transport.stop();
    raftFetch.shutdown();
    await server.shutdown();
    link.close();
  };
  return { id, node, close };
}

const members = await Promise.all(peers.map(({ id, url }) => startMember(id, url)));
const timeout = () => ({ signal: AbortSignal.timeout(10_000) });
const value = new TextEncoder().encode('hello from deno');
await members[2]!.node.propose(encodeKvCommand({ op: 'put', key: 'greeting', value }), timeout());
console.log('put greeting');
for (const m of members) {
  const v = await m.node.read('greeting', timeout());
  console.log(`member ${m.id} reads greeting = ${new TextDecoder().decode(v ?? new Uint8Array())}`);
}
const { leader, term } = members[0]!.node.status();
console.log(`leader is member ${leader} in term ${term}`);
await Promise.all(members.map((m) => m.close()));
console.log('closed');
