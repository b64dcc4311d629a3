import type { ByteWriter } from './bytes.js';
import type { ChunkReader } from './chunk-reader.js';
import { ErrorCode, RaftwireError } from './errors.js';
import type { Id } from './ids.js';
import type { HandlerRequest, HandlerResponse, LinkHeaders } from './link.js';
import type { Message } from './message.js';
import { type MessageCodec, cborMessageCodec } from './message-codec.js';
import { MessageStreamDecoder, MessageStreamEncoder } from './message-stream-codec.js';
import { MsgAppDecoder, MsgAppEncoder, type MsgAppPeers } from './msgapp-codec.js';
import { encodeSnapshotEnvelope } from './snapshot-envelope.js';
import { ABSENT_VERSION, MIN_CLUSTER_VERSION, SERVER_VERSION, SUPPORTED_STREAMS, type Version, parseVersion } from './version.js';
import { Header, type StreamType, messageContentType } from './wire.js';

/**
 * A wire profile: every choice that differs between the protocols a transport can speak, in one
 * object (docs/design.md §8). The transport's parts ask the profile and never test which one is
 * in use: the message codec, the frames of both streams, the head of a snapshot request, what a
 * version header means, which stream types a version serves, the headers of each answer, the
 * handler's checks that differ, and the peer endpoints beyond `/raft`.
 *
 * Two profiles exist: `raftwire` (CBOR, varint frames; docs/design.md §3) and `etcd-3.4`
 * (etcd 3.4's rafthttp byte for byte, in `etcd/profile.ts`).
 */
export type WireName = 'raftwire' | 'etcd-3.4';

/** The peer endpoints whose answers differ by profile. */
export type PeerEndpoint = 'pipeline' | 'snapshot' | 'stream' | 'probing' | 'version' | 'members';

/** Writes one stream's frames; state is per connection. */
export interface StreamFrameEncoder {
  encode(m: Message): Uint8Array;
  /** Appends the frame to a batch; writes nothing when it throws. */
  encodeTo(m: Message, out: ByteWriter): void;
}

/** Reads one stream's frames, fed at any byte boundary; throws RaftwireError only and stays failed. */
export interface StreamFrameDecoder {
  push(chunk: Uint8Array): Message[];
  /**
   * Optional: like `push`, handing each message to `sink` as it is decoded (no array per chunk).
   * What `sink` throws is rethrown as it is and leaves the decoder failed.
   */
  pushTo?(chunk: Uint8Array, sink: (m: Message) => void): void;
  /** At the end of the stream: throws ERR_TRUNCATED inside a frame. */
  end(): void;
}

/** The head of a snapshot request: the MsgSnap, and how many body bytes follow. */
export interface SnapshotHead {
  message: Message;
  /** The declared body size, or -1 when the wire declares none (the body runs to the end of the request). */
  size: number;
}

/**
 * A member of the cluster as the `GET /members` endpoint lists it (etcd's membership.Member).
 * Served by profiles that have the endpoint; the host supplies the list.
 */
export interface ClusterMember {
  id: Id;
  name: string;
  peerURLs: readonly string[];
  clientURLs: readonly string[];
  isLearner: boolean;
}

/** What a profile's extra endpoints may read from the transport. */
export interface ExtraEndpointHost {
  readonly clusterIdHex: string;
  /** The members to list on `GET /members`. */
  members(): readonly ClusterMember[];
}

/** See {@link WireName}. Implementations are pure: no I/O, no timers. */
export interface WireProfile {
  readonly name: WireName;
  /** Encodes the body of `POST /raft` and the MsgSnap of a snapshot request. */
  readonly codec: MessageCodec;
  /** Content-Type of a `POST /raft` body. */
  readonly messageContentType: string;
  /** X-Server-Version sent. */
  readonly version: string;
  /** X-Min-Cluster-Version sent. */
  readonly minClusterVersion: string;
  /** Stream types each `major.minor` serves (see SUPPORTED_STREAMS). */
  readonly streamSupport: Readonly<Record<string, readonly StreamType[]>>;
  /**
   * `POST /raft` and `POST /raft/snapshot` answer 403 when the message is not addressed to this
   * member (raftwire). etcd does not look at `To`: its 403 is only for a removed sender.
   */
  readonly checksMessageTo: boolean;
  /** Paths outside `/raft` the handler serves (etcd: `/version`, `/members`). */
  readonly extraPaths: readonly string[];
  /** The version a header value stands for (a missing one included); throws ERR_INVALID_VERSION. */
  headerVersion(value: string | undefined): Version;
  streamEncoder(type: StreamType, peers: MsgAppPeers): StreamFrameEncoder;
  streamDecoder(type: StreamType, peers: MsgAppPeers, maxFrameBytes: number): StreamFrameDecoder;
  /** The bytes that open a snapshot request body, before `size` body bytes. Throws ERR_INVALID_MESSAGE. */
  encodeSnapshotHead(m: Message, size: number): Uint8Array;
  /** Reads a snapshot request's head; throws ERR_DECODE, ERR_TRUNCATED or ERR_FRAME_TOO_LARGE. */
  readSnapshotHead(reader: ChunkReader, maxEnvelopeBytes: number): Promise<SnapshotHead>;
  /** Headers on every answer of `endpoint` (the handler adds content types and the like). */
  responseHeaders(endpoint: PeerEndpoint, clusterIdHex: string): LinkHeaders;
  /** Answers a request to one of {@link extraPaths}. */
  serveExtra(path: string, req: HandlerRequest, host: ExtraEndpointHost): HandlerResponse;
}

/** What the native profile takes from TransportOptions (each has a default). */
export interface NativeProfileOptions {
  codec?: MessageCodec;
  version?: string;
  minClusterVersion?: string;
  streamSupport?: Readonly<Record<string, readonly StreamType[]>>;
}

/** The raftwire profile (docs/design.md §3), with the transport's codec and version options applied. */
export function nativeWireProfile(o: NativeProfileOptions = {}): WireProfile {
  const codec = o.codec ?? cborMessageCodec;
  const version = o.version ?? SERVER_VERSION;
  return {
    name: 'raftwire',
    codec,
    messageContentType: messageContentType(codec.name),
    version,
    minClusterVersion: o.minClusterVersion ?? MIN_CLUSTER_VERSION,
    streamSupport: o.streamSupport ?? SUPPORTED_STREAMS,
    checksMessageTo: true,
    extraPaths: [],
    headerVersion: (value) => parseVersion(value ?? ABSENT_VERSION),
    streamEncoder: (type, peers) => (type === 'msgappv2' ? new MsgAppEncoder(peers, codec) : new MessageStreamEncoder(codec)),
    streamDecoder: (type, peers, maxFrameBytes) =>
      type === 'msgappv2' ? new MsgAppDecoder(peers, codec, { maxFrameBytes }) : new MessageStreamDecoder(codec, { maxFrameBytes }),
    encodeSnapshotHead: (m, size) => encodeSnapshotEnvelope(codec.encode(m), size),
    readSnapshotHead: async (reader, maxEnvelopeBytes) => {
      const message = codec.decode(await reader.frame(maxEnvelopeBytes, 'snapshot envelope'));
      return { message, size: await reader.varint('snapshot size') };
    },
    responseHeaders: (_endpoint, clusterIdHex) => ({ [Header.clusterId]: clusterIdHex, [Header.serverVersion]: version }),
    serveExtra: () => {
      throw new RaftwireError(ErrorCode.INVALID_ARGUMENT, 'the raftwire profile serves no path outside /raft');
    },
  };
}
