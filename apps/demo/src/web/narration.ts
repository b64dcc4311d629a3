import type { MemberView, ProposalProgress } from './cluster.js';

/** A proposal the page follows from Propose to commit. */
export interface TrackedProposal {
  value: string;
  /** The member it was proposed through. */
  via: string;
  progress: ProposalProgress;
  /** performance.now() when it committed (undefined while it has not). */
  committedAt: number | undefined;
}

export interface NarrationInput {
  started: boolean;
  /** Why the cluster has not started (yet), when that is not simply "starting". */
  waiting: string | undefined;
  /** Members of the cluster (removed ones left out). */
  members: MemberView[];
  paused: boolean;
  proposal: TrackedProposal | undefined;
  /** performance.now() when the current leader was elected. */
  electedAt: number;
  now: number;
}

function list(ids: string[]): string {
  if (ids.length <= 1) return ids.join('');
  return `${ids.slice(0, -1).join(', ')} and ${ids[ids.length - 1]}`;
}

/** One line saying what the cluster is doing right now, for someone who has never seen Raft. */
export function narrate(i: NarrationInput): string {
  const text = describe(i);
  return i.paused ? `Paused. ${text}` : text;
}

function describe(i: NarrationInput): string {
  if (!i.started) return i.waiting ?? 'Starting the members: three in this page, one in the Node.js server…';
  const n = i.members.length;
  const majority = Math.floor(n / 2) + 1;
  const running = i.members.filter((m) => m.state === 'running');
  const leaders = running.filter((m) => m.role === 'leader').sort((a, b) => b.term - a.term);
  const leader = leaders[0];
  const p = i.proposal;
  if (p && (p.committedAt === undefined || i.now - p.committedAt < 8000)) {
    const pr = p.progress;
    if (pr.index === 0 && p.committedAt === undefined) {
      return leader && p.via !== leader.id
        ? `Member ${p.via} is not the leader: it forwards “${p.value}” to leader ${leader.id} (grey dot).`
        : `“${p.value}” is on its way to the leader.`;
    }
    if (!pr.committed) {
      return `Leader ${leader?.id ?? '?'} wrote “${p.value}” as entry ${pr.index} and sends it to the followers (blue dots): ${pr.storedOn.length} of ${n} members have it, ${majority} are needed to commit it.`;
    }
    const who = pr.storedOn.length > 0 ? ` (${list(pr.storedOn)})` : '';
    return `“${p.value}” is committed at entry ${pr.index}: a majority stored it${who}. The followers apply it once they hear the new commit index.`;
  }
  const campaigning = running.filter((m) => m.role === 'candidate' || m.role === 'precandidate').sort((a, b) => b.term - a.term);
  const c = campaigning[0];
  if (c && (!leader || c.term >= leader.term)) {
    if (c.role === 'precandidate') {
      return `Member ${c.id}'s election timer ran out. It first asks whether the others would vote for it in term ${c.term + 1} (pre-vote, purple), so a member that cannot win does not disturb the cluster.`;
    }
    const votes = i.members.filter((m) => m.term === c.term && m.vote === c.id).length;
    return `Member ${c.id} is a candidate in term ${c.term}: it voted for itself and asks the others for votes (orange). It has ${votes} of the ${majority} votes it needs.`;
  }
  if (leader) {
    const down = i.members.filter((m) => m.state !== 'running' || m.partitioned).map((m) => m.id);
    const downText =
      down.length > 0
        ? ` Member${down.length > 1 ? 's' : ''} ${list(down)} ${down.length > 1 ? 'are' : 'is'} unreachable; the others still form a majority.`
        : '';
    if (i.now - i.electedAt < 6000) {
      return `Member ${leader.id} won a majority of votes: it leads term ${leader.term} and sends heartbeats (green) so no follower's timer runs out.${downText || ' Type a value and press Propose to watch it replicate.'}`;
    }
    return `Member ${leader.id} leads term ${leader.term}; its heartbeats (green) keep resetting the followers' timers.${downText || ' Propose a value, or kill the leader to watch a new election.'}`;
  }
  if (running.length < majority) {
    return `Only ${running.length} of ${n} members are running: nobody can win a majority (${majority}) of votes, so there is no leader until a member comes back.`;
  }
  const term = Math.max(0, ...running.map((m) => m.term));
  // Who stood in this term: the members that voted for themselves in it.
  const stood = i.members.filter((m) => m.term === term && m.vote === m.id).map((m) => m.id);
  if (term > 1 && stood.length > 1) {
    return `No leader in term ${term}: the vote was split (${list(stood)} each stood, nobody got ${majority} of ${n} votes). Their timers run down again; the first to reach zero stands again in term ${term + 1}.`;
  }
  return `No leader${term > 1 ? ` in term ${term}` : ' yet'}: every member's election timer (the ring) runs down; the first to reach zero asks the others for votes.`;
}
