import { type Id, type Link, type Logger, readAll, tryParseId } from '@raftwire/core';
import { decodeEtcdMemberList, type EtcdMember } from '@raftwire/core/etcd';
import { askPeers } from './ask-peers.js';

/** What a peer's `GET /members` said. */
export interface DiscoveredCluster {
  clusterId: Id;
  members: EtcdMember[];
  /** The peer URL that answered. */
  from: string;
}

/**
 * Asks each etcd peer in turn for `GET /members` (etcd's peer endpoint: the cluster ID in
 * `X-Etcd-Cluster-ID`, the members as JSON with decimal uint64 IDs) until one answers, for
 * `rounds` rounds one second apart. Resolves null when none did.
 */
export function discoverEtcdCluster(
  link: Link,
  peers: readonly string[],
  options: { rounds: number; logger: Logger; signal: AbortSignal },
): Promise<DiscoveredCluster | null> {
  return askPeers(peers, { ...options, unreachable: 'cannot reach etcd peer' }, async (url, signal) => {
    const res = await link.request(url, { method: 'GET', path: '/members', headers: {}, signal });
    const body = await readAll(res.body, 4 * 1024 * 1024, signal);
    const clusterId = tryParseId(res.headers['x-etcd-cluster-id']);
    if (res.status !== 200 || clusterId === undefined) {
      options.logger.warn({ peer: url, status: res.status }, 'peer did not list the cluster members');
      return null;
    }
    return { clusterId, members: decodeEtcdMemberList(body), from: url };
  });
}
