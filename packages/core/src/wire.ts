/**
 * The names of the wire protocol, in one place (docs/design.md §3), as etcd keeps them in one
 * const block of rafthttp's http.go: paths, header names, content types and the bodies of the
 * answers a server writes. Every adapter (HTTP, WebRTC, in-memory) and both ends of the core
 * take them from here; nothing else spells a path, a header name or an error text.
 *
 * These names hold for every wire profile. What a profile changes (how a message is encoded,
 * how frames are delimited, which version strings are sent) sits behind the codec and version
 * seams (`MessageCodec`, `version.ts`), not here.
 */

/** Every raft endpoint lives under this prefix. */
const PREFIX = '/raft';

/** Paths of the raft endpoints. */
export const RaftPath = {
  /** The prefix of every raft endpoint (etcd's RaftPrefix). */
  prefix: PREFIX,
  /** `POST`: one message (the pipeline). */
  pipeline: PREFIX,
  /** `GET {stream}/{msgapp|message}/{fromHex}`: a long-lived stream (etcd's RaftStreamPrefix). */
  stream: `${PREFIX}/stream`,
  /** `POST`: a MsgSnap envelope followed by the snapshot body, streamed (etcd's RaftSnapshotPrefix). */
  snapshot: `${PREFIX}/snapshot`,
  /** `GET`: liveness, RTT and clock drift (etcd's ProbingPrefix). */
  probing: `${PREFIX}/probing`,
} as const;

/** Header names, lowercase (as the Link contract carries them). */
export const Header = {
  /** The sender's member ID (hex). */
  from: 'x-server-from',
  serverVersion: 'x-server-version',
  minClusterVersion: 'x-min-cluster-version',
  /** The cluster ID (hex); the name is etcd's, kept for interoperability. */
  clusterId: 'x-etcd-cluster-id',
  /** The sender's peer URLs, sorted, comma-joined. */
  peerUrls: 'x-peerurls',
  /** On a stream dial: the member ID (hex) the dialler expects to reach. */
  raftTo: 'x-raft-to',
  contentType: 'content-type',
  contentTypeOptions: 'x-content-type-options',
  allow: 'allow',
} as const;

/** Content types of request and response bodies (message bodies: {@link messageContentType}). */
export const ContentType = {
  /** Every error answer and other plain-text body. */
  text: 'text/plain; charset=utf-8',
  /** The probing answer. */
  json: 'application/json',
  /** A snapshot request body. */
  snapshot: 'application/octet-stream',
} as const;

/** The content type of a message body encoded by the codec named `codecName`. */
export function messageContentType(codecName: string): string {
  return codecName === 'protobuf' ? 'application/protobuf' : `application/${codecName}`;
}

/**
 * Bodies of the answers servers write (without the trailing newline that goes on the wire).
 * The first group is etcd's texts, compared by clients; the rest are raftwire's.
 */
export const ErrorText = {
  incompatibleVersion: 'incompatible version',
  clusterIdMismatch: 'cluster ID mismatch',
  invalidPath: 'invalid path',
  invalidFrom: 'invalid from',
  removedMember: 'removed member',
  senderNotFound: 'error sender not found',
  toMismatch: 'to field mismatch',
  methodNotAllowed: 'Method Not Allowed',
  notFound: '404 page not found',
  fromRemovedMember: 'cannot process message from removed member',
  toMismatchMember: 'cannot process message to mismatch member',
  readMessage: 'error reading raft message',
  unmarshalMessage: 'error unmarshalling raft message',
  processMessage: 'error processing raft message',
  wrongSnapshotType: 'wrong raft message type',
  /** The transport is not started, or stopped. */
  transportStopped: 'transport stopped',
  /** The handler threw (a server bug, not the request's fault). */
  internalError: 'internal error',
  /** Nothing serves this end yet (a WebRTC link whose handler is not set). */
  noHandler: 'no protocol handler',
  /** The server is closing; the connection goes too. */
  shuttingDown: 'server shutting down',
  /** A request body over the server's cap (HTTP 413). */
  bodyTooLarge: 'request body too large',
  /** A request body that stopped arriving (HTTP 408). */
  bodyReadTimeout: 'request body read timeout',
  /** A CORS preflight from an origin not allowed (HTTP 403). */
  originNotAllowed: 'origin not allowed',
  /** Secure mode: the request carries no verified client certificate naming a member (HTTP 403). */
  peerUnauthenticated: 'peer not authenticated',
  /** Secure mode: the claimed sender is not the member the client certificate names (HTTP 403). */
  peerIdentityMismatch: 'sender does not match the peer certificate',
} as const;

/** The two stream types: the msgapp stream (msgappv2 framing) and the message stream. */
export type StreamType = 'msgappv2' | 'message';

/** Every stream type, newest first. */
export const STREAM_TYPES: readonly StreamType[] = ['msgappv2', 'message'];

const STREAM_DIR: Readonly<Record<StreamType, string>> = {
  msgappv2: `${RaftPath.stream}/msgapp`,
  message: `${RaftPath.stream}/message`,
};

/** Path of a stream type without the sender (`/raft/stream/msgapp`, `/raft/stream/message`). */
export function streamEndpoint(t: StreamType): string {
  return STREAM_DIR[t];
}

/** The path a member with ID `fromHex` dials for a stream of type `t`. */
export function streamPath(t: StreamType, fromHex: string): string {
  return `${STREAM_DIR[t]}/${fromHex}`;
}

/**
 * Splits a stream path into its type and the sender's hex ID. `type` is undefined when the
 * directory is not a known stream endpoint; `from` is the last segment, unparsed.
 */
export function parseStreamPath(path: string): { type: StreamType | undefined; from: string } {
  const slash = path.lastIndexOf('/');
  const dir = path.slice(0, slash);
  const type = STREAM_TYPES.find((t) => STREAM_DIR[t] === dir);
  return { type, from: path.slice(slash + 1) };
}

/** etcd's name for a stream type, used in logs. */
export function streamTypeName(t: StreamType): string {
  return t === 'msgappv2' ? 'stream MsgApp v2' : 'stream Message';
}

/** The path part of a request target (`/raft?x=1` → `/raft`). */
export function pathOf(target: string): string {
  const q = target.search(/[?#]/);
  return q === -1 ? target : target.slice(0, q);
}

/** True for `/raft` and anything under `/raft/`: the paths a raft server takes. */
export function isRaftPath(path: string): boolean {
  return path === RaftPath.prefix || path.startsWith(`${RaftPath.prefix}/`);
}
