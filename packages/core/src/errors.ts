/**
 * Typed errors with stable codes, one hierarchy for the whole project: the
 * transport, its adapters and the Raft package all throw {@link RaftwireError};
 * callers branch on `code`, never on message text.
 */
export const ErrorCode = {
  /** Bytes could not be decoded into a well-formed value. */
  DECODE: 'ERR_DECODE',
  /** A frame declared a length over the decoder's cap. */
  FRAME_TOO_LARGE: 'ERR_FRAME_TOO_LARGE',
  /** A msgapp frame declared more entries than the cap allows. */
  TOO_MANY_ENTRIES: 'ERR_TOO_MANY_ENTRIES',
  /** A single entry is larger than the cap allows. */
  ENTRY_TOO_LARGE: 'ERR_ENTRY_TOO_LARGE',
  /** A value to encode is not valid (wrong type, out of range). */
  INVALID_MESSAGE: 'ERR_INVALID_MESSAGE',
  /** A caller passed an invalid argument or option (an `options.link` that is not a Link, a member that does not exist). */
  INVALID_ARGUMENT: 'ERR_INVALID_ARGUMENT',
  /**
   * A request that is valid but conflicts with the current state: a membership change while
   * another is pending, one that would leave the started voters short of quorum, promoting a
   * learner that has not caught up, a member ID or URL already in use.
   */
  CONFLICT: 'ERR_CONFLICT',
  /** An ID string or value is not a valid 64-bit member or cluster ID. */
  INVALID_ID: 'ERR_INVALID_ID',
  /** A version string is malformed. */
  INVALID_VERSION: 'ERR_INVALID_VERSION',
  /** A URL is not an acceptable peer URL. */
  INVALID_URL: 'ERR_INVALID_URL',
  /** A stream ended in the middle of a frame. */
  TRUNCATED: 'ERR_TRUNCATED',
  /** The operation was aborted through its AbortSignal or by stop(). */
  ABORTED: 'ERR_ABORTED',
  /** The transport is stopped, or was never started. */
  STOPPED: 'ERR_STOPPED',
  /** The target member is not known to the transport. */
  MEMBER_NOT_FOUND: 'ERR_MEMBER_NOT_FOUND',
  /** A remote says this member was removed from the cluster. */
  MEMBER_REMOVED: 'ERR_MEMBER_REMOVED',
  /** A remote rejected us for a cluster ID mismatch. */
  CLUSTER_ID_MISMATCH: 'ERR_CLUSTER_ID_MISMATCH',
  /** A remote rejected us for an incompatible version. */
  INCOMPATIBLE_VERSION: 'ERR_INCOMPATIBLE_VERSION',
  /** A remote answered with an unexpected status. */
  UNEXPECTED_STATUS: 'ERR_UNEXPECTED_STATUS',
  /** A wait ran past its deadline. */
  TIMEOUT: 'ERR_TIMEOUT',
  /** The link failed (connection refused, reset, closed). */
  LINK: 'ERR_LINK',
  /** A send buffer is full. */
  BUFFER_FULL: 'ERR_BUFFER_FULL',
  /** A snapshot body was shorter or longer than declared. */
  SNAPSHOT_SIZE: 'ERR_SNAPSHOT_SIZE',
  /** A single-use body (a request body handed to the handler) was iterated a second time. */
  BODY_CONSUMED: 'ERR_BODY_CONSUMED',
  /** A signalling message was refused: the sender is not who it claims, or the recipient is unknown. */
  SIGNAL_REJECTED: 'ERR_SIGNAL_REJECTED',
  /**
   * A peer request that is not authenticated (no verified client certificate in secure mode),
   * or whose claimed sender is not the member its certificate names.
   */
  PEER_UNAUTHENTICATED: 'ERR_PEER_UNAUTHENTICATED',
  /** The remote's version does not serve this stream type (a silent fallback, not a failure). */
  UNSUPPORTED_STREAM: 'ERR_UNSUPPORTED_STREAM',
  /** The raft node was never started: call `start()` first. */
  NOT_STARTED: 'ERR_NOT_STARTED',
  /** A proposal was dropped: no leader, leader transfer, or the node is not a member (etcd ErrProposalDropped). */
  PROPOSAL_DROPPED: 'ERR_PROPOSAL_DROPPED',
  /** The requested log index is older than the storage's first index (etcd ErrCompacted). */
  COMPACTED: 'ERR_COMPACTED',
  /** The requested log index is past the storage's last index (etcd ErrUnavailable). */
  UNAVAILABLE: 'ERR_UNAVAILABLE',
  /** A snapshot older than the existing one was offered (etcd ErrSnapOutOfDate). */
  SNAP_OUT_OF_DATE: 'ERR_SNAP_OUT_OF_DATE',
  /** Persisted state failed a checksum or is inconsistent. */
  CORRUPT: 'ERR_CORRUPT',
  /** An optional package this feature needs is not installed (the message names the `npm install` to run). */
  MISSING_PACKAGE: 'ERR_MISSING_PACKAGE',
  /** An internal invariant was violated (where etcd's raft panics). */
  INVARIANT: 'ERR_INVARIANT',
} as const;

export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

export class RaftwireError extends Error {
  override readonly name = 'RaftwireError';
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
  }
}

export function isRaftwireError(err: unknown, code?: ErrorCode): err is RaftwireError {
  return err instanceof RaftwireError && (code === undefined || err.code === code);
}

/** Shorthand for a decode error. */
export function decodeError(message: string, cause?: unknown): RaftwireError {
  return new RaftwireError(ErrorCode.DECODE, message, cause === undefined ? undefined : { cause });
}
