import { type Id, type Link, type Logger, readAll, sleep, systemClock, tryParseId } from '@raftwire/core';
import { decodeEtcdMemberList, type EtcdMember } from '@raftwire/core/etcd';

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
export async function discoverEtcdCluster(
  link: Link,
  peers: readonly string[],
  options: { rounds: number; logger: Logger; signal: AbortSignal },
): Promise<DiscoveredCluster | null> {
  for (let round = 0; round < options.rounds; round++) {
    for (const url of peers) {
      options.signal.throwIfAborted();
      try {
        const res = await link.request(url, {
          method: 'GET',
          path: '/members',
          headers: {},
          signal: AbortSignal.any([options.signal, AbortSignal.timeout(2000)]),
        });
        const body = await readAll(res.body, 4 * 1024 * 1024);
        const clusterId = tryParseId(res.headers['x-etcd-cluster-id']);
        if (res.status !== 200 || clusterId === undefined) {
          options.logger.warn({ peer: url, status: res.status }, 'peer did not list the cluster members');
          continue;
        }
        return { clusterId, members: decodeEtcdMemberList(body), from: url };
      } catch (err) {
        options.signal.throwIfAborted();
        options.logger.warn({ peer: url, error: err instanceof Error ? err.message : String(err) }, 'cannot reach etcd peer');
      }
    }
    if (round + 1 < options.rounds) await sleep(systemClock, 1000, options.signal);
  }
  return null;
}
