// Status as data: the JSON the admin endpoint serves and the problems worth a log line.
import type { StatusReport } from './engine/conditions.js';

export function statusJson(report: StatusReport): Record<string, unknown> {
  return {
    gateways: Object.fromEntries(report.gateways),
    httpRoutes: Object.fromEntries(report.routes),
    grpcRoutes: Object.fromEntries(report.grpcRoutes),
    tlsRoutes: Object.fromEntries(report.tlsRoutes),
    backendTLSPolicies: Object.fromEntries(report.backendTLSPolicies),
  };
}

/** One line per False condition, e.g. `HTTPRoute ns/name parent ns/gw: ResolvedRefs=False BackendNotFound: ...`. */
export function statusProblems(report: StatusReport): string[] {
  const out: string[] = [];
  for (const [key, gs] of report.gateways) {
    for (const c of gs.conditions) if (c.status === 'False') out.push(`Gateway ${key}: ${c.type}=False ${c.reason}: ${c.message}`);
    for (const l of gs.listeners) {
      for (const c of l.conditions) {
        const bad = c.type === 'Conflicted' ? c.status === 'True' : c.status === 'False';
        if (bad) out.push(`Gateway ${key} listener ${l.name}: ${c.type}=${c.status} ${c.reason}: ${c.message}`);
      }
    }
  }
  for (const [kind, routes] of [['HTTPRoute', report.routes], ['GRPCRoute', report.grpcRoutes], ['TLSRoute', report.tlsRoutes]] as const) {
    for (const [key, rs] of routes) {
      for (const p of rs.parents) {
        for (const c of p.conditions) {
          if (c.status === 'False') out.push(`${kind} ${key} parent ${p.parentRef.namespace}/${p.parentRef.name}: ${c.type}=False ${c.reason}: ${c.message}`);
        }
      }
    }
  }
  for (const [key, ps] of report.backendTLSPolicies) {
    for (const a of ps.ancestors) {
      for (const c of a.conditions) {
        if (c.status === 'False') out.push(`BackendTLSPolicy ${key} ancestor ${a.ancestorRef.namespace}/${a.ancestorRef.name}: ${c.type}=False ${c.reason}: ${c.message}`);
      }
    }
  }
  return out;
}
