/**
 * An in-test network for RaftNode drivers: delivers Message objects through
 * a ManualClock with seeded drops, delays and partitions, streams snapshot
 * bodies, reports unreachable peers and snapshot outcomes, and answers a
 * removed sender the way the real transport does (410 → removed).
 */
import type { Id, Message, SeededRand } from '@raftwire/core';
import { MessageType } from '@raftwire/core';
import type { ManualClock } from '@raftwire/core/testing';
import type { RaftNode } from '../../src/raft-node.js';
import type { RaftTransport } from '../../src/transport.js';

export class MemoryNetwork {
  readonly nodes = new Map<Id, RaftNode>();
  dropRate = 0;
  /** Drops every message it returns true for (a targeted loss, e.g. MsgApp to one follower). */
  drop: ((m: Message) => boolean) | null = null;
  maxDelayMs = 5;
  private group = new Map<Id, number>();
  delivered = 0;
  snapshotsDelivered = 0;

  constructor(
    readonly clock: ManualClock,
    readonly rand: SeededRand,
  ) {}

  register(node: RaftNode): void {
    this.nodes.set(node.id, node);
  }

  unregister(id: Id): void {
    this.nodes.delete(id);
  }

  partition(groups: Id[][]): void {
    this.group.clear();
    groups.forEach((g, i) => {
      for (const id of g) this.group.set(id, i);
    });
  }

  heal(): void {
    this.group.clear();
  }

  private reachable(from: Id, to: Id): boolean {
    return (this.group.get(from) ?? -1) === (this.group.get(to) ?? -1);
  }

  private deliver(m: Message, onDone?: (ok: boolean) => void): void {
    const from = this.nodes.get(m.from);
    const to = this.nodes.get(m.to);
    if (!to || !this.reachable(m.from, m.to) || to.status().stopped) {
      from?.reportUnreachable(m.to);
      onDone?.(false);
      return;
    }
    if (to.isIdRemoved(m.from)) {
      // The real handler answers 410/403: the sender learns it was removed.
      from?.removedFromCluster();
      onDone?.(false);
      return;
    }
    to.process(m).then(
      () => {
        this.delivered++;
        onDone?.(true);
      },
      () => {
        from?.reportUnreachable(m.to);
        onDone?.(false);
      },
    );
  }

  transportFor(id: Id): RaftTransport {
    return {
      // As core's Transport: non-zero while the peer is up and reachable.
      activeSince: (peer) => {
        const to = this.nodes.get(peer);
        return to && !to.status().stopped && this.reachable(id, peer) ? 1 : 0;
      },
      send: (msgs) => {
        for (const m of msgs) {
          if (m.from !== id) throw new Error('message from wrong member');
          if (this.drop?.(m)) continue;
          if (this.rand.chance(this.dropRate)) continue;
          this.clock.setTimeout(() => this.deliver(m), this.rand.intn(this.maxDelayMs + 1));
        }
      },
      sendSnapshot: (m, body) => {
        if (m.type !== MessageType.MsgSnap || !m.snapshot) throw new Error('sendSnapshot needs a MsgSnap');
        void (async () => {
          const parts: Uint8Array[] = [];
          let n = 0;
          for await (const c of body) {
            parts.push(Uint8Array.from(c));
            n += c.length;
          }
          const declared = (body as { size?: number }).size;
          if (declared !== n) throw new Error(`snapshot body size ${n} differs from declared ${declared}`);
          const data = new Uint8Array(n);
          let off = 0;
          for (const p of parts) {
            data.set(p, off);
            off += p.length;
          }
          const full: Message = { ...m, snapshot: { ...(m.snapshot as NonNullable<Message['snapshot']>), data } };
          this.clock.setTimeout(
            () =>
              this.deliver(full, (ok) => {
                if (ok) this.snapshotsDelivered++;
                this.nodes.get(m.from)?.reportSnapshot(m.to, ok ? 'finish' : 'failure');
              }),
            this.rand.intn(this.maxDelayMs + 1),
          );
        })();
      },
    };
  }
}
