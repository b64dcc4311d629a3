import type { Clock, TimerHandle } from '@raftwire/core';

/** The part of a Durable Object's storage that schedules its alarm. */
export interface AlarmStorage {
  setAlarm(scheduledTime: number): Promise<void>;
  deleteAlarm(): Promise<void>;
}

/**
 * A {@link Clock} whose timers are fired by the Durable Object's alarm: the
 * object's `alarm()` handler calls {@link fire}. The platform wakes an object
 * for its alarm even with no request in flight (and after an eviction or a
 * restart, which then boots the member from storage), so Raft's ticks go on.
 * The cost: one storage write (`setAlarm`) per timer that becomes the
 * earliest, i.e. about one per Raft tick.
 */
export class AlarmClock implements Clock {
  private readonly timers = new Map<number, { at: number; fn: () => void }>();
  private nextId = 1;
  private armedAt = Number.POSITIVE_INFINITY;

  constructor(
    private readonly storage: AlarmStorage,
    private readonly onError: (err: unknown) => void,
  ) {}

  now(): number {
    return Date.now();
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const id = this.nextId++;
    this.timers.set(id, { at: Date.now() + Math.max(0, ms), fn });
    this.arm();
    return id;
  }

  clearTimeout(handle: TimerHandle): void {
    this.timers.delete(handle as number);
  }

  /** Runs every timer that is due, then sets the alarm for the next one. Call from the object's `alarm()`. */
  fire(): void {
    this.armedAt = Number.POSITIVE_INFINITY;
    const now = Date.now();
    for (const [id, t] of [...this.timers]) {
      if (t.at > now) continue;
      this.timers.delete(id);
      t.fn();
    }
    this.arm();
  }

  /** Stops: no alarm is set any more. */
  stop(): void {
    this.timers.clear();
    this.armedAt = Number.POSITIVE_INFINITY;
    this.storage.deleteAlarm().catch(this.onError);
  }

  private arm(): void {
    let next = Number.POSITIVE_INFINITY;
    for (const t of this.timers.values()) next = Math.min(next, t.at);
    if (!Number.isFinite(next) || next >= this.armedAt) return;
    this.armedAt = next;
    this.storage.setAlarm(next).catch(this.onError);
  }
}
