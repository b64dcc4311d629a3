import { Inflights } from './inflights.js';

/** Flow-control state of one follower as seen by the leader. */
export const ProgressState = { Probe: 'StateProbe', Replicate: 'StateReplicate', Snapshot: 'StateSnapshot' } as const;
export type ProgressState = (typeof ProgressState)[keyof typeof ProgressState];

/**
 * The leader's view of a follower (etcd's tracker.Progress): in Probe the
 * leader sends one MsgApp per heartbeat interval until it finds the match;
 * in Replicate it streams optimistically, bounded by {@link Inflights}; in
 * Snapshot it waits for a snapshot to be applied.
 */
export class Progress {
  match = 0;
  next: number;
  state: ProgressState = ProgressState.Probe;
  pendingSnapshot = 0;
  recentActive = false;
  /** In Probe: a MsgApp was sent and we wait for its response or the next heartbeat. */
  probeSent = false;
  /**
   * A learner receives the log like any follower but does not vote: it is counted neither
   * in the commit quorum nor in elections, and never campaigns (etcd's Progress.IsLearner).
   */
  isLearner: boolean;
  readonly inflights: Inflights;

  constructor(next: number, maxInflight: number, isLearner = false) {
    this.next = next;
    this.isLearner = isLearner;
    this.inflights = new Inflights(maxInflight);
  }

  private resetState(state: ProgressState): void {
    this.probeSent = false;
    this.pendingSnapshot = 0;
    this.state = state;
    this.inflights.reset();
  }

  becomeProbe(): void {
    if (this.state === ProgressState.Snapshot) {
      const pending = this.pendingSnapshot;
      this.resetState(ProgressState.Probe);
      this.next = Math.max(this.match + 1, pending + 1);
    } else {
      this.resetState(ProgressState.Probe);
      this.next = this.match + 1;
    }
  }

  becomeReplicate(): void {
    this.resetState(ProgressState.Replicate);
    this.next = this.match + 1;
  }

  becomeSnapshot(snapshotIndex: number): void {
    this.resetState(ProgressState.Snapshot);
    this.pendingSnapshot = snapshotIndex;
  }

  /** Called on an accepting MsgAppResp; true when match advanced. */
  maybeUpdate(n: number): boolean {
    let updated = false;
    if (this.match < n) {
      this.match = n;
      updated = true;
      this.probeSent = false;
    }
    this.next = Math.max(this.next, n + 1);
    return updated;
  }

  optimisticUpdate(n: number): void {
    this.next = n + 1;
  }

  /** Called on a rejecting MsgAppResp; false when the rejection is stale. */
  maybeDecrTo(rejected: number, matchHint: number): boolean {
    if (this.state === ProgressState.Replicate) {
      if (rejected <= this.match) return false;
      this.next = this.match + 1;
      return true;
    }
    if (this.next - 1 !== rejected) return false;
    this.next = Math.max(Math.min(rejected, matchHint + 1), 1);
    this.probeSent = false;
    return true;
  }

  isPaused(): boolean {
    switch (this.state) {
      case ProgressState.Probe:
        return this.probeSent;
      case ProgressState.Replicate:
        return this.inflights.full();
      default:
        return true;
    }
  }
}
