/**
 * Polls every running member's `/v1/status` a few times a second: the
 * leader timeline for the report, and how long the cluster stays without a
 * leader after each heal.
 */
import { type ChaosCluster, confirmedLeader, type MemberStatus } from './cluster/chaos-cluster.js';

export interface StatusSample {
  /** ms since the start of the run. */
  t: number;
  lane: string;
  id: string;
  state: string;
  leader: string;
  term: number;
  commit: number;
  applied: number;
}

/** One poll's conclusion: the leader a majority agreed on, or none. */
export interface LeaderSample {
  t: number;
  leader: string | null;
  lane: string | null;
  term: number;
}

export class Monitor {
  readonly samples: StatusSample[] = [];
  readonly leaders: LeaderSample[] = [];
  private stopped = false;
  private loop: Promise<void> | null = null;
  private readonly waiters: { since: number; resolve: (t: number) => void }[] = [];

  constructor(
    private readonly cluster: ChaosCluster,
    private readonly now: () => number,
    private readonly intervalMs = 200,
  ) {}

  start(): void {
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const w of this.waiters.splice(0)) w.resolve(Number.NaN);
    await this.loop;
  }

  /** The latest confirmed leader. */
  current(): LeaderSample | null {
    return this.leaders[this.leaders.length - 1] ?? null;
  }

  /**
   * Resolves with the time (ms since the start of the run) of the first poll
   * begun at or after `since` that found a confirmed leader (NaN if stopped first).
   */
  leaderSince(since: number): Promise<number> {
    return new Promise((resolve) => this.waiters.push({ since, resolve }));
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      const t = this.now();
      const members = this.cluster.members();
      const statuses: (MemberStatus | null)[] = await Promise.all(members.map((l) => this.cluster.status(l, 500).catch(() => null)));
      statuses.forEach((s, i) => {
        const lane = members[i];
        if (s && lane) {
          this.samples.push({
            t,
            lane: lane.name,
            id: s.id,
            state: s.state,
            leader: s.leader,
            term: s.term,
            commit: s.commit,
            applied: s.applied,
          });
        }
      });
      const l = confirmedLeader(members, statuses);
      this.leaders.push({ t, leader: l?.id ?? null, lane: l?.lane.name ?? null, term: l?.term ?? 0 });
      if (l) {
        for (let i = this.waiters.length - 1; i >= 0; i--) {
          const w = this.waiters[i];
          if (w && t >= w.since) {
            this.waiters.splice(i, 1);
            w.resolve(t);
          }
        }
      }
      const wait = this.intervalMs - (this.now() - t);
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    }
  }
}
