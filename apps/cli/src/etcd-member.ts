import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { NodeHttpLink, startRaftServer } from '@raftwire/adapters/http/node';
import { formatId, type Id, parseId, Transport } from '@raftwire/core';
import { EtcdMember, type EtcdMemberInfo } from '@raftwire/raft/etcd';
import { FileEtcdSnapshotStore, FileStorage } from '@raftwire/raft/node';
import { discoverEtcdCluster } from './etcd-discovery.js';
import type { EtcdMemberConfig } from './etcd-member-args.js';
import { createLogger } from './log.js';
import { EXIT_FAILED, EXIT_REMOVED } from './member.js';
import { bindHost, origin } from './member-args.js';
import { writeJsonAtomic } from './write-json-atomic.js';

/** What the data directory records about whose it is (written once, at the first join). */
interface Identity {
  id: string;
  name: string;
  clusterId: string;
}

async function readIdentity(dir: string): Promise<Identity | null> {
  try {
    return JSON.parse(await readFile(join(dir, 'member.json'), 'utf8')) as Identity;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

/**
 * `raftwire etcd-member`: a raft-only member of an etcd 3.4 cluster, added first with
 * `etcdctl member add <name> --peer-urls=<listen>`. It discovers the cluster from the etcd peers'
 * `GET /members`, serves etcd's peer protocol on `--listen`, votes and replicates (never leads),
 * keeps etcd's log and snapshots in `--data-dir`, and publishes its name. Runs until SIGINT/SIGTERM
 * (exit 0), removal from the cluster (exit 3, as `raftwire member`) or a fatal error (exit 1).
 */
export async function runEtcdMember(cfg: EtcdMemberConfig): Promise<number> {
  const logger = createLogger({ level: cfg.logLevel, format: cfg.logFormat }).child({ 'local-member-id': formatId(cfg.id) });
  const self = origin(cfg.listen);
  const tls = cfg.tls
    ? {
        cert: await readFile(cfg.tls.certFile),
        key: await readFile(cfg.tls.keyFile),
        ca: await readFile(cfg.tls.trustedCaFile),
      }
    : null;
  const link = new NodeHttpLink({ logger, ...(tls ? { tls } : {}) });
  const signals = new AbortController();
  const onSignal = (sig: string) => () => signals.abort(new Error(sig));
  process.on('SIGINT', onSignal('SIGINT'));
  process.on('SIGTERM', onSignal('SIGTERM'));

  await mkdir(cfg.dataDir, { recursive: true });
  const identity = await readIdentity(cfg.dataDir);
  if (identity && identity.id !== formatId(cfg.id)) {
    logger.error({ 'data-dir': cfg.dataDir, 'data-dir-member-id': identity.id }, 'the data directory belongs to another member');
    return EXIT_FAILED;
  }

  // The cluster ID and the members, from whichever etcd peer answers. A restart may go on from
  // the data directory when none does (the peers are dialled again as they come back).
  let found: Awaited<ReturnType<typeof discoverEtcdCluster>>;
  try {
    found = await discoverEtcdCluster(link, cfg.peers, { rounds: identity ? 3 : 30, logger, signal: signals.signal });
  } catch {
    link.close();
    return 0; // a signal during discovery
  }
  if (!found && !identity) {
    logger.error({ peers: cfg.peers }, 'no etcd peer answered GET /members; cannot learn the cluster');
    link.close();
    return EXIT_FAILED;
  }
  const clusterId: Id = found?.clusterId ?? parseId((identity as Identity).clusterId);
  if (identity && identity.clusterId !== formatId(clusterId)) {
    logger.error(
      { 'data-dir-cluster-id': identity.clusterId, 'cluster-id': formatId(clusterId) },
      'the data directory belongs to another cluster',
    );
    link.close();
    return EXIT_FAILED;
  }
  const listed = found?.members.find((m) => m.id === cfg.id);
  if (found && !listed) {
    link.close();
    if (identity) {
      logger.warn(
        { 'exit-code': EXIT_REMOVED, 'cluster-id': formatId(clusterId) },
        'removed: this member is no longer in the cluster; exiting',
      );
      return EXIT_REMOVED;
    }
    logger.error(
      { 'cluster-id': formatId(clusterId) },
      `member ${formatId(cfg.id)} is not in the cluster: add it first with \`etcdctl member add ${cfg.name} --peer-urls=${self}\``,
    );
    return EXIT_FAILED;
  }
  if (listed && !listed.peerURLs.map((u) => u.replace(/\/$/, '')).includes(self)) {
    logger.warn({ registered: listed.peerURLs, listen: self }, 'etcd has other peer URLs for this member: its peers dial those');
  }
  if (!identity)
    await writeJsonAtomic(cfg.dataDir, 'member.json', { id: formatId(cfg.id), name: cfg.name, clusterId: formatId(clusterId) });

  const storage = await FileStorage.open(join(cfg.dataDir, 'raft'), { logger });
  const snapshots = await FileEtcdSnapshotStore.open(join(cfg.dataDir, 'snap'));
  const discovered: EtcdMemberInfo[] = (found?.members ?? []).map((m) => ({ ...m }));
  const member = new EtcdMember({
    id: cfg.id,
    name: cfg.name,
    storage,
    snapshots,
    members: discovered,
    tickMs: cfg.heartbeatMs,
    electionTicks: Math.max(2, Math.round(cfg.electionMs / cfg.heartbeatMs)),
    compactEntries: cfg.compactEntries,
    // etcd's request timeout: 5 s plus twice the election timeout.
    publishTimeoutMs: 5000 + 2 * cfg.electionMs,
    logger,
  });
  const transport = new Transport({
    wire: 'etcd-3.4',
    id: cfg.id,
    clusterId,
    urls: [self],
    link,
    raft: member,
    logger,
    members: () => member.members(),
  });
  let server: Awaited<ReturnType<typeof startRaftServer>>;
  try {
    server = await startRaftServer({
      handler: transport.handler,
      host: bindHost(cfg.listen),
      port: Number(cfg.listen.port),
      logger,
      ...(tls ? { tls: { cert: tls.cert, key: tls.key, ca: tls.ca, clientCertAuth: true } } : {}),
    });
  } catch (err) {
    logger.error({ err }, 'cannot serve the peer URL');
    await storage.close();
    link.close();
    return EXIT_FAILED;
  }
  transport.start();
  member.setTransport(transport);

  let resolveDone: (code: number) => void = () => {};
  const done = new Promise<number>((r) => {
    resolveDone = r;
  });
  let shuttingDown = false;
  const shutdown = async (code: number, why: string): Promise<void> => {
    if (shuttingDown) return;
    shuttingDown = true;
    logger.info({ reason: why }, 'member shutting down');
    const force = setTimeout(() => resolveDone(code), 2000);
    force.unref();
    try {
      await member.stop();
      await Promise.allSettled([transport.stop(), server.close({ signal: AbortSignal.timeout(500) })]);
      await storage.close();
      link.close();
    } catch (err) {
      logger.warn({ err }, 'error while shutting down');
    }
    clearTimeout(force);
    resolveDone(code);
  };
  transport.on('removed', () => member.removedFromCluster());
  member.on('removed', () => {
    logger.warn({ 'exit-code': EXIT_REMOVED }, 'removed from the cluster; exiting');
    void shutdown(EXIT_REMOVED, 'removed from the cluster');
  });
  member.on('error', () => void shutdown(EXIT_FAILED, 'etcd member failed'));
  const onStop = (): void => void shutdown(0, String(signals.signal.reason instanceof Error ? signals.signal.reason.message : 'signal'));
  if (signals.signal.aborted) onStop();
  else signals.signal.addEventListener('abort', onStop, { once: true });

  await member.start();
  logger.info(
    {
      'cluster-id': formatId(clusterId),
      'peer-url': server.url,
      name: cfg.name,
      members: member.members().map((m) => `${formatId(m.id)}=${m.peerURLs.join(',')}`),
      'discovered-from': found?.from ?? '(data directory)',
    },
    'etcd member ready: following the cluster (it votes and replicates, never leads)',
  );
  return done;
}
