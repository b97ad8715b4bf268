// knative/observability/: Grafana dashboards (ConfigMaps the Grafana sidecar loads), the
// PrometheusRule of the platform's alerts, and the PodMonitors that feed both. Applied on its
// own (`kubectl apply -k knative/observability`): it needs the Prometheus Operator's CRDs.
import type { FunctionDeclaration } from '#shared/function/define';
import { platformLabels } from '../names.js';
import type { ManifestOptions } from '../options.js';
import { prometheusRule } from './alerts.js';
import { dashboards } from './dashboards.js';
import { podMonitors } from './scrape.js';

/**
 * A dashboard as a ConfigMap labelled `grafana_dashboard: "1"`, the label the Grafana Helm
 * chart's dashboard sidecar (k8s-sidecar) watches by default.
 */
function dashboardConfigMap(name: string, json: Record<string, unknown>, version: string): Record<string, unknown> {
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: {
      name: `zenokube-dashboard-${name}`,
      labels: { ...platformLabels('observability', version), grafana_dashboard: '1' },
      annotations: { grafana_folder: 'Zenokube' },
    },
    data: { [`zenokube-${name}.json`]: `${JSON.stringify(json, null, 2)}\n` },
  };
}

/** File (relative to observability/) → objects. */
export function observabilityManifests(decls: readonly FunctionDeclaration[], opts: ManifestOptions): Map<string, Record<string, unknown>[]> {
  const out = new Map<string, Record<string, unknown>[]>();
  for (const [name, json] of dashboards(decls)) out.set(`dashboards/${name}.yaml`, [dashboardConfigMap(name, json, opts.version)]);
  out.set('alerts.yaml', [prometheusRule(opts.version)]);
  out.set('pod-monitors.yaml', podMonitors(opts));
  return out;
}
