import type { Id, Message } from '@raftwire/core';

/** The outcome of a read-index request: reads at `index` or later are linearizable (etcd's ReadState). */
export interface ReadState {
  index: number;
  requestCtx: Uint8Array;
}

interface ReadIndexStatus {
  req: Message;
  index: number;
  acks: Set<Id>;
}

const key = (ctx: Uint8Array): string => {
  let s = '';
  for (let i = 0; i < ctx.length; i++) s += String.fromCharCode(ctx[i] as number);
  return s;
};

/**
 * Pending read-index requests on the leader (etcd's readOnly, ReadOnlySafe):
 * each waits for a heartbeat round acknowledged by a quorum.
 */
export class ReadOnly {
  private pending = new Map<string, ReadIndexStatus>();
  private queue: string[] = [];

  addRequest(index: number, m: Message): void {
    const ctx = key((m.entries[0] as { data: Uint8Array }).data);
    if (this.pending.has(ctx)) return;
    this.pending.set(ctx, { index, req: m, acks: new Set() });
    this.queue.push(ctx);
  }

  /** Records an ack for the request with `context`; returns the acks so far. */
  recvAck(id: Id, context: Uint8Array): Set<Id> | null {
    const rs = this.pending.get(key(context));
    if (!rs) return null;
    rs.acks.add(id);
    return rs.acks;
  }

  /** Dequeues every request up to and including the one with m's context. */
  advance(m: Message): { req: Message; index: number }[] {
    const ctx = key(m.context);
    const i = this.queue.indexOf(ctx);
    if (i < 0) return [];
    const done = this.queue.slice(0, i + 1);
    this.queue = this.queue.slice(i + 1);
    const out: { req: Message; index: number }[] = [];
    for (const k of done) {
      const rs = this.pending.get(k);
      this.pending.delete(k);
      if (rs) out.push({ req: rs.req, index: rs.index });
    }
    return out;
  }

  lastPendingRequestCtx(): string | null {
    return this.queue.length === 0 ? null : (this.queue[this.queue.length - 1] as string);
  }
}
