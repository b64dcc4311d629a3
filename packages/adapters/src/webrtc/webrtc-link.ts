import { ErrorCode, RaftwireError, formatId, onAbort, silentLogger, tryParseId } from '@raftwire/core';
import type { Id, Link, LinkRequest, LinkResponse, Logger, ProtocolHandler } from '@raftwire/core';
import { NonceCache, type WebRtcIdentity, signSdp, verifySdp } from './identity.js';
import type { PeerConnectionFactory, PeerSignalData } from './peer-connection-port.js';
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
  /**
   * This member's identity key and the other members' public keys. With it, every
   * offer and answer this link sends is signed over its DTLS fingerprint, and every
   * offer or answer it receives must carry a valid signature by the sender whose
   * fingerprint is the one in the SDP; anything else is refused (WARN, an
   * `onSignalRefused` event, the connection attempt fails). Without it the link
   * trusts the signalling service (see docs/webrtc.md "Security").
   */
  identity?: WebRtcIdentity;
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
  /**
   * Largest data-channel message this member takes and sends (default and at most 64 KiB + 6 bytes: a
   * 64 KiB body message and its frame header), negotiated per connection with the remote's own figure and its SCTP `maxMessageSize`; a
   * remote that announces nothing (an earlier version) gets 16 KiB messages.
   */
  maxFrameBytes?: number;
  /**
   * What the receiver of the msgapp stream lets the sender keep unread: at least 1 MiB (the
   * protocol window every sender starts with); the part over it is granted when the stream
   * starts, and any sender, of any version, uses it. Default 4 MiB in Node, 1 MiB in a browser
   * page (docs/webrtc.md, Flow control).
   */
  msgappReceiveWindowBytes?: number;
  logger?: Logger;
}

export type WebRtcLinkEvent = 'open' | 'closed';

/** The SDP text a signal carries (an offer, answer, or anything with an `sdp` field), if any. */
function sdpOf(data: PeerSignalData | undefined): string | undefined {
  if (data === undefined || !('sdp' in data)) return undefined;
  return typeof data.sdp === 'string' ? data.sdp : '';
}

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
  private readonly refusedListeners = new Set<(remoteId: Id, error: RaftwireError) => void>();
  /** Per remote: signals in flight through signing (out) or verification (in), so each direction keeps its order. */
  private readonly outbound = new Map<Id, Promise<unknown>>();
  private readonly inbound = new Map<Id, Promise<unknown>>();
  private readonly nonces = new NonceCache();

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
      maxFrameBytes: options.maxFrameBytes,
      msgappReceiveWindowBytes: options.msgappReceiveWindowBytes,
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

  /**
   * Observes offers and answers refused by the identity check (missing or bad
   * signature, fingerprint not the signed one, replay, unknown sender). Returns
   * an unsubscribe function.
   */
  onSignalRefused(listener: (remoteId: Id, error: RaftwireError) => void): () => void {
    this.refusedListeners.add(listener);
    return () => this.refusedListeners.delete(listener);
  }

  /** True when offers and answers are signed and verified (an identity was given). */
  get authenticated(): boolean {
    return this.options.identity !== undefined;
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
          const identity = this.options.identity;
          const sdp = sdpOf(data);
          if (identity === undefined || sdp === undefined) {
            await this.inOrder(this.outbound, remoteId, () => endpoint.send(msg));
            return;
          }
          await this.inOrder(this.outbound, remoteId, async () => {
            msg.auth = await signSdp(identity.privateKey, { ...msg, type: String(data?.type) }, sdp);
            await endpoint.send(msg);
          });
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
    const identity = this.options.identity;
    const sdp = sdpOf(msg.data);
    if (identity === undefined) {
      this.session(from).onSignal(msg);
      return;
    }
    void this.inOrder(this.inbound, from, async () => {
      if (sdp !== undefined) {
        try {
          const type = String(msg.data?.type);
          if (type !== 'offer' && type !== 'answer') {
            throw new RaftwireError(
              ErrorCode.SIGNAL_REJECTED,
              `SDP of type ${JSON.stringify(type.slice(0, 20))} from member ${msg.from} refused`,
            );
          }
          await verifySdp(identity.publicKeys.get(from), { ...msg, type }, sdp, msg.auth);
          if (!this.nonces.add(msg.from, (msg.auth as { nonce: string }).nonce, (msg.auth as { ts: number }).ts)) {
            throw new RaftwireError(
              ErrorCode.SIGNAL_REJECTED,
              `${type} from member ${msg.from} refused: a replay (its nonce was seen before)`,
            );
          }
        } catch (err) {
          const e = err instanceof RaftwireError ? err : new RaftwireError(ErrorCode.SIGNAL_REJECTED, String(err), { cause: err });
          this.refuse(from, msg.session, e);
          return;
        }
      }
      if (!this.closed) this.session(from).onSignal(msg);
    }).catch(() => {});
  }

  private refuse(from: Id, session: string, err: RaftwireError): void {
    this.log.warn({ 'remote-peer-id': formatId(from), session, error: err.message }, 'refused a peer connection signal');
    this.sessions.get(from)?.refuse(session, err);
    for (const l of this.refusedListeners) {
      try {
        l(from, err);
      } catch {
        // an observer's failure is its own
      }
    }
  }

  /** Runs `fn` after the previous task queued for `remoteId` in `chains` (whatever its outcome). */
  private inOrder<T>(chains: Map<Id, Promise<unknown>>, remoteId: Id, fn: () => Promise<T>): Promise<T> {
    const prev = chains.get(remoteId) ?? Promise.resolve();
    const p = prev.then(fn, fn);
    const tail = p.catch(() => {});
    chains.set(remoteId, tail);
    void tail.then(() => {
      if (chains.get(remoteId) === tail) chains.delete(remoteId);
    });
    return p;
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
