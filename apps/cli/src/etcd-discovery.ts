import { type Id, type Link, type Logger, onAbort, readAll, sleep, systemClock, tryParseId } from '@raftwire/core';
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
      // A deadline from a controller and a timer: Node 20 may collect a timeout signal held only by AbortSignal.any.
      const deadline = new AbortController();
      const timer = setTimeout(() => deadline.abort(new Error('no answer within 2 s')), 2000);
      const stop = onAbort(options.signal, () => deadline.abort(options.signal.reason));
      try {
        const res = await link.request(url, { method: 'GET', path: '/members', headers: {}, signal: deadline.signal });
        const body = await readAll(res.body, 4 * 1024 * 1024, deadline.signal);
        const clusterId = tryParseId(res.headers['x-etcd-cluster-id']);
        if (res.status !== 200 || clusterId === undefined) {
          options.logger.warn({ peer: url, status: res.status }, 'peer did not list the cluster members');
          continue;
        }
        return { clusterId, members: decodeEtcdMemberList(body), from: url };
      } catch (err) {
        options.signal.throwIfAborted();
        options.logger.warn({ peer: url, error: err instanceof Error ? err.message : String(err) }, 'cannot reach etcd peer');
      } finally {
        clearTimeout(timer);
        stop();
      }
    }
    if (round + 1 < options.rounds) await sleep(systemClock, 1000, options.signal);
  }
  return null;
}
