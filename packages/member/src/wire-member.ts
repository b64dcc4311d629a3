import {
  createConsoleLogger,
  ErrorCode,
  formatId,
  type Id,
  isId,
  type Link,
  type Logger,
  type ProtocolHandler,
  RaftwireError,
  Transport,
} from '@raftwire/core';
import { type Member, RaftNode, type StateMachine, type WritableStorage } from '@raftwire/raft';
import { DEFAULT_CLUSTER_ID, type MemberBaseOptions, type MemberStopped, type PeerSpec, type RaftMember } from './member-options.js';

/** What a link-specific constructor (HTTP, WebRTC) hands to {@link wireMember}. */
export interface MemberParts<SM extends StateMachine> {
  options: MemberBaseOptions<SM>;
  /** Who is calling, for error messages (`createHttpMember`). */
  caller: string;
  /** The peer URL this member advertises. */
  url: string;
  /** The other members of the initial cluster (or, with `join`, the members to contact). */
  peers: readonly PeerSpec[];
  link: Link;
  storage: WritableStorage;
  logger: Logger;
  /** Routes the protocol's requests to `handler` (the server side of the link). */
  serve(handler: ProtocolHandler | undefined): void;
  /** Closes what the constructor opened (server, link, storage), after the transport stopped. */
  release(signal: AbortSignal | undefined): Promise<void>;
}

/** The logger a member uses: the caller's, else core's console logger at info. */
export function memberLogger(logger: Logger | undefined): Logger {
  return logger ?? createConsoleLogger({ level: 'info' });
}

/** Throws ERR_INVALID_ARGUMENT with `caller` in front. */
export function invalid(caller: string, message: string): never {
  throw new RaftwireError(ErrorCode.INVALID_ARGUMENT, `${caller}: ${message}`);
}

/**
 * The other members named by `peers`: duplicates refused; this member's own entry, when the same
 * list is given to every member, is dropped if its URL is `url` and refused otherwise.
 */
export function otherPeers(
  caller: string,
  self: Id,
  url: string,
  peers: readonly PeerSpec[],
  normalize: (u: string) => string,
): PeerSpec[] {
  if (!Array.isArray(peers)) invalid(caller, 'peers must be an array of { id, url }');
  const out: PeerSpec[] = [];
  const ids = new Set<Id>();
  const urls = new Set<string>([url]);
  for (const p of peers) {
    if (p === null || typeof p !== 'object' || !isId(p.id) || p.id === 0n)
      invalid(caller, `peers: ${String(p?.id)} is not a non-zero member ID (a bigint)`);
    if (typeof p.url !== 'string') invalid(caller, `peers: member ${formatId(p.id)} has no url`);
    const pu = normalize(p.url);
    if (ids.has(p.id)) invalid(caller, `peers: member ${formatId(p.id)} is listed twice`);
    ids.add(p.id);
    if (p.id === self) {
      if (pu !== url) invalid(caller, `peers: this member (${formatId(self)}) is listed with ${pu}, but it serves ${url}`);
      continue;
    }
    if (urls.has(pu)) invalid(caller, `peers: URL ${pu} is used twice`);
    urls.add(pu);
    out.push({ id: p.id, url: pu });
  }
  return out;
}

/**
 * Wires one member the way every member must be wired, so no step is forgotten: a RaftNode on
 * the storage, a Transport on the link with the node as its callbacks, the transport's handler
 * served, the node attached to the transport, a joining member's contacts added as remotes,
 * removal (the transport hearing it from a peer, or the node applying it) and failure stopping
 * everything, then the node started. On any failure along the way what was opened is closed.
 */
export async function wireMember<SM extends StateMachine>(parts: MemberParts<SM>): Promise<RaftMember<SM>> {
  const { options: o, url, peers, link, storage, logger } = parts;
  const clusterId = o.clusterId ?? DEFAULT_CLUSTER_ID;
  if (!isId(clusterId)) invalid(parts.caller, 'clusterId must be a 64-bit ID (a bigint)');
  const log = logger.child({ 'local-member-id': formatId(o.id) });
  const initial: Member[] = [{ id: o.id, url }, ...peers];
  const node = new RaftNode<SM>({
    ...o.raft,
    id: o.id,
    ...(o.join ? {} : { peers: initial }),
    storage,
    logger,
    ...(o.metrics === undefined ? {} : { metrics: o.metrics }),
    ...(o.stateMachine === undefined ? {} : { stateMachine: o.stateMachine }),
  } as ConstructorParameters<typeof RaftNode<SM>>[0]);
  const transport = new Transport({
    ...o.transport,
    id: o.id,
    clusterId,
    urls: [url],
    link,
    raft: node,
    logger,
    ...(o.metrics === undefined ? {} : { metrics: o.metrics }),
  });

  let settle: (s: MemberStopped) => void = () => {};
  const stopped = new Promise<MemberStopped>((resolve) => {
    settle = resolve;
  });
  let closing: Promise<void> | undefined;
  const shutdown = (why: MemberStopped, signal?: AbortSignal): Promise<void> => {
    closing ??= (async () => {
      if (why.reason === 'removed') log.warn({ reason: why.reason }, 'member removed from the cluster; stopping');
      if (why.reason === 'failed') log.error({ reason: why.reason, err: why.error }, 'member failed; stopping');
      await node.stop();
      await transport.stop();
      parts.serve(undefined);
      await parts.release(signal);
      log.info({ reason: why.reason }, 'member stopped');
      settle(why);
    })();
    return closing;
  };

  transport.on('removed', () => node.removedFromCluster());
  node.on('removed', () => {
    void shutdown({ reason: 'removed' });
  });
  node.on('error', (error) => {
    void shutdown({ reason: 'failed', error });
  });

  parts.serve(transport.handler);
  transport.start();
  node.setTransport(transport);
  if (o.join) {
    // Like etcd: a joining member knows no members until the leader's snapshot names them, so it
    // answers the given ones through pipeline-only remotes until then.
    for (const p of peers) transport.addRemote(p.id, [p.url]);
  }
  try {
    await node.start(o.signal === undefined ? {} : { signal: o.signal });
  } catch (err) {
    await shutdown({ reason: 'failed', error: err });
    throw err;
  }
  log.info({ 'peer-url': url, peers: peers.map((p) => `${formatId(p.id)}=${p.url}`), join: o.join === true }, 'member started');
  return {
    id: o.id,
    url,
    node,
    transport,
    stopped,
    close: (options = {}) => shutdown({ reason: 'closed' }, options.signal),
  };
}
