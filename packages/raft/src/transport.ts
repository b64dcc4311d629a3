import type { Id, Message } from '@raftwire/core';

/** A streamed snapshot body that also tells its total size up front (for a length prefix or Content-Length). */
export interface SnapshotBody extends AsyncIterable<Uint8Array> {
  readonly size: number;
}

/**
 * What the driver needs from a transport: the sending half of core's
 * `Transport` (docs/design.md §2). Core's Transport satisfies it structurally.
 */
export interface RaftTransport {
  /** Sends messages; never blocks. Undeliverable ones are reported through core's `RaftCallbacks.reportUnreachable`. */
  send(msgs: Message[]): void;
  /**
   * Sends a MsgSnap whose snapshot bytes come as `body` (the message's
   * `snapshot.data` is empty). The receiver concatenates the body into
   * `snapshot.data` before calling `RaftCallbacks.process`. The outcome
   * is reported through `RaftCallbacks.reportSnapshot`. The driver
   * passes a {@link SnapshotBody}, so `size` is available to transports that
   * need it.
   */
  sendSnapshot(msg: Message, body: AsyncIterable<Uint8Array>): void;
  /** Optional: called when a member is added (after its conf change applied). */
  addPeer?(id: Id, urls: string[]): void;
  /** Optional: called when a member is removed. */
  removePeer?(id: Id): void;
  /**
   * Optional: when the peer last became reachable (ms since the epoch), 0 while it is not
   * (core's `Transport.activeSince`). The strict reconfiguration check counts a voter as
   * started only while this is non-zero; without it every voter counts as started.
   */
  activeSince?(id: Id): number;
}
