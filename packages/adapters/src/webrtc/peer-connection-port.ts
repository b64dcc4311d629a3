/**
 * The adapter's own narrow view of a WebRTC peer connection. The rest of the
 * adapter talks only to these interfaces, so the library that drives
 * `RTCPeerConnection` (simple-peer today, `@thaunknown/simple-peer` or raw
 * `RTCPeerConnection` tomorrow) is swappable in one file.
 */

/** An opaque signalling payload produced by one port and fed to its counterpart. */
export type PeerSignalData = Record<string, unknown>;

/** One data channel, as the multiplexer needs it. */
export interface DataChannelPort {
  readonly label: string;
  /** `connecting`, `open`, `closing` or `closed`, as in RTCDataChannel. */
  readonly readyState: string;
  /** Bytes queued by `send` and not yet handed to SCTP. */
  readonly bufferedAmount: number;
  /** Threshold under which `onBufferedAmountLow` fires (where the stack implements it). */
  bufferedAmountLowThreshold: number;
  /** Sends one message (binary). Throws if the channel is not open. */
  send(data: Uint8Array): void;
  close(): void;
  onOpen: (() => void) | null;
  onClose: (() => void) | null;
  onBufferedAmountLow: (() => void) | null;
  onMessage: ((data: Uint8Array) => void) | null;
}

/** What a port needs to know at creation. */
export interface PeerConnectionInit {
  /** True on the member that makes the offer (the lower member ID). */
  initiator: boolean;
  /** Pre-agreed (negotiated) data channels, created before the offer so both sides have them when SCTP opens. */
  channels: readonly { label: string; id: number }[];
}

/** Events of a port. Each is set by the owner before `signal` is first called. */
export interface PeerConnectionPort {
  /** The negotiated channels, by label, as created from `PeerConnectionInit.channels`. */
  readonly channels: ReadonlyMap<string, DataChannelPort>;
  /**
   * The largest message the remote's SCTP stack takes (RTCSctpTransport.maxMessageSize, or the
   * remote description's `a=max-message-size`), once connected; undefined where the stack does
   * not tell. `Infinity` when the remote declared no limit.
   */
  readonly maxMessageSize?: number | undefined;
  /** Feeds a signal that the remote's port produced. */
  signal(data: PeerSignalData): void;
  /** Closes the channels, then the peer connection. Idempotent. */
  close(): void;
  /**
   * Settles once the stack reports the teardown done (every channel
   * `closed`), or after a bound. Awaiting it before a process exits avoids
   * tearing down a native stack mid-close (@roamhq/wrtc segfaults then).
   */
  readonly closed: Promise<void>;
  /** A signal to deliver to the remote's port. */
  onSignal: ((data: PeerSignalData) => void) | null;
  /** The peer connection is connected (ICE + DTLS + SCTP up). */
  onConnect: (() => void) | null;
  /** The peer connection is gone (failed, closed locally or by the remote). Fires at most once. */
  onClose: ((reason: Error | undefined) => void) | null;
}

/** Creates ports; one per connection attempt. */
export interface PeerConnectionFactory {
  create(init: PeerConnectionInit): PeerConnectionPort;
}
