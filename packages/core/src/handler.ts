import { ChildAbort, onAbort } from './abort.js';
import { readAll, textBytes } from './body.js';
import { ChunkReader } from './chunk-reader.js';
import type { TransportContext } from './context.js';
import { ErrorCode, isRaftwireError } from './errors.js';
import { type Id, formatId, tryParseId } from './ids.js';
import type { HandlerRequest, HandlerResponse, LinkHeaders, ProtocolHandler } from './link.js';
import { LogRateLimiter, rateLimitedLogger } from './log-rate-limiter.js';
import { type Message, MessageType, createSnapshot, messageTypeName } from './message.js';
import { MetricName } from './metrics.js';
import { OutgoingConn } from './outgoing-conn.js';
import { textResponse } from './serve.js';
import { parsePeerUrlsHeader } from './urls.js';
import { type Version, servedStreams, versionIncompatibility } from './version.js';
import { ContentType, ErrorText, Header, RaftPath, type StreamType, parseStreamPath, pathOf } from './wire.js';
import type { ClusterMember, PeerEndpoint } from './wire-profile.js';

/** Distinct log messages the handler's rate limiter tracks (its lines embed at most a remote's cluster ID). */
const HANDLER_LOG_KEYS = 64;

/** What the protocol handler needs from the transport. */
export interface HandlerHost {
  readonly ctx: TransportContext;
  /** False before start and after stop: requests get 503. */
  readonly running: boolean;
  /** Aborted when the transport stops. */
  readonly signal: AbortSignal;
  peer(id: Id): { attachOutgoing(type: StreamType, conn: OutgoingConn): boolean } | undefined;
  addRemote(id: Id, urls: readonly string[]): void;
  /** The members listed by the profile's `GET /members`, if it has that endpoint. */
  members(): readonly ClusterMember[];
}

/**
 * The server side of the protocol (docs/design.md §3), shared by every adapter. The
 * checks run in etcd's order with etcd's statuses and bodies; the answers carry the
 * wire profile's headers (native: X-Etcd-Cluster-ID and X-Server-Version on every one).
 * Where the profiles differ (the `To` check, the snapshot head, extra endpoints), the
 * profile decides.
 */
export function createProtocolHandler(host: HandlerHost): ProtocolHandler {
  const ctx = host.ctx;
  // Anyone who reaches the peer port can make the handler log: one line per message per interval.
  const log = rateLimitedLogger(ctx.logger, new LogRateLimiter(ctx.clock, ctx.dropLog.intervalMs, HANDLER_LOG_KEYS));
  const profile = ctx.profile;
  const served = new Set(servedStreams(ctx.versionParsed, ctx.streamSupport));

  const reply = (endpoint: PeerEndpoint, status: number, text: string, extra?: LinkHeaders): HandlerResponse =>
    textResponse(status, text, ctx.responseHeaders(endpoint, extra));
  const noContent = (endpoint: PeerEndpoint): HandlerResponse => ({ status: 204, headers: ctx.responseHeaders(endpoint) });
  const methodNotAllowed = (endpoint: PeerEndpoint, allow: string): HandlerResponse =>
    reply(endpoint, 405, ErrorText.methodNotAllowed, { [Header.allow]: allow });

  /** Version then cluster ID; returns the failure response or undefined. */
  const checkCompat = (req: HandlerRequest, endpoint: PeerEndpoint): HandlerResponse | undefined => {
    const rsv = req.headers[Header.serverVersion];
    const rmv = req.headers[Header.minClusterVersion];
    let remote: { server: Version; minCluster: Version };
    try {
      remote = { server: profile.headerVersion(rsv), minCluster: profile.headerVersion(rmv) };
    } catch (err) {
      log.warn(
        { error: (err as Error).message, 'remote-peer-id': req.headers[Header.from] ?? '' },
        'rejected request with a malformed version header',
      );
      return reply(endpoint, 400, `malformed version header: ${(err as Error).message}`);
    }
    const why = versionIncompatibility({ server: ctx.versionParsed, minCluster: ctx.minClusterVersionParsed }, remote);
    if (why !== undefined) {
      log.warn(
        {
          'local-member-server-version': ctx.version,
          'local-member-server-minimum-cluster-version': ctx.minClusterVersion,
          'remote-peer-server-name': req.headers[Header.from] ?? '',
          'remote-peer-server-version': rsv ?? '',
          'remote-peer-server-minimum-cluster-version': rmv ?? '',
          error: why,
        },
        'failed version compatibility check',
      );
      return reply(endpoint, 412, ErrorText.incompatibleVersion);
    }
    const cid = req.headers[Header.clusterId];
    if (cid !== ctx.clusterIdHex) {
      log.warn(
        {
          'local-member-cluster-id': ctx.clusterIdHex,
          'remote-peer-cluster-id': cid ?? '',
          'remote-peer-id': req.headers[Header.from] ?? '',
        },
        `request cluster ID mismatch (local cluster ${ctx.clusterIdHex}, remote cluster ${cid ?? 'unknown'})`,
      );
      return reply(endpoint, 412, ErrorText.clusterIdMismatch);
    }
    return undefined;
  };

  const maybeAddRemote = (req: HandlerRequest): void => {
    const from = tryParseId(req.headers[Header.from]);
    const urls = parsePeerUrlsHeader(req.headers[Header.peerUrls], ctx.urlSchemes);
    if (from !== undefined && from !== ctx.id && urls !== undefined) host.addRemote(from, urls);
  };

  /**
   * Secure mode (an authenticator is set): the member the request is authenticated as, or the
   * 403 that refuses it: not authenticated, or a claimed sender (`X-Server-From`, the stream
   * path's ID) that is another member. Plain mode: undefined, nothing checked.
   */
  const authenticate = (
    req: HandlerRequest,
    endpoint: PeerEndpoint,
    claimed: string | undefined,
  ): { id: Id | undefined; refused?: HandlerResponse } => {
    const auth = ctx.authenticatePeer;
    if (auth === undefined) return { id: undefined };
    const id = auth(req);
    if (id === undefined) {
      log.warn(
        { error: ErrorCode.PEER_UNAUTHENTICATED, endpoint, 'remote-addr': req.remoteAddress ?? '', 'claimed-peer-id': claimed ?? '' },
        'refused unauthenticated peer request',
      );
      return { id, refused: reply(endpoint, 403, ErrorText.peerUnauthenticated) };
    }
    if (claimed !== undefined && tryParseId(claimed) !== id) return { id, refused: mismatch(req, endpoint, id, claimed) };
    return { id };
  };
  const mismatch = (req: HandlerRequest, endpoint: PeerEndpoint, id: Id, claimed: string): HandlerResponse => {
    log.warn(
      {
        error: ErrorCode.PEER_UNAUTHENTICATED,
        endpoint,
        'remote-addr': req.remoteAddress ?? '',
        'certificate-peer-id': formatId(id),
        'claimed-peer-id': claimed,
      },
      'refused peer request whose sender is not the member its certificate names',
    );
    return reply(endpoint, 403, ErrorText.peerIdentityMismatch);
  };
  /** Secure mode: the message's `from` must be the authenticated member. */
  const checkFrom = (req: HandlerRequest, endpoint: PeerEndpoint, id: Id | undefined, m: Message): HandlerResponse | undefined =>
    id === undefined || m.from === id ? undefined : mismatch(req, endpoint, id, formatId(m.from));

  /** 403 when the sender is removed or (when the profile checks it) the message is not for us. */
  const forbidden = (m: Message, endpoint: PeerEndpoint): HandlerResponse | undefined => {
    if (ctx.raft.isIdRemoved(m.from)) return reply(endpoint, 403, ErrorText.fromRemovedMember);
    if (profile.checksMessageTo && m.to !== ctx.id) return reply(endpoint, 403, ErrorText.toMismatchMember);
    return undefined;
  };

  const processed = async (m: Message, req: HandlerRequest, what: string, endpoint: PeerEndpoint): Promise<HandlerResponse> => {
    const child = new ChildAbort(req.signal);
    const disposeStop = onAbort(host.signal, () => child.abort(host.signal.reason));
    try {
      await ctx.raft.process(m, child.signal);
      return noContent(endpoint);
    } catch (err) {
      if (isRaftwireError(err, ErrorCode.MEMBER_REMOVED)) return reply(endpoint, 403, ErrorText.fromRemovedMember);
      log.warn(
        { error: err instanceof Error ? err.message : String(err), 'message-type': messageTypeName(m.type) },
        `failed to process ${what}`,
      );
      return reply(endpoint, 500, ErrorText.processMessage);
    } finally {
      disposeStop();
      child.dispose();
    }
  };

  const servePipeline = async (req: HandlerRequest): Promise<HandlerResponse> => {
    if (req.method !== 'POST') return methodNotAllowed('pipeline', 'POST');
    const bad = checkCompat(req, 'pipeline');
    if (bad) return bad;
    const who = authenticate(req, 'pipeline', req.headers[Header.from]);
    if (who.refused) return who.refused;
    maybeAddRemote(req);
    const fromHex = req.headers[Header.from] ?? '';
    let data: Uint8Array;
    try {
      data = await readAll(req.body, ctx.limits.maxMessageBytes, req.signal);
    } catch (err) {
      ctx.metrics.inc(MetricName.peerReceivedFailures, { From: fromHex });
      log.warn({ error: (err as Error).message, 'remote-peer-id': fromHex }, 'failed to read Raft message');
      return reply('pipeline', 400, ErrorText.readMessage);
    }
    let m: Message;
    try {
      m = ctx.codec.decode(data);
    } catch (err) {
      ctx.metrics.inc(MetricName.peerReceivedFailures, { From: fromHex });
      log.warn({ error: (err as Error).message, 'remote-peer-id': fromHex }, 'failed to unmarshal Raft message');
      return reply('pipeline', 400, ErrorText.unmarshalMessage);
    }
    const spoofed = checkFrom(req, 'pipeline', who.id, m);
    if (spoofed) return spoofed;
    ctx.metrics.inc(MetricName.peerReceivedBytes, { From: formatId(m.from) }, data.length);
    const no = forbidden(m, 'pipeline');
    if (no) return no;
    return processed(m, req, 'Raft message', 'pipeline');
  };

  const serveStream = async (req: HandlerRequest, path: string): Promise<HandlerResponse> => {
    if (req.method !== 'GET') return methodNotAllowed('stream', 'GET');
    const bad = checkCompat(req, 'stream');
    if (bad) return bad;
    const { type, from: base } = parseStreamPath(path);
    if (type === undefined || !served.has(type)) {
      log.debug({ path }, 'ignored unexpected streaming request path');
      return reply('stream', 404, ErrorText.invalidPath);
    }
    const from = tryParseId(base);
    if (from === undefined) {
      log.warn({ path }, 'failed to parse path into ID');
      return reply('stream', 404, ErrorText.invalidFrom);
    }
    // A stream for a peer replaces the one it has: only that member may open it (no takeover).
    const who = authenticate(req, 'stream', base);
    if (who.refused) return who.refused;
    const claimedFrom = req.headers[Header.from];
    if (who.id !== undefined && claimedFrom !== undefined && tryParseId(claimedFrom) !== who.id) {
      return mismatch(req, 'stream', who.id, claimedFrom);
    }
    if (ctx.raft.isIdRemoved(from)) {
      log.warn({ 'remote-peer-id': base }, 'rejected stream from remote peer because it was removed');
      return reply('stream', 410, ErrorText.removedMember);
    }
    const peer = host.peer(from);
    if (peer === undefined) {
      const urls = parsePeerUrlsHeader(req.headers[Header.peerUrls], ctx.urlSchemes);
      if (urls !== undefined && from !== ctx.id) host.addRemote(from, urls);
      log.warn({ 'remote-peer-id': base }, 'failed to find remote peer in cluster');
      return reply('stream', 404, ErrorText.senderNotFound);
    }
    const to = req.headers[Header.raftTo];
    if (to !== ctx.idHex) {
      log.warn(
        { 'remote-peer-id': base, 'remote-peer-id-stream-handler': to ?? '', 'remote-peer-id-from': base },
        'ignored streaming request; ID mismatch',
      );
      return reply('stream', 412, ErrorText.toMismatch);
    }
    const conn = new OutgoingConn(ctx.clock, req.signal);
    if (!peer.attachOutgoing(type, conn)) return reply('stream', 503, ErrorText.transportStopped);
    return { status: 200, headers: ctx.responseHeaders('stream'), body: conn };
  };

  const serveSnapshot = async (req: HandlerRequest): Promise<HandlerResponse> => {
    if (req.method !== 'POST') {
      ctx.metrics.inc(MetricName.snapshotReceiveFailures, { From: 'UNKNOWN_SNAPSHOT_SENDER' });
      return methodNotAllowed('snapshot', 'POST');
    }
    const bad = checkCompat(req, 'snapshot');
    if (bad) return bad;
    const who = authenticate(req, 'snapshot', req.headers[Header.from]);
    if (who.refused) return who.refused;
    maybeAddRemote(req);
    const start = ctx.clock.now();
    const reader = new ChunkReader(req.body);
    let m: Message;
    /** The declared body size; -1 when the profile's wire declares none (the body runs to the end). */
    let size: number;
    const fromHex = req.headers[Header.from] ?? 'UNKNOWN_SNAPSHOT_SENDER';
    const failed = (status: number, text: string): HandlerResponse => {
      ctx.metrics.inc(MetricName.snapshotReceiveFailures, { From: fromHex });
      log.warn({ 'remote-peer-id': fromHex, error: text }, 'failed to receive database snapshot');
      return reply('snapshot', status, text);
    };
    try {
      ({ message: m, size } = await profile.readSnapshotHead(reader, ctx.limits.maxSnapshotEnvelopeBytes));
    } catch (err) {
      reader.close();
      return failed(400, `failed to decode raft message (${(err as Error).message})`);
    }
    if (m.type !== MessageType.MsgSnap) {
      reader.close();
      return failed(400, ErrorText.wrongSnapshotType);
    }
    const no = checkFrom(req, 'snapshot', who.id, m) ?? forbidden(m, 'snapshot');
    if (no) {
      reader.close();
      return no;
    }
    const labels = { From: formatId(m.from) };
    const toEnd = size < 0;
    ctx.metrics.add(MetricName.snapshotReceiveInflights, labels, 1);
    log.info(
      { 'remote-peer-id': labels.From, 'incoming-snapshot-index': m.snapshot?.metadata.index ?? 0, size: toEnd ? 'to the end' : size },
      'receiving database snapshot',
    );
    try {
      const rest = toEnd ? reader.restToEnd(ctx.limits.maxSnapshotBodyBytes) : reader.rest(size);
      const child = new ChildAbort(req.signal);
      const stop = onAbort(host.signal, () => child.abort(host.signal.reason));
      try {
        if (ctx.raft.receiveSnapshot) {
          await ctx.raft.receiveSnapshot(m, rest, size, child.signal);
          if (toEnd ? !(await reader.atEnd()) : rest.consumed !== size)
            return failed(
              500,
              toEnd
                ? `failed to save KV snapshot (the receiver stopped after ${rest.consumed} bytes, before the end of the body)`
                : `failed to save KV snapshot (the receiver took ${rest.consumed} of ${size} bytes)`,
            );
        } else if (toEnd || size > 0) {
          // No streaming receiver: the body goes back into snapshot.data (bounded).
          const cap = ctx.limits.maxBufferedSnapshotBytes;
          if (size > cap) {
            reader.close();
            return failed(413, `snapshot body of ${size} bytes is over the ${cap} bytes buffered without a receiveSnapshot hook`);
          }
          let data: Uint8Array;
          try {
            data = await readAll(rest, cap);
          } catch (err) {
            if (!isRaftwireError(err, ErrorCode.FRAME_TOO_LARGE)) throw err;
            reader.close();
            return failed(413, `snapshot body is over the ${cap} bytes buffered without a receiveSnapshot hook`);
          }
          m = { ...m, snapshot: { ...(m.snapshot ?? createSnapshot()), data } };
        }
        if (!toEnd) await reader.expectEnd('snapshot body');
      } catch (err) {
        reader.close();
        const e = err as Error;
        if (isRaftwireError(err, ErrorCode.SNAPSHOT_SIZE) || isRaftwireError(err, ErrorCode.TRUNCATED)) {
          return failed(400, `failed to read snapshot body (${e.message})`);
        }
        if (isRaftwireError(err, ErrorCode.FRAME_TOO_LARGE)) return failed(413, `failed to read snapshot body (${e.message})`);
        return failed(500, `failed to save KV snapshot (${e.message})`);
      } finally {
        stop();
        child.dispose();
      }
      const bytes = rest.consumed;
      const res = await processed(m, req, 'snapshot message', 'snapshot');
      if (res.status === 204) {
        ctx.metrics.inc(MetricName.snapshotReceiveSuccess, labels);
        ctx.metrics.inc(MetricName.peerReceivedBytes, labels, bytes);
        ctx.metrics.observe(MetricName.snapshotReceiveSeconds, labels, (ctx.clock.now() - start) / 1000);
        log.info({ 'remote-peer-id': labels.From, size: bytes }, 'received and saved database snapshot');
      } else {
        ctx.metrics.inc(MetricName.snapshotReceiveFailures, labels);
      }
      return res;
    } finally {
      ctx.metrics.add(MetricName.snapshotReceiveInflights, labels, -1);
    }
  };

  const serveProbing = (): HandlerResponse => ({
    status: 200,
    headers: ctx.responseHeaders('probing', { [Header.contentType]: ContentType.json }),
    body: textBytes(`${JSON.stringify({ OK: true, Now: new Date(ctx.clock.now()).toISOString() })}\n`),
  });

  const extra = new Set(profile.extraPaths);
  const extraHost = { clusterIdHex: ctx.clusterIdHex, members: () => host.members() };
  const endpointOf = (path: string): PeerEndpoint =>
    path === RaftPath.snapshot ? 'snapshot' : path.startsWith(`${RaftPath.stream}/`) ? 'stream' : 'pipeline';

  const handler: ProtocolHandler = async (req: HandlerRequest): Promise<HandlerResponse> => {
    const path = pathOf(req.path);
    if (path === RaftPath.probing) return serveProbing();
    // The profile's endpoints outside /raft (etcd: /version, /members) answer whatever the state, as etcd's do.
    if (extra.has(path)) return profile.serveExtra(path, req, extraHost);
    if (!host.running) return reply(endpointOf(path), 503, ErrorText.transportStopped);
    try {
      if (path === RaftPath.pipeline) return await servePipeline(req);
      if (path === RaftPath.snapshot) return await serveSnapshot(req);
      if (path.startsWith(`${RaftPath.stream}/`)) return await serveStream(req, path);
      return reply('pipeline', 404, ErrorText.notFound);
    } catch (err) {
      log.error({ error: err instanceof Error ? err.message : String(err), path }, 'protocol handler failed');
      return reply(endpointOf(path), 500, ErrorText.internalError);
    }
  };
  return Object.assign(handler, { extraPaths: profile.extraPaths });
}
