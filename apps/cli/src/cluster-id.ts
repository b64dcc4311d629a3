/**
 * Where a member's cluster ID comes from (etcd derives its own from the initial members and
 * `--initial-cluster-token`, so two clusters started from the same kind of command line never
 * take each other's messages): an explicit `--cluster-id`; else the one the data dir recorded at
 * the first start; else, for a new cluster, a hash of the initial members and the token; else, for
 * a joining member, what the members it contacts answer with. Once recorded, a different one is
 * refused: the member would talk to no one (every peer answers 412).
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { formatId, type Id, type Link, parseId, tryParseId } from '@raftwire/core';
import { askPeers } from './ask-peers.js';
import type { CliLogger } from './log.js';
import { writeJsonAtomic } from './write-json-atomic.js';

export const CLUSTER_ID_FILE = 'cluster-id.json';
export const DEFAULT_CLUSTER_TOKEN = 'raftwire-cluster';

/**
 * The cluster ID of a new cluster: the first 8 bytes (big-endian) of SHA-256 over the token and
 * the initial members' IDs, sorted (one hex ID per line), never 0. The same members and
 * token give the same ID on every member.
 */
export function deriveClusterId(members: readonly { id: Id }[], token: string): Id {
  // IDs only, not URLs: members may reach one another by different addresses (a proxy, a NAT,
  // 127.0.0.1 beside ::1), and every member must derive the same ID from its own command line.
  const lines = [...new Set(members.map((m) => m.id))].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)).map(formatId);
  const h = createHash('sha256')
    .update(`raftwire cluster id\n${token}\n${lines.join('\n')}\n`)
    .digest();
  const id = h.readBigUInt64BE(0);
  return id === 0n ? 1n : id;
}

/** A cluster-ID problem that must stop the member (exit 1), with what to do. */
export class ClusterIdError extends Error {
  override readonly name = 'ClusterIdError';
}

async function stored(dataDir: string): Promise<Id | null> {
  let text: string;
  try {
    text = await readFile(join(dataDir, CLUSTER_ID_FILE), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  try {
    return parseId((JSON.parse(text) as { clusterId: string }).clusterId);
  } catch {
    throw new ClusterIdError(`${join(dataDir, CLUSTER_ID_FILE)} is damaged: ${JSON.stringify(text.slice(0, 80))}`);
  }
}

/** Asks the given peers' probing endpoint for their cluster ID (every raftwire answer carries it). */
function discover(link: Link, peers: readonly string[], logger: CliLogger, signal: AbortSignal): Promise<Id | null> {
  return askPeers(peers, { rounds: 10, logger, signal, unreachable: 'cannot reach peer to learn the cluster ID' }, async (url, s) => {
    const res = await link.request(url, { method: 'GET', path: '/raft/probing', headers: {}, signal: s });
    for await (const _ of res.body) {
      // drained
    }
    const id = tryParseId(res.headers['x-etcd-cluster-id']);
    if (id !== undefined && id !== 0n) return id;
    logger.warn({ peer: url, status: res.status }, 'peer did not say its cluster ID');
    return null;
  });
}

export interface ClusterIdInput {
  explicit: Id | null;
  token: string;
  dataDir: string | null;
  join: boolean;
  /** This member and the initial peers (for a new cluster), or the peers to contact (join). */
  self: { id: Id; url: string };
  peers: readonly { id: Id; url: string }[];
  link: Link;
  logger: CliLogger;
  signal: AbortSignal;
}

/** Resolves the member's cluster ID (see the module comment) and records it in the data dir. */
export async function resolveClusterId(o: ClusterIdInput): Promise<{ clusterId: Id; source: string }> {
  const recorded = o.dataDir === null ? null : await stored(o.dataDir);
  let clusterId: Id;
  let source: string;
  if (o.explicit !== null) {
    clusterId = o.explicit;
    source = '--cluster-id';
  } else if (recorded !== null) {
    clusterId = recorded;
    source = CLUSTER_ID_FILE;
  } else if (!o.join) {
    clusterId = deriveClusterId([o.self, ...o.peers], o.token);
    source = 'derived from the initial members and --initial-cluster-token';
  } else {
    const found = await discover(
      o.link,
      o.peers.map((p) => p.url),
      o.logger,
      o.signal,
    );
    if (found === null) {
      throw new ClusterIdError('cannot learn the cluster ID from the --peer members (none answered): pass --cluster-id <hex>');
    }
    clusterId = found;
    source = 'learned from the members it joins';
  }
  if (recorded !== null && recorded !== clusterId) {
    throw new ClusterIdError(
      `the data dir belongs to cluster ${formatId(recorded)} (${join(o.dataDir as string, CLUSTER_ID_FILE)}), ` +
        `but this command line means cluster ${formatId(clusterId)} (${source}); start it with the flags it was created with, ` +
        'or use a fresh --data-dir',
    );
  }
  if (o.dataDir !== null && recorded === null) await writeJsonAtomic(o.dataDir, CLUSTER_ID_FILE, { clusterId: formatId(clusterId) });
  return { clusterId, source };
}
