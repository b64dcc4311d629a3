import type { SnapshotPacingOptions } from './snapshot-pacer.js';
import type { Clock } from './clock.js';
import type { Id } from './ids.js';
import type { Link } from './link.js';
import type { Logger } from './logger.js';
import type { Message } from './message.js';
import type { MessageCodec } from './message-codec.js';
import type { PeerAuthenticator } from './peer-auth.js';
import type { Metrics } from './metrics.js';
import type { StreamType } from './wire.js';
import type { ClusterMember, WireName } from './wire-profile.js';

/** Outcome reported to raft for a snapshot send (etcd's SnapshotFinish / SnapshotFailure). */
export type SnapshotStatus = 'finish' | 'failure';

/** What the raft node supplies to the transport (etcd's `Raft` interface). */
export interface RaftCallbacks {
  /**
   * Delivers one received message. Reject with a RaftwireError of code
   * ERR_MEMBER_REMOVED to have the sender told it was removed (403);
   * any other rejection is a 500.
   */
  process(msg: Message, signal?: AbortSignal): Promise<void> | void;
  /** True when `id` was removed from the cluster (stream dials from it get 410). */
  isIdRemoved(id: Id): boolean;
  /** A message to `id` could not be delivered. */
  reportUnreachable(id: Id): void;
  /** A snapshot send to `id` finished or failed. */
  reportSnapshot(id: Id, status: SnapshotStatus): void;
  /**
   * Receives an incoming snapshot body (bytes after the MsgSnap envelope),
   * streamed: store it as it arrives. `size` is the declared size; the body
   * throws ERR_SNAPSHOT_SIZE if it ends early. With the `etcd-3.4` profile the
   * wire declares no size: `size` is -1 and the body runs to the end of the
   * request (over `limits.maxSnapshotBodyBytes` it throws ERR_FRAME_TOO_LARGE);
   * read it to its end. `signal` aborts when the sender
   * goes away or the transport stops. `process(msg)` is called only after
   * this resolves. Without it, the body (up to
   * `limits.maxBufferedSnapshotBytes`) is put into `msg.snapshot.data` before
   * `process(msg)`; a larger one is refused with 413. The arguments are in the
   * order of `Transport.sendSnapshot(msg, body, size, signal)`.
   */
  receiveSnapshot?(msg: Message, body: AsyncIterable<Uint8Array>, size: number, signal: AbortSignal): Promise<void>;
}

/** Timeouts in milliseconds (docs/design.md §4 defaults). */
export interface Timeouts {
  /** Stream dial and one-shot request head (etcd DialTimeout): 1000. */
  dial: number;
  /** Minimum spacing between stream dials (etcd DialRetryFrequency): 100. */
  dialRetry: number;
  /** Stream read idle timeout; link heartbeats go every `read/3`: 5000. */
  read: number;
  /** A stream write that makes no progress for this long kills the connection: 5000. */
  write: number;
  /** Pipeline request total (head + body + response): 30000. */
  request: number;
  /** Probe period: 4000 (etcd: ConnReadTimeout − 1 s). */
  probe: number;
  /** Clock drift above this is logged as a warning: 1000. */
  clockDriftWarn: number;
  /** A snapshot send with no progress (no bytes taken, no response) for this long fails: 10000. */
  snapshotIdle: number;
  /** Waiting for a remote's stream dial to be re-established when unsupported: 5000. */
  unsupportedRetry: number;
}

export const DEFAULT_TIMEOUTS: Readonly<Timeouts> = Object.freeze({
  dial: 1000,
  dialRetry: 100,
  read: 5000,
  write: 5000,
  request: 30_000,
  probe: 4000,
  clockDriftWarn: 1000,
  snapshotIdle: 10_000,
  unsupportedRetry: 5000,
});

/** Buffer sizes (docs/design.md §4). */
export interface BufferSizes {
  /** Per stream writer queue: 4096. */
  stream: number;
  /** Pipeline workers: 4. */
  pipelineWorkers: number;
  /** Pipeline queue: 64. */
  pipeline: number;
  /** Received (non-proposal) messages per peer: 4096. */
  receive: number;
  /** Received proposals per peer: 4096. */
  proposals: number;
  /** Flush a stream batch at this many messages even if more are queued: 2048. */
  batchMessages: number;
  /** ... or at this many bytes: 1 MiB. */
  batchBytes: number;
}

export const DEFAULT_BUFFERS: Readonly<BufferSizes> = Object.freeze({
  stream: 4096,
  pipelineWorkers: 4,
  pipeline: 64,
  receive: 4096,
  proposals: 4096,
  batchMessages: 2048,
  batchBytes: 1 << 20,
});

/** Caps on what a remote may make us allocate. */
export interface Limits {
  /** One message (stream frame, pipeline body): 64 MiB. */
  maxMessageBytes: number;
  /** The MsgSnap envelope of a snapshot request: 64 MiB (etcd 3.8). */
  maxSnapshotEnvelopeBytes: number;
  /** Remotes (pipeline-only senders to unknown members): 128. */
  maxRemotes: number;
  /** A snapshot body buffered into `snapshot.data` when there is no `receiveSnapshot` hook: 256 MiB. */
  maxBufferedSnapshotBytes: number;
  /**
   * A snapshot body whose size the wire does not declare (the `etcd-3.4` profile: the database
   * runs to the end of the request): 8 GiB, etcd's largest recommended backend quota.
   */
  maxSnapshotBodyBytes: number;
}

export const DEFAULT_LIMITS: Readonly<Limits> = Object.freeze({
  maxMessageBytes: 64 * 1024 * 1024,
  maxSnapshotEnvelopeBytes: 64 * 1024 * 1024,
  maxRemotes: 128,
  maxBufferedSnapshotBytes: 256 * 1024 * 1024,
  maxSnapshotBodyBytes: 8 * 1024 * 1024 * 1024,
});

export interface TransportOptions {
  /** This member's ID. */
  id: Id;
  clusterId: Id;
  /** This member's own peer URLs (sent as X-PeerURLs). */
  urls: readonly string[];
  link: Link;
  raft: RaftCallbacks;
  /**
   * Secure mode: who a request comes from (e.g. `certificateAuthenticator`, the member a verified
   * client certificate names). When set, raft requests that are not authenticated, or whose
   * claimed sender is another member, are refused with 403 and never reach raft. Default: none
   * (every requester is taken at its word, as plain http must).
   */
  authenticatePeer?: PeerAuthenticator;
  logger?: Logger;
  metrics?: Metrics;
  /** Metric name prefix: `etcd` (so names read `etcd_network_...`). */
  metricsPrefix?: string;
  clock?: Clock;
  /**
   * The protocol spoken on the wire (docs/design.md §8): `raftwire` (the default: CBOR, varint
   * frames) or `etcd-3.4` (etcd 3.4's rafthttp byte for byte, so this member can be a peer of etcd
   * members; it also serves etcd's `GET /version` and `GET /members`). Both ends must agree.
   */
  wire?: WireName;
  /**
   * The cluster's members, for the `etcd-3.4` profile's `GET /members` (etcd lists every member
   * with its name and URLs). Default: this member and the peers, with their URLs and no names.
   */
  members?: () => readonly ClusterMember[];
  /** The message codec of the `raftwire` profile (CBOR by default). */
  codec?: MessageCodec;
  /** Our wire-protocol version (X-Server-Version); each profile has its own default. */
  version?: string;
  /** Oldest version we interoperate with (X-Min-Cluster-Version). */
  minClusterVersion?: string;
  /** Stream types per `major.minor` (see SUPPORTED_STREAMS). */
  streamSupport?: Readonly<Record<string, readonly StreamType[]>>;
  timeouts?: Partial<Timeouts>;
  buffers?: Partial<BufferSizes>;
  limits?: Partial<Limits>;
  /** URL schemes accepted for peer URLs. */
  urlSchemes?: readonly string[];
  /** Drop log lines per peer at most once per this many ms: 1000. */
  dropLogIntervalMs?: number;
  /**
   * Snapshot bytes per second sent to each peer (TiKV's `snap-io-max-bytes-per-sec`), a last
   * resort for links where a snapshot still crowds out heartbeats. Default: none (unlimited).
   * Time spent waiting for the limiter is not a stall of the snapshot idle timeout.
   */
  snapshotRateLimit?: number;
  /**
   * Adaptive snapshot pacing (off by default): while a snapshot goes to a peer, heartbeat round
   * trips to that peer longer than what they are without a snapshot slow the snapshot down, and
   * round trips back within it let it speed up again (SnapshotPacer). `true` takes the defaults.
   * Applies beside `snapshotRateLimit` (both bound the snapshot). Time spent paced is not a stall.
   */
  snapshotPacing?: boolean | SnapshotPacingOptions;
}
