import { type PrometheusMetricsOptions, prometheusMetrics } from '@raftwire/adapters/prometheus';
import type { Metrics } from '@raftwire/core';
import * as client from 'prom-client';

/** What `GET /metrics` serves: the Prometheus text exposition of one registry. */
export interface MetricsEndpoint {
  readonly contentType: string;
  render(): Promise<string>;
}

/**
 * One member's metrics: the transport's `etcd_network_*` and the node's `etcd_server_*` series
 * (named after etcd's, so its dashboards read them) plus Node's process metrics, in a registry of
 * the member's own.
 */
export function createMemberMetrics(options: PrometheusMetricsOptions = {}): { metrics: Metrics; endpoint: MetricsEndpoint } {
  const registry = options.registry ?? new client.Registry();
  client.collectDefaultMetrics({ register: registry });
  return {
    metrics: prometheusMetrics(client, { registry }),
    endpoint: { contentType: registry.contentType, render: () => registry.metrics() },
  };
}
