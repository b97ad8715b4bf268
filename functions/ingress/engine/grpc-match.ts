// GRPCRoute matches as the path matches of the routing table: a gRPC call is `POST
// /<service>/<method>`, so a service and method match exactly is an Exact path, a service alone a
// path prefix, and the rest regular expressions over the path. They go in a table of their own
// that only gRPC calls (content-type application/grpc...) consult, before the HTTPRoutes' one.
// @see https://gateway-api.sigs.k8s.io/reference/spec/#gateway.networking.k8s.io/v1.GRPCMethodMatch
// @see https://github.com/grpc/grpc/blob/master/doc/PROTOCOL-HTTP2.md (the call's path and content-type)
import type { GRPCRouteRule } from './resources.js';
import type { MatchTemplate, ValueMatch } from './table.js';
import type { MatchRequest } from './match.js';
import { RouteReason } from './conditions.js';
import type { RuleProblem } from './rules.js';

/** What GRPCMethodMatch's Exact values may be (the API's own validation). */
const SERVICE = /^(?:[A-Za-z_][A-Za-z_0-9]*\.)*[A-Za-z_][A-Za-z_0-9]*$/;
const METHOD = /^[A-Za-z_][A-Za-z_0-9]*$/;

function regexOf(source: string, problems: RuleProblem[]): RegExp | undefined {
  try {
    return new RegExp(`^(?:${source})$`);
  } catch {
    problems.push({ condition: 'Accepted', reason: RouteReason.UnsupportedValue, message: `invalid regular expression ${JSON.stringify(source)}` });
    return undefined;
  }
}

/** A regular expression of the API checked alone, then put in the path's expression. */
function part(value: string | undefined, problems: RuleProblem[]): string {
  if (value === undefined) return '[^/]+';
  return regexOf(value, problems) ? `(?:${value})` : '[^/]+';
}

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** The matches of a GRPCRoute rule; none at all matches every call. */
export function compileGrpcMatches(rule: GRPCRouteRule, problems: RuleProblem[]): MatchTemplate[] {
  const matches = rule.matches && rule.matches.length > 0 ? rule.matches : [{}];
  return matches.map((m) => {
    const seen = new Set<string>();
    const headers: ValueMatch[] = [];
    for (const h of m.headers ?? []) {
      const name = h.name.toLowerCase();
      if (seen.has(name)) continue;
      seen.add(name);
      headers.push({ name, exact: h.type === 'RegularExpression' ? undefined : h.value, regex: h.type === 'RegularExpression' ? regexOf(h.value, problems) : undefined });
    }
    const base = { method: 'POST', headers, query: [] };
    const mm = m.method;
    if (!mm) return { ...base, pathType: 'PathPrefix', pathValue: '/', pathRegex: undefined };
    if (mm.service === undefined && mm.method === undefined) {
      problems.push({ condition: 'Accepted', reason: RouteReason.UnsupportedValue, message: 'a method match needs a service, a method or both' });
    }
    if ((mm.type ?? 'Exact') === 'Exact') {
      if ((mm.service !== undefined && !SERVICE.test(mm.service)) || (mm.method !== undefined && !METHOD.test(mm.method))) {
        problems.push({ condition: 'Accepted', reason: RouteReason.UnsupportedValue, message: `invalid service or method ${JSON.stringify(`${mm.service ?? ''}/${mm.method ?? ''}`)}` });
      }
      if (mm.service !== undefined && mm.method !== undefined) return { ...base, pathType: 'Exact', pathValue: `/${mm.service}/${mm.method}`, pathRegex: undefined };
      if (mm.service !== undefined) return { ...base, pathType: 'PathPrefix', pathValue: `/${mm.service}`, pathRegex: undefined };
      const source = `/[^/]+/${escape(mm.method ?? '')}`;
      return { ...base, pathType: 'RegularExpression', pathValue: source, pathRegex: new RegExp(`^${source}$`) };
    }
    const source = `/${part(mm.service, problems)}/${part(mm.method, problems)}`;
    return { ...base, pathType: 'RegularExpression', pathValue: source, pathRegex: new RegExp(`^${source}$`) };
  });
}

/** Whether a request is a gRPC call: its content-type is application/grpc or application/grpc+<codec> (PROTOCOL-HTTP2.md). */
export function isGrpcCall(req: MatchRequest): boolean {
  const ct = req.header('content-type');
  return ct !== undefined && /^application\/grpc(?:$|[+;])/i.test(ct);
}
