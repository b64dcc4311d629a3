import { ErrorCode, RaftwireError, formatId, onAbort, silentLogger, tryParseId } from '@raftwire/core';
import type { Id, Link, LinkRequest, LinkResponse, Logger, ProtocolHandler } from '@raftwire/core';
import type { PeerConnectionFactory } from './peer-connection-port.js';
import type { ConnectionTuning, PeerLinkConnection } from './peer-link-connection.js';
import { PeerSession } from './peer-session.js';
import type { SendPacerOptions } from './send-pacer.js';
import type { SignalMessage, Signaling, SignalingEndpoint } from './signaling.js';

/** Scheme of WebRTC peer URLs: `webrtc://<member id in lowercase hex>`, e.g. `webrtc://1a2b`. */
export const WEBRTC_URL_SCHEME = 'webrtc:';

/** The peer URL a member advertises for its WebRTC form. */
export function webrtcUrl(memberId: Id): string {
  return `webrtc://${formatId(memberId)}`;
}

/** Parses `webrtc://<hexid>` (an optional trailing `/` is accepted). Throws ERR_INVALID_URL. */
export function parseWebrtcUrl(url: string): Id {
  const m = /^webrtc:\/\/([0-9a-f]{1,16})\/?$/.exec(url);
  const id = m ? tryParseId(m[1]) : undefined;
  if (id === undefined)
    throw new RaftwireError(
      ErrorCode.INVALID_URL,
      `not a WebRTC peer URL (want webrtc://<hex member id>): ${JSON.stringify(url.slice(0, 80))}`,
    );
  return id;
}

export interface WebRtcLinkOptions {
  localId: Id;
  clusterId: Id;
  signaling: Signaling;
  peerConnectionFactory: PeerConnectionFactory;
  /** The protocol's server side for requests remotes open to us; may be set later with `setHandler`. */
  handler?: ProtocolHandler;
  /** How long one connection attempt may take (signalling + ICE + DTLS + SCTP). Default 10 s. */
  connectTimeoutMs?: number;
  /** Send-side watermarks (high ≤ 1 MiB). */
  pacer?: SendPacerOptions;
  /** Cap on one reassembled message received (a head or a body chunk). Default 1 MiB. */
  maxMessageBytes?: number;
  /** PING a connection that has been quiet this long. Default 1 s. */
  keepaliveMs?: number;
  /** Close (and later rebuild) a connection that has been quiet this long despite PINGs. Default 5 s. */
  deadAfterMs?: number;
  logger?: Logger;
}

export type WebRtcLinkEvent = 'open' | 'closed';

/**
 * The WebRTC form of the Link contract (docs/design.md §5). A client (`request`,
 * `openStream` to `webrtc://<hexid>` URLs) and a server (incoming requests go
 * to the protocol handler) over one `RTCPeerConnection` per member pair,
 * created on first use and rebuilt after it dies.
 */
export class WebRtcLink implements Link {
  readonly localId: Id;
  readonly clusterId: Id;
  private handler: ProtocolHandler | undefined;
  private readonly sessions = new Map<Id, PeerSession>();
  private endpoint: SignalingEndpoint | undefined;
  private readonly log: Logger;
  private readonly tuning: ConnectionTuning;
  private closed = false;
  private closing: Promise<void> = Promise.resolve();
  private readonly listeners = new Set<(event: WebRtcLinkEvent, remoteId: Id, connection: PeerLinkConnection) => void>();

  private constructor(private readonly options: WebRtcLinkOptions) {
    this.localId = options.localId;
    this.clusterId = options.clusterId;
    this.handler = options.handler;
    this.tuning = {
      connectTimeoutMs: options.connectTimeoutMs ?? 10_000,
      pacer: options.pacer,
      maxMessageBytes: options.maxMessageBytes,
      keepaliveMs: options.keepaliveMs,
      deadAfterMs: options.deadAfterMs,
    };
    this.log = (options.logger ?? silentLogger).child({ 'local-member-id': formatId(options.localId) });
  }

  /** Creates a link and joins the signalling service. */
  static async create(options: WebRtcLinkOptions & { signal?: AbortSignal }): Promise<WebRtcLink> {
    const link = new WebRtcLink(options);
    link.endpoint = await options.signaling.join({
      clusterId: options.clusterId,
      memberId: options.localId,
      onSignal: (msg) => link.onSignal(msg),
      ...(options.signal === undefined ? {} : { signal: options.signal }),
    });
    return link;
  }

  /** Sets (or replaces) the protocol handler that serves remotes' requests. */
  setHandler(handler: ProtocolHandler | undefined): void {
    this.handler = handler;
  }

  /** Observes connections opening and closing (diagnostics, tests). Returns an unsubscribe function. */
  onConnection(listener: (event: WebRtcLinkEvent, remoteId: Id, connection: PeerLinkConnection) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** The current connection to `remoteId`, if any (open, connecting or closed). */
  connection(remoteId: Id): PeerLinkConnection | undefined {
    return this.sessions.get(remoteId)?.connection;
  }

  /** Opens (or reuses) the connection to `remoteId`. Rejects ERR_LINK on failure or timeout, ERR_ABORTED on abort. */
  async connect(remoteId: Id, options: { signal?: AbortSignal } = {}): Promise<PeerLinkConnection> {
    if (this.closed) throw new RaftwireError(ErrorCode.STOPPED, 'link closed');
    if (remoteId === this.localId) throw new RaftwireError(ErrorCode.INVALID_URL, 'a member cannot connect to itself');
    const timeout = new AbortController();
    const timer = setTimeout(
      () =>
        timeout.abort(
          new RaftwireError(ErrorCode.LINK, `no connection to member ${formatId(remoteId)} within ${this.tuning.connectTimeoutMs} ms`),
        ),
      this.tuning.connectTimeoutMs,
    );
    const disposeUser = onAbort(options.signal, () => timeout.abort(new RaftwireError(ErrorCode.ABORTED, 'connect aborted')));
    try {
      return await this.session(remoteId).connect(timeout.signal);
    } finally {
      clearTimeout(timer);
      disposeUser();
    }
  }

  request(url: string, req: LinkRequest): Promise<LinkResponse> {
    return this.exchange(url, req);
  }

  openStream(url: string, req: LinkRequest): Promise<LinkResponse> {
    // Streams and one-shot requests share the mechanics; the path picks the channel. No total-body timeout.
    return this.exchange(url, req);
  }

  private async exchange(url: string, req: LinkRequest): Promise<LinkResponse> {
    const remoteId = parseWebrtcUrl(url);
    const conn = await this.connect(remoteId, req.signal === undefined ? {} : { signal: req.signal });
    return conn.request(req);
  }

  private session(remoteId: Id): PeerSession {
    let s = this.sessions.get(remoteId);
    if (s === undefined) {
      const remoteHex = formatId(remoteId);
      s = new PeerSession({
        localId: this.localId,
        remoteId,
        factory: this.options.peerConnectionFactory,
        handler: () => this.handler,
        sendSignal: async (kind, session, data) => {
          const endpoint = this.endpoint;
          if (endpoint === undefined || this.closed) throw new RaftwireError(ErrorCode.STOPPED, 'link closed');
          const msg: SignalMessage = { clusterId: formatId(this.clusterId), from: formatId(this.localId), to: remoteHex, kind, session };
          if (data !== undefined) msg.data = data;
          await endpoint.send(msg);
        },
        tuning: this.tuning,
        logger: this.log,
        onChange: (event, connection) => {
          for (const l of this.listeners) l(event, remoteId, connection);
        },
      });
      this.sessions.set(remoteId, s);
    }
    return s;
  }

  /** Handles one signal from the service (checked again here: the service is not trusted blindly). */
  private onSignal(msg: SignalMessage): void {
    if (this.closed) return;
    const from = tryParseId(msg.from);
    if (msg.clusterId !== formatId(this.clusterId) || msg.to !== formatId(this.localId) || from === undefined || from === this.localId) {
      this.log.warn({ from: msg.from, to: msg.to, 'cluster-id': msg.clusterId }, 'dropped a signal not meant for this member');
      return;
    }
    this.session(from).onSignal(msg);
  }

  /**
   * Closes every connection and leaves signalling. Exchanges in flight fail
   * with ERR_ABORTED (the handler's side sees its signal abort); later calls
   * reject with ERR_STOPPED. Resolves when every peer connection has
   * finished tearing down (bounded); await it before a process exits.
   */
  close(): Promise<void> {
    if (this.closed) return this.closing;
    const sessions = [...this.sessions.values()];
    const done = sessions.map((s) => s.close());
    this.closed = true;
    this.endpoint?.close();
    this.sessions.clear();
    this.closing = Promise.all(done).then(() => {});
    return this.closing;
  }
}
