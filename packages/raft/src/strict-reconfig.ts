import { ErrorCode, formatId, type Id, RaftwireError } from '@raftwire/core';
import type { MemberChange } from './membership.js';

/**
 * etcd's strict reconfiguration check (`--strict-reconfig-check`, on by default there too):
 * a membership change is refused (ERR_CONFLICT) when the voters it leaves would be short of
 * a quorum of started ones. A voter counts as started when it is this member or its peer is
 * reachable now; one that was added but never started, or is down, does not. So adding
 * voters that never start cannot take the cluster past the point where it has no quorum,
 * and removing a live voter while others are down cannot either. Adding or removing a
 * learner never changes the quorum and is always allowed; adding a voter to a cluster that
 * would then depend on it starting is refused: add it as a learner, start it, and promote it
 * once it has caught up.
 */
export function strictReconfigError(change: MemberChange, voters: readonly Id[], started: (id: Id) => boolean): RaftwireError | null {
  if (change.kind === 'add' && change.learner) return null;
  if (change.kind === 'remove' && !voters.includes(change.id)) return null; // a learner
  const after = change.kind === 'remove' ? voters.filter((v) => v !== change.id) : [...voters, change.id];
  // A voter being added is not started yet: it cannot be reached until it is a member.
  const up = after.filter((v) => !(change.kind === 'add' && v === change.id) && started(v)).length;
  const quorum = Math.floor(after.length / 2) + 1;
  if (up >= quorum) return null;
  const who = formatId(change.id);
  const state = `${after.length} voters need a quorum of ${quorum}, and only ${up} would be started and reachable from this member`;
  const message =
    change.kind === 'remove'
      ? `removing voter ${who} is refused: the remaining ${state}; start or repair the missing members first`
      : change.kind === 'promote'
        ? `promoting learner ${who} is refused: ${state}; start the missing members first`
        : `adding voter ${who} is refused: ${state}; add it as a learner (learner: true), start it, and promote it once it has caught up`;
  return new RaftwireError(ErrorCode.CONFLICT, message);
}
