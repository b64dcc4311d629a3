import { createServer, type Server, type Socket } from 'node:net';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { NodeHttpLink } from '@raftwire/adapters/http/node';
import { silentLogger } from '@raftwire/core';
import { afterEach, describe, expect, it } from 'vitest';
import { discoverEtcdCluster } from '../src/etcd-discovery.js';

// A full collection on demand, so the test sees what a long-running process sees once the
// collector runs while a request waits.
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const servers: Server[] = [];
const sockets: Socket[] = [];

afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

/** A TCP server on 127.0.0.1 that answers every connection with `reply` (or nothing) and then stalls. */
async function peer(reply: string | null): Promise<string> {
  const server = createServer((socket) => {
    sockets.push(socket);
    socket.on('error', () => {});
    socket.once('data', () => {
      if (reply !== null) socket.write(reply);
    });
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const addr = server.address();
  if (addr === null || typeof addr === 'string') throw new Error('no port');
  return `http://127.0.0.1:${addr.port}`;
}

const members = '[{"id":10276657743932975437,"name":"etcd1","peerURLs":["http://127.0.0.1:2380"],"clientURLs":[]}]';
const answer = `HTTP/1.1 200 OK\r\nX-Etcd-Cluster-ID: cdf818194e3a8c32\r\nContent-Type: application/json\r\nContent-Length: ${members.length}\r\n\r\n${members}`;

describe('discoverEtcdCluster', () => {
  it('gives up on a peer that never answers, or answers headers and stalls, and asks the next, even after a collection', async () => {
    const silent = await peer(null);
    const stalled = await peer('HTTP/1.1 200 OK\r\nX-Etcd-Cluster-ID: cdf818194e3a8c32\r\nContent-Length: 100\r\n\r\n[');
    const good = await peer(answer);
    const link = new NodeHttpLink({ logger: silentLogger });
    const collect = setInterval(gc, 200);
    try {
      const found = await discoverEtcdCluster(link, [silent, stalled, good], {
        rounds: 1,
        logger: silentLogger,
        signal: AbortSignal.timeout(20_000),
      });
      expect(found?.from).toBe(good);
      expect(found?.clusterId).toBe(0xcdf818194e3a8c32n);
      expect(found?.members.map((m) => [m.id, m.name])).toEqual([[10276657743932975437n, 'etcd1']]);
    } finally {
      clearInterval(collect);
      link.close();
    }
  }, 30_000);

  it('stops when its signal aborts, while a peer keeps it waiting', async () => {
    const silent = await peer(null);
    const link = new NodeHttpLink({ logger: silentLogger });
    const ac = new AbortController();
    setTimeout(() => ac.abort(new Error('shutting down')), 300);
    try {
      await expect(discoverEtcdCluster(link, [silent], { rounds: 5, logger: silentLogger, signal: ac.signal })).rejects.toThrow(
        'shutting down',
      );
    } finally {
      link.close();
    }
  });
});
