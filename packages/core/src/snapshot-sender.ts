import { ChildAbort, abortError, onAbort, raceAbort } from './abort.js';
import { closeIterator, readText } from './body.js';
import { every } from './clock.js';
import type { TransportContext } from './context.js';
import { ErrorCode, RaftwireError, isRaftwireError } from './errors.js';
import { type Id, formatId } from './ids.js';
import type { Logger } from './logger.js';
import { type Message, MessageType } from './message.js';
import { MetricName } from './metrics.js';
import type { SnapshotStatus } from './options.js';
import type { PeerStatus } from './peer-status.js';
import { ByteRateLimiter } from './rate-limit.js';
import { SnapshotPacer } from './snapshot-pacer.js';
import type { UrlPicker } from './url-picker.js';
import { forbiddenAnswer } from './response-errors.js';
import { ContentType, ErrorText, Header, RaftPath } from './wire.js';

/** While paced, a snapshot chunk goes in views of at most this many bytes (one socket read's worth). */
const PACED_PIECE = 64 * 1024;

/**
 * Streams snapshots to one peer over POST /raft/snapshot, never buffering the
 * body whole and never on a stream (so heartbeats are not held up). A send
 * fails when no progress (bytes taken by the link, or the response) happens
 * for `snapshotIdle` ms, however large the snapshot.
 */
export class SnapshotSender {
  private readonly abort = new AbortController();
  private readonly inflight = new Set<Promise<SnapshotStatus>>();
  private readonly log: Logger;
  private readonly toHex: string;
  /** Shared by every send to this peer (options.snapshotRateLimit); undefined: unlimited. */
  private readonly limiter: ByteRateLimiter | undefined;
  /** Adaptive pacing by heartbeat round trips (options.snapshotPacing); undefined: off. The peer feeds it. */
  readonly pacer: SnapshotPacer | undefined;

  constructor(
    private readonly ctx: TransportContext,
    readonly peerId: Id,
    private readonly picker: UrlPicker,
    private readonly status: PeerStatus,
  ) {
    this.toHex = formatId(peerId);
    this.log = ctx.logger.child({ 'remote-peer-id': this.toHex });
    this.limiter = ctx.snapshotRateLimit === undefined ? undefined : new ByteRateLimiter(ctx.clock, ctx.snapshotRateLimit);
    this.pacer = ctx.snapshotPacing === undefined ? undefined : new SnapshotPacer(ctx.clock, ctx.snapshotPacing);
  }

  /**
   * Sends one snapshot; resolves with the status also reported to raft. Never
   * rejects. `signal` cancels this send (reported as a failure).
   */
  send(m: Message, body: AsyncIterable<Uint8Array>, size: number, signal?: AbortSignal): Promise<SnapshotStatus> {
    const p = this.run(m, body, size, signal).finally(() => this.inflight.delete(p));
    this.inflight.add(p);
    return p;
  }

  private async run(m: Message, body: AsyncIterable<Uint8Array>, size: number, callerSignal?: AbortSignal): Promise<SnapshotStatus> {
    const clock = this.ctx.clock;
    const start = clock.now();
    const labels = { To: this.toHex };
    const url = this.picker.pick();
    const idle = this.ctx.timeouts.snapshotIdle;
    const child = new ChildAbort(this.abort.signal);
    const disposeCaller = onAbort(callerSignal, () => child.abort(abortError(callerSignal?.reason)));
    let last = clock.now();
    // Waiting for the rate limiter is our own choice, not a stalled peer: the watchdog skips it.
    let limited = false;
    const touch = (): void => {
      last = clock.now();
    };
    const watchdog = every(clock, Math.max(1, Math.floor(idle / 4)), () => {
      if (!limited && clock.now() - last >= idle) {
        child.abort(new RaftwireError(ErrorCode.TIMEOUT, `snapshot send made no progress for ${idle} ms`));
      }
    });
    let bodyError: RaftwireError | undefined;
    let sent = 0;
    this.ctx.metrics.add(MetricName.snapshotSendInflights, labels, 1);
    this.pacer?.begin();
    this.log.info({ 'snapshot-index': m.snapshot?.metadata.index ?? 0, 'snapshot-size': size }, 'sending database snapshot');
    try {
      if (m.type !== MessageType.MsgSnap) throw new RaftwireError(ErrorCode.INVALID_MESSAGE, 'sendSnapshot needs a MsgSnap');
      if (!Number.isSafeInteger(size) || size < 0)
        throw new RaftwireError(ErrorCode.INVALID_MESSAGE, `invalid snapshot size ${size} (pass a size, or a body with a size property)`);
      const envelope = this.ctx.profile.encodeSnapshotHead(m, size);
      const signal = child.signal;
      const events = this.ctx.events;
      const peerId = this.peerId;
      const limiter = this.limiter;
      const pacer = this.pacer;
      async function* requestBody(): AsyncGenerator<Uint8Array> {
        yield envelope;
        touch();
        const it = body[Symbol.asyncIterator]();
        try {
          for (;;) {
            const r = await raceAbort(it.next(), signal);
            if (r.done) break;
            sent += r.value.length;
            if (sent > size) throw new RaftwireError(ErrorCode.SNAPSHOT_SIZE, `snapshot body is longer than the declared ${size} bytes`);
            // Paced: the chunk goes as views of at most PACED_PIECE bytes, each after its own wait,
            // so the peer gets an even trickle instead of a burst per chunk. (The views are handed
            // over before the next chunk is asked for, as the whole chunk would be.)
            const chunk = r.value;
            const step = pacer?.pacing === true ? PACED_PIECE : chunk.length;
            let at = 0;
            do {
              const piece = at === 0 && step >= chunk.length ? chunk : chunk.subarray(at, Math.min(chunk.length, at + step));
              if (limiter !== undefined || pacer !== undefined) {
                limited = true;
                try {
                  await limiter?.take(piece.length, signal);
                  await pacer?.take(piece.length, signal);
                } finally {
                  limited = false;
                  touch();
                }
              }
              yield piece;
              touch();
              at += step;
            } while (at < chunk.length);
            events.emit('snapshot:progress', { to: peerId, sent, total: size });
          }
          if (sent < size) throw new RaftwireError(ErrorCode.SNAPSHOT_SIZE, `snapshot body ended after ${sent} of ${size} bytes`);
        } catch (err) {
          bodyError = isRaftwireError(err)
            ? err
            : new RaftwireError(ErrorCode.LINK, `snapshot body failed: ${String(err)}`, { cause: err });
          child.abort(bodyError);
          throw bodyError;
        } finally {
          closeIterator(it);
        }
      }
      let status: number;
      let text: string;
      try {
        const res = await this.ctx.link.request(url, {
          method: 'POST',
          path: RaftPath.snapshot,
          headers: this.ctx.requestHeaders({ [Header.contentType]: ContentType.snapshot }),
          body: requestBody(),
          length: envelope.length + size,
          signal,
        });
        touch();
        status = res.status;
        text = await raceAbort(readText(res.body), signal);
      } catch (err) {
        throw bodyError ?? (child.signal.aborted && isRaftwireError(child.signal.reason) ? child.signal.reason : err);
      }
      if (bodyError) throw bodyError;
      if (status === 403) {
        const answer = forbiddenAnswer(text, `POST ${RaftPath.snapshot} to ${url}`);
        if (answer.removed) this.ctx.reportRemoved(this.peerId, `POST ${RaftPath.snapshot} answered 403 ${ErrorText.fromRemovedMember}`);
        throw answer.error;
      }
      if (status !== 204) {
        throw new RaftwireError(
          ErrorCode.UNEXPECTED_STATUS,
          `unexpected http status ${status} while sending snapshot: ${text.trim().slice(0, 200)}`,
        );
      }
    } catch (err) {
      const error = isRaftwireError(err)
        ? err
        : new RaftwireError(ErrorCode.LINK, err instanceof Error ? err.message : String(err), { cause: err });
      this.picker.unreachable(url);
      this.ctx.metrics.add(MetricName.snapshotSendInflights, labels, -1);
      this.ctx.metrics.inc(MetricName.snapshotSendFailures, labels);
      this.ctx.metrics.inc(MetricName.peerSentFailures, labels);
      if (!this.abort.signal.aborted) {
        this.status.deactivate({ source: 'sendMsgSnap', action: 'post' }, error.message);
        this.log.warn({ error: error.message, 'sent-bytes': sent }, 'failed to send database snapshot');
      }
      this.ctx.raft.reportUnreachable(m.to);
      this.ctx.raft.reportSnapshot(m.to, 'failure');
      this.ctx.events.emit('snapshot:failed', { to: this.peerId, error });
      return 'failure';
    } finally {
      this.pacer?.end();
      watchdog.stop();
      disposeCaller();
      child.dispose();
    }
    const took = clock.now() - start;
    this.status.activate();
    this.ctx.metrics.add(MetricName.snapshotSendInflights, labels, -1);
    this.ctx.metrics.inc(MetricName.snapshotSendSuccess, labels);
    this.ctx.metrics.inc(MetricName.peerSentBytes, labels, sent);
    this.ctx.metrics.observe(MetricName.snapshotSendSeconds, labels, took / 1000);
    this.log.info({ 'snapshot-size': size, took }, 'sent database snapshot');
    this.ctx.raft.reportSnapshot(m.to, 'finish');
    this.ctx.events.emit('snapshot:done', { to: this.peerId, bytes: sent, durationMs: took });
    return 'finish';
  }

  /** Aborts every send in flight and waits for them to finish. */
  async stop(): Promise<void> {
    this.abort.abort(new RaftwireError(ErrorCode.STOPPED, 'snapshot sender stopped'));
    await Promise.allSettled([...this.inflight]);
  }
}
