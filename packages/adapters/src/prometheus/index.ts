/**
 * `@raftwire/adapters/prometheus`: core's metrics seam on prom-client (an
 * optional peer dependency: `npm install prom-client`), named after etcd's
 * `etcd_network_*` and `etcd_server_*` metrics.
 */
export { type PromClient, type PrometheusMetricsOptions, prometheusMetrics } from './prometheus-metrics.js';
