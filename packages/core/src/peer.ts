import { BoundedQueue } from './bounded-queue.js';
import type { TransportContext } from './context.js';
import { ErrorCode, RaftwireError } from './errors.js';
import { type Id, formatId } from './ids.js';
import type { Logger } from './logger.js';
import { type Message, MessageType } from './message.js';
import { MetricName } from './metrics.js';
import type { SnapshotStatus } from './options.js';
import type { OutgoingConn } from './outgoing-conn.js';
import { PeerStatus } from './peer-status.js';
import { Pipeline } from './pipeline.js';
import { Prober } from './prober.js';
import type { SnapshotPacer } from './snapshot-pacer.js';
import { SnapshotSender } from './snapshot-sender.js';
import { StreamReader } from './stream-reader.js';
import { StreamWriter } from './stream-writer.js';
import { UrlPicker } from './url-picker.js';
import { servedStreams } from './version.js';
import type { StreamType } from './wire.js';

/** Where `pick` sends a message (etcd's names). */
export type PickName = 'pipeline' | 'streamMsgAppV2' | 'streamMsg';

/**
 * A known member: two stream writers (msgapp, message), two stream readers,
 * a pipeline, a snapshot sender, a prober, one status and one URL picker.
 * Received messages go through two bounded queues (proposals apart, so a
 * blocked proposal never holds up other messages), each drained by its own
 * loop calling `raft.process`.
 */
export class Peer {
  readonly status: PeerStatus;
  readonly picker: UrlPicker;
  readonly pipeline: Pipeline;
  readonly msgAppWriter: StreamWriter;
  readonly messageWriter: StreamWriter;
  readonly msgAppReader: StreamReader;
  readonly messageReader: StreamReader;
  readonly snapshotSender: SnapshotSender;
  readonly prober: Prober;
  /** The snapshot sender's pacer, fed heartbeat round trips here (options.snapshotPacing); undefined: off. */
  private readonly pacer: SnapshotPacer | undefined;
  private readonly recvc: BoundedQueue<Message>;
  private readonly propc: BoundedQueue<Message>;
  private readonly abort = new AbortController();
  private readonly loops: Promise<void>[] = [];
  private paused = false;
  private readonly log: Logger;
  private readonly idHex: string;

  constructor(
    private readonly ctx: TransportContext,
    readonly id: Id,
    urls: readonly string[],
  ) {
    this.idHex = formatId(id);
    this.log = ctx.logger.child({ 'remote-peer-id': this.idHex });
    this.status = new PeerStatus(ctx, id);
    this.picker = new UrlPicker(urls);
    this.pipeline = new Pipeline(ctx, id, this.picker, this.status, true);
    this.msgAppWriter = new StreamWriter(ctx, id, 'msgappv2', this.status);
    this.messageWriter = new StreamWriter(ctx, id, 'message', this.status);
    this.recvc = new BoundedQueue<Message>(ctx.buffers.receive);
    this.propc = new BoundedQueue<Message>(ctx.buffers.proposals);
    const deliver = (m: Message): void => this.deliver(m);
    this.msgAppReader = new StreamReader(ctx, id, 'msgappv2', this.picker, this.status, deliver);
    this.messageReader = new StreamReader(ctx, id, 'message', this.picker, this.status, deliver);
    this.snapshotSender = new SnapshotSender(ctx, id, this.picker, this.status);
    this.pacer = this.snapshotSender.pacer;
    this.prober = new Prober(ctx, id, urls);
  }

  /**
   * Both stream types work in both directions: our writers are attached to the
   * remote's dials, and our readers' dials to the remote are established.
   */
  get streamsWorking(): boolean {
    return this.msgAppWriter.working && this.messageWriter.working && this.msgAppReader.working && this.messageReader.working;
  }

  start(): void {
    this.pipeline.start();
    this.loops.push(this.processLoop(this.recvc), this.processLoop(this.propc));
    // A member dials only the stream types its own version knows.
    const known = servedStreams(this.ctx.versionParsed, this.ctx.streamSupport);
    if (known.includes('msgappv2')) this.msgAppReader.start();
    if (known.includes('message')) this.messageReader.start();
    this.prober.start();
    this.log.debug({}, 'started remote peer');
  }

  /** etcd's pick: MsgSnap → pipeline; MsgApp → msgapp stream if working; else message stream if working; else pipeline. */
  pick(m: Message): PickName {
    if (m.type === MessageType.MsgSnap) return 'pipeline';
    if (m.type === MessageType.MsgApp && this.msgAppWriter.working) return 'streamMsgAppV2';
    if (this.messageWriter.working) return 'streamMsg';
    return 'pipeline';
  }

  /** Queues `m` without waiting; a full buffer drops it and tells raft. */
  send(m: Message): void {
    if (this.paused) return;
    let name = this.pick(m);
    let ok = this.trySend(name, m);
    if (!ok && name !== 'pipeline' && this.pick(m) !== name) {
      // the stream closed between pick and send: route again rather than drop
      name = this.pick(m);
      ok = this.trySend(name, m);
    }
    if (ok) {
      if (m.type === MessageType.MsgHeartbeat) this.pacer?.heartbeatSent();
      return;
    }
    this.ctx.raft.reportUnreachable(m.to);
    if (m.type === MessageType.MsgSnap) this.ctx.raft.reportSnapshot(m.to, 'failure');
    this.ctx.noteDrop(m, this.id, 'sending buffer is full', 'buffer-full', {
      'remote-peer-name': name,
      'remote-peer-active': this.status.active,
    });
  }

  private trySend(name: PickName, m: Message): boolean {
    if (name === 'pipeline') return this.pipeline.queue.tryPush(m);
    return (name === 'streamMsgAppV2' ? this.msgAppWriter : this.messageWriter).trySend(m);
  }

  sendSnapshot(m: Message, body: AsyncIterable<Uint8Array>, size: number, signal?: AbortSignal): Promise<SnapshotStatus> {
    return this.snapshotSender.send(m, body, size, signal);
  }

  /** Hands an incoming stream dial's response body to the matching writer. */
  attachOutgoing(type: StreamType, conn: OutgoingConn): boolean {
    return (type === 'msgappv2' ? this.msgAppWriter : this.messageWriter).attach(conn);
  }

  update(urls: readonly string[]): void {
    this.picker.update(urls);
    this.prober.update(urls);
  }

  pause(): void {
    this.paused = true;
    this.msgAppReader.pause();
    this.messageReader.pause();
  }

  resume(): void {
    this.paused = false;
    this.msgAppReader.resume();
    this.messageReader.resume();
  }

  private deliver(m: Message): void {
    if (m.type === MessageType.MsgHeartbeatResp) this.pacer?.heartbeatAnswered();
    const q = m.type === MessageType.MsgProp ? this.propc : this.recvc;
    if (q.tryPush(m)) return;
    this.ctx.metrics.inc(MetricName.peerReceivedFailures, { From: this.idHex });
    if (this.ctx.dropLog.take(`recv:${this.idHex}`) >= 0) {
      this.log.warn(
        { 'message-type': m.type, from: formatId(m.from), 'remote-peer-active': this.status.active },
        this.status.active
          ? 'dropped internal Raft message since receiving buffer is full (overloaded network)'
          : 'dropped Raft message since receiving buffer is full (overloaded network)',
      );
    }
  }

  private async processLoop(q: BoundedQueue<Message>): Promise<void> {
    const signal = this.abort.signal;
    // `signal.aborted` is a checked getter: read a flag per message instead.
    let aborted = signal.aborted;
    signal.addEventListener(
      'abort',
      () => {
        aborted = true;
      },
      { once: true },
    );
    for (;;) {
      // Take what is queued without awaiting; wait (with the signal) only when the queue is empty.
      // A synchronous process() is not awaited either: a burst of received messages is handed to
      // raft in one go (at most the queue's capacity) instead of one event-loop hop per message.
      let m = aborted ? undefined : q.tryShift();
      if (m === undefined) {
        try {
          m = await q.shift(signal);
        } catch {
          return;
        }
      }
      try {
        const done = this.ctx.raft.process(m, signal);
        if (done !== undefined) await done;
      } catch (err) {
        if (signal.aborted) return;
        this.log.warn({ error: err instanceof Error ? err.message : String(err) }, 'failed to process Raft message');
      }
    }
  }

  /** Aborts everything in flight, then waits for every part to finish. */
  async stop(): Promise<void> {
    this.log.debug({}, 'stopping remote peer');
    this.abort.abort(new RaftwireError(ErrorCode.STOPPED, 'peer stopped'));
    await Promise.all([
      this.msgAppWriter.stop(),
      this.messageWriter.stop(),
      this.pipeline.stop(),
      this.snapshotSender.stop(),
      this.msgAppReader.stop(),
      this.messageReader.stop(),
      this.prober.stop(),
      ...this.loops,
    ]);
    this.recvc.clear();
    this.propc.clear();
    this.status.reset();
    this.log.debug({}, 'stopped remote peer');
  }
}
