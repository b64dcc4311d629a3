/**
 * raftwire over HTTP between Node members, end to end: each member creates a
 * Transport, serves it with startRaftServer, and adds the others as peers.
 * Here three members share one process (on ephemeral 127.0.0.1 ports) so
 * the example runs anywhere; in a cluster each member is its own process
 * with a fixed peer URL such as https://member-1.example.internal:2380.
 *
 * Run: npx tsx packages/adapters/examples/node-http.ts
 */
import { type Message, MessageType, type ProtocolHandler, Transport, createMessage, formatId } from '@raftwire/core';
import { NodeHttpLink, type RaftServer, startRaftServer } from '@raftwire/adapters/http/node';

const CLUSTER_ID = 0x1000n;

interface Member {
  id: bigint;
  transport: Transport;
  server: RaftServer;
  link: NodeHttpLink;
  inbox: Message[];
}

async function startMember(id: bigint, port = 0): Promise<Member> {
  // 1. Serve: the server needs the transport's handler, the transport needs the server's URL.
  let transport: Transport | undefined;
  const handler: ProtocolHandler = (req) => (transport ? transport.handler(req) : Promise.resolve({ status: 503, headers: {} }));
  const server = await startRaftServer({ handler, host: '127.0.0.1', port });

  // 2. Create the transport: a Link to dial peers, and the callbacks of your raft node.
  const inbox: Message[] = [];
  const link = new NodeHttpLink({ dialTimeoutMs: 1000 });
  transport = new Transport({
    id,
    clusterId: CLUSTER_ID,
    urls: [server.url],
    link,
    raft: {
      process: (msg) => {
        inbox.push(msg); // a raft node would call node.step(msg) here
      },
      isIdRemoved: () => false,
      reportUnreachable: () => {},
      reportSnapshot: () => {},
    },
  });
  transport.start();
  return { id, transport, server, link, inbox };
}

const members = await Promise.all([1n, 2n, 3n].map((id) => startMember(id)));

// 3. Connect peers: every member learns every other member's URL.
for (const a of members) {
  for (const b of members) if (a !== b) a.transport.addPeer(b.id, [b.server.url]);
}
for (const m of members) console.log(`member ${formatId(m.id)} serves ${m.server.url}`);

// 4. Send: member 1 heartbeats the others; each answers.
const [leader, ...followers] = members as [Member, ...Member[]];
for (const f of followers) {
  f.transport.on('peer:active', (e) => console.log(`member ${formatId(f.id)} sees peer ${formatId(e.id)} active`));
}
leader.transport.send(followers.map((f) => createMessage({ type: MessageType.MsgHeartbeat, from: leader.id, to: f.id, term: 1 })));

const deadline = Date.now() + 10_000;
while (followers.some((f) => f.inbox.length === 0) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
for (const f of followers) {
  const got = f.inbox[0];
  if (got === undefined) throw new Error(`member ${formatId(f.id)} got nothing`);
  console.log(`member ${formatId(f.id)} received MsgHeartbeat from ${formatId(got.from)} (term ${got.term})`);
  f.transport.send([createMessage({ type: MessageType.MsgHeartbeatResp, from: f.id, to: leader.id, term: 1 })]);
}
while (leader.inbox.length < followers.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
console.log(`member ${formatId(leader.id)} received ${leader.inbox.length} MsgHeartbeatResp`);

// 5. Stop: transports first (they abort their requests), then links and servers.
await Promise.all(members.map((m) => m.transport.stop()));
for (const m of members) m.link.close();
await Promise.all(members.map((m) => m.server.close()));
console.log('stopped');
