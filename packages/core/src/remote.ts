import type { TransportContext } from './context.js';
import { type Id, formatId } from './ids.js';
import type { Message } from './message.js';
import { PeerStatus } from './peer-status.js';
import { Pipeline } from './pipeline.js';
import { UrlPicker } from './url-picker.js';

/**
 * A pipeline-only sender to a member this node does not know as a peer yet
 * (helps a new member catch up). Drops are logged and counted but not
 * reported to raft.
 */
export class Remote {
  private pipeline: Pipeline;
  private readonly picker: UrlPicker;
  readonly status: PeerStatus;
  private paused = false;

  constructor(
    private readonly ctx: TransportContext,
    readonly id: Id,
    urls: readonly string[],
  ) {
    this.picker = new UrlPicker(urls);
    this.status = new PeerStatus(ctx, id, false);
    this.pipeline = new Pipeline(ctx, id, this.picker, this.status, false);
    this.pipeline.start();
    ctx.logger.debug({ 'remote-peer-id': formatId(id), 'remote-peer-urls': urls }, 'added new remote peer');
  }

  send(m: Message): void {
    if (this.paused) return;
    if (!this.pipeline.queue.tryPush(m)) {
      this.ctx.noteDrop(m, this.id, 'sending buffer is full', 'buffer-full', { 'remote-peer-active': this.status.active });
    }
  }

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
  }

  async stop(): Promise<void> {
    await this.pipeline.stop();
    this.status.reset();
  }
}
