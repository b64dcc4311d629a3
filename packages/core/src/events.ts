import type { RaftwireError } from './errors.js';
import type { Id } from './ids.js';
import type { MessageType } from './message.js';
import type { StreamType } from './wire.js';

/**
 * Why a message was not sent. `unknown-peer`: `send` named a member that is
 * neither a peer nor a remote (never added, or already removed).
 */
export type DropReason = 'buffer-full' | 'stream-closed' | 'unknown-peer' | 'write-failed' | 'post-failed' | 'stopped';

/** Typed events of a {@link Transport} (eventemitter3). */
export interface TransportEvents {
  /** A peer became active (any success on any of its channels). */
  'peer:active': (e: { id: Id; since: number }) => void;
  /** A peer became inactive (a failure on any of its channels). */
  'peer:inactive': (e: { id: Id; reason: string }) => void;
  /** A message was dropped before it reached the peer. */
  'message:dropped': (e: { to: Id; type: MessageType; reason: DropReason }) => void;
  /**
   * A remote said this member was removed from the cluster (stream dial 410,
   * POST 403): the node should stop now rather than wait for an election.
   */
  removed: (e: { by: Id; error: RaftwireError }) => void;
  /** A stream to or from a peer started working. `direction` is `out` for our writer, `in` for our reader. */
  'stream:attached': (e: { id: Id; type: StreamType; direction: 'in' | 'out' }) => void;
  'stream:closed': (e: { id: Id; type: StreamType; direction: 'in' | 'out'; reason: string }) => void;
  /** Snapshot body bytes handed to the link so far. */
  'snapshot:progress': (e: { to: Id; sent: number; total: number }) => void;
  'snapshot:done': (e: { to: Id; bytes: number; durationMs: number }) => void;
  'snapshot:failed': (e: { to: Id; error: RaftwireError }) => void;
}

export type TransportEventName = keyof TransportEvents;
