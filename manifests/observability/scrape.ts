// What Prometheus scrapes: Prometheus Operator `PodMonitor`s for the function pods and the ingress.
// Without them the dashboards and alerts have nothing to read.
// @see https://prometheus-operator.dev/docs/api-reference/api/#monitoring.coreos.com/v1.PodMonitor
import { platformLabels } from '../names.js';
import type { ManifestOptions } from '../options.js';

const INTERVAL = '30s';

export function podMonitors(opts: ManifestOptions): Record<string, unknown>[] {
  const labels = platformLabels('observability', opts.version);
  const ingress = platformLabels('ingress', opts.version);
  return [
    {
      apiVersion: 'monitoring.coreos.com/v1',
      kind: 'PodMonitor',
      metadata: { name: 'zenokube-functions', labels },
      spec: {
        selector: { matchLabels: { 'app.kubernetes.io/part-of': 'zenokube', 'app.kubernetes.io/managed-by': 'zenokube-manifests' } },
        // Knative renames a Service's container port to `user-port` in the pods it creates; a
        // function run as a plain workload keeps the declared name `http1`. A pod without the
        // named port yields no target, so each pod is scraped once, on the function's own port
        // (not through queue-proxy).
        podMetricsEndpoints: ['user-port', 'http1'].map((port) => ({ port, path: '/metrics', interval: INTERVAL })),
      },
    },
    {
      apiVersion: 'monitoring.coreos.com/v1',
      kind: 'PodMonitor',
      metadata: { name: 'zenokube-ingress', labels },
      spec: {
        namespaceSelector: { matchNames: [opts.gateway.namespace] },
        selector: { matchLabels: { 'app.kubernetes.io/name': ingress['app.kubernetes.io/name']!, 'app.kubernetes.io/component': ingress['app.kubernetes.io/component']! } },
        podMetricsEndpoints: [{ port: 'admin', path: '/metrics', interval: INTERVAL }],
      },
    },
  ];
}
