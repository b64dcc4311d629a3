/**
 * Raft-specific typed errors with stable codes (etcd's raft error values).
 * Transport-level conditions (abort, stop) use `RaftwireError` from core.
 */
export const RaftErrorCode = {
  /** A proposal was dropped: no leader, leader transfer, or the node is not a member (etcd ErrProposalDropped). */
  PROPOSAL_DROPPED: 'ERR_PROPOSAL_DROPPED',
  /** The requested index is older than the storage's first index (etcd ErrCompacted). */
  COMPACTED: 'ERR_COMPACTED',
  /** The requested index is past the storage's last index (etcd ErrUnavailable). */
  UNAVAILABLE: 'ERR_UNAVAILABLE',
  /** A snapshot older than the existing one was offered (etcd ErrSnapOutOfDate). */
  SNAP_OUT_OF_DATE: 'ERR_SNAP_OUT_OF_DATE',
  /** Persisted state failed a checksum or is inconsistent. */
  CORRUPT: 'ERR_CORRUPT',
  /** A caller passed an invalid argument. */
  INVALID_ARGUMENT: 'ERR_INVALID_ARGUMENT',
  /** An internal invariant was violated (etcd panics here). */
  INVARIANT: 'ERR_INVARIANT',
} as const;

export type RaftErrorCode = (typeof RaftErrorCode)[keyof typeof RaftErrorCode];

/** An error raised by the Raft state machine, its storage, or the driver. */
export class RaftError extends Error {
  override readonly name = 'RaftError';
  readonly code: RaftErrorCode;

  constructor(code: RaftErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
  }
}

/** True when `err` is a {@link RaftError}, optionally with the given code. */
export function isRaftError(err: unknown, code?: RaftErrorCode): err is RaftError {
  return err instanceof RaftError && (code === undefined || err.code === code);
}

/** etcd panics on these; we throw a typed error instead. */
export function invariant(cond: unknown, message: string): asserts cond {
  if (!cond) throw new RaftError(RaftErrorCode.INVARIANT, message);
}
