import { ChildAbort, abortError } from './abort.js';
import { readText } from './body.js';
import type { TransportContext } from './context.js';
import { ErrorCode, RaftwireError, isRaftwireError } from './errors.js';
import { BoundedQueue } from './bounded-queue.js';
import { type Id, formatId } from './ids.js';
import type { Logger } from './logger.js';
import { type Message, MessageType } from './message.js';
import { MetricName } from './metrics.js';
import type { PeerStatus } from './peer-status.js';
import { forbiddenAnswer, preconditionError } from './response-errors.js';
import type { UrlPicker } from './url-picker.js';
import { ErrorText, Header, RaftPath } from './wire.js';

/**
 * One-shot POSTs of single messages: N workers draining a bounded queue
 * (docs/design.md §4: 4 workers + 64 queued). Only 204 is success; 403 means this
 * member was removed. Peers report failures to raft; remotes do not.
 */
export class Pipeline {
  readonly queue: BoundedQueue<Message>;
  private readonly abort = new AbortController();
  private workers: Promise<void>[] = [];
  private readonly log: Logger;
  private readonly toHex: string;

  constructor(
    private readonly ctx: TransportContext,
    readonly peerId: Id,
    private readonly picker: UrlPicker,
    private readonly status: PeerStatus,
    private readonly reportToRaft: boolean,
  ) {
    this.toHex = formatId(peerId);
    this.queue = new BoundedQueue<Message>(ctx.buffers.pipeline);
    this.log = ctx.logger.child({ 'remote-peer-id': this.toHex });
  }

  start(): void {
    for (let i = 0; i < this.ctx.buffers.pipelineWorkers; i++) this.workers.push(this.work());
    this.log.debug({}, 'started HTTP pipelining with remote peer');
  }

  /** Aborts in-flight posts, waits for the workers, discards what is queued. */
  async stop(): Promise<void> {
    this.abort.abort(new RaftwireError(ErrorCode.STOPPED, 'pipeline stopped'));
    await Promise.allSettled(this.workers);
    this.workers = [];
    this.queue.clear();
    this.log.debug({}, 'stopped HTTP pipelining with remote peer');
  }

  private async work(): Promise<void> {
    const signal = this.abort.signal;
    for (;;) {
      let m: Message;
      try {
        m = await this.queue.shift(signal);
      } catch {
        return;
      }
      await this.sendOne(m, signal);
    }
  }

  private async sendOne(m: Message, signal: AbortSignal): Promise<void> {
    const start = this.ctx.clock.now();
    let data: Uint8Array;
    try {
      data = this.ctx.codec.encode(m);
    } catch (err) {
      this.log.error({ error: (err as Error).message }, 'failed to encode message for pipeline');
      this.fail(m, err);
      return;
    }
    try {
      await this.post(data, signal);
    } catch (err) {
      if (signal.aborted) return; // stopping: the peer is going away
      this.fail(m, err);
      return;
    }
    this.status.activate();
    this.ctx.metrics.inc(MetricName.peerSentBytes, { To: this.toHex }, data.length);
    if (this.reportToRaft && m.type === MessageType.MsgSnap) this.ctx.raft.reportSnapshot(m.to, 'finish');
    this.log.trace({ 'message-type': m.type, took: this.ctx.clock.now() - start }, 'posted message');
  }

  private fail(m: Message, err: unknown): void {
    const reason = err instanceof Error ? err.message : String(err);
    this.status.deactivate({ source: 'pipeline', action: 'write' }, reason);
    this.ctx.metrics.inc(MetricName.peerSentFailures, { To: this.toHex });
    if (this.reportToRaft) {
      this.ctx.raft.reportUnreachable(m.to);
      if (m.type === MessageType.MsgSnap) this.ctx.raft.reportSnapshot(m.to, 'failure');
    }
  }

  /** POSTs one encoded message to the picked URL; resolves only on 204. */
  async post(data: Uint8Array, signal: AbortSignal): Promise<void> {
    const url = this.picker.pick();
    const child = new ChildAbort(signal, this.ctx.clock, this.ctx.timeouts.request);
    try {
      const res = await this.ctx.link.request(url, {
        method: 'POST',
        path: RaftPath.pipeline,
        headers: this.ctx.requestHeaders({ [Header.contentType]: this.ctx.profile.messageContentType }),
        body: data,
        signal: child.signal,
      });
      const text = await readText(res.body);
      if (child.signal.aborted) throw abortError(child.signal.reason);
      if (res.status === 204) return;
      if (res.status === 403) {
        const answer = forbiddenAnswer(text, `POST ${RaftPath.pipeline} to ${url}`);
        if (answer.removed) this.ctx.reportRemoved(this.peerId, `POST ${RaftPath.pipeline} answered 403 ${ErrorText.fromRemovedMember}`);
        throw answer.error;
      }
      if (res.status === 412) {
        const e = preconditionError(text, 'request sent was ignored by peer');
        this.log.error(
          {
            error: e.message,
            'local-cluster-id': this.ctx.clusterIdHex,
            'remote-cluster-id': res.headers[Header.clusterId] ?? '',
            'remote-version': res.headers[Header.serverVersion] ?? '',
          },
          text.replace(/\n$/, '') === ErrorText.clusterIdMismatch
            ? 'request sent was ignored due to cluster ID mismatch'
            : 'request sent was ignored by remote peer',
        );
        throw e;
      }
      throw new RaftwireError(ErrorCode.UNEXPECTED_STATUS, `unexpected http status ${res.status} while posting to ${url}`);
    } catch (err) {
      this.picker.unreachable(url);
      if (isRaftwireError(err)) throw err;
      throw new RaftwireError(ErrorCode.LINK, err instanceof Error ? err.message : String(err), { cause: err });
    } finally {
      child.dispose();
    }
  }
}
