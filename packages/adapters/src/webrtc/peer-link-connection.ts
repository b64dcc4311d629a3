import { ErrorCode, RaftwireError, onAbort } from '@raftwire/core';
import type { LinkRequest, LinkResponse, Logger, ProtocolHandler } from '@raftwire/core';
import { CHANNELS, type ChannelLabel, channelForPath, flowForChannel } from './channels.js';
import { ChannelMux } from './channel-mux.js';
import { type Capabilities, MAX_FRAME_HEADER_BYTES, MAX_NEGOTIATED_FRAME_BYTES, MAX_WIRE_FRAME_BYTES } from './mux-frame.js';
import type { PeerConnectionFactory, PeerConnectionPort, PeerSignalData } from './peer-connection-port.js';
import { SendPacer, type SendPacerOptions } from './send-pacer.js';

/** How every connection is paced and watched: set once on the WebRtcLink and handed down as is. */
export interface ConnectionTuning {
  /** Closes an attempt with ERR_LINK if it is not open by then. */
  connectTimeoutMs: number;
  /** Send-side watermarks. */
  pacer?: SendPacerOptions | undefined;
  /** Cap on one reassembled message received. */
  maxMessageBytes?: number | undefined;
  /** Liveness: PING when nothing arrived for this long. Default 1 s. */
  keepaliveMs?: number | undefined;
  /** Liveness: close with ERR_LINK when nothing arrived for this long (a peer that vanished without closing). Default 5 s. */
  deadAfterMs?: number | undefined;
  /**
   * Largest data-channel message this end takes and sends, announced to the peer (default and
   * at most 64 KiB + 6: a 64 KiB body message and its frame header). What is sent is the least of both ends' figures and the remote SCTP's
   * `maxMessageSize`; 16 KiB to a peer that announces nothing (an earlier version).
   */
  maxFrameBytes?: number | undefined;
  /**
   * What the msgapp stream's receiver lets a sender keep unread (≥ 1 MiB, the protocol window;
   * the part over it is granted when the stream starts). Default 4 MiB in Node, 1 MiB in a browser.
   */
  msgappReceiveWindowBytes?: number | undefined;
}

export interface PeerLinkConnectionOptions {
  factory: PeerConnectionFactory;
  initiator: boolean;
  /** Session id of this connection attempt (carried by every signal). */
  session: string;
  handler: () => ProtocolHandler | undefined;
  remoteAddress: string;
  tuning: ConnectionTuning;
  logger: Logger;
  /** A signal to deliver to the remote for this session. */
  onSignal: (data: PeerSignalData) => void;
  /** The connection is gone; fires once, with the reason every in-flight exchange failed with. */
  onClose: (err: RaftwireError) => void;
}

export type ConnectionState = 'connecting' | 'open' | 'closed';

/**
 * One peer connection to one remote member: the port, its four data
 * channels and a multiplexer on each. Created before signalling starts, so
 * no early message is missed. Any failure (peer connection failed or closed,
 * a channel closed, a framing error) closes the whole connection and fails
 * every exchange in flight with ERR_LINK; the owner then builds a new one.
 */
export class PeerLinkConnection {
  readonly session: string;
  private readonly port: PeerConnectionPort;
  private readonly pacer: SendPacer;
  private readonly muxes = new Map<ChannelLabel, ChannelMux>();
  private state_: ConnectionState = 'connecting';
  private connected = false;
  private readonly readyWaiters: { resolve: () => void; reject: (e: RaftwireError) => void }[] = [];
  private closeError: RaftwireError | undefined;
  private readonly log: Logger;
  private connectTimer: ReturnType<typeof setTimeout> | undefined;
  private keepaliveTimer: ReturnType<typeof setInterval> | undefined;
  private lastReceived = 0;
  /** Largest data-channel message sent now: 16 KiB until the remote announced more. */
  private sendFrameBytes_ = MAX_WIRE_FRAME_BYTES;
  private readonly localFrameBytes: number;

  constructor(private readonly options: PeerLinkConnectionOptions) {
    this.session = options.session;
    this.log = options.logger;
    const tuning = options.tuning;
    this.connectTimer = setTimeout(() => {
      this.connectTimer = undefined;
      this.close(new RaftwireError(ErrorCode.LINK, `peer connection not open after ${tuning.connectTimeoutMs} ms`));
    }, tuning.connectTimeoutMs);
    this.pacer = new SendPacer(tuning.pacer);
    this.localFrameBytes = tuning.maxFrameBytes ?? MAX_NEGOTIATED_FRAME_BYTES;
    if (
      !(
        Number.isInteger(this.localFrameBytes) &&
        this.localFrameBytes > MAX_FRAME_HEADER_BYTES * 2 &&
        this.localFrameBytes <= MAX_NEGOTIATED_FRAME_BYTES
      )
    ) {
      throw new RangeError(`maxFrameBytes must be an integer in (12, ${MAX_NEGOTIATED_FRAME_BYTES}], got ${this.localFrameBytes}`);
    }
    const localCapabilities: Capabilities = { maxFrameBytes: this.localFrameBytes };
    this.port = options.factory.create({ initiator: options.initiator, channels: CHANNELS });
    for (const { label } of CHANNELS) {
      const channel = this.port.channels.get(label);
      if (channel === undefined) throw new RaftwireError(ErrorCode.LINK, `peer connection port did not create channel ${label}`);
      const mux = new ChannelMux({
        channel,
        pacer: this.pacer,
        handler: options.handler,
        remoteAddress: options.remoteAddress,
        ...flowForChannel(label, tuning.msgappReceiveWindowBytes),
        frameBytes: () => this.sendFrameBytes_,
        localCapabilities,
        onCapabilities: (caps) => this.onRemoteCapabilities(caps),
        ...(tuning.maxMessageBytes === undefined ? {} : { maxMessageBytes: tuning.maxMessageBytes }),
        logger: this.log,
        onProtocolError: (err) => {
          this.log.warn({ channel: label, error: err.message }, 'protocol error on data channel; closing connection');
          this.close(new RaftwireError(ErrorCode.LINK, `protocol error on ${label}: ${err.message}`, { cause: err }));
        },
      });
      this.muxes.set(label, mux);
      this.pacer.attach(channel);
      channel.onMessage = (data) => {
        this.lastReceived = Date.now();
        mux.receive(data);
      };
      channel.onOpen = () => this.checkReady();
      channel.onClose = () => this.close(new RaftwireError(ErrorCode.LINK, `data channel ${label} closed`));
    }
    this.port.onSignal = (data) => {
      if (this.state_ !== 'closed') options.onSignal(data);
    };
    this.port.onConnect = () => {
      this.connected = true;
      this.checkReady();
    };
    this.port.onClose = (reason) => {
      this.close(
        new RaftwireError(
          ErrorCode.LINK,
          `peer connection closed${reason ? `: ${reason.message}` : ''}`,
          reason ? { cause: reason } : undefined,
        ),
      );
    };
  }

  get state(): ConnectionState {
    return this.state_;
  }

  /** The underlying port (tests and diagnostics). */
  get peerConnection(): PeerConnectionPort {
    return this.port;
  }

  /** Settles once the peer connection's teardown is done (see {@link PeerConnectionPort.closed}). */
  get closed(): Promise<void> {
    return this.port.closed;
  }

  /** Largest data-channel message this connection sends now (negotiated, see {@link ConnectionTuning.maxFrameBytes}). */
  get sendFrameBytes(): number {
    return this.sendFrameBytes_;
  }

  private onRemoteCapabilities(caps: Capabilities): void {
    // The remote SCTP's limit where the stack tells it; if it does not, the size every stack takes.
    const sctp = this.port.maxMessageSize ?? MAX_WIRE_FRAME_BYTES;
    const next = Math.max(MAX_FRAME_HEADER_BYTES * 2, Math.min(caps.maxFrameBytes, this.localFrameBytes, sctp));
    if (next !== this.sendFrameBytes_)
      this.log.debug({ session: this.session, 'frame-bytes': next }, 'data-channel message size negotiated');
    this.sendFrameBytes_ = next;
  }

  /** Exchanges in flight over all channels. */
  get activeExchanges(): number {
    let n = 0;
    for (const m of this.muxes.values()) n += m.activeExchanges;
    return n;
  }

  /** Feeds a signal from the remote. */
  signal(data: PeerSignalData): void {
    if (this.state_ === 'closed') return;
    try {
      this.port.signal(data);
    } catch (err) {
      this.close(new RaftwireError(ErrorCode.LINK, `bad signal for session ${this.session}: ${String(err)}`, { cause: err }));
    }
  }

  private checkReady(): void {
    if (this.state_ !== 'connecting' || !this.connected) return;
    for (const ch of this.port.channels.values()) if (ch.readyState !== 'open') return;
    this.state_ = 'open';
    this.clearConnectTimer();
    this.startKeepalive();
    // Tell the remote what we take; its answer (or its own hello) says what it takes.
    this.muxes.get('message')?.hello();
    this.log.debug({ session: this.session }, 'peer connection open');
    for (const w of this.readyWaiters.splice(0)) w.resolve();
  }

  /** Resolves once connected with every channel open; rejects ERR_LINK if the connection closes, ERR_ABORTED on abort. */
  ready(signal?: AbortSignal): Promise<void> {
    if (this.state_ === 'open') return Promise.resolve();
    if (this.closeError) return Promise.reject(this.closeError);
    if (signal?.aborted) return Promise.reject(new RaftwireError(ErrorCode.ABORTED, 'connect aborted'));
    return new Promise<void>((resolve, reject) => {
      let dispose = (): void => {};
      const waiter = {
        resolve: () => {
          dispose();
          resolve();
        },
        reject: (e: RaftwireError) => {
          dispose();
          reject(e);
        },
      };
      this.readyWaiters.push(waiter);
      dispose = onAbort(signal, () => {
        const i = this.readyWaiters.indexOf(waiter);
        if (i >= 0) this.readyWaiters.splice(i, 1);
        reject(new RaftwireError(ErrorCode.ABORTED, 'connect aborted'));
      });
    });
  }

  /** Sends a request on the channel its path maps to. */
  request(req: LinkRequest): Promise<LinkResponse> {
    if (this.state_ !== 'open') {
      return Promise.reject(this.closeError ?? new RaftwireError(ErrorCode.LINK, `connection ${this.session} is not open`));
    }
    const mux = this.muxes.get(channelForPath(req.path)) as ChannelMux;
    return mux.request(req);
  }

  /**
   * Detects a peer that vanished without closing (a frozen tab, a killed
   * process, a cut path): ICE takes tens of seconds to call that failed.
   * Any message counts as life; when the line is quiet we PING, and when it
   * stays quiet past `deadAfterMs` the connection is closed (and rebuilt on
   * the next request).
   */
  private startKeepalive(): void {
    const every = this.options.tuning.keepaliveMs ?? 1000;
    const deadAfter = this.options.tuning.deadAfterMs ?? 5000;
    this.lastReceived = Date.now();
    const tick = Math.max(10, Math.min(every, deadAfter / 4));
    let lastPing = 0;
    let lastTick = Date.now();
    this.keepaliveTimer = setInterval(() => {
      const now = Date.now();
      const lag = now - lastTick;
      lastTick = now;
      // After a stalled event loop, timers run before the messages that queued meanwhile: judge next tick.
      if (lag > tick * 2 + 50) return;
      const quiet = now - this.lastReceived;
      if (quiet >= deadAfter) {
        this.close(new RaftwireError(ErrorCode.LINK, `no data from the peer for ${quiet} ms`));
        return;
      }
      if (quiet >= every && now - lastPing >= every) {
        lastPing = now;
        this.muxes.get('message')?.ping();
      }
    }, tick);
  }

  private clearConnectTimer(): void {
    if (this.connectTimer !== undefined) clearTimeout(this.connectTimer);
    this.connectTimer = undefined;
  }

  /** Fails everything in flight with `err` and closes the channels, then the peer connection. Idempotent. */
  close(err: RaftwireError = new RaftwireError(ErrorCode.LINK, 'connection closed')): void {
    if (this.state_ === 'closed') return;
    this.state_ = 'closed';
    this.closeError = err;
    this.clearConnectTimer();
    if (this.keepaliveTimer !== undefined) clearInterval(this.keepaliveTimer);
    this.keepaliveTimer = undefined;
    this.log.debug({ session: this.session, error: err.message }, 'peer connection closed');
    this.pacer.close(err);
    for (const mux of this.muxes.values()) mux.close(err);
    for (const w of this.readyWaiters.splice(0)) w.reject(err);
    for (const ch of this.port.channels.values()) {
      ch.onMessage = null;
      ch.onClose = null;
      ch.onOpen = null;
      ch.onBufferedAmountLow = null;
    }
    this.port.onClose = null;
    this.port.onSignal = null;
    this.port.onConnect = null;
    this.port.close();
    this.options.onClose(err);
  }
}
