// Compiles one HTTPRouteRule: filters, backends, timeouts, retry and session persistence.
// @see https://gateway-api.sigs.k8s.io/reference/spec/#gateway.networking.k8s.io/v1.HTTPRouteFilter
import type { GRPCRoute, HeaderModifier, HTTPBackendRef, HTTPRoute, HTTPRouteFilter, HTTPRouteRule, ResourceSet, TLSRoute } from './resources.js';
import { GATEWAY_GROUP, INGRESS_GROUP, nsOf } from './resources.js';
import type { CompiledBackend, CompiledRule, ErrorFormat, HeaderOps, MirrorAction, PathRewrite, PhaseDeadlines } from './table.js';
import type { ResourceIndex } from './references.js';
import { resolveBackend } from './references.js';
import { RouteReason } from './conditions.js';
import { parseDuration } from './duration.js';

export interface RuleProblem {
  /** `Accepted` problems reject the route; `ResolvedRefs` ones leave it programmed with 500s where needed. */
  condition: 'Accepted' | 'ResolvedRefs';
  reason: string;
  message: string;
}

const HEADER_NAME = /^[A-Za-z0-9!#$%&'*+\-.^_`|~]{1,256}$/;
const HEADER_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;

function compileHeaderOps(m: HeaderModifier | undefined, problems: RuleProblem[]): HeaderOps | undefined {
  if (!m) return undefined;
  const ops: HeaderOps = { set: [], add: [], remove: [] };
  for (const [list, out] of [[m.set, ops.set], [m.add, ops.add]] as const) {
    for (const h of list ?? []) {
      if (!HEADER_NAME.test(h.name) || !HEADER_VALUE.test(h.value)) {
        problems.push({ condition: 'Accepted', reason: RouteReason.UnsupportedValue, message: `invalid header ${JSON.stringify(h.name)}` });
        continue;
      }
      out.push([h.name.toLowerCase(), h.value]);
    }
  }
  for (const name of m.remove ?? []) ops.remove.push(name.toLowerCase());
  return ops;
}

function pathModifier(p: { type: string; replaceFullPath?: string; replacePrefixMatch?: string } | undefined, problems: RuleProblem[]): PathRewrite | undefined {
  if (!p) return undefined;
  if (p.type === 'ReplaceFullPath' && p.replaceFullPath !== undefined) return { type: 'ReplaceFullPath', value: p.replaceFullPath };
  if (p.type === 'ReplacePrefixMatch' && p.replacePrefixMatch !== undefined) return { type: 'ReplacePrefixMatch', value: p.replacePrefixMatch };
  problems.push({ condition: 'Accepted', reason: RouteReason.UnsupportedValue, message: `invalid path modifier ${p.type}` });
  return undefined;
}

/**
 * The filters a GRPCRoute rule may carry (GRPCRouteFilter has no redirect or rewrite). Its
 * RequestMirror goes out in h2c, as every GRPCRoute backend is spoken to (./proxy/h2-mirror.ts).
 */
const GRPC_FILTERS = new Set(['RequestHeaderModifier', 'ResponseHeaderModifier', 'RequestMirror', 'ExtensionRef']);

function compileBackend(index: ResourceIndex, route: HTTPRoute | GRPCRoute | TLSRoute, ref: HTTPBackendRef, problems: RuleProblem[]): CompiledBackend {
  const resolved = resolveBackend(index, nsOf(route), ref, route.kind);
  // gRPC runs on HTTP/2 only: a GRPCRoute's backends are spoken to in h2c whatever their appProtocol.
  const h2c = resolved.ok && (resolved.h2c || route.kind === 'GRPCRoute');
  const key = `${ref.namespace ?? nsOf(route)}/${ref.name}:${ref.port ?? ''}`;
  if (!resolved.ok) problems.push({ condition: 'ResolvedRefs', reason: resolved.reason, message: resolved.message });
  let endpoints = resolved.ok ? resolved.endpoints : undefined;
  const tls = resolved.ok ? index.backendTls.forPort(resolved.namespace, resolved.name, resolved.portName, parentGateways(route)) : undefined;
  if (tls && !tls.ok) {
    // "MUST NOT fall back to plaintext": a policy that cannot be honoured leaves the backend unusable.
    endpoints = undefined;
  } else if (tls && h2c) {
    problems.push({ condition: 'ResolvedRefs', reason: RouteReason.UnsupportedProtocol, message: `a BackendTLSPolicy targets ${key}, which is spoken to in h2c; HTTP/2 over TLS to backends is not supported` });
    endpoints = undefined;
  } else if (tls && endpoints) {
    const settings = tls.tls;
    endpoints = endpoints.map((e) => ({ ...e, tls: settings }));
  }
  let requestHeaders: HeaderOps | undefined;
  let responseHeaders: HeaderOps | undefined;
  for (const f of ref.filters ?? []) {
    if (route.kind === 'GRPCRoute' && !GRPC_FILTERS.has(f.type)) problems.push({ condition: 'Accepted', reason: RouteReason.UnsupportedValue, message: `GRPCRoute filter ${f.type} is not supported` });
    else if (f.type === 'RequestHeaderModifier') requestHeaders = compileHeaderOps(f.requestHeaderModifier, problems);
    else if (f.type === 'ResponseHeaderModifier') responseHeaders = compileHeaderOps(f.responseHeaderModifier, problems);
    else problems.push({ condition: 'Accepted', reason: RouteReason.UnsupportedValue, message: `backendRef filter ${f.type} is not supported` });
  }
  return { key, weight: ref.weight ?? 1, endpoints, requestHeaders, responseHeaders, ...(h2c ? { h2c: true } : {}) };
}

/** The Gateways (`namespace/name`) a route names as parents. */
function parentGateways(route: HTTPRoute | GRPCRoute | TLSRoute): string[] {
  return (route.spec?.parentRefs ?? [])
    .filter((p) => (p.group ?? GATEWAY_GROUP) === GATEWAY_GROUP && (p.kind ?? 'Gateway') === 'Gateway')
    .map((p) => `${p.namespace ?? nsOf(route)}/${p.name}`);
}

function mirrorFraction(f: NonNullable<HTTPRouteFilter['requestMirror']>): number {
  if (f.fraction) return Math.min(1, Math.max(0, f.fraction.numerator / (f.fraction.denominator ?? 100)));
  if (f.percent !== undefined) return Math.min(1, Math.max(0, f.percent / 100));
  return 1;
}

/** The annotation by which a route chooses the shape of the proxy's own answers on it. */
const ERROR_FORMAT_ANNOTATION = 'ingress.zenokube.io/error-format';

/** The route's error format; an unknown value keeps the default (problem+json). */
function errorFormatOf(route: HTTPRoute | GRPCRoute | TLSRoute): ErrorFormat {
  return route.metadata.annotations?.[ERROR_FORMAT_ANNOTATION] === 'vault' ? 'vault' : 'problem';
}

/**
 * The annotation by which a route limits request bodies: a whole number of bytes. Gateway API has
 * no field for it (nginx's `client_max_body_size`, Envoy's buffer filter `max_request_bytes`).
 */
const MAX_BODY_ANNOTATION = 'ingress.zenokube.io/max-request-body-bytes';
/**
 * The annotation by which a route sets the deadlines of an exchange's phases, beyond
 * `timeouts.request` and `timeouts.backendRequest`: `body=30s, first-byte=10s, idle=30s, send=60s`
 * (Gateway API Durations; any subset).
 */
const DEADLINES_ANNOTATION = 'ingress.zenokube.io/deadlines';
/** The annotation by which a route's upstream 503s (without Retry-After) count against the endpoint's circuit. */
const CIRCUIT_503_ANNOTATION = 'ingress.zenokube.io/circuit-counts-503';
const PHASES: Record<string, keyof PhaseDeadlines> = { body: 'body', 'first-byte': 'firstByte', idle: 'idle', send: 'send' };

function maxBodyOf(route: HTTPRoute | GRPCRoute | TLSRoute, problems: RuleProblem[]): number | undefined {
  const v = route.metadata.annotations?.[MAX_BODY_ANNOTATION];
  if (v === undefined) return undefined;
  if (!/^[0-9]{1,15}$/.test(v.trim())) {
    problems.push({ condition: 'Accepted', reason: RouteReason.UnsupportedValue, message: `${MAX_BODY_ANNOTATION} is not a whole number of bytes` });
    return undefined;
  }
  return Number(v.trim());
}

function deadlinesOf(route: HTTPRoute | GRPCRoute | TLSRoute, problems: RuleProblem[]): PhaseDeadlines | undefined {
  const v = route.metadata.annotations?.[DEADLINES_ANNOTATION];
  if (v === undefined) return undefined;
  const out: PhaseDeadlines = { body: undefined, firstByte: undefined, idle: undefined, send: undefined };
  for (const part of v.split(',')) {
    const [name, value, extra] = part.split('=').map((x) => x.trim());
    const phase = name === undefined ? undefined : PHASES[name];
    const ms = parseDuration(value);
    if (phase === undefined || extra !== undefined || ms === undefined || ms === 0) {
      problems.push({ condition: 'Accepted', reason: RouteReason.UnsupportedValue, message: `${DEADLINES_ANNOTATION}: "${part.trim()}" is not <body|first-byte|idle|send>=<duration>` });
      continue;
    }
    out[phase] = ms;
  }
  return out;
}

/**
 * Compiles a rule; problems are appended for the route's status. A GRPCRoute's rule comes as the
 * HTTPRoute rule it equals (filters, backends, session persistence), its matches apart.
 */
export function compileRule(
  index: ResourceIndex,
  set: Pick<ResourceSet, 'extAuthFilters' | 'secrets'>,
  route: HTTPRoute | GRPCRoute | TLSRoute,
  rule: HTTPRouteRule,
  ruleIndex: number,
  problems: RuleProblem[],
): CompiledRule {
  const out: CompiledRule = {
    id: `${nsOf(route)}/${route.metadata.name}/${ruleIndex}`,
    requestHeaders: undefined,
    responseHeaders: undefined,
    redirect: undefined,
    rewrite: undefined,
    mirrors: [],
    extAuth: undefined,
    broken: false,
    backends: [],
    totalWeight: 0,
    requestTimeoutMs: undefined,
    backendTimeoutMs: undefined,
    retry: undefined,
    session: undefined,
    errorFormat: errorFormatOf(route),
    maxBodyBytes: maxBodyOf(route, problems),
    deadlines: deadlinesOf(route, problems),
    circuitCounts503: route.metadata.annotations?.[CIRCUIT_503_ANNOTATION] === 'true',
  };
  for (const f of rule.filters ?? []) {
    if (route.kind === 'GRPCRoute' && !GRPC_FILTERS.has(f.type)) {
      problems.push({ condition: 'Accepted', reason: RouteReason.UnsupportedValue, message: `GRPCRoute filter ${f.type} is not supported` });
      continue;
    }
    switch (f.type) {
      case 'RequestHeaderModifier':
        out.requestHeaders = compileHeaderOps(f.requestHeaderModifier, problems);
        break;
      case 'ResponseHeaderModifier':
        out.responseHeaders = compileHeaderOps(f.responseHeaderModifier, problems);
        break;
      case 'RequestRedirect': {
        const r = f.requestRedirect ?? {};
        const statusCode = r.statusCode ?? 302;
        if (![301, 302, 303, 307, 308].includes(statusCode) || (r.scheme && r.scheme !== 'http' && r.scheme !== 'https')) {
          problems.push({ condition: 'Accepted', reason: RouteReason.UnsupportedValue, message: 'unsupported redirect scheme or status code' });
        }
        out.redirect = { scheme: r.scheme, hostname: r.hostname?.toLowerCase(), port: r.port, path: pathModifier(r.path, problems), statusCode };
        break;
      }
      case 'URLRewrite':
        out.rewrite = { hostname: f.urlRewrite?.hostname, path: pathModifier(f.urlRewrite?.path, problems) };
        break;
      case 'RequestMirror': {
        if (!f.requestMirror) break;
        const backend = compileBackend(index, route, f.requestMirror.backendRef, problems);
        const m: MirrorAction = { backend, fraction: mirrorFraction(f.requestMirror) };
        out.mirrors.push(m);
        break;
      }
      case 'ExtensionRef': {
        const ref = f.extensionRef;
        const found = ref && ref.group === INGRESS_GROUP && ref.kind === 'ExtAuthFilter'
          ? set.extAuthFilters.find((x) => nsOf(x) === nsOf(route) && x.metadata.name === ref.name)
          : undefined;
        if (!ref || ref.group !== INGRESS_GROUP || ref.kind !== 'ExtAuthFilter') {
          problems.push({ condition: 'ResolvedRefs', reason: RouteReason.InvalidKind, message: `extensionRef ${ref?.group}/${ref?.kind} is not supported` });
          out.broken = true;
        } else if (!found?.spec?.url) {
          problems.push({ condition: 'ResolvedRefs', reason: RouteReason.BackendNotFound, message: `ExtAuthFilter ${ref.name} not found` });
          out.broken = true;
        } else {
          out.extAuth = { key: `${nsOf(found)}/${found.metadata.name}`, spec: found.spec, clientSecret: secretValue(set, nsOf(found), found.spec.clientSecretRef) };
        }
        break;
      }
      default:
        problems.push({ condition: 'Accepted', reason: RouteReason.UnsupportedValue, message: `filter ${f.type} is not supported` });
    }
  }
  if (out.redirect && out.rewrite) {
    problems.push({ condition: 'Accepted', reason: RouteReason.UnsupportedValue, message: 'RequestRedirect and URLRewrite cannot be combined' });
  }
  for (const ref of rule.backendRefs ?? []) {
    const b = compileBackend(index, route, ref, problems);
    out.backends.push(b);
    out.totalWeight += b.weight;
  }
  const req = parseDuration(rule.timeouts?.request);
  const be = parseDuration(rule.timeouts?.backendRequest);
  if ((rule.timeouts?.request && req === undefined) || (rule.timeouts?.backendRequest && be === undefined) || (req && be && be > req)) {
    problems.push({ condition: 'Accepted', reason: RouteReason.UnsupportedValue, message: 'invalid timeouts' });
  }
  out.requestTimeoutMs = req || undefined;
  out.backendTimeoutMs = be || undefined;
  if (rule.retry) {
    out.retry = {
      codes: new Set(rule.retry.codes ?? []),
      attempts: Math.min(rule.retry.attempts ?? 1, 10),
      backoffMs: parseDuration(rule.retry.backoff) ?? 0,
    };
  }
  const sp = rule.sessionPersistence;
  if (sp) {
    const type = sp.type ?? 'Cookie';
    const name = sp.sessionName ?? (type === 'Cookie' ? 'zeno-session' : 'x-zeno-session');
    const maxAge = sp.cookieConfig?.lifetimeType === 'Permanent' ? Math.floor((parseDuration(sp.absoluteTimeout) ?? 86_400_000) / 1000) : undefined;
    out.session = { type, name: type === 'Header' ? name.toLowerCase() : name, maxAge };
  }
  return out;
}

function secretValue(set: Pick<ResourceSet, 'secrets'>, namespace: string, ref: { name: string; key: string } | undefined): string | undefined {
  if (!ref) return undefined;
  const s = set.secrets.find((x) => nsOf(x) === namespace && x.metadata.name === ref.name);
  const plain = s?.stringData?.[ref.key];
  if (plain !== undefined) return plain;
  const b64 = s?.data?.[ref.key];
  return b64 === undefined ? undefined : Buffer.from(b64, 'base64').toString('utf8');
}
