import { ErrorCode, RaftwireError, abortError, formatId, onAbort } from '@raftwire/core';
import type { Id, Logger, ProtocolHandler } from '@raftwire/core';
import type { PeerConnectionFactory, PeerSignalData } from './peer-connection-port.js';
import { type ConnectionTuning, PeerLinkConnection } from './peer-link-connection.js';
import type { SignalKind, SignalMessage } from './signaling.js';

export interface PeerSessionOptions {
  localId: Id;
  remoteId: Id;
  factory: PeerConnectionFactory;
  handler: () => ProtocolHandler | undefined;
  /** Sends a signal to the remote; rejects when the signalling service refuses or cannot reach it. */
  sendSignal: (kind: SignalKind, session: string, data?: PeerSignalData) => Promise<void>;
  tuning: ConnectionTuning;
  logger: Logger;
  /** Called whenever a connection opens or closes. */
  onChange?: (event: 'open' | 'closed', connection: PeerLinkConnection) => void;
}

const RECENT_SESSIONS = 32;
/** Connection attempts one `connect()` makes before it gives up (each bounded by the connect timeout). */
const CONNECT_ATTEMPTS = 3;
let sessionSeq = 0;

/** Session ids grow: wall-clock milliseconds, then a per-process sequence. */
function newSessionId(): string {
  sessionSeq = (sessionSeq + 1) % 1_000_000;
  return `${Date.now().toString(36)}.${sessionSeq.toString(36)}.${Math.floor(Math.random() * 36 ** 4).toString(36)}`;
}

/**
 * The WebRTC connection to one remote member, rebuilt on demand.
 *
 * The member with the lower ID makes every offer (it owns the session ids);
 * the higher one asks for an offer with a `connect` signal. Glare cannot
 * split the pair into two connections: a `connect` that crosses an offer in
 * flight is ignored (it names the last session its sender saw, which is not
 * the new one), a `connect` while the connection is open means the remote
 * lost it (or restarted) and triggers a rebuild, and signals of closed or
 * superseded sessions are dropped. A dead connection fails its exchanges with ERR_LINK; the next
 * `connect()` (the core's redial) builds a new one with a new signalling round.
 */
export class PeerSession {
  readonly remoteId: Id;
  private readonly offerer: boolean;
  private conn: PeerLinkConnection | undefined;
  /** Answerer: the last session the offerer started. */
  private lastSeen = '';
  private readonly closedSessions: string[] = [];
  private changeWaiters: (() => void)[] = [];
  private closed = false;
  /** Connections made and not yet known to be torn down. */
  private readonly all: PeerLinkConnection[] = [];
  private readonly log: Logger;

  constructor(private readonly options: PeerSessionOptions) {
    this.remoteId = options.remoteId;
    this.offerer = options.localId < options.remoteId;
    this.log = options.logger.child({ 'remote-peer-id': formatId(options.remoteId) });
  }

  /** The current connection, open or not. */
  get connection(): PeerLinkConnection | undefined {
    return this.conn;
  }

  /** Resolves with an open connection, building one if needed. Rejects ERR_LINK / ERR_ABORTED / ERR_STOPPED. */
  async connect(signal: AbortSignal): Promise<PeerLinkConnection> {
    let asked = false;
    /** The connection (closed or none) current when the answerer last asked for an offer. */
    let askedWith: PeerLinkConnection | undefined;
    let failures = 0;
    for (;;) {
      if (this.closed) throw new RaftwireError(ErrorCode.STOPPED, 'link closed');
      if (signal.aborted) throw connectAborted(signal);
      const conn = this.conn;
      if (conn !== undefined && conn.state === 'open') return conn;
      if (conn !== undefined && conn.state === 'connecting') {
        try {
          await conn.ready(signal);
        } catch (err) {
          if (signal.aborted) throw connectAborted(signal);
          // An attempt that died before opening (ICE or a stack hiccup) is retried with a fresh session, a few times.
          if (this.conn === conn && ++failures >= CONNECT_ATTEMPTS) throw err;
          asked = false;
        }
        continue;
      }
      if (this.offerer) {
        this.startSession(newSessionId(), true);
        continue;
      }
      // Answerer: ask for an offer, then wait for it to be built. An attempt that
      // arrived after we asked and died before opening counts as a failure: ask again.
      if (asked && conn !== askedWith) {
        if (++failures >= CONNECT_ATTEMPTS) {
          throw new RaftwireError(ErrorCode.LINK, `no working connection to member ${formatId(this.remoteId)} after ${failures} attempts`);
        }
        asked = false;
      }
      if (!asked) {
        asked = true;
        askedWith = conn;
        await this.options.sendSignal('connect', this.lastSeen).catch((err: unknown) => {
          throw new RaftwireError(ErrorCode.LINK, `cannot reach member ${formatId(this.remoteId)} through signalling: ${errMessage(err)}`, {
            cause: err,
          });
        });
      }
      await this.nextChange(signal);
    }
  }

  /** Handles a validated signal from the remote. */
  onSignal(msg: SignalMessage): void {
    if (this.closed) return;
    const conn = this.conn;
    switch (msg.kind) {
      case 'connect':
        if (!this.offerer) return; // only the lower ID offers
        // A request that crossed our offer in flight names an older session: ignore it, the offer will do.
        // An open connection cannot have crossed (its answer came after the request, and signals are
        // ordered per sender), so a request while open means the remote lost it (a restart): rebuild.
        if (conn !== undefined && conn.state === 'connecting' && conn.session !== msg.session) return;
        if (conn !== undefined) conn.close(new RaftwireError(ErrorCode.LINK, 'remote asked for a new connection'));
        this.startSession(newSessionId(), true);
        return;
      case 'signal':
        if (conn !== undefined && conn.session === msg.session) {
          conn.signal(msg.data ?? {});
          return;
        }
        if (this.offerer || this.closedSessions.includes(msg.session)) return; // stale
        // Only an offer starts a session: a candidate for a session we never accepted (its offer was refused) is dropped.
        if (typeof msg.data?.sdp !== 'string' || msg.data.type !== 'offer') return;
        if (conn !== undefined) conn.close(new RaftwireError(ErrorCode.LINK, 'superseded by a new session'));
        this.lastSeen = msg.session;
        this.startSession(msg.session, false).signal(msg.data ?? {});
        return;
      case 'close':
        this.remember(msg.session);
        if (conn !== undefined && conn.session === msg.session)
          conn.close(new RaftwireError(ErrorCode.LINK, 'remote closed the connection'));
        return;
    }
  }

  /**
   * A signal of `session` was refused by the identity check: the connection it
   * belongs to (ours, waiting for an answer) fails with `err`; a refused offer
   * starts nothing and changes nothing.
   */
  refuse(session: string, err: RaftwireError): void {
    const conn = this.conn;
    // Only the offerer fails its attempt (its answer was refused); an answerer ignores a refused
    // (e.g. replayed) offer, so whoever can inject signals cannot tear down a connection being built.
    if (this.offerer && conn !== undefined && conn.session === session && conn.state === 'connecting') conn.close(err);
  }

  private startSession(session: string, initiator: boolean): PeerLinkConnection {
    this.log.debug({ session, initiator }, 'starting peer connection');
    const conn: PeerLinkConnection = new PeerLinkConnection({
      factory: this.options.factory,
      initiator,
      session,
      handler: this.options.handler,
      remoteAddress: `webrtc://${formatId(this.remoteId)}`,
      tuning: this.options.tuning,
      logger: this.log,
      onSignal: (data) => {
        this.options.sendSignal('signal', session, data).catch((err: unknown) => {
          conn.close(new RaftwireError(ErrorCode.LINK, `signalling failed: ${errMessage(err)}`, { cause: err }));
        });
      },
      onClose: (err) => {
        this.remember(session);
        this.log.info({ session, error: err.message }, 'peer connection closed');
        this.options.onChange?.('closed', conn);
        this.notify();
      },
    });
    this.conn = conn;
    this.all.push(conn);
    void conn.closed.then(() => {
      const i = this.all.indexOf(conn);
      if (i >= 0) this.all.splice(i, 1);
    });
    conn.ready().then(
      () => {
        this.log.info({ session }, 'peer connection open');
        this.options.onChange?.('open', conn);
        this.notify();
      },
      () => {},
    );
    this.notify();
    return conn;
  }

  private remember(session: string): void {
    if (this.closedSessions.includes(session)) return;
    this.closedSessions.push(session);
    if (this.closedSessions.length > RECENT_SESSIONS) this.closedSessions.shift();
  }

  private notify(): void {
    for (const w of this.changeWaiters.splice(0)) w();
  }

  private nextChange(signal: AbortSignal): Promise<void> {
    return new Promise<void>((resolve) => {
      let dispose = (): void => {};
      const done = (): void => {
        dispose();
        resolve();
      };
      this.changeWaiters.push(done);
      dispose = onAbort(signal, done);
    });
  }

  /**
   * Closes the connection, tells the remote, and refuses further connects.
   * Resolves when every connection this session made has finished tearing down.
   */
  close(): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      const conn = this.conn;
      if (conn !== undefined && conn.state !== 'closed') {
        this.options.sendSignal('close', conn.session).catch(() => {});
        conn.close(new RaftwireError(ErrorCode.ABORTED, 'link closed'));
      }
      this.notify();
    }
    return Promise.all(this.all.map((c) => c.closed)).then(() => {});
  }
}

/** The signal's reason when it is a RaftwireError (a timeout is ERR_LINK), else ERR_ABORTED. */
function connectAborted(signal: AbortSignal): RaftwireError {
  return abortError(signal.reason ?? 'connect aborted');
}

function errMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
