import { mkdir, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { certificateAuthenticator, formatId, type Id, Transport } from '@raftwire/core';
import { MemoryStorage, RaftNode, type WritableStorage } from '@raftwire/raft';
import { FileStorage, WalCorruptionError } from '@raftwire/raft/node';
import { joinCommand, startApiServer } from './api-server.js';
import { createLogger } from './log.js';
import { createMemberMetrics } from './metrics.js';
import { ClusterIdError, resolveClusterId } from './cluster-id.js';
import { bindHost, type MemberConfig, origin } from './member-args.js';
import { watchUnreachableVoters } from './unreachable-voters.js';
import { raftSide } from './raft-listener.js';

/** Exit code of a member that stopped because it was removed from the cluster. */
export const EXIT_REMOVED = 3;
/** Exit code of a member that stopped on a fatal error (storage failure, port in use, ...). */
export const EXIT_FAILED = 1;

/**
 * The security flags a new member `id` starts with, after this member's: `--insecure`, or
 * certificate files beside this member's (`<dir>/member-<id>.crt` and `.key`, as `raftwire cert
 * member --out <dir>` names them) with the same CA and token.
 */
export function securityArgs(cfg: MemberConfig, id: Id): string[] {
  if (cfg.tls === null) return ['--insecure'];
  const dir = dirname(cfg.tls.peerCert);
  const args = [
    '--peer-cert-file',
    join(dir, `member-${formatId(id)}.crt`),
    '--peer-key-file',
    join(dir, `member-${formatId(id)}.key`),
    '--peer-trusted-ca-file',
    cfg.tls.peerCa,
    '--api-token-file',
    cfg.tls.apiToken,
  ];
  if (cfg.tls.apiCert !== cfg.tls.peerCert) args.push('--api-cert-file', cfg.tls.apiCert, '--api-key-file', cfg.tls.apiKey);
  return args;
}

/**
 * Runs one member until SIGINT/SIGTERM (exit 0), removal (exit
 * {@link EXIT_REMOVED}) or a fatal error (exit {@link EXIT_FAILED}).
 */
export async function runMember(cfg: MemberConfig): Promise<number> {
  const logger = createLogger({ level: cfg.logLevel, format: cfg.logFormat }).child({ 'local-member-id': formatId(cfg.id) });
  const peerUrl = origin(cfg.listen);
  let storage: WritableStorage;
  if (cfg.dataDir) {
    await mkdir(cfg.dataDir, { recursive: true });
    try {
      storage = await FileStorage.open(cfg.dataDir, { logger });
    } catch (err) {
      if (!(err instanceof WalCorruptionError)) throw err;
      // Damage that is not a torn tail: starting would drop records that may have been acknowledged.
      logger.error({ file: err.file, offset: err.offset, reason: err.reason }, err.message);
      return EXIT_FAILED;
    }
  } else {
    storage = new MemoryStorage();
  }
  const { metrics, endpoint: metricsEndpoint } = createMemberMetrics();
  const node = new RaftNode({
    metrics,
    id: cfg.id,
    ...(cfg.join ? {} : { peers: [{ id: cfg.id, url: peerUrl }, ...cfg.peers] }),
    storage,
    logger,
    tickMs: cfg.tickMs,
    electionTicks: cfg.electionTicks,
    snapshotEntries: cfg.snapshotEntries,
    snapshotCatchUpEntries: cfg.snapshotCatchUpEntries,
  });
  // Secure members read their certificates and token before anything listens: a missing or
  // unreadable file is a fatal error with its name, not a member that runs unauthenticated.
  let files: { cert: string; key: string; ca: string; apiCert: string; apiKey: string; token: string } | null = null;
  if (cfg.tls !== null) {
    const t = cfg.tls;
    const read = async (flag: string, path: string): Promise<string> => {
      try {
        return await readFile(path, 'utf8');
      } catch (err) {
        throw new Error(`${flag} ${path}: ${(err as Error).message}`);
      }
    };
    files = {
      cert: await read('--peer-cert-file', t.peerCert),
      key: await read('--peer-key-file', t.peerKey),
      ca: await read('--peer-trusted-ca-file', t.peerCa),
      apiCert: await read('--api-cert-file', t.apiCert),
      apiKey: await read('--api-key-file', t.apiKey),
      token: (await read('--api-token-file', t.apiToken)).trim(),
    };
    if (files.token.length < 16) throw new Error(`--api-token-file ${t.apiToken}: the token must be at least 16 characters`);
  }
  const side = raftSide(logger, files === null ? null : { cert: files.cert, key: files.key, ca: files.ca });
  const link = side.link;
  let clusterId: Id;
  let clusterIdSource = '';
  try {
    const r = await resolveClusterId({
      explicit: cfg.clusterId,
      token: cfg.initialClusterToken,
      dataDir: cfg.dataDir,
      join: cfg.join,
      self: { id: cfg.id, url: peerUrl },
      peers: cfg.peers,
      link,
      logger,
      signal: AbortSignal.timeout(30_000),
    });
    clusterId = r.clusterId;
    clusterIdSource = r.source;
    logger.debug({ 'cluster-id': formatId(clusterId), source: r.source }, 'cluster ID resolved');
  } catch (err) {
    if (!(err instanceof ClusterIdError)) throw err;
    logger.error({}, err.message);
    link.close();
    return EXIT_FAILED;
  }
  const transport = new Transport({
    id: cfg.id,
    clusterId,
    urls: [peerUrl],
    link,
    raft: node,
    logger,
    metrics,
    // With TLS a peer is who its certificate names (urn:raftwire:member:<id> or CN): a request
    // claiming another sender, or a stream taken over with another member's certificate, gets 403.
    ...(files === null ? {} : { authenticatePeer: certificateAuthenticator }),
  });
  const raftServer = await side.listen(transport.handler, bindHost(cfg.listen), Number(cfg.listen.port));
  transport.start();
  node.setTransport(transport);
  // A joining member knows no members until the leader's snapshot names them: like etcd, it
  // answers the given members through pipeline-only remotes until then (the snapshot's member
  // list then makes them full peers, with streams).
  if (cfg.join) {
    for (const p of cfg.peers) transport.addRemote(p.id, [p.url]);
    logger.info(
      { remotes: cfg.peers.map((p) => formatId(p.id)) },
      'joining: reaching existing members through remotes until the snapshot arrives',
    );
  }

  let api: Awaited<ReturnType<typeof startApiServer>> | undefined;
  let exitCode = 0;
  let resolveDone: (code: number) => void = () => {};
  const done = new Promise<number>((r) => {
    resolveDone = r;
  });
  let shuttingDown = false;
  const shutdown = async (code: number, why: string): Promise<void> => {
    if (shuttingDown) return;
    shuttingDown = true;
    exitCode = code;
    stopWatching();
    logger.info({ reason: why }, 'member shutting down');
    // Bounded: a member that must stop (removed, signal) does not wait on peers forever.
    const force = setTimeout(() => resolveDone(exitCode), 1500);
    force.unref();
    try {
      await node.stop();
      await Promise.allSettled([transport.stop(), api?.close(), raftServer.close(AbortSignal.timeout(500))]);
      link.close();
    } catch (err) {
      logger.warn({ err }, 'error while shutting down');
    }
    clearTimeout(force);
    resolveDone(exitCode);
  };

  const stopWatching = watchUnreachableVoters({
    status: () => node.status(),
    activeSince: (id) => transport.activeSince(id),
    logger,
    startHint: (id, url) => joinCommand(id, url, node.status().members, [...securityArgs(cfg, id), '--cluster-id', formatId(clusterId)]),
  });
  transport.on('removed', () => node.removedFromCluster());
  node.on('removed', () => {
    logger.warn({ 'exit-code': EXIT_REMOVED }, 'member was removed from the cluster; exiting');
    void shutdown(EXIT_REMOVED, 'removed from the cluster');
  });
  node.on('error', (err) => {
    logger.error({ err }, 'raft node failed');
    void shutdown(EXIT_FAILED, 'raft node failed');
  });
  const onSignal = (sig: string) => () => void shutdown(0, sig);
  process.on('SIGINT', onSignal('SIGINT'));
  process.on('SIGTERM', onSignal('SIGTERM'));
  if (cfg.stopOnStdinClose) {
    // The parent (raftwire cluster) holds the other end and never writes: EOF means it is gone.
    // It also read our output: once it is gone, writes fail with EPIPE, which must not crash the
    // member in the middle of its shutdown (the log lines are lost with their reader).
    for (const out of [process.stdout, process.stderr]) out.on('error', () => {});
    const onStdinClosed = (): void => {
      logger.warn({}, 'standard input closed (the process that started this member is gone); stopping');
      void shutdown(0, 'stdin closed');
    };
    process.stdin.once('end', onStdinClosed);
    process.stdin.once('error', onStdinClosed);
    process.stdin.resume();
  }

  // Read before start: what this member knew when it stopped (a fresh data dir has nothing).
  const restart =
    cfg.dataDir !== null && (storage.lastIndex() > 0 || storage.snapshot().metadata.index > 0)
      ? { index: storage.lastIndex(), term: storage.initialState().hardState.term, snapshot: storage.snapshot().metadata.index }
      : null;
  await node.start();
  if (restart !== null) {
    logger.info(
      { 'last-index': restart.index, term: restart.term, 'snapshot-index': restart.snapshot, 'data-dir': cfg.dataDir },
      `restarted from WAL at index ${restart.index}`,
    );
  }
  try {
    // What a member just added needs beyond its own URLs: this member's security mode and cluster ID.
    const clusterIdArgs = ['--cluster-id', formatId(clusterId)];
    api = await startApiServer({
      node,
      transport,
      host: bindHost(cfg.api),
      port: Number(cfg.api.port),
      logger,
      metrics: metricsEndpoint,
      ...(files === null ? {} : { tls: { key: files.apiKey, cert: files.apiCert }, token: files.token }),
      joinCommand: (id, url, members) => joinCommand(id, url, members, [...securityArgs(cfg, id), ...clusterIdArgs]),
    });
  } catch (err) {
    logger.error({ err }, 'cannot start the client API server');
    await shutdown(EXIT_FAILED, 'client API server failed');
    return done;
  }
  logger.info(
    {
      runtime: side.runtime,
      'peer-url': raftServer.url,
      'api-url': api.url,
      'cluster-id': formatId(clusterId),
      'cluster-id-from': clusterIdSource,
      peers: cfg.peers.map((p) => `${formatId(p.id)}=${p.url}`),
      join: cfg.join,
    },
    'member ready',
  );
  return done;
}
