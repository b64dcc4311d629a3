import type { TransportContext } from './context.js';
import { type Id, formatId } from './ids.js';
import type { Logger } from './logger.js';
import { MetricName } from './metrics.js';

/** Where a failure happened, etcd's (source, action) pairs. */
export interface FailureType {
  source: string;
  action: string;
}

/**
 * A peer's active/inactive state, shared by all its channels: any success
 * activates, any failure deactivates. `since` is the activation time (0 when
 * inactive).
 */
export class PeerStatus {
  private activeSince = 0;
  private readonly log: Logger;
  private readonly idHex: string;

  constructor(
    private readonly ctx: TransportContext,
    readonly id: Id,
    private readonly emitEvents = true,
  ) {
    this.idHex = formatId(id);
    this.log = ctx.logger.child({ 'remote-peer-id': this.idHex });
  }

  /** Whether the peer was active once (so a later activation is a recovery). */
  private wasActive = false;

  get active(): boolean {
    return this.activeSince !== 0;
  }

  /** Activation time in ms since the epoch, or 0. */
  get since(): number {
    return this.activeSince;
  }

  activate(): void {
    if (this.activeSince !== 0) return;
    this.activeSince = Math.max(1, this.ctx.clock.now());
    // The first contact is routine (debug); coming back after a failure is news (info).
    if (this.wasActive) this.log.info({}, 'peer became active again');
    else this.log.debug({}, 'peer became active');
    this.wasActive = true;
    this.ctx.metrics.add(MetricName.activePeers, { Local: this.ctx.idHex, Remote: this.idHex }, 1);
    if (this.emitEvents) this.ctx.events.emit('peer:active', { id: this.id, since: this.activeSince });
  }

  deactivate(failure: FailureType, reason: string): void {
    const msg = `failed to ${failure.action} ${this.idHex} on ${failure.source} (${reason})`;
    if (this.activeSince === 0) {
      this.log.debug({ error: msg }, 'peer deactivated again');
      return;
    }
    this.activeSince = 0;
    this.log.warn({ error: msg }, 'peer became inactive (message send to peer failed)');
    this.ctx.metrics.add(MetricName.activePeers, { Local: this.ctx.idHex, Remote: this.idHex }, -1);
    this.ctx.metrics.inc(MetricName.disconnectedPeers, { Local: this.ctx.idHex, Remote: this.idHex });
    if (this.emitEvents) this.ctx.events.emit('peer:inactive', { id: this.id, reason: msg });
  }

  /** Called when the peer is removed: an active peer stops counting as active. */
  reset(): void {
    if (this.activeSince !== 0) this.ctx.metrics.add(MetricName.activePeers, { Local: this.ctx.idHex, Remote: this.idHex }, -1);
    this.activeSince = 0;
  }
}
