/**
 * `@raftwire/core`: the public surface. The transport's parts (peers, pipelines, stream
 * readers and writers, the prober, the protocol handler...) are internal: they are reached
 * through `Transport` and change freely between versions.
 */

// The transport and what a user supplies to it.
export { Transport } from './transport.js';
export type {
  BufferSizes,
  Limits,
  RaftCallbacks,
  SnapshotStatus,
  Timeouts,
  TransportOptions,
} from './options.js';
export { DEFAULT_BUFFERS, DEFAULT_LIMITS, DEFAULT_TIMEOUTS } from './options.js';
export type { DropReason, TransportEventName, TransportEvents } from './events.js';
export type { ProbingStatus } from './prober.js';
export { MIN_CLUSTER_VERSION, SERVER_VERSION, SUPPORTED_STREAMS } from './version.js';
export type {
  ClusterMember,
  PeerEndpoint,
  SnapshotHead,
  StreamFrameDecoder,
  StreamFrameEncoder,
  WireName,
  WireProfile,
} from './wire-profile.js';
export { DEFAULT_URL_SCHEMES, normalizePeerUrl } from './urls.js';

// Errors.
export { ErrorCode, RaftwireError, decodeError, isRaftwireError } from './errors.js';

// IDs and the message model.
export { type Id, formatId, isId, parseId, tryParseId } from './ids.js';
export {
  MEMBER_URI_PREFIX,
  type PeerAuthenticator,
  type PeerCertificate,
  certificateAuthenticator,
  memberIdOfCertificate,
  memberUri,
} from './peer-auth.js';
export {
  type ConfState,
  type Entry,
  EntryType,
  MAX_LOG_POSITION,
  type Message,
  MessageType,
  type MessageTypeName,
  type Snapshot,
  type SnapshotMetadata,
  createEntry,
  createMessage,
  createSnapshot,
  emptyConfState,
  isEntryType,
  messageTypeName,
  messagesEqual,
} from './message.js';

// Codecs and framing of the wire.
export { type MessageCodec, cborMessageCodec } from './message-codec.js';
export { DEFAULT_MAX_FRAME_BYTES, FrameDecoder, encodeFrame } from './framing.js';
export { MessageStreamDecoder, MessageStreamEncoder } from './message-stream-codec.js';
export { MsgAppDecoder, MsgAppEncoder, type MsgAppLimits, type MsgAppPeers } from './msgapp-codec.js';
export { encodeSnapshotEnvelope } from './snapshot-envelope.js';
export { ByteReader, ByteWriter, concatBytes, plainBytes } from './bytes.js';

// The wire protocol's names and the adapter contract.
export {
  ContentType,
  ErrorText,
  Header,
  RaftPath,
  STREAM_TYPES,
  type StreamType,
  isRaftPath,
  messageContentType,
  parseStreamPath,
  pathOf,
  streamEndpoint,
  streamPath,
} from './wire.js';
export type {
  HandlerRequest,
  HandlerResponse,
  Link,
  LinkBody,
  LinkHeaders,
  LinkRequest,
  LinkResponse,
  ProtocolHandler,
} from './link.js';
// Helpers every adapter uses, so each behaves the same.
export { type ServeOptions, handlesPath, serveRequest, textResponse } from './serve.js';
export { bodyChunks, bodyConsumedError, closeBody, closeIterator, readAll } from './body.js';
export { type ReleasableBody, isReleasableBody } from './outgoing-conn.js';
export { abortError, onAbort, raceAbort, sleep } from './abort.js';
export { ByteRateLimiter } from './rate-limit.js';
export { SnapshotPacer, type SnapshotPacingOptions } from './snapshot-pacer.js';

// Platform seams: time, logs, metrics.
export { type Clock, type TimerHandle, every, systemClock } from './clock.js';
export { type Rand, SeededRand } from './rand.js';
export { type LogFields, type LogFn, type LogLevel, type LogRecord, type Logger, silentLogger } from './logger.js';
export { LogRateLimiter, rateLimitedLogger } from './log-rate-limiter.js';
export {
  type ConsoleLogLevel,
  type ConsoleLoggerOptions,
  LOG_LEVELS,
  type LogFormat,
  createConsoleLogger,
} from './console-logger.js';
export { type MetricLabels, MetricName, type Metrics, noopMetrics, prefixedMetrics } from './metrics.js';
