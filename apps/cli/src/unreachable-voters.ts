import { formatId, type Id, type Logger } from '@raftwire/core';

export interface UnreachableVoterOptions {
  /** This member's view: its ID, its raft state and the members. */
  status(): { id: Id; raftState: string; members: readonly { id: Id; url: string; learner?: boolean }[] };
  /** When this member last became able to reach `id` (ms since the epoch), 0 when it cannot. */
  activeSince(id: Id): number;
  logger: Logger;
  /** A voter is reported once it has been unreachable this long (ms). Default 5 000. */
  graceMs?: number;
  /** Then again every `repeatMs` while it stays unreachable. Default 30 000. */
  repeatMs?: number;
  /** How often to look (ms). Default 1 000. */
  checkMs?: number;
  /** How to start a voter that never came up (the `raftwire member --join ...` line). */
  startHint?(id: Id, url: string): string;
  now?(): number;
}

/**
 * Warns, on the leader, while a voter stays unreachable (say, added and never started): the
 * cluster counts it in every quorum, so one more failure may stop it. Once after `graceMs`, then
 * every `repeatMs` per voter (rate-limited); a line when it is reachable again. Returns a stop function.
 */
export function watchUnreachableVoters(o: UnreachableVoterOptions): () => void {
  const grace = o.graceMs ?? 5_000;
  const repeat = o.repeatMs ?? 30_000;
  const now = o.now ?? Date.now;
  /** Voter → when it was first seen unreachable, and when last reported. */
  const down = new Map<Id, { since: number; reported: number }>();
  const check = (): void => {
    const st = o.status();
    const t = now();
    const voters = st.members.filter((m) => m.id !== st.id && m.learner !== true);
    for (const id of down.keys()) if (!voters.some((m) => m.id === id)) down.delete(id);
    if (st.raftState !== 'StateLeader') return;
    for (const m of voters) {
      if (o.activeSince(m.id) !== 0) {
        const d = down.get(m.id);
        if (d && d.reported !== 0) o.logger.info({ 'remote-peer-id': formatId(m.id) }, `voter ${formatId(m.id)} is reachable again`);
        down.delete(m.id);
        continue;
      }
      let d = down.get(m.id);
      if (!d) {
        d = { since: t, reported: 0 };
        down.set(m.id, d);
      }
      if (t - d.since < grace || (d.reported !== 0 && t - d.reported < repeat)) continue;
      d.reported = t;
      const quorum = Math.floor((voters.length + 1) / 2) + 1;
      const hint = o.startHint ? ` Start it (${o.startHint(m.id, m.url)}) or remove it (raftwire member remove ${formatId(m.id)}).` : '';
      o.logger.warn(
        {
          'remote-peer-id': formatId(m.id),
          'peer-url': m.url,
          'unreachable-s': Math.round((t - d.since) / 1000),
          voters: voters.length + 1,
          quorum,
        },
        `voter ${formatId(m.id)} (${m.url}) has been unreachable for ${Math.round((t - d.since) / 1000)} s; it still counts in every quorum of ${quorum}.${hint}`,
      );
    }
  };
  const timer = setInterval(check, o.checkMs ?? 1_000);
  timer.unref?.();
  return () => clearInterval(timer);
}
