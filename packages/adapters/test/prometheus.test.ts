import { MetricName, prefixedMetrics } from '@raftwire/core';
import { prometheusMetrics } from '@raftwire/adapters/prometheus';
import * as client from 'prom-client';
import { describe, expect, it } from 'vitest';

describe('prometheusMetrics', () => {
  it("registers each metric on first use with etcd's kind, help, labels and buckets", async () => {
    const registry = new client.Registry();
    const m = prefixedMetrics(prometheusMetrics(client, { registry }), 'etcd');
    m.inc(MetricName.peerSentBytes, { To: '2' }, 100);
    m.inc(MetricName.peerSentBytes, { To: '2' }, 28);
    m.add(MetricName.activePeers, { Local: '1', Remote: '2' }, 1);
    m.add(MetricName.activePeers, { Local: '1', Remote: '3' }, 1);
    m.add(MetricName.activePeers, { Local: '1', Remote: '3' }, -1);
    m.observe(MetricName.peerRoundTripSeconds, { To: '2' }, 0.00015);
    m.set('server_has_leader', {}, 1);
    const text = await registry.metrics();
    expect(text).toContain('# HELP etcd_network_peer_sent_bytes_total The total number of bytes sent to peers.');
    expect(text).toContain('# TYPE etcd_network_peer_sent_bytes_total counter');
    expect(text).toContain('etcd_network_peer_sent_bytes_total{To="2"} 128');
    expect(text).toContain('# TYPE etcd_network_active_peers gauge');
    expect(text).toContain('etcd_network_active_peers{Local="1",Remote="2"} 1');
    expect(text).toContain('etcd_network_active_peers{Local="1",Remote="3"} 0');
    expect(text).toContain('# TYPE etcd_network_peer_round_trip_time_seconds histogram');
    expect(text).toContain('etcd_network_peer_round_trip_time_seconds_bucket{le="0.0001",To="2"} 0');
    expect(text).toContain('etcd_network_peer_round_trip_time_seconds_bucket{le="0.0002",To="2"} 1');
    expect(text).toContain('etcd_network_peer_round_trip_time_seconds_bucket{le="0.8192",To="2"} 1');
    expect(text).toContain('etcd_server_has_leader 1');
  });

  it('works under another prefix, reuses a metric already in the registry, and never throws into its caller', async () => {
    const registry = new client.Registry();
    const a = prometheusMetrics(client, { registry });
    const b = prometheusMetrics(client, { registry });
    a.inc('raftwire_network_peer_sent_failures_total', { To: '2' });
    b.inc('raftwire_network_peer_sent_failures_total', { To: '2' });
    // Labels the metric was not registered with: dropped, not thrown.
    expect(() => a.inc('raftwire_network_peer_sent_failures_total', { Nope: 'x' })).not.toThrow();
    // A name nobody described gets generic help and the labels of its first use.
    a.inc('raftwire_custom_total', { kind: 'x' }, 2);
    const text = await registry.metrics();
    expect(text).toContain('# HELP raftwire_network_peer_sent_failures_total The total number of send failures from peers.');
    expect(text).toContain('raftwire_network_peer_sent_failures_total{To="2"} 2');
    expect(text).toContain('raftwire_custom_total{kind="x"} 2');
    expect(text).not.toContain('Nope');
  });
});
