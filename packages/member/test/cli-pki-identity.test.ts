/**
 * The certificates `raftwire cert` makes (apps/cli/src/pki.ts) with createHttpMember's identity
 * binding: members authenticate each other by ID, and a member claiming another one is refused.
 */
import { createCa, createMemberCert } from '../../../apps/cli/src/pki.js';
import { describe, expect, it } from 'vitest';

describe('member certificates and the peer authenticator', () => {
  it('createHttpMember members with raftwire cert certificates authenticate each other by ID; a member claiming another is refused', async () => {
    const { createHttpMember } = await import('@raftwire/member/http');
    const { MemoryStorage, encodeKvCommand } = await import('@raftwire/raft');
    const { NodeHttpLink } = await import('@raftwire/adapters/http/node');
    const { MIN_CLUSTER_VERSION, SERVER_VERSION } = await import('@raftwire/core');
    const net = await import('node:net');
    const ports = await Promise.all(
      [0, 1].map(
        () =>
          new Promise<number>((resolve) => {
            const s = net.createServer();
            s.listen(0, '127.0.0.1', () => {
              const p = (s.address() as { port: number }).port;
              s.close(() => resolve(p));
            });
          }),
      ),
    );
    const ca = await createCa();
    const peers = ports.map((p, i) => ({ id: BigInt(i + 1), url: `https://127.0.0.1:${p}` }));
    const certs = await Promise.all(peers.map((p) => createMemberCert(ca, p.id, ['127.0.0.1'])));
    const members = await Promise.all(
      peers.map((p, i) =>
        createHttpMember({
          id: p.id,
          listen: p.url,
          peers,
          raft: { tickMs: 20, electionTicks: 10 },
          tls: { key: certs[i]?.key ?? '', cert: certs[i]?.cert ?? '', ca: ca.cert },
          storage: new MemoryStorage(),
        }),
      ),
    );
    const link = new NodeHttpLink({ tls: { ca: ca.cert, key: certs[0]?.key ?? '', cert: certs[0]?.cert ?? '' } });
    try {
      const deadline = Date.now() + 15_000;
      let leader = members.find((m) => m.node.status().raftState === 'StateLeader');
      while (leader === undefined && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 20));
        leader = members.find((m) => m.node.status().raftState === 'StateLeader');
      }
      expect(leader).toBeDefined();
      await leader?.node.propose(encodeKvCommand({ op: 'put', key: 'a', value: new TextEncoder().encode('1') }), {
        signal: AbortSignal.timeout(15_000),
      });
      // Member 1's certificate taking over member 2's stream from member 1, claiming to be member 2: refused.
      const res = await link.openStream(peers[0]?.url ?? '', {
        method: 'GET',
        path: '/raft/stream/message/2',
        headers: {
          'x-server-from': '2',
          'x-raft-to': '1',
          'x-server-version': SERVER_VERSION,
          'x-min-cluster-version': MIN_CLUSTER_VERSION,
          'x-etcd-cluster-id': '7261667477697265',
        },
      });
      expect(res.status).toBe(403);
      const body: Uint8Array[] = [];
      for await (const c of res.body) body.push(c);
      expect(Buffer.concat(body).toString()).toBe('sender does not match the peer certificate\n');
    } finally {
      link.close();
      await Promise.all(members.map((m) => m.close()));
    }
  });
});
