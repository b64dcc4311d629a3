import { timingSafeEqual } from 'node:crypto';
import { type Id, tryParseId } from '@raftwire/core';
import type { TimeState } from '../shared/demo-time.js';
import { ClusterSession } from './node-member-host.js';

/** Why a session request was refused. */
export class SessionError extends Error {
  constructor(
    readonly status: number,
    readonly code: 'session-unknown' | 'session-full' | 'bad-token',
    message: string,
  ) {
    super(message);
  }
}

export interface SessionsOptions {
  loopbackOnly: boolean;
  /** Clusters served at once (each has its own Node member and relay port). Default 6. */
  max?: number;
  /** A cluster whose page has not been heard from for this long is closed. Default 60 s. */
  idleMs?: number;
  /** A cluster whose page said it left is closed after this long, unless the page (reloaded) comes back. Default 15 s. */
  leftGraceMs?: number;
}

function sameToken(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/**
 * The server's clusters, one per page: each page gets its own cluster ID,
 * token, signalling relay and Node member, so two tabs never share (or take
 * over) a member. Clusters whose page went away are closed.
 */
export class Sessions {
  private readonly sessions = new Map<string, ClusterSession>();
  private next: Id = 0x1000n;
  private readonly max: number;
  private readonly idleMs: number;
  private readonly leftGraceMs: number;
  private readonly reaper: ReturnType<typeof setInterval>;

  constructor(private readonly opts: SessionsOptions) {
    this.max = opts.max ?? 6;
    this.idleMs = opts.idleMs ?? 60_000;
    this.leftGraceMs = opts.leftGraceMs ?? 15_000;
    this.reaper = setInterval(() => void this.reap(), 1000);
    this.reaper.unref();
  }

  get size(): number {
    return this.sessions.size;
  }

  /** A new cluster with its Node member started, its clock at `time` (paused until the page's members start). */
  async create(time: TimeState): Promise<ClusterSession> {
    await this.reap();
    if (this.sessions.size >= this.max) {
      throw new SessionError(
        503,
        'session-full',
        `the demo server already runs ${this.max} clusters, one per open page; close a tab (its cluster stops within ${Math.round(this.leftGraceMs / 1000)} s) and try again`,
      );
    }
    const s = new ClusterSession(this.next++, this.opts.loopbackOnly);
    s.setTime(time);
    this.sessions.set(s.hex, s);
    try {
      await s.listen();
      await s.startMember();
    } catch (err) {
      this.sessions.delete(s.hex);
      await s.close();
      throw err;
    }
    return s;
  }

  /** The cluster `idHex` if `token` is its token; marks its page as seen. */
  get(idHex: string, token: string | undefined): ClusterSession {
    const s = tryParseId(idHex) === undefined ? undefined : this.sessions.get(idHex);
    if (!s) {
      throw new SessionError(404, 'session-unknown', `the server has no cluster ${idHex} (it was closed, or the server restarted)`);
    }
    if (token === undefined || !sameToken(token, s.token)) throw new SessionError(403, 'bad-token', `wrong token for cluster ${idHex}`);
    s.lastSeen = Date.now();
    s.leftAt = undefined;
    return s;
  }

  /** The page said it is leaving (pagehide): close its cluster unless it comes back soon. */
  left(s: ClusterSession): void {
    s.leftAt = Date.now();
  }

  private async reap(): Promise<void> {
    const now = Date.now();
    for (const s of [...this.sessions.values()]) {
      const gone = s.leftAt !== undefined ? now - s.leftAt > this.leftGraceMs : now - s.lastSeen > this.idleMs;
      if (!gone) continue;
      this.sessions.delete(s.hex);
      await s.close();
    }
  }

  async closeAll(): Promise<void> {
    clearInterval(this.reaper);
    const all = [...this.sessions.values()];
    this.sessions.clear();
    await Promise.all(all.map((s) => s.close()));
  }
}
