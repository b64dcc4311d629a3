import type { MessageTrace, TransportTrace } from '../shared/demo-member.js';

/** Traffic seen on one direction of a link. */
export interface DirectionStats {
  lastPath: string | undefined;
  /** Send times within the last second. */
  recent: number[];
  dropped: number;
}

/** Counts messages, paths and drops per directed link (`from>to`). */
export class LinkStats {
  private readonly dirs = new Map<string, DirectionStats>();

  private dir(from: string, to: string): DirectionStats {
    const k = `${from}>${to}`;
    let d = this.dirs.get(k);
    if (!d) {
      d = { lastPath: undefined, recent: [], dropped: 0 };
      this.dirs.set(k, d);
    }
    return d;
  }

  message(t: MessageTrace, now: number): void {
    const d = this.dir(t.from, t.to);
    if (t.path !== '') d.lastPath = t.path;
    d.recent.push(now);
    if (d.recent.length > 5000) d.recent.splice(0, d.recent.length - 5000);
  }

  /** Records the path a sender picked without counting the message (the receiver counted it). */
  path(from: string, to: string, path: string): void {
    if (path !== '') this.dir(from, to).lastPath = path;
  }

  event(e: TransportTrace): void {
    if (e.event === 'message:dropped') this.dir(e.member, e.peer).dropped++;
  }

  get(from: string, to: string, now: number): DirectionStats & { rate: number } {
    const d = this.dir(from, to);
    while (d.recent.length > 0 && (d.recent[0] as number) < now - 1000) d.recent.shift();
    return { ...d, rate: d.recent.length };
  }
}
