import { describe, expect, it } from 'vitest';
import { emptyReport } from '../src/shared/demo-member.js';
import type { MemberView } from '../src/web/cluster.js';
import { type NarrationInput, narrate } from '../src/web/narration.js';

function member(id: string, role: string, term: number, vote = '0'): MemberView {
  return { ...emptyReport(id, 'running'), role, term, vote, where: id === '1' ? 'node' : 'page', partitioned: false };
}

function input(members: MemberView[], more: Partial<NarrationInput> = {}): NarrationInput {
  return { started: true, waiting: undefined, members, paused: false, proposal: undefined, electedAt: 0, now: 60_000, ...more };
}

describe('narration', () => {
  it('says why the cluster is not running yet', () => {
    expect(narrate(input([], { started: false, waiting: 'Waiting: another tab.' }))).toBe('Waiting: another tab.');
    expect(narrate(input([], { started: false }))).toMatch(/^Starting the members/);
  });

  it('follows an election: timers, pre-vote, a candidate counting its votes, a split vote', () => {
    const f = (id: string, term = 1, vote = '0') => member(id, 'follower', term, vote);
    expect(narrate(input([f('1'), f('2'), f('3'), f('4')]))).toMatch(/^No leader yet: every member's election timer/);
    expect(narrate(input([f('1'), member('2', 'precandidate', 1), f('3'), f('4')]))).toMatch(
      /^Member 2's election timer ran out.*term 2 \(pre-vote/,
    );
    const c = [f('1', 2, '2'), member('2', 'candidate', 2, '2'), f('3', 2, '2'), f('4', 1)];
    expect(narrate(input(c))).toBe(
      'Member 2 is a candidate in term 2: it voted for itself and asks the others for votes (orange). It has 3 of the 3 votes it needs.',
    );
    const split = [f('1', 2, '1'), f('2', 2, '3'), f('3', 2, '3'), f('4', 2, '4')];
    expect(narrate(input(split))).toMatch(/^No leader in term 2: the vote was split \(1, 3 and 4 each stood, nobody got 3 of 4 votes\)/);
  });

  it('names a new leader, then a proposal on its way and committed; paused says so first', () => {
    const ms = [member('1', 'follower', 2), member('2', 'leader', 2), member('3', 'follower', 2), member('4', 'follower', 2)];
    expect(narrate(input(ms, { electedAt: 58_000 }))).toMatch(/^Member 2 won a majority of votes: it leads term 2/);
    const proposal = {
      value: 'hello',
      via: '2',
      progress: { index: 3, term: 2, storedOn: ['2'], committed: false },
      committedAt: undefined,
    };
    expect(narrate(input(ms, { proposal, paused: true }))).toBe(
      'Paused. Leader 2 wrote “hello” as entry 3 and sends it to the followers (blue dots): 1 of 4 members have it, 3 are needed to commit it.',
    );
    const done = { ...proposal, progress: { index: 3, term: 2, storedOn: ['1', '2', '3'], committed: true }, committedAt: 59_000 };
    expect(narrate(input(ms, { proposal: done }))).toMatch(/^“hello” is committed at entry 3: a majority stored it \(1, 2 and 3\)/);
  });
});
