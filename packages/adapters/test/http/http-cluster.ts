/**
 * Real Transports served over HTTP on 127.0.0.1 (ephemeral ports), in this
 * process: each member has its own `startRaftServer` and `NodeHttpLink`. A
 * counting wrapper around each link records the requests made, so tests can
 * tell pipeline POSTs from stream dials.
 */
import type { Link, LinkRequest, LinkResponse, ProtocolHandler } from '@raftwire/core';
import { Transport, type TransportOptions } from '@raftwire/core';
import { RecordingRaft } from '@raftwire/core/testing';
import { NodeHttpLink } from '../../src/http/node/node-link.js';
import { type RaftServer, type RaftServerOptions, startRaftServer } from '../../src/http/node/raft-server.js';

/** A Link that counts what goes through it (by method and path). */
export class CountingLink implements Link {
  readonly requests: string[] = [];
  constructor(readonly inner: Link) {}
  request(url: string, req: LinkRequest): Promise<LinkResponse> {
    this.requests.push(`${req.method} ${req.path}`);
    return this.inner.request(url, req);
  }
  openStream(url: string, req: LinkRequest): Promise<LinkResponse> {
    this.requests.push(`${req.method} ${req.path}`);
    return this.inner.openStream(url, req);
  }
  close(): Promise<void> | void {
    return this.inner.close?.();
  }
  count(what: string): number {
    return this.requests.filter((r) => r === what).length;
  }
}

export interface HttpMember {
  id: bigint;
  url: string;
  transport: Transport;
  raft: RecordingRaft;
  link: CountingLink;
  server: RaftServer;
}

export const CLUSTER_ID = 0x1000n;

export interface HttpClusterOptions {
  transport?: Partial<Omit<TransportOptions, 'id' | 'clusterId' | 'urls' | 'link' | 'raft'>>;
  server?: Partial<Omit<RaftServerOptions, 'handler'>>;
  /** Add every member as a peer of every other (default true). */
  connect?: boolean;
}

/** Starts `count` members (IDs 1..count); `close()` stops all of them and leaves nothing open. */
export async function httpCluster(
  count: number,
  options: HttpClusterOptions = {},
): Promise<{ members: HttpMember[]; close(): Promise<void> }> {
  const members: HttpMember[] = [];
  for (let i = 0; i < count; i++) {
    let h: ProtocolHandler | undefined;
    const server = await startRaftServer({
      host: '127.0.0.1',
      port: 0,
      ...options.server,
      handler: (req) => (h ? h(req) : Promise.resolve({ status: 503, headers: {} })),
    });
    const raft = new RecordingRaft();
    const link = new CountingLink(new NodeHttpLink({ dialTimeoutMs: 1000 }));
    const id = BigInt(i + 1);
    const transport = new Transport({
      ...options.transport,
      timeouts: { probe: 300, ...options.transport?.timeouts },
      id,
      clusterId: CLUSTER_ID,
      urls: [server.url],
      link,
      raft,
    });
    h = transport.handler;
    transport.start();
    members.push({ id, url: server.url, transport, raft, link, server });
  }
  if (options.connect !== false) {
    for (const a of members) for (const b of members) if (a !== b) a.transport.addPeer(b.id, [b.url]);
  }
  return {
    members,
    async close() {
      await Promise.all(members.map((m) => m.transport.stop()));
      for (const m of members) await m.link.close();
      await Promise.all(members.map((m) => m.server.close({ signal: AbortSignal.timeout(2000) })));
    },
  };
}

/** True once all four streams between a and b work on a's side. */
export function streamsWorking(a: HttpMember, b: HttpMember): boolean {
  return a.transport.get(b.id)?.streamsWorking === true;
}
