import type { MetricLabels, Metrics } from '@raftwire/core';
import type { Counter, Gauge, Histogram, Registry } from 'prom-client';

/** The part of the `prom-client` module the adapter uses: `import * as client from 'prom-client'`. */
export interface PromClient {
  Counter: typeof Counter;
  Gauge: typeof Gauge;
  Histogram: typeof Histogram;
  register: Registry;
}

export interface PrometheusMetricsOptions {
  /** Where the metrics are registered. Default `client.register` (prom-client's global registry). */
  registry?: Registry;
}

type Kind = 'counter' | 'gauge' | 'histogram';

interface Spec {
  kind: Kind;
  help: string;
  labels: readonly string[];
  buckets?: readonly number[];
}

/** `count` buckets from `start`, each `factor` times the one before (Prometheus' ExponentialBuckets). */
function exponential(start: number, factor: number, count: number): number[] {
  return Array.from({ length: count }, (_, i) => start * factor ** i);
}

/**
 * What each metric raftwire reports is, by its name without the prefix: etcd's kind, help text,
 * labels and buckets (`rafthttp/metrics.go`, `etcdserver/metrics.go`), so dashboards built for
 * etcd read these series unchanged.
 */
const SPECS: Readonly<Record<string, Spec>> = {
  network_active_peers: { kind: 'gauge', help: 'The current number of active peer connections.', labels: ['Local', 'Remote'] },
  network_disconnected_peers_total: { kind: 'counter', help: 'The total number of disconnected peers.', labels: ['Local', 'Remote'] },
  network_peer_sent_bytes_total: { kind: 'counter', help: 'The total number of bytes sent to peers.', labels: ['To'] },
  network_peer_received_bytes_total: { kind: 'counter', help: 'The total number of bytes received from peers.', labels: ['From'] },
  network_peer_sent_failures_total: { kind: 'counter', help: 'The total number of send failures from peers.', labels: ['To'] },
  network_peer_received_failures_total: { kind: 'counter', help: 'The total number of receive failures from peers.', labels: ['From'] },
  network_snapshot_send_success: { kind: 'counter', help: 'Total number of successful snapshot sends', labels: ['To'] },
  network_snapshot_send_failures: { kind: 'counter', help: 'Total number of snapshot send failures', labels: ['To'] },
  network_snapshot_send_inflights_total: { kind: 'gauge', help: 'Total number of inflight snapshot sends', labels: ['To'] },
  network_snapshot_send_total_duration_seconds: {
    kind: 'histogram',
    help: 'Total latency distributions of v3 snapshot sends',
    labels: ['To'],
    buckets: exponential(0.1, 2, 7),
  },
  network_snapshot_receive_success: { kind: 'counter', help: 'Total number of successful snapshot receives', labels: ['From'] },
  network_snapshot_receive_failures: { kind: 'counter', help: 'Total number of snapshot receive failures', labels: ['From'] },
  network_snapshot_receive_inflights_total: { kind: 'gauge', help: 'Total number of inflight snapshot receives', labels: ['From'] },
  network_snapshot_receive_total_duration_seconds: {
    kind: 'histogram',
    help: 'Total latency distributions of v3 snapshot receives',
    labels: ['From'],
    buckets: exponential(0.1, 2, 7),
  },
  network_peer_round_trip_time_seconds: {
    kind: 'histogram',
    help: 'Round-Trip-Time histogram between peers',
    labels: ['To'],
    buckets: exponential(0.0001, 2, 14),
  },
  server_has_leader: { kind: 'gauge', help: 'Whether or not a leader exists. 1 is existence, 0 is not.', labels: [] },
  server_is_leader: { kind: 'gauge', help: 'Whether or not this member is a leader. 1 if is, 0 otherwise.', labels: [] },
  server_leader_changes_seen_total: { kind: 'counter', help: 'The number of leader changes seen.', labels: [] },
  server_proposals_committed_total: { kind: 'gauge', help: 'The total number of consensus proposals committed.', labels: [] },
  server_proposals_applied_total: { kind: 'gauge', help: 'The total number of consensus proposals applied.', labels: [] },
  server_proposals_pending: { kind: 'gauge', help: 'The current number of pending proposals to commit.', labels: [] },
  server_proposals_failed_total: { kind: 'counter', help: 'The total number of failed proposals seen.', labels: [] },
};

/** The spec of a full (prefixed) name: `etcd_network_active_peers` → `network_active_peers`. */
function specOf(name: string, kind: Kind, labels: MetricLabels): Spec {
  for (const [suffix, spec] of Object.entries(SPECS)) {
    if (name === suffix || name.endsWith(`_${suffix}`)) return spec;
  }
  return { kind, help: `raftwire metric ${name}`, labels: Object.keys(labels).sort() };
}

type Series = { kind: 'counter'; m: Counter } | { kind: 'gauge'; m: Gauge } | { kind: 'histogram'; m: Histogram };

/**
 * Core's {@link Metrics} seam on prom-client: hand the result to a Transport's and a RaftNode's
 * `metrics` option and serve `registry.metrics()` (e.g. at `GET /metrics`). prom-client is an
 * optional peer dependency of `@raftwire/adapters`: pass the module you installed.
 *
 * ```ts
 * import * as client from 'prom-client';
 * const metrics = prometheusMetrics(client);          // client.register: the global registry
 * new Transport({ ..., metrics }); new RaftNode({ ..., metrics });
 * ```
 *
 * Each metric is registered on first use with etcd's help text, labels and buckets. A metric
 * already registered under the same name (two members in one process sharing a registry) is
 * reused. Never throws into the transport: an update that prom-client refuses (a label set that
 * does not match) is dropped.
 */
export function prometheusMetrics(client: PromClient, options: PrometheusMetricsOptions = {}): Metrics {
  const registry = options.registry ?? client.register;
  const series = new Map<string, Series | null>();

  const get = (name: string, kind: Kind, labels: MetricLabels): Series | null => {
    let s = series.get(name);
    if (s !== undefined) return s;
    const spec = specOf(name, kind, labels);
    const existing = registry.getSingleMetric(name);
    const common = { name, help: spec.help, labelNames: [...spec.labels], registers: [registry] };
    if (existing !== undefined) {
      s =
        existing instanceof client.Counter
          ? { kind: 'counter', m: existing }
          : existing instanceof client.Gauge
            ? { kind: 'gauge', m: existing }
            : existing instanceof client.Histogram
              ? { kind: 'histogram', m: existing }
              : null;
    } else if (spec.kind === 'counter') {
      s = { kind: 'counter', m: new client.Counter(common) };
    } else if (spec.kind === 'gauge') {
      s = { kind: 'gauge', m: new client.Gauge(common) };
    } else {
      s = { kind: 'histogram', m: new client.Histogram({ ...common, buckets: [...(spec.buckets ?? exponential(0.001, 2, 16))] }) };
    }
    series.set(name, s);
    return s;
  };

  const guard = (f: () => void): void => {
    try {
      f();
    } catch {
      // prom-client refused the update (labels that do not match the metric's): dropped, never thrown into the transport.
    }
  };

  return {
    inc(name, labels, by = 1) {
      guard(() => {
        const s = get(name, 'counter', labels);
        if (s?.kind === 'counter') s.m.inc(labels, by);
        else if (s?.kind === 'gauge') s.m.inc(labels, by);
      });
    },
    add(name, labels, delta) {
      guard(() => {
        const s = get(name, 'gauge', labels);
        if (s?.kind === 'gauge') s.m.inc(labels, delta);
        else if (s?.kind === 'counter' && delta >= 0) s.m.inc(labels, delta);
      });
    },
    set(name, labels, value) {
      guard(() => {
        const s = get(name, 'gauge', labels);
        if (s?.kind === 'gauge') s.m.set(labels, value);
      });
    },
    observe(name, labels, value) {
      guard(() => {
        const s = get(name, 'histogram', labels);
        if (s?.kind === 'histogram') s.m.observe(labels, value);
      });
    },
  };
}
