import { ErrorCode, RaftwireError, formatId } from '@raftwire/core';
import type { Id } from '@raftwire/core';
import {
  type SignalMessage,
  type Signaling,
  type SignalingEndpoint,
  type SignalingJoinOptions,
  checkSignalClaim,
  parseSignalMessage,
} from './signaling.js';

interface Registration {
  memberId: Id;
  onSignal: (message: SignalMessage) => void;
}

/**
 * Signalling for members that share one JavaScript realm (a page running
 * several members, a test, or the relay server's own member). Every signal
 * is checked before it is delivered: shape, cluster ID, `from` against the
 * sending endpoint, `to` registered. A rejected signal changes nothing.
 * Delivery is asynchronous and in order per sender.
 */
export class InPageSignalingHub implements Signaling {
  private readonly members = new Map<Id, Registration>();

  constructor(readonly clusterId: Id) {}

  /** Member IDs currently joined. */
  get joined(): Id[] {
    return [...this.members.keys()];
  }

  async join(options: SignalingJoinOptions): Promise<SignalingEndpoint> {
    if (options.signal?.aborted) throw new RaftwireError(ErrorCode.ABORTED, 'join aborted');
    return this.register(options.clusterId, options.memberId, options.onSignal);
  }

  /**
   * Registers a member synchronously (the relay server uses this). A member
   * that joins again replaces its previous registration, whose endpoint
   * stops working.
   */
  register(clusterId: Id, memberId: Id, onSignal: (message: SignalMessage) => void): SignalingEndpoint {
    if (clusterId !== this.clusterId) {
      throw new RaftwireError(
        ErrorCode.CLUSTER_ID_MISMATCH,
        `join for cluster ${formatId(clusterId)}, this hub serves ${formatId(this.clusterId)}`,
      );
    }
    const reg: Registration = { memberId, onSignal };
    this.members.set(memberId, reg);
    let closed = false;
    return {
      memberId,
      send: async (message, opts) => {
        if (opts?.signal?.aborted) throw new RaftwireError(ErrorCode.ABORTED, 'send aborted');
        if (closed || this.members.get(memberId) !== reg) throw new RaftwireError(ErrorCode.LINK, 'signalling endpoint closed');
        this.deliver(message, memberId);
      },
      close: () => {
        closed = true;
        if (this.members.get(memberId) === reg) this.members.delete(memberId);
      },
    };
  }

  /** Validates `raw` as sent by `sender` and queues it for its recipient. Throws the typed rejection. */
  deliver(raw: unknown, sender: Id): void {
    const msg = parseSignalMessage(raw);
    checkSignalClaim(msg, { clusterId: this.clusterId, sender, isKnown: (to) => this.members.has(to) });
    const target = this.members.get(BigInt(`0x${msg.to}`)) as Registration;
    queueMicrotask(() => {
      if (this.members.get(target.memberId) !== target) return;
      try {
        target.onSignal(msg);
      } catch {
        // a recipient's failure is its own; the sender's signal was delivered
      }
    });
  }
}
