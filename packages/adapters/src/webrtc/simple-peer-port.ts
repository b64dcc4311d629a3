import { ErrorCode, RaftwireError } from '@raftwire/core';
import { asMissingPackage } from '../missing-package.js';
import type {
  DataChannelPort,
  PeerConnectionFactory,
  PeerConnectionInit,
  PeerConnectionPort,
  PeerSignalData,
} from './peer-connection-port.js';

/**
 * A WebRTC implementation to inject (the shape simple-peer's `wrtc` option
 * takes). Browsers leave it out and the page's globals are used.
 */
export interface WrtcImplementation {
  RTCPeerConnection: unknown;
  RTCSessionDescription: unknown;
  RTCIceCandidate: unknown;
}

/** `RTCConfiguration` plus stack-specific keys (node-datachannel's `bindAddress`). */
export type PeerConfiguration = RTCConfiguration & Record<string, unknown>;

const CLOSE_SETTLE_MS = 2000;

/** The part of a raw `RTCDataChannel` the port uses (on* handlers work in every stack). */
interface RawDataChannel {
  readonly label: string;
  readonly readyState: string;
  readonly bufferedAmount: number;
  bufferedAmountLowThreshold: number;
  binaryType: string;
  send(data: Uint8Array): void;
  close(): void;
  onopen: (() => void) | null;
  onclose: (() => void) | null;
  onerror: ((ev: unknown) => void) | null;
  onbufferedamountlow: (() => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
}

interface RawPeerConnection {
  createDataChannel(label: string, init: { negotiated: boolean; id: number; ordered: boolean }): RawDataChannel;
  /** RTCSctpTransport (browsers, node-datachannel's polyfill, @roamhq/wrtc). */
  readonly sctp?: { readonly maxMessageSize?: number } | null;
  readonly remoteDescription?: { readonly sdp?: string } | null;
}

/**
 * What the remote's SCTP takes: RTCSctpTransport.maxMessageSize (0 there means no limit), else
 * the remote description's `a=max-message-size` (RFC 8841: absent means 64 KiB, 0 no limit),
 * else undefined (nothing known yet: the caller stays at the size every stack takes).
 */
export function remoteMaxMessageSize(pc: RawPeerConnection): number | undefined {
  try {
    const n = pc.sctp?.maxMessageSize;
    if (typeof n === 'number' && n >= 0) return n === 0 ? Number.POSITIVE_INFINITY : n;
    const sdp = pc.remoteDescription?.sdp;
    if (typeof sdp !== 'string' || !sdp.includes('m=application')) return undefined;
    const m = /^a=max-message-size:(\d+)\s*$/m.exec(sdp);
    if (m === null) return 64 * 1024;
    const v = Number(m[1]);
    return v === 0 ? Number.POSITIVE_INFINITY : v;
  } catch {
    return undefined;
  }
}

/** The part of a simple-peer 9 instance the port uses. */
export interface SimplePeerInstance {
  _pc: unknown;
  signal(data: PeerSignalData): void;
  destroy(err?: Error): void;
  on(event: 'signal', listener: (data: PeerSignalData) => void): unknown;
  on(event: 'connect' | 'close', listener: () => void): unknown;
  on(event: 'error', listener: (err: Error) => void): unknown;
}

/** simple-peer's constructor (the default export of `simple-peer`, or `@thaunknown/simple-peer`). */
export type SimplePeerConstructor = new (options: {
  initiator: boolean;
  trickle: boolean;
  config: PeerConfiguration;
  wrtc?: WrtcImplementation;
  channelName: string;
}) => SimplePeerInstance;

export interface SimplePeerFactoryOptions {
  SimplePeer: SimplePeerConstructor;
  /** Omit in browsers (the page's globals are used). */
  wrtc?: WrtcImplementation;
  /** Default `{ iceServers: [] }`. */
  config?: PeerConfiguration;
  /** Trickle ICE (default true: the connection is up as soon as the first candidate pair works). */
  trickle?: boolean;
}

/**
 * Loads simple-peer (CommonJS) through a dynamic import, which both bundlers and Node resolve to
 * `module.exports`. simple-peer is an optional peer dependency: without it this rejects with
 * ERR_MISSING_PACKAGE (`npm install simple-peer`).
 */
export async function loadSimplePeer(): Promise<SimplePeerConstructor> {
  try {
    const mod = (await import('simple-peer')) as unknown as { default: SimplePeerConstructor };
    return mod.default;
  } catch (err) {
    throw asMissingPackage(err, 'simple-peer', 'the WebRTC adapter');
  }
}

function toBytes(data: unknown): Uint8Array | undefined {
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return undefined;
}

class RawChannelPort implements DataChannelPort {
  onOpen: (() => void) | null = null;
  onClose: (() => void) | null = null;
  onBufferedAmountLow: (() => void) | null = null;
  onMessage: ((data: Uint8Array) => void) | null = null;

  /**
   * True between the channel's open and close events. While it holds, `readyState` answers
   * 'open' without asking the stack: the pacer reads it before every frame, and in
   * @roamhq/wrtc each getter is a blocking call into the stack's thread. A channel that dies
   * without its close event still fails the next `send`, which the multiplexer maps to ERR_LINK.
   */
  private openSeen = false;

  constructor(private readonly raw: RawDataChannel) {
    raw.binaryType = 'arraybuffer';
    raw.onopen = () => {
      this.openSeen = true;
      this.onOpen?.();
    };
    raw.onclose = () => {
      this.openSeen = false;
      this.onClose?.();
    };
    raw.onerror = () => {
      // An error is followed by close in every stack; close is what the owner acts on.
    };
    raw.onbufferedamountlow = () => this.onBufferedAmountLow?.();
    raw.onmessage = (ev) => {
      const bytes = toBytes(ev.data);
      // Text messages are not part of the protocol: an empty message fails decoding and closes the connection.
      this.onMessage?.(bytes ?? new Uint8Array(0));
    };
  }

  get label(): string {
    return this.raw.label;
  }
  get readyState(): string {
    return this.openSeen ? 'open' : this.raw.readyState;
  }
  get bufferedAmount(): number {
    return this.raw.bufferedAmount;
  }
  get bufferedAmountLowThreshold(): number {
    return this.raw.bufferedAmountLowThreshold;
  }
  set bufferedAmountLowThreshold(v: number) {
    this.raw.bufferedAmountLowThreshold = v;
  }
  send(data: Uint8Array): void {
    this.raw.send(data);
  }
  close(): void {
    this.openSeen = false;
    this.raw.onmessage = null;
    this.raw.onbufferedamountlow = null;
    try {
      this.raw.close();
    } catch {
      // already closed
    }
  }
}

class SimplePeerPort implements PeerConnectionPort {
  readonly channels = new Map<string, DataChannelPort>();
  onSignal: ((data: PeerSignalData) => void) | null = null;
  onConnect: (() => void) | null = null;
  onClose: ((reason: Error | undefined) => void) | null = null;
  readonly closed: Promise<void>;
  private readonly peer: SimplePeerInstance;
  private readonly pc: RawPeerConnection;
  private isClosed = false;
  private lastError: Error | undefined;
  private settleClosed: () => void = () => {};

  constructor(options: SimplePeerFactoryOptions, init: PeerConnectionInit) {
    this.peer = new options.SimplePeer({
      initiator: init.initiator,
      trickle: options.trickle ?? true,
      config: options.config ?? { iceServers: [] },
      ...(options.wrtc === undefined ? {} : { wrtc: options.wrtc }),
      channelName: 'raftwire-control',
    });
    this.closed = new Promise<void>((resolve) => {
      this.settleClosed = resolve;
    });
    const pc = this.peer._pc as RawPeerConnection | null;
    if (pc === null || pc === undefined) throw new RaftwireError(ErrorCode.LINK, 'simple-peer could not create an RTCPeerConnection');
    this.pc = pc;
    // Negotiated channels are created now, before the offer, so both ends have them when SCTP opens.
    for (const { label, id } of init.channels) {
      this.channels.set(label, new RawChannelPort(pc.createDataChannel(label, { negotiated: true, id, ordered: true })));
    }
    this.peer.on('signal', (data) => this.onSignal?.(data));
    this.peer.on('connect', () => this.onConnect?.());
    this.peer.on('error', (err) => {
      this.lastError = err;
    });
    this.peer.on('close', () => this.finish(this.lastError));
  }

  get maxMessageSize(): number | undefined {
    return this.isClosed ? undefined : remoteMaxMessageSize(this.pc);
  }

  signal(data: PeerSignalData): void {
    if (this.isClosed) return;
    this.peer.signal(data);
  }

  private finish(reason: Error | undefined): void {
    if (this.isClosed) return;
    this.isClosed = true;
    // Channels first, then the peer connection (simple-peer#848: the other order races in destroy()).
    for (const ch of this.channels.values()) ch.close();
    this.peer.destroy();
    this.watchTeardown();
    this.onClose?.(reason);
  }

  /** Resolves `closed` once every channel reports `closed` (the native side is done), at most 2 s later. */
  private watchTeardown(): void {
    const deadline = Date.now() + CLOSE_SETTLE_MS;
    const check = (): void => {
      const done = [...this.channels.values()].every((ch) => ch.readyState === 'closed');
      if (done || Date.now() >= deadline) {
        // One more turn: the stack fires its own close callbacks right after the state flips.
        setTimeout(this.settleClosed, 20);
        return;
      }
      setTimeout(check, 10);
    };
    check();
  }

  close(): void {
    this.finish(undefined);
  }
}

/** A {@link PeerConnectionFactory} that drives each `RTCPeerConnection` through simple-peer 9. */
export function simplePeerFactory(options: SimplePeerFactoryOptions): PeerConnectionFactory {
  return { create: (init) => new SimplePeerPort(options, init) };
}
