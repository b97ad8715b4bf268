// `zenokube vault status --kube`: the seal state of every unsealer replica. The replicas are the
// endpoints of the unsealer's Service, read from its EndpointSlices, which list ready and
// not-ready (sealed) endpoints alike; each one is asked for its sys/seal-status directly.
// @see https://kubernetes.io/docs/concepts/services-networking/endpoint-slices/
import { DiscoveryV1Api, KubeConfig, type V1EndpointSlice } from '@kubernetes/client-node';

interface ReplicaStatus {
  /** The pod behind the endpoint, when the slice names it. */
  pod: string | undefined;
  address: string;
  /** The endpoint's `ready` condition: for the unsealer, unsealed and passing its probe. */
  ready: boolean;
  /** Its seal status, or why it could not be read. */
  status: { sealed: boolean; initialized: boolean; progress: number; t: number; type: string } | { error: string };
}

interface ReplicaQuery {
  kubeconfig: string | undefined;
  namespace: string | undefined;
  service: string;
  fetch: typeof fetch;
}

/** Every endpoint of the Service, as `host:port` with its pod and readiness. */
function endpointsOf(slices: V1EndpointSlice[]): Omit<ReplicaStatus, 'status'>[] {
  const out: Omit<ReplicaStatus, 'status'>[] = [];
  for (const slice of slices) {
    const port = (slice.ports ?? []).find((p) => p.name === 'http') ?? slice.ports?.[0];
    if (!port?.port) continue;
    for (const ep of slice.endpoints) {
      const ip = ep.addresses[0];
      if (!ip) continue;
      const host = slice.addressType === 'IPv6' ? `[${ip}]` : ip;
      out.push({ pod: ep.targetRef?.name, address: `${host}:${port.port}`, ready: ep.conditions?.ready !== false });
    }
  }
  return out.sort((a, b) => (a.pod ?? a.address).localeCompare(b.pod ?? b.address));
}

/** Lists the unsealer's replicas and asks each for its seal status (in parallel, 5 s each at most). */
export async function replicaStatuses(q: ReplicaQuery): Promise<ReplicaStatus[]> {
  const kc = new KubeConfig();
  if (q.kubeconfig) kc.loadFromFile(q.kubeconfig);
  else kc.loadFromDefault();
  const namespace = q.namespace ?? kc.getContextObject(kc.getCurrentContext())?.namespace ?? 'zenokube';
  const api = kc.makeApiClient(DiscoveryV1Api);
  // Every slice of a Service carries this label (set by the EndpointSlice controller).
  const list = await api.listNamespacedEndpointSlice({ namespace, labelSelector: `kubernetes.io/service-name=${q.service}` });
  return Promise.all(
    endpointsOf(list.items).map(async (ep) => {
      try {
        const res = await q.fetch(`http://${ep.address}/vault/v1/sys/seal-status`, { signal: AbortSignal.timeout(5000) });
        if (!res.ok) return { ...ep, status: { error: `answered ${res.status}` } };
        const s = (await res.json()) as { sealed: boolean; initialized: boolean; progress: number; t: number; type: string };
        return { ...ep, status: { sealed: s.sealed, initialized: s.initialized, progress: s.progress, t: s.t, type: s.type } };
      } catch (err) {
        return { ...ep, status: { error: `unreachable (${(err as Error).message})` } };
      }
    }),
  );
}

/** One line per replica under a header. */
export function replicaTable(replicas: ReplicaStatus[]): string {
  const rows = [['REPLICA', 'ADDRESS', 'READY', 'INITIALIZED', 'SEALED', 'PROGRESS']];
  for (const r of replicas) {
    const s = r.status;
    rows.push('error' in s
      ? [r.pod ?? '-', r.address, String(r.ready), '-', '-', s.error]
      : [r.pod ?? '-', r.address, String(r.ready), String(s.initialized), String(s.sealed), `${s.progress}/${s.t}`]);
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
  return rows.map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ')).join('\n') + '\n';
}
