/**
 * Metrics seam. Names follow etcd's `etcd_network_*` family; the prefix
 * (`etcd` by default) is configurable. Core depends on no metrics library:
 * adapt this interface to prom-client or OpenTelemetry outside core.
 */
export type MetricLabels = Record<string, string>;

export interface Metrics {
  /** Adds `by` (default 1) to a counter. */
  inc(name: string, labels: MetricLabels, by?: number): void;
  /** Adds `delta` (may be negative) to a gauge. */
  add(name: string, labels: MetricLabels, delta: number): void;
  /** Sets a gauge. */
  set(name: string, labels: MetricLabels, value: number): void;
  /** Records one histogram observation (seconds for durations). */
  observe(name: string, labels: MetricLabels, value: number): void;
}

/** Metric names without the prefix; the full name is `${prefix}_${name}`. */
export const MetricName = {
  activePeers: 'network_active_peers',
  disconnectedPeers: 'network_disconnected_peers_total',
  peerSentBytes: 'network_peer_sent_bytes_total',
  peerReceivedBytes: 'network_peer_received_bytes_total',
  peerSentFailures: 'network_peer_sent_failures_total',
  peerReceivedFailures: 'network_peer_received_failures_total',
  snapshotSendSuccess: 'network_snapshot_send_success',
  snapshotSendInflights: 'network_snapshot_send_inflights_total',
  snapshotSendFailures: 'network_snapshot_send_failures',
  snapshotSendSeconds: 'network_snapshot_send_total_duration_seconds',
  snapshotReceiveSuccess: 'network_snapshot_receive_success',
  snapshotReceiveInflights: 'network_snapshot_receive_inflights_total',
  snapshotReceiveFailures: 'network_snapshot_receive_failures',
  snapshotReceiveSeconds: 'network_snapshot_receive_total_duration_seconds',
  peerRoundTripSeconds: 'network_peer_round_trip_time_seconds',
} as const;

export const noopMetrics: Metrics = {
  inc: () => {},
  add: () => {},
  set: () => {},
  observe: () => {},
};

/**
 * Prepends `${prefix}_` to every metric name. Each full name is built once and kept (the names
 * are a small fixed set; at most 1 024 are kept): a call on the hot path looks a constant up instead of concatenating a
 * new string that the inner metrics must then hash again.
 */
export function prefixedMetrics(inner: Metrics, prefix: string): Metrics {
  const p = prefix === '' ? '' : `${prefix}_`;
  const full = new Map<string, string>();
  const f = (n: string): string => {
    let s = full.get(n);
    if (s === undefined) {
      s = p + n;
      if (full.size < 1024) full.set(n, s); // bounded, should a caller make names up
    }
    return s;
  };
  return {
    inc: (n, l, by) => inner.inc(f(n), l, by),
    add: (n, l, d) => inner.add(f(n), l, d),
    set: (n, l, v) => inner.set(f(n), l, v),
    observe: (n, l, v) => inner.observe(f(n), l, v),
  };
}

function key(name: string, labels: MetricLabels): string {
  const parts = Object.keys(labels)
    .sort()
    .map((k) => `${k}=${JSON.stringify(labels[k])}`);
  return `${name}{${parts.join(',')}}`;
}

/** Keeps every value in memory; for tests and the demo. */
export class MemoryMetrics implements Metrics {
  private readonly values = new Map<string, number>();
  private readonly samples = new Map<string, number[]>();

  inc(name: string, labels: MetricLabels, by = 1): void {
    const k = key(name, labels);
    this.values.set(k, (this.values.get(k) ?? 0) + by);
  }

  add(name: string, labels: MetricLabels, delta: number): void {
    this.inc(name, labels, delta);
  }

  set(name: string, labels: MetricLabels, value: number): void {
    this.values.set(key(name, labels), value);
  }

  observe(name: string, labels: MetricLabels, value: number): void {
    const k = key(name, labels);
    const list = this.samples.get(k) ?? [];
    list.push(value);
    this.samples.set(k, list);
  }

  /** A counter's or gauge's value (0 when never touched). */
  get(name: string, labels: MetricLabels = {}): number {
    return this.values.get(key(name, labels)) ?? 0;
  }

  /** Histogram observations. */
  observations(name: string, labels: MetricLabels = {}): readonly number[] {
    return this.samples.get(key(name, labels)) ?? [];
  }

  /** Every series, for inspection. */
  entries(): [string, number][] {
    return [...this.values.entries()];
  }
}
