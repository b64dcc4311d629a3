import type { TimerHandle } from '@raftwire/core';
import type { DemoTime } from './demo-time.js';
import type { MessageInfo } from './message-info.js';

/** Demo milliseconds a message is held on its way when time is slowed enough to follow it: its visible flight. */
export const FLIGHT_MS = 100;

/**
 * The flight at a speed: none at real time and 2× slower (timers are slowed,
 * messages go as fast as the transport carries them), {@link FLIGHT_MS} when slower.
 */
export function flightAt(factor: number): number {
  return factor > 2 ? FLIGHT_MS : 0;
}

/** A message the demo holds between its sender's Raft and its receiver's Raft. */
export interface HeldDelivery {
  readonly id: number;
  readonly info: MessageInfo;
  /** Demo time it was taken in. */
  readonly heldAt: number;
  /** Demo time it is due (released by time, or earlier by {@link Deliveries.step}). */
  readonly due: number;
}

/** Why a held message was released. */
export type ReleaseKind = 'due' | 'step';

export interface DeliveryListener {
  /** Taken in and held (not called for a message handed on at once). */
  held?(d: HeldDelivery): void;
  released?(d: HeldDelivery, how: ReleaseKind): void;
  dropped?(d: HeldDelivery, reason: string): void;
}

interface Entry extends HeldDelivery {
  deliver: () => void;
  timer: TimerHandle | undefined;
}

/**
 * Every message between two Raft members of the page's cluster passes
 * through here, above the transport: a page member's inbound messages once
 * its Transport received them, and its messages to the Node member before its
 * Transport sends them. Each is held for its flight ({@link flightAt}) and
 * released in due order, per link first in first out.
 *
 * Pausing demo time stops every release; {@link step} then releases exactly
 * one message, the one due first. Nothing is lost by pausing: links and the
 * transport's own heartbeats keep running below, and resuming releases what
 * is due. Messages are dropped only on purpose (a link is cut, a member
 * stops), and every drop is reported.
 */
export class Deliveries {
  private readonly held = new Map<number, Entry>();
  private readonly lastDue = new Map<string, number>();
  private nextId = 1;
  private readonly listeners = new Set<DeliveryListener>();
  /** Messages released to a RaftNode (or to the transport, towards the Node member) so far. */
  delivered = 0;
  dropped = 0;

  constructor(
    private readonly time: DemoTime,
    private readonly flightMs: () => number = () => flightAt(time.factor),
  ) {}

  listen(l: DeliveryListener): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }

  /**
   * Takes a message in: `deliver` hands it on (to the receiver's RaftNode, or
   * to the sender's transport). At real-time speed and not paused it is handed
   * on at once.
   */
  hold(info: MessageInfo, deliver: () => void): HeldDelivery {
    const now = this.time.now();
    const link = `${info.from}>${info.to}`;
    const due = Math.max(now + this.flightMs(), this.lastDue.get(link) ?? 0);
    this.lastDue.set(link, due);
    const e: Entry = { id: this.nextId++, info, heldAt: now, due, deliver, timer: undefined };
    if (!this.time.paused && due <= now && !this.hasHeld(link)) {
      this.release(e, 'due');
      return e;
    }
    this.held.set(e.id, e);
    e.timer = this.time.at(due, () => {
      e.timer = undefined;
      if (this.held.has(e.id)) this.release(e, 'due');
    });
    for (const l of this.listeners) l.held?.(e);
    return e;
  }

  /** Messages held now, due first. */
  list(): HeldDelivery[] {
    return [...this.held.values()].sort((a, b) => a.due - b.due || a.id - b.id);
  }

  get size(): number {
    return this.held.size;
  }

  /** Releases the message due first, whatever the time; returns it (undefined when none is held). */
  step(): HeldDelivery | undefined {
    let first: Entry | undefined;
    for (const e of this.held.values()) if (!first || e.due < first.due || (e.due === first.due && e.id < first.id)) first = e;
    if (!first) return undefined;
    this.release(first, 'step');
    return first;
  }

  /** Drops every held message `match` selects (a cut link, a stopped member); returns how many. */
  drop(match: (i: MessageInfo) => boolean, reason: string): number {
    let n = 0;
    for (const e of [...this.held.values()]) {
      if (!match(e.info)) continue;
      this.held.delete(e.id);
      if (e.timer !== undefined) this.time.cancel(e.timer);
      this.dropped++;
      n++;
      for (const l of this.listeners) l.dropped?.(e, reason);
    }
    return n;
  }

  /** Drops everything (the cluster is going away), without reporting. */
  clear(): void {
    for (const e of this.held.values()) if (e.timer !== undefined) this.time.cancel(e.timer);
    this.held.clear();
  }

  private hasHeld(link: string): boolean {
    for (const e of this.held.values()) if (`${e.info.from}>${e.info.to}` === link) return true;
    return false;
  }

  private release(e: Entry, how: ReleaseKind): void {
    this.held.delete(e.id);
    if (e.timer !== undefined) this.time.cancel(e.timer);
    this.delivered++;
    for (const l of this.listeners) l.released?.(e, how);
    e.deliver();
  }
}
