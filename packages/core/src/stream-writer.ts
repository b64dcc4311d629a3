import { BoundedQueue } from './bounded-queue.js';
import { ByteWriter } from './bytes.js';
import { every } from './clock.js';
import type { TransportContext } from './context.js';
import { type Id, formatId } from './ids.js';
import type { Logger } from './logger.js';
import { LINK_HEARTBEAT, type Message } from './message.js';
import { MetricName } from './metrics.js';
import type { OutgoingConn } from './outgoing-conn.js';
import type { PeerStatus } from './peer-status.js';
import { type StreamType, streamTypeName } from './wire.js';
import type { StreamFrameEncoder } from './wire-profile.js';

/** First guess of a batch's size, before the writer has seen any frame. */
const INITIAL_FRAME_GUESS = 64;
/**
 * Batch buffers a writer owns when its consumer hands chunks back: one being filled and at most
 * two the wire has not finished with (the Node adapter keeps ≤ 2 chunks ahead of the socket).
 */
const RING = 3;

/**
 * Writes messages to one peer over the stream that peer dialled to us. An
 * attach replaces the old connection; queued messages of a closed connection
 * are discarded as outdated (raft is told once). Frames are batched and
 * flushed when the queue empties or the batch is large; a link heartbeat goes
 * out every `read/3` so the reader's idle timeout never fires on a live link.
 */
export class StreamWriter {
  private readonly queue: BoundedQueue<Message>;
  private conn: OutgoingConn | null = null;
  private loop: Promise<void> | null = null;
  private stopped = false;
  private wake: (() => void) | null = null;
  private heartbeatDue = false;
  /** True while a batch of messages is being handed to the connection. */
  private writing = false;
  private readonly log: Logger;
  private readonly peerHex: string;
  private readonly typeName: string;

  constructor(
    private readonly ctx: TransportContext,
    readonly peerId: Id,
    readonly type: StreamType,
    private readonly status: PeerStatus,
  ) {
    this.queue = new BoundedQueue<Message>(ctx.buffers.stream);
    this.peerHex = formatId(peerId);
    this.typeName = streamTypeName(type);
    this.log = ctx.logger.child({ 'remote-peer-id': this.peerHex, 'stream-type': this.typeName });
  }

  /** True while a connection is attached. */
  get working(): boolean {
    return this.conn !== null;
  }

  /** Messages waiting to be written. */
  get queued(): number {
    return this.queue.length;
  }

  /** Queues `m` without waiting; false when the writer is not working or full. */
  trySend(m: Message): boolean {
    if (this.conn === null) return false;
    if (!this.queue.tryPush(m)) return false;
    this.poke();
    return true;
  }

  /** Attaches a connection from an incoming dial; false (and the conn closed) after stop. */
  attach(conn: OutgoingConn): boolean {
    if (this.stopped) {
      conn.close('stream writer stopped');
      return false;
    }
    if (this.conn !== null) {
      this.closeCurrent('replaced by a new connection');
      this.log.warn({}, 'closed TCP streaming connection with remote peer');
    }
    this.conn = conn;
    const encoder = this.ctx.profile.streamEncoder(this.type, { from: this.ctx.id, to: this.peerId });
    conn.onClose((reason) => {
      if (this.conn === conn) this.onConnLost(conn, reason, 'write', this.writing);
      this.poke();
    });
    this.status.activate();
    this.log.debug({}, 'established TCP streaming connection with remote peer');
    this.ctx.events.emit('stream:attached', { id: this.peerId, type: this.type, direction: 'out' });
    // First bytes on a new stream: a link heartbeat, so the dialer sees the
    // stream live at once even through an adapter that sends the response
    // head only with the first chunk.
    this.heartbeatDue = true;
    const previous = this.loop;
    this.loop = (async () => {
      if (previous) await previous;
      await this.run(conn, encoder);
    })();
    return true;
  }

  private poke(): void {
    const w = this.wake;
    this.wake = null;
    w?.();
  }

  private async run(conn: OutgoingConn, encoder: StreamFrameEncoder): Promise<void> {
    const hb = every(this.ctx.clock, Math.max(1, Math.floor(this.ctx.timeouts.read / 3)), () => {
      this.heartbeatDue = true;
      this.poke();
    });
    // Frames are encoded straight into one buffer per batch (no per-frame allocation, no copy to
    // join them), sized from the queue length and the average frame so far; it grows if short.
    const maxBatchBytes = this.ctx.buffers.batchBytes;
    let batch: ByteWriter | null = null;
    let batchCount = 0;
    let framesSeen = 0;
    let frameBytesSeen = 0;
    const toLabels = { To: this.peerHex };
    // When the consumer hands written chunks back (ReleasableBody), batches are encoded into a
    // small ring of buffers this writer owns, reused once released: no fresh (zeroed, page-faulted)
    // megabyte per batch. Otherwise every batch gets a fresh buffer the consumer may keep.
    const owned: ArrayBuffer[] = [];
    const free: ArrayBuffer[] = [];
    /** The ring buffer the current batch is written into, or null. */
    let batchRing: ArrayBuffer | null = null;
    conn.onChunkReleased((chunk) => {
      const ab = chunk.buffer as ArrayBuffer;
      if (owned.includes(ab) && !free.includes(ab)) free.push(ab);
    });
    const newBatch = (): ByteWriter => {
      const avg = framesSeen === 0 ? INITIAL_FRAME_GUESS : Math.ceil(frameBytesSeen / framesSeen);
      const want = Math.max(
        256,
        Math.min(maxBatchBytes + avg, Math.min(this.ctx.buffers.batchMessages, this.queue.length + 1) * (avg + 8)),
      );
      batchRing = null;
      if (!conn.releasesChunks) return new ByteWriter(want);
      for (let ab = free.pop(); ab !== undefined; ab = free.pop()) {
        if (ab.byteLength >= want) {
          batchRing = ab;
          return new ByteWriter(new Uint8Array(ab));
        }
        owned.splice(owned.indexOf(ab), 1); // too small for today's batches: let it go
      }
      if (owned.length >= RING) return new ByteWriter(want); // all in flight: a one-off buffer
      // Power-of-two sizes, so a ring buffer fits the next batches too.
      let size = 64 * 1024;
      while (size < want) size *= 2;
      const ab = new ArrayBuffer(size);
      owned.push(ab);
      batchRing = ab;
      return new ByteWriter(new Uint8Array(ab));
    };
    const flush = async (): Promise<void> => {
      if (batch === null || batch.length === 0) return;
      const chunk = batch.finish();
      // A batch that outgrew its ring buffer went to a fresh one: the ring buffer is free again.
      if (batchRing !== null && chunk.buffer !== batchRing) free.push(batchRing);
      batchRing = null;
      framesSeen += batchCount;
      frameBytesSeen += chunk.length;
      if (framesSeen > 1 << 20) {
        framesSeen >>= 1;
        frameBytesSeen /= 2;
      }
      batch = null;
      batchCount = 0;
      this.writing = true;
      try {
        await conn.write(chunk, this.ctx.timeouts.write);
      } finally {
        this.writing = false;
      }
      // Counted as it goes (a healthy stream lives for days), as etcd counts each message written.
      this.ctx.metrics.inc(MetricName.peerSentBytes, toLabels, chunk.length);
    };
    try {
      while (this.conn === conn && !conn.closed) {
        const m = this.queue.tryShift();
        if (m === undefined) {
          await flush();
          if (this.heartbeatDue) {
            this.heartbeatDue = false;
            await conn.write(encoder.encode(LINK_HEARTBEAT), this.ctx.timeouts.write);
            continue;
          }
          if (this.queue.length > 0 || this.conn !== conn || conn.closed) continue;
          await new Promise<void>((resolve) => {
            this.wake = resolve;
          });
          continue;
        }
        batch ??= newBatch();
        try {
          encoder.encodeTo(m, batch);
        } catch (err) {
          // a message that cannot be encoded is dropped alone; the stream stays up
          this.log.error(
            { error: err instanceof Error ? err.message : String(err), 'message-type': m.type },
            'failed to encode message for stream',
          );
          this.ctx.raft.reportUnreachable(m.to);
          this.ctx.metrics.inc(MetricName.peerSentFailures, { To: this.peerHex });
          continue;
        }
        batchCount++;
        if (this.queue.length === 0 || batchCount >= this.ctx.buffers.batchMessages || batch.length >= maxBatchBytes) {
          await flush();
        }
      }
    } catch (err) {
      if (this.conn === conn) {
        const reason = err instanceof Error ? err.message : String(err);
        this.onConnLost(conn, reason, 'write', batchCount > 0);
      }
    } finally {
      hb.stop();
    }
  }

  private onConnLost(conn: OutgoingConn, reason: string, action: string, lostBatch = false): void {
    if (this.conn !== conn) return;
    this.status.deactivate({ source: this.typeName, action }, reason);
    this.log.warn({ error: reason }, 'lost TCP streaming connection with remote peer');
    this.ctx.metrics.inc(MetricName.peerSentFailures, { To: this.peerHex });
    this.closeCurrent(reason, lostBatch);
  }

  /** Closes the current connection, discarding queued messages (raft told once). */
  private closeCurrent(reason: string, lostBatch = false): void {
    const conn = this.conn;
    if (conn === null) return;
    this.conn = null;
    conn.close(reason);
    const discarded = this.queue.clear();
    if (discarded.length > 0 || lostBatch) {
      this.ctx.raft.reportUnreachable(this.peerId);
      const first = discarded[0];
      if (first)
        this.ctx.noteDrop(first, this.peerId, 'the stream closed with messages queued', 'stream-closed', { discarded: discarded.length });
    }
    this.ctx.events.emit('stream:closed', { id: this.peerId, type: this.type, direction: 'out', reason });
    this.poke();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.conn !== null) this.closeCurrent('stream writer stopped');
    this.poke();
    await this.loop;
    this.log.debug({}, 'stopped TCP streaming connection with remote peer');
  }
}
