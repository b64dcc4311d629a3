import { SnapshotPacer, type SnapshotPacingOptions } from './snapshot-pacer.js';
import { EventEmitter } from 'eventemitter3';
import { type Clock, systemClock } from './clock.js';
import { ErrorCode, RaftwireError } from './errors.js';
import type { DropReason, TransportEvents } from './events.js';
import { type Id, formatId } from './ids.js';
import type { Link, LinkHeaders } from './link.js';
import { LogRateLimiter } from './log-rate-limiter.js';
import { type Logger, silentLogger } from './logger.js';
import { type Message, messageTypeName } from './message.js';
import type { MessageCodec } from './message-codec.js';
import type { PeerAuthenticator } from './peer-auth.js';
import { type Metrics, MetricName, noopMetrics, prefixedMetrics } from './metrics.js';
import {
  type BufferSizes,
  DEFAULT_BUFFERS,
  DEFAULT_LIMITS,
  DEFAULT_TIMEOUTS,
  type Limits,
  type RaftCallbacks,
  type Timeouts,
  type TransportOptions,
} from './options.js';
import { DEFAULT_URL_SCHEMES, normalizePeerUrls } from './urls.js';
import { etcdWireProfile } from './etcd/profile.js';
import { type Version, parseVersion } from './version.js';
import { Header, type StreamType } from './wire.js';
import { type PeerEndpoint, type WireProfile, nativeWireProfile } from './wire-profile.js';

/** The profile a transport speaks, from its options (INVALID_ARGUMENT for options the profile does not take). */
export function resolveWireProfile(o: TransportOptions): WireProfile {
  const wire = o.wire ?? 'raftwire';
  if (wire === 'raftwire') return nativeWireProfile(o);
  if (wire !== 'etcd-3.4') {
    throw new RaftwireError(ErrorCode.INVALID_ARGUMENT, `options.wire must be 'raftwire' or 'etcd-3.4', got ${JSON.stringify(wire)}`);
  }
  if (o.codec !== undefined || o.streamSupport !== undefined) {
    throw new RaftwireError(ErrorCode.INVALID_ARGUMENT, "options.codec and options.streamSupport belong to the 'raftwire' profile");
  }
  return etcdWireProfile({
    ...(o.version !== undefined ? { version: o.version } : {}),
    ...(o.minClusterVersion !== undefined ? { minClusterVersion: o.minClusterVersion } : {}),
  });
}

/** Everything the transport's parts share. Internal. */
export class TransportContext {
  readonly id: Id;
  readonly idHex: string;
  readonly clusterId: Id;
  readonly clusterIdHex: string;
  readonly urls: string[];
  readonly link: Link;
  readonly raft: RaftCallbacks;
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly clock: Clock;
  /** Every choice that depends on the protocol spoken (codec, frames, versions, answers). */
  readonly profile: WireProfile;
  readonly codec: MessageCodec;
  readonly version: string;
  readonly minClusterVersion: string;
  readonly versionParsed: Version;
  readonly minClusterVersionParsed: Version;
  readonly streamSupport: Readonly<Record<string, readonly StreamType[]>>;
  readonly timeouts: Timeouts;
  readonly buffers: BufferSizes;
  readonly limits: Limits;
  readonly urlSchemes: readonly string[];
  /** Snapshot bytes/s per peer (options.snapshotRateLimit); undefined: unlimited. */
  readonly snapshotRateLimit: number | undefined;
  /** options.snapshotPacing; undefined: off. */
  readonly snapshotPacing: SnapshotPacingOptions | undefined;
  /** Secure mode's authenticator; undefined in plain mode. */
  readonly authenticatePeer: PeerAuthenticator | undefined;
  readonly events: EventEmitter<TransportEvents>;
  readonly dropLog: LogRateLimiter;
  /** `removed` is emitted at most once per second per remote (a 403 per queued POST would flood). */
  private readonly removedLimiter: LogRateLimiter;
  private readonly baseHeaders: LinkHeaders;

  constructor(o: TransportOptions, events?: EventEmitter<TransportEvents>) {
    this.events = events ?? new EventEmitter<TransportEvents>();
    this.id = o.id;
    this.idHex = formatId(o.id);
    this.clusterId = o.clusterId;
    this.clusterIdHex = formatId(o.clusterId);
    this.urlSchemes = o.urlSchemes ?? DEFAULT_URL_SCHEMES;
    this.authenticatePeer = o.authenticatePeer;
    this.urls = normalizePeerUrls(o.urls, this.urlSchemes);
    if (!o.link || typeof o.link.request !== 'function' || typeof o.link.openStream !== 'function') {
      throw new RaftwireError(ErrorCode.INVALID_ARGUMENT, 'options.link must implement request and openStream');
    }
    this.link = o.link;
    this.raft = o.raft;
    this.logger = (o.logger ?? silentLogger).child({ 'local-member-id': this.idHex });
    this.metrics = prefixedMetrics(o.metrics ?? noopMetrics, o.metricsPrefix ?? 'etcd');
    this.clock = o.clock ?? systemClock;
    this.profile = resolveWireProfile(o);
    this.codec = this.profile.codec;
    this.version = this.profile.version;
    this.minClusterVersion = this.profile.minClusterVersion;
    this.versionParsed = parseVersion(this.version);
    this.minClusterVersionParsed = parseVersion(this.minClusterVersion);
    this.streamSupport = this.profile.streamSupport;
    this.timeouts = { ...DEFAULT_TIMEOUTS, ...o.timeouts };
    this.buffers = { ...DEFAULT_BUFFERS, ...o.buffers };
    this.limits = { ...DEFAULT_LIMITS, ...o.limits };
    if (o.snapshotRateLimit !== undefined && !(o.snapshotRateLimit > 0 && Number.isFinite(o.snapshotRateLimit))) {
      throw new RaftwireError(
        ErrorCode.INVALID_ARGUMENT,
        `options.snapshotRateLimit must be a positive number of bytes/s, got ${o.snapshotRateLimit}`,
      );
    }
    this.snapshotRateLimit = o.snapshotRateLimit;
    const pacing = o.snapshotPacing;
    this.snapshotPacing = pacing === undefined || pacing === false ? undefined : pacing === true ? {} : pacing;
    if (this.snapshotPacing !== undefined) SnapshotPacer.validate(this.snapshotPacing);
    this.dropLog = new LogRateLimiter(this.clock, o.dropLogIntervalMs ?? 1000);
    this.removedLimiter = new LogRateLimiter(this.clock, 1000);
    this.baseHeaders = {
      [Header.from]: this.idHex,
      [Header.serverVersion]: this.version,
      [Header.minClusterVersion]: this.minClusterVersion,
      [Header.clusterId]: this.clusterIdHex,
      [Header.peerUrls]: this.urls.join(','),
    };
  }

  /** Headers every request carries (docs/design.md §3), plus `extra`. */
  requestHeaders(extra?: LinkHeaders): LinkHeaders {
    return extra ? { ...this.baseHeaders, ...extra } : { ...this.baseHeaders };
  }

  /** Headers every answer of `endpoint` carries (the profile's), plus `extra`. */
  responseHeaders(endpoint: PeerEndpoint, extra?: LinkHeaders): LinkHeaders {
    return { ...this.profile.responseHeaders(endpoint, this.clusterIdHex), ...extra };
  }

  /** Emits `removed` (etcd's ErrorC): a remote says this member was removed. */
  reportRemoved(by: Id, detail: string): void {
    if (this.removedLimiter.take(formatId(by)) < 0) return;
    const error = new RaftwireError(ErrorCode.MEMBER_REMOVED, `the member has been permanently removed from the cluster (${detail})`);
    this.logger.error({ 'remote-peer-id': formatId(by), error: error.message }, 'member removed from the cluster');
    this.events.emit('removed', { by, error });
  }

  /**
   * A send-side drop: counts, logs (rate-limited, per peer) and emits. Raft is
   * told by the caller (peers report, remotes do not).
   */
  noteDrop(
    m: Message,
    to: Id,
    why: string,
    reason: Extract<DropReason, 'buffer-full' | 'stream-closed' | 'unknown-peer'>,
    extra?: Record<string, unknown>,
  ): void {
    const toHex = formatId(to);
    this.metrics.inc(MetricName.peerSentFailures, { To: toHex });
    const suppressed = this.dropLog.take(`send:${toHex}:${why}`);
    if (suppressed >= 0) {
      this.logger.warn(
        {
          'message-type': messageTypeName(m.type),
          from: formatId(m.from),
          'remote-peer-id': toHex,
          'suppressed-count': suppressed,
          ...extra,
        },
        `dropped ${messageTypeName(m.type)} to ${toHex} since ${why}`,
      );
    }
    this.events.emit('message:dropped', { to, type: m.type, reason });
  }
}
