import { type Id, type Metrics, noopMetrics, prefixedMetrics } from '@raftwire/core';

/**
 * Metric names of a Raft member without the prefix (`etcd` by default, so
 * they read `etcd_server_...`), after etcd's `etcdserver` metrics. The
 * transport's own (`etcd_network_...`, core's `MetricName`) cover bytes,
 * failures and round-trip times per peer.
 */
export const RaftMetricName = {
  /** Gauge: 1 when a leader is known, 0 when not. */
  hasLeader: 'server_has_leader',
  /** Gauge: 1 when this member is the leader. */
  isLeader: 'server_is_leader',
  /** Counter: times a new leader became known to this member. */
  leaderChanges: 'server_leader_changes_seen_total',
  /** Gauge: the commit index (etcd's "total number of consensus proposals committed"). */
  proposalsCommitted: 'server_proposals_committed_total',
  /** Gauge: the applied index. */
  proposalsApplied: 'server_proposals_applied_total',
  /** Gauge: proposals and membership changes made here and not yet applied or failed. */
  proposalsPending: 'server_proposals_pending',
  /** Counter: proposals made here that failed (aborted, timed out, stopped, refused). */
  proposalsFailed: 'server_proposals_failed_total',
} as const;

const NO_LABELS = Object.freeze({}) as Record<string, string>;

/** A RaftNode's view of the metrics seam: one method per event, no labels (one member per series). */
export class RaftMetrics {
  private readonly m: Metrics;
  private readonly enabled: boolean;
  private lead: Id = 0n;

  constructor(
    private readonly id: Id,
    metrics: Metrics | undefined,
    prefix = 'etcd',
  ) {
    this.enabled = metrics !== undefined;
    this.m = metrics === undefined ? noopMetrics : prefixedMetrics(metrics, prefix);
    this.m.set(RaftMetricName.hasLeader, NO_LABELS, 0);
    this.m.set(RaftMetricName.isLeader, NO_LABELS, 0);
    this.m.set(RaftMetricName.proposalsPending, NO_LABELS, 0);
    // Counters show up at 0 from the start, as etcd's do, so a scrape sees every series.
    this.m.inc(RaftMetricName.leaderChanges, NO_LABELS, 0);
    this.m.inc(RaftMetricName.proposalsFailed, NO_LABELS, 0);
  }

  leaderChanged(lead: Id): void {
    if (lead !== 0n && lead !== this.lead) this.m.inc(RaftMetricName.leaderChanges, NO_LABELS);
    this.lead = lead;
    this.m.set(RaftMetricName.hasLeader, NO_LABELS, lead === 0n ? 0 : 1);
    this.m.set(RaftMetricName.isLeader, NO_LABELS, lead !== 0n && lead === this.id ? 1 : 0);
  }

  committed(index: number): void {
    this.m.set(RaftMetricName.proposalsCommitted, NO_LABELS, index);
  }

  applied(index: number): void {
    this.m.set(RaftMetricName.proposalsApplied, NO_LABELS, index);
  }

  /** A proposal or membership change starts waiting (counted pending until {@link settled}). */
  started(): void {
    if (this.enabled) this.m.add(RaftMetricName.proposalsPending, NO_LABELS, 1);
  }

  /** One that {@link started} settled; `failed` when it rejected (aborted, timed out, stopped, refused). */
  settled(failed: boolean): void {
    if (!this.enabled) return;
    this.m.add(RaftMetricName.proposalsPending, NO_LABELS, -1);
    if (failed) this.m.inc(RaftMetricName.proposalsFailed, NO_LABELS);
  }
}
