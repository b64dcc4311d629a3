import { ChildAbort, onAbort } from './abort.js';
import { readAll, textBytes } from './body.js';
import { ChunkReader } from './chunk-reader.js';
import type { TransportContext } from './context.js';
import { ErrorCode, isRaftwireError } from './errors.js';
import { type Id, formatId, tryParseId } from './ids.js';
import type { HandlerRequest, HandlerResponse, LinkHeaders, ProtocolHandler } from './link.js';
import { type Message, MessageType, createSnapshot, messageTypeName } from './message.js';
import { MetricName } from './metrics.js';
import { OutgoingConn } from './outgoing-conn.js';
import { textResponse } from './serve.js';
import { parsePeerUrlsHeader } from './urls.js';
import { ABSENT_VERSION, type Version, parseVersion, servedStreams, versionIncompatibility } from './version.js';
import { ContentType, ErrorText, Header, RaftPath, type StreamType, parseStreamPath, pathOf } from './wire.js';

/** What the protocol handler needs from the transport. */
export interface HandlerHost {
  readonly ctx: TransportContext;
  /** False before start and after stop: requests get 503. */
  readonly running: boolean;
  /** Aborted when the transport stops. */
  readonly signal: AbortSignal;
  peer(id: Id): { attachOutgoing(type: StreamType, conn: OutgoingConn): boolean } | undefined;
  addRemote(id: Id, urls: readonly string[]): void;
}

/**
 * The server side of the protocol (docs/design.md §3), shared by every adapter. The
 * checks run in etcd's order with etcd's statuses and bodies; every response
 * carries X-Etcd-Cluster-ID and X-Server-Version.
 */
export function createProtocolHandler(host: HandlerHost): ProtocolHandler {
  const ctx = host.ctx;
  const log = ctx.logger;
  const served = new Set(servedStreams(ctx.versionParsed, ctx.streamSupport));

  const reply = (status: number, text: string, extra?: LinkHeaders): HandlerResponse =>
    textResponse(status, text, ctx.responseHeaders(extra));
  const noContent = (): HandlerResponse => ({ status: 204, headers: ctx.responseHeaders() });
  const methodNotAllowed = (allow: string): HandlerResponse => reply(405, ErrorText.methodNotAllowed, { [Header.allow]: allow });

  /** Version then cluster ID; returns the failure response or undefined. */
  const checkCompat = (req: HandlerRequest): HandlerResponse | undefined => {
    const rsv = req.headers[Header.serverVersion] ?? ABSENT_VERSION;
    const rmv = req.headers[Header.minClusterVersion] ?? ABSENT_VERSION;
    let remote: { server: Version; minCluster: Version };
    try {
      remote = { server: parseVersion(rsv), minCluster: parseVersion(rmv) };
    } catch (err) {
      log.warn(
        { error: (err as Error).message, 'remote-peer-id': req.headers[Header.from] ?? '' },
        'rejected request with a malformed version header',
      );
      return reply(400, `malformed version header: ${(err as Error).message}`);
    }
    const why = versionIncompatibility({ server: ctx.versionParsed, minCluster: ctx.minClusterVersionParsed }, remote);
    if (why !== undefined) {
      log.warn(
        {
          'local-member-server-version': ctx.version,
          'local-member-server-minimum-cluster-version': ctx.minClusterVersion,
          'remote-peer-server-name': req.headers[Header.from] ?? '',
          'remote-peer-server-version': rsv,
          'remote-peer-server-minimum-cluster-version': rmv,
          error: why,
        },
        'failed version compatibility check',
      );
      return reply(412, ErrorText.incompatibleVersion);
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
      return reply(412, ErrorText.clusterIdMismatch);
    }
    return undefined;
  };

  const maybeAddRemote = (req: HandlerRequest): void => {
    const from = tryParseId(req.headers[Header.from]);
    const urls = parsePeerUrlsHeader(req.headers[Header.peerUrls], ctx.urlSchemes);
    if (from !== undefined && from !== ctx.id && urls !== undefined) host.addRemote(from, urls);
  };

  /** 403 when the sender is removed or the message is not for us. */
  const forbidden = (m: Message): HandlerResponse | undefined => {
    if (ctx.raft.isIdRemoved(m.from)) return reply(403, ErrorText.fromRemovedMember);
    if (m.to !== ctx.id) return reply(403, ErrorText.toMismatchMember);
    return undefined;
  };

  const processed = async (m: Message, req: HandlerRequest, what: string): Promise<HandlerResponse> => {
    const child = new ChildAbort(req.signal);
    const disposeStop = onAbort(host.signal, () => child.abort(host.signal.reason));
    try {
      await ctx.raft.process(m, child.signal);
      return noContent();
    } catch (err) {
      if (isRaftwireError(err, ErrorCode.MEMBER_REMOVED)) return reply(403, err.message);
      log.warn(
        { error: err instanceof Error ? err.message : String(err), 'message-type': messageTypeName(m.type) },
        `failed to process ${what}`,
      );
      return reply(500, ErrorText.processMessage);
    } finally {
      disposeStop();
      child.dispose();
    }
  };

  const servePipeline = async (req: HandlerRequest): Promise<HandlerResponse> => {
    if (req.method !== 'POST') return methodNotAllowed('POST');
    const bad = checkCompat(req);
    if (bad) return bad;
    maybeAddRemote(req);
    const fromHex = req.headers[Header.from] ?? '';
    let data: Uint8Array;
    try {
      data = await readAll(req.body, ctx.limits.maxMessageBytes, req.signal);
    } catch (err) {
      ctx.metrics.inc(MetricName.peerReceivedFailures, { From: fromHex });
      log.warn({ error: (err as Error).message, 'remote-peer-id': fromHex }, 'failed to read Raft message');
      return reply(400, ErrorText.readMessage);
    }
    let m: Message;
    try {
      m = ctx.codec.decode(data);
    } catch (err) {
      ctx.metrics.inc(MetricName.peerReceivedFailures, { From: fromHex });
      log.warn({ error: (err as Error).message, 'remote-peer-id': fromHex }, 'failed to unmarshal Raft message');
      return reply(400, ErrorText.unmarshalMessage);
    }
    ctx.metrics.inc(MetricName.peerReceivedBytes, { From: formatId(m.from) }, data.length);
    const no = forbidden(m);
    if (no) return no;
    return processed(m, req, 'Raft message');
  };

  const serveStream = async (req: HandlerRequest, path: string): Promise<HandlerResponse> => {
    if (req.method !== 'GET') return methodNotAllowed('GET');
    const bad = checkCompat(req);
    if (bad) return bad;
    const { type, from: base } = parseStreamPath(path);
    if (type === undefined || !served.has(type)) {
      log.debug({ path }, 'ignored unexpected streaming request path');
      return reply(404, ErrorText.invalidPath);
    }
    const from = tryParseId(base);
    if (from === undefined) {
      log.warn({ path }, 'failed to parse path into ID');
      return reply(404, ErrorText.invalidFrom);
    }
    if (ctx.raft.isIdRemoved(from)) {
      log.warn({ 'remote-peer-id': base }, 'rejected stream from remote peer because it was removed');
      return reply(410, ErrorText.removedMember);
    }
    const peer = host.peer(from);
    if (peer === undefined) {
      const urls = parsePeerUrlsHeader(req.headers[Header.peerUrls], ctx.urlSchemes);
      if (urls !== undefined && from !== ctx.id) host.addRemote(from, urls);
      log.warn({ 'remote-peer-id': base }, 'failed to find remote peer in cluster');
      return reply(404, ErrorText.senderNotFound);
    }
    const to = req.headers[Header.raftTo];
    if (to !== ctx.idHex) {
      log.warn(
        { 'remote-peer-id': base, 'remote-peer-id-stream-handler': to ?? '', 'remote-peer-id-from': base },
        'ignored streaming request; ID mismatch',
      );
      return reply(412, ErrorText.toMismatch);
    }
    const conn = new OutgoingConn(ctx.clock, req.signal);
    if (!peer.attachOutgoing(type, conn)) return reply(503, ErrorText.transportStopped);
    return { status: 200, headers: ctx.responseHeaders(), body: conn };
  };

  const serveSnapshot = async (req: HandlerRequest): Promise<HandlerResponse> => {
    if (req.method !== 'POST') {
      ctx.metrics.inc(MetricName.snapshotReceiveFailures, { From: 'UNKNOWN_SNAPSHOT_SENDER' });
      return methodNotAllowed('POST');
    }
    const bad = checkCompat(req);
    if (bad) return bad;
    maybeAddRemote(req);
    const start = ctx.clock.now();
    const reader = new ChunkReader(req.body);
    let m: Message;
    let size: number;
    const fromHex = req.headers[Header.from] ?? 'UNKNOWN_SNAPSHOT_SENDER';
    const failed = (status: number, text: string): HandlerResponse => {
      ctx.metrics.inc(MetricName.snapshotReceiveFailures, { From: fromHex });
      log.warn({ 'remote-peer-id': fromHex, error: text }, 'failed to receive database snapshot');
      return reply(status, text);
    };
    try {
      m = ctx.codec.decode(await reader.frame(ctx.limits.maxSnapshotEnvelopeBytes, 'snapshot envelope'));
      size = await reader.varint('snapshot size');
    } catch (err) {
      reader.close();
      return failed(400, `failed to decode raft message (${(err as Error).message})`);
    }
    if (m.type !== MessageType.MsgSnap) {
      reader.close();
      return failed(400, ErrorText.wrongSnapshotType);
    }
    const no = forbidden(m);
    if (no) {
      reader.close();
      return no;
    }
    const labels = { From: formatId(m.from) };
    ctx.metrics.add(MetricName.snapshotReceiveInflights, labels, 1);
    log.info(
      { 'remote-peer-id': labels.From, 'incoming-snapshot-index': m.snapshot?.metadata.index ?? 0, size },
      'receiving database snapshot',
    );
    try {
      const rest = reader.rest(size);
      const child = new ChildAbort(req.signal);
      const stop = onAbort(host.signal, () => child.abort(host.signal.reason));
      try {
        if (ctx.raft.receiveSnapshot) {
          await ctx.raft.receiveSnapshot(m, rest, size, child.signal);
          if (rest.consumed !== size)
            return failed(500, `failed to save KV snapshot (the receiver took ${rest.consumed} of ${size} bytes)`);
        } else if (size > 0) {
          // No streaming receiver: the body goes back into snapshot.data (bounded).
          if (size > ctx.limits.maxBufferedSnapshotBytes) {
            reader.close();
            return failed(
              413,
              `snapshot body of ${size} bytes is over the ${ctx.limits.maxBufferedSnapshotBytes} bytes buffered without a receiveSnapshot hook`,
            );
          }
          const data = new Uint8Array(size);
          let at = 0;
          for await (const chunk of rest) {
            data.set(chunk, at);
            at += chunk.length;
          }
          m = { ...m, snapshot: { ...(m.snapshot ?? createSnapshot()), data } };
        }
        await reader.expectEnd('snapshot body');
      } catch (err) {
        reader.close();
        const e = err as Error;
        if (isRaftwireError(err, ErrorCode.SNAPSHOT_SIZE) || isRaftwireError(err, ErrorCode.TRUNCATED)) {
          return failed(400, `failed to read snapshot body (${e.message})`);
        }
        return failed(500, `failed to save KV snapshot (${e.message})`);
      } finally {
        stop();
        child.dispose();
      }
      const res = await processed(m, req, 'snapshot message');
      if (res.status === 204) {
        ctx.metrics.inc(MetricName.snapshotReceiveSuccess, labels);
        ctx.metrics.inc(MetricName.peerReceivedBytes, labels, size);
        ctx.metrics.observe(MetricName.snapshotReceiveSeconds, labels, (ctx.clock.now() - start) / 1000);
        log.info({ 'remote-peer-id': labels.From, size }, 'received and saved database snapshot');
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
    headers: ctx.responseHeaders({ [Header.contentType]: ContentType.json }),
    body: textBytes(`${JSON.stringify({ OK: true, Now: new Date(ctx.clock.now()).toISOString() })}\n`),
  });

  return async (req: HandlerRequest): Promise<HandlerResponse> => {
    const path = pathOf(req.path);
    if (path === RaftPath.probing) return serveProbing();
    if (!host.running) return reply(503, ErrorText.transportStopped);
    try {
      if (path === RaftPath.pipeline) return await servePipeline(req);
      if (path === RaftPath.snapshot) return await serveSnapshot(req);
      if (path.startsWith(`${RaftPath.stream}/`)) return await serveStream(req, path);
      return reply(404, ErrorText.notFound);
    } catch (err) {
      log.error({ error: err instanceof Error ? err.message : String(err), path }, 'protocol handler failed');
      return reply(500, ErrorText.internalError);
    }
  };
}
