import type { MessageTrace, TransportTrace } from '../shared/demo-member.js';

/** Paths count as "in use" for this long after their last message. */
export const PATH_RECENT_MS = 2000;

/** Traffic seen on one direction of a link. */
interface DirectionState {
  /** Path name → Date.now() of its last message. */
  paths: Map<string, number>;
  /** Send times (performance.now) within the last second. */
  recent: number[];
  dropped: number;
}

/** What the view shows for one direction. */
export interface DirectionStats {
  /** Paths used within the last {@link PATH_RECENT_MS}, most recent first. */
  paths: string[];
  /** Messages in the last second. */
  rate: number;
  dropped: number;
}

/** Counts messages, paths and drops per directed link (`from>to`). */
export class LinkStats {
  private readonly dirs = new Map<string, DirectionState>();

  private dir(from: string, to: string): DirectionState {
    const k = `${from}>${to}`;
    let d = this.dirs.get(k);
    if (!d) {
      d = { paths: new Map(), recent: [], dropped: 0 };
      this.dirs.set(k, d);
    }
    return d;
  }

  message(t: MessageTrace, now: number): void {
    const d = this.dir(t.from, t.to);
    if (t.path !== '') d.paths.set(t.path, Date.now());
    d.recent.push(now);
    if (d.recent.length > 5000) d.recent.splice(0, d.recent.length - 5000);
  }

  /** Records a path a sender used at `at` (Date.now) without counting a message (the receiver counted it). */
  path(from: string, to: string, path: string, at: number): void {
    if (path === '') return;
    const d = this.dir(from, to);
    d.paths.set(path, Math.max(at, d.paths.get(path) ?? 0));
  }

  event(e: TransportTrace): void {
    if (e.event === 'message:dropped') this.dir(e.member, e.peer).dropped++;
  }

  get(from: string, to: string, now: number): DirectionStats {
    const d = this.dir(from, to);
    while (d.recent.length > 0 && (d.recent[0] as number) < now - 1000) d.recent.shift();
    const since = Date.now() - PATH_RECENT_MS;
    const paths = [...d.paths]
      .filter(([, at]) => at >= since)
      .sort((a, b) => b[1] - a[1])
      .map(([p]) => p);
    return { paths, rate: d.recent.length, dropped: d.dropped };
  }
}
