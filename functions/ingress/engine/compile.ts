// Compiles a resource set into per-gateway, per-port routing tables plus the status of every object.
// Pure: the same input gives the same tables and conditions; nothing is read or written.
// @see https://gateway-api.sigs.k8s.io/reference/spec/#gateway.networking.k8s.io/v1.HTTPRouteRule (precedence)
import type { Gateway, GRPCRoute, HTTPRoute, HTTPRouteRule, ResourceSet, TLSRoute } from './resources.js';
import { GATEWAY_GROUP, keyOf, nsOf } from './resources.js';
import type { Candidate, CompiledGateway, CompiledRule, HostTable, MatchTemplate, PathTable, PortTable, ServerNameTable } from './table.js';
import type { Condition, GatewayStatus, RouteParentStatus, StatusReport } from './conditions.js';
import { CONTROLLER_NAME, RouteReason, condition } from './conditions.js';
import { indexResources } from './references.js';
import type { RuleProblem } from './rules.js';
import { compileRule } from './rules.js';
import type { ListenerState } from './listeners.js';
import { evaluateListeners, namespaceAllowed } from './listeners.js';
import { intersectHostnames, isValidHostname } from './hostname.js';
import { compileGrpcMatches } from './grpc-match.js';
import type { TrieNode } from './path.js';
import { newTrieNode, prefixSegments, trieInsert } from './path.js';

interface CompileOptions {
  /** Only Gateways of these classes are ours; all when empty or absent (a directory of YAML). */
  gatewayClassNames?: string[];
}

export interface CompiledConfig {
  gateways: CompiledGateway[];
  status: StatusReport;
}

interface CompiledRoute {
  route: HTTPRoute | GRPCRoute | TLSRoute;
  rules: { rule: CompiledRule; matches: MatchTemplate[] }[];
  /** A TLSRoute's backends, all its rules' in one weighted set (its rules have no matches to tell them apart). */
  passthrough?: CompiledRule;
  problems: RuleProblem[];
}

function regexOf(value: string, problems: RuleProblem[]): RegExp | undefined {
  try {
    return new RegExp(`^(?:${value})$`);
  } catch {
    problems.push({ condition: 'Accepted', reason: RouteReason.UnsupportedValue, message: `invalid regular expression ${JSON.stringify(value)}` });
    return undefined;
  }
}

function compileMatches(rule: HTTPRouteRule, compiled: CompiledRule, problems: RuleProblem[]): MatchTemplate[] {
  const matches = rule.matches && rule.matches.length > 0 ? rule.matches : [{}];
  return matches.map((m) => {
    const pathType = m.path?.type ?? 'PathPrefix';
    const pathValue = m.path?.value ?? '/';
    if (pathType !== 'RegularExpression' && !pathValue.startsWith('/')) {
      problems.push({ condition: 'Accepted', reason: RouteReason.UnsupportedValue, message: `path ${JSON.stringify(pathValue)} must start with /` });
    }
    const usesPrefix = compiled.redirect?.path?.type === 'ReplacePrefixMatch' || compiled.rewrite?.path?.type === 'ReplacePrefixMatch';
    if (usesPrefix && pathType !== 'PathPrefix') {
      problems.push({ condition: 'Accepted', reason: RouteReason.UnsupportedValue, message: 'ReplacePrefixMatch needs a PathPrefix match' });
    }
    const seenHeaders = new Set<string>();
    const headers = (m.headers ?? [])
      .filter((h) => !seenHeaders.has(h.name.toLowerCase()) && seenHeaders.add(h.name.toLowerCase()))
      .map((h) => ({ name: h.name.toLowerCase(), exact: h.type === 'RegularExpression' ? undefined : h.value, regex: h.type === 'RegularExpression' ? regexOf(h.value, problems) : undefined }));
    const seenQuery = new Set<string>();
    const query = (m.queryParams ?? [])
      .filter((q) => !seenQuery.has(q.name) && seenQuery.add(q.name))
      .map((q) => ({ name: q.name, exact: q.type === 'RegularExpression' ? undefined : q.value, regex: q.type === 'RegularExpression' ? regexOf(q.value, problems) : undefined }));
    return {
      pathType,
      pathValue,
      pathRegex: pathType === 'RegularExpression' ? regexOf(pathValue, problems) : undefined,
      method: m.method?.toUpperCase(),
      headers,
      query,
    };
  });
}

/** Precedence after the path: method, header count, query count, oldest route, namespace/name, rule, match. */
function compareCandidates(a: Candidate, b: Candidate): number {
  return (
    (b.method ? 1 : 0) - (a.method ? 1 : 0) ||
    b.headers.length - a.headers.length ||
    b.query.length - a.query.length ||
    a.created - b.created ||
    (a.routeKey < b.routeKey ? -1 : a.routeKey > b.routeKey ? 1 : 0) ||
    a.ruleIndex - b.ruleIndex ||
    a.matchIndex - b.matchIndex
  );
}

const newPathTable = (): PathTable => ({ exact: new Map(), prefix: newTrieNode<Candidate>(), regex: [] });
const newHostTable = (): HostTable => ({ exact: new Map(), wildcard: new Map(), any: undefined });
const newServerNameTable = (): ServerNameTable => ({ exact: new Map(), wildcard: new Map(), any: undefined });

/** The oldest route keeps a server name another TLSRoute also claims (routes come oldest first). */
function claimServerName(table: ServerNameTable, hostname: string | undefined, rule: CompiledRule): void {
  if (hostname === undefined) table.any ??= rule;
  else if (hostname.startsWith('*.')) {
    if (!table.wildcard.has(hostname.slice(1))) table.wildcard.set(hostname.slice(1), rule);
  } else if (!table.exact.has(hostname)) table.exact.set(hostname, rule);
}

function bucketFor(hosts: HostTable, hostname: string | undefined): PathTable {
  if (hostname === undefined) return (hosts.any ??= newPathTable());
  const map = hostname.startsWith('*.') ? hosts.wildcard : hosts.exact;
  const key = hostname.startsWith('*.') ? hostname.slice(1) : hostname;
  let t = map.get(key);
  if (!t) map.set(key, (t = newPathTable()));
  return t;
}

function insert(table: PathTable, c: Candidate): void {
  if (c.pathType === 'Exact') {
    const list = table.exact.get(c.pathValue) ?? [];
    list.push(c);
    table.exact.set(c.pathValue, list);
  } else if (c.pathType === 'PathPrefix') trieInsert(table.prefix, prefixSegments(c.pathValue), c);
  else table.regex.push(c);
}

function sortTable(table: PathTable): void {
  for (const list of table.exact.values()) list.sort(compareCandidates);
  const walk = (node: TrieNode<Candidate>) => {
    node.items.sort((a, b) => b.pathValue.length - a.pathValue.length || compareCandidates(a, b));
    for (const child of node.children.values()) walk(child);
  };
  walk(table.prefix);
  table.regex.sort(compareCandidates);
}

function created(route: HTTPRoute | GRPCRoute | TLSRoute): number {
  const t = route.metadata.creationTimestamp ? Date.parse(route.metadata.creationTimestamp) : NaN;
  return Number.isNaN(t) ? 0 : t;
}

/** Compiles the whole set. */
/**
 * The annotation by which a Gateway's cleartext (HTTP) listeners also take HTTP/2 by prior
 * knowledge (h2c, RFC 9113 §3.3). Gateway API has no field for it; it is off by default, as a
 * cleartext client that sends the preface unasked is rare and one that is refused gets a 400.
 */
const H2C_ANNOTATION = 'ingress.zenokube.io/h2c';
const h2cAsked = (g: Gateway): boolean => g.metadata.annotations?.[H2C_ANNOTATION] === 'true';

export function compile(set: ResourceSet, opts: CompileOptions = {}): CompiledConfig {
  const index = indexResources(set);
  const namespaces = new Map(set.namespaces.map((n) => [n.metadata.name, n]));
  const classes = opts.gatewayClassNames && opts.gatewayClassNames.length > 0 ? new Set(opts.gatewayClassNames) : undefined;
  const ours = set.gateways.filter((g) => !classes || classes.has(g.spec?.gatewayClassName ?? ''));
  const listenersByGateway = new Map<string, ListenerState[]>(ours.map((g) => [keyOf(g), evaluateListeners(index, set, g)]));
  const gatewaysByKey = new Map<string, Gateway>(ours.map((g) => [keyOf(g), g]));
  const status: StatusReport = { gateways: new Map(), routes: new Map(), grpcRoutes: new Map(), tlsRoutes: new Map(), backendTLSPolicies: new Map() };
  const tables = new Map<string, Map<number, PortTable>>();

  const portTable = (l: ListenerState): PortTable => {
    const gk = keyOf(l.gateway);
    let ports = tables.get(gk);
    if (!ports) tables.set(gk, (ports = new Map()));
    let t = ports.get(l.spec.port);
    if (!t) {
      const protocol = l.spec.protocol === 'HTTPS' ? 'HTTPS' : l.spec.protocol === 'TLS' ? 'TLS' : 'HTTP';
      t = { gateway: gk, port: l.spec.port, protocol, h2c: protocol === 'HTTP' && h2cAsked(l.gateway), hosts: newHostTable(), grpcHosts: undefined, certificates: [] };
      if (protocol === 'TLS') t.serverNames = newServerNameTable();
      ports.set(l.spec.port, t);
    }
    return t;
  };
  for (const states of listenersByGateway.values()) for (const l of states) if (l.usable) portTable(l).certificates.push(...l.certificates);

  // Routes of both kinds in one order (oldest first), so that precedence between them follows age.
  const routes = [...set.routes, ...set.grpcRoutes, ...set.tlsRoutes].sort((a, b) => created(a) - created(b) || (keyOf(a) < keyOf(b) ? -1 : keyOf(a) > keyOf(b) ? 1 : a.kind < b.kind ? -1 : 1));
  for (const route of routes) {
    const problems: RuleProblem[] = [];
    const compiled: CompiledRoute = { route, problems, rules: [] };
    if (route.kind === 'TLSRoute') {
      const backendRefs = (route.spec?.rules ?? []).flatMap((rule) => rule.backendRefs ?? []);
      compiled.passthrough = compileRule(index, set, route, { backendRefs }, 0, problems);
    } else if (route.kind === 'GRPCRoute') {
      (route.spec?.rules ?? []).forEach((rule, i) => {
        const c = compileRule(index, set, route, { filters: rule.filters, backendRefs: rule.backendRefs, sessionPersistence: rule.sessionPersistence }, i, problems);
        compiled.rules.push({ rule: c, matches: compileGrpcMatches(rule, problems) });
      });
    } else {
      (route.spec?.rules ?? []).forEach((rule, i) => {
        const c = compileRule(index, set, route, rule, i, problems);
        compiled.rules.push({ rule: c, matches: compileMatches(rule, c, problems) });
      });
    }
    (route.kind === 'GRPCRoute' ? status.grpcRoutes : route.kind === 'TLSRoute' ? status.tlsRoutes : status.routes).set(keyOf(route), { parents: attach(compiled) });
  }

  /** Attaches a compiled route to the listeners of its parents; returns its status per parent. */
  function attach(compiled: CompiledRoute): RouteParentStatus[] {
    const { route, problems } = compiled;
    for (const h of route.spec?.hostnames ?? []) {
      if (!isValidHostname(h.toLowerCase())) problems.push({ condition: 'Accepted', reason: RouteReason.UnsupportedValue, message: `invalid hostname ${JSON.stringify(h)}` });
    }
    const rejected = problems.find((p) => p.condition === 'Accepted');
    const unresolved = problems.find((p) => p.condition === 'ResolvedRefs');
    const parents: RouteParentStatus[] = [];
    const gen = route.metadata.generation;
    const routeKey = route.kind === 'GRPCRoute' ? `grpc:${keyOf(route)}` : keyOf(route);
    for (const pref of route.spec?.parentRefs ?? []) {
      if ((pref.group ?? GATEWAY_GROUP) !== GATEWAY_GROUP || (pref.kind ?? 'Gateway') !== 'Gateway') continue;
      const gwKey = `${pref.namespace ?? nsOf(route)}/${pref.name}`;
      const gw = gatewaysByKey.get(gwKey);
      if (!gw) continue; // not a Gateway of ours: another controller writes this parent's status
      const conditions: Condition[] = [];
      const candidates = (listenersByGateway.get(gwKey) ?? []).filter(
        (l) => (pref.sectionName === undefined || l.spec.name === pref.sectionName) && (pref.port === undefined || l.spec.port === pref.port),
      );
      const attachments: { l: ListenerState; hosts: string[] | undefined }[] = [];
      let reason: string = RouteReason.NoMatchingParent;
      if (candidates.length > 0) reason = RouteReason.NotAllowedByListeners;
      for (const l of candidates) {
        if (!l.allowedKinds.has(route.kind) || !namespaceAllowed(l.spec, nsOf(gw), nsOf(route), namespaces)) continue;
        const hosts = intersectHostnames(l.spec.hostname, route.spec?.hostnames);
        if (hosts && hosts.length === 0) {
          reason = RouteReason.NoMatchingListenerHostname;
          continue;
        }
        attachments.push({ l, hosts });
      }
      if (rejected) conditions.push(condition('Accepted', false, rejected.reason, rejected.message, gen));
      else if (attachments.length === 0) conditions.push(condition('Accepted', false, reason, `no listener of ${gwKey} accepts this route (${reason})`, gen));
      else conditions.push(condition('Accepted', true, RouteReason.Accepted, 'route accepted', gen));
      conditions.push(
        unresolved
          ? condition('ResolvedRefs', false, unresolved.reason, unresolved.message, gen)
          : condition('ResolvedRefs', true, RouteReason.ResolvedRefs, 'all references resolved', gen),
      );
      const parentRef: RouteParentStatus['parentRef'] = { group: GATEWAY_GROUP, kind: 'Gateway', namespace: nsOf(gw), name: gw.metadata.name };
      if (pref.sectionName !== undefined) parentRef.sectionName = pref.sectionName;
      if (pref.port !== undefined) parentRef.port = pref.port;
      parents.push({ parentRef, controllerName: CONTROLLER_NAME, conditions });
      if (rejected) continue;
      for (const { l, hosts } of attachments) {
        l.attachedRoutes++;
        if (!l.usable) continue;
        const table = portTable(l);
        if (compiled.passthrough) {
          for (const hostname of hosts ?? [undefined]) claimServerName((table.serverNames ??= newServerNameTable()), hostname, compiled.passthrough);
          continue;
        }
        // gRPC clients speak HTTP/2 by prior knowledge on cleartext ("h2c"): a listener that takes
        // GRPCRoutes must accept it (GRPCRoute, "Cleartext HTTP/2").
        if (route.kind === 'GRPCRoute' && table.protocol === 'HTTP') table.h2c = true;
        for (const hostname of hosts ?? [undefined]) {
          const bucket = bucketFor(route.kind === 'GRPCRoute' ? (table.grpcHosts ??= newHostTable()) : table.hosts, hostname);
          compiled.rules.forEach(({ rule, matches }, ruleIndex) => {
            matches.forEach((m, matchIndex) => insert(bucket, { ...m, rule, created: created(route), routeKey, ruleIndex, matchIndex }));
          });
        }
      }
    }
    return parents;
  }

  status.backendTLSPolicies = index.backendTls.status(new Set(gatewaysByKey.keys()));
  const gateways: CompiledGateway[] = [];
  for (const gw of ours) {
    const key = keyOf(gw);
    const gen = gw.metadata.generation;
    const listeners = listenersByGateway.get(key) ?? [];
    const addresses = gw.spec?.addresses ?? [];
    const badAddress = addresses.find((a) => (a.type ?? 'IPAddress') !== 'IPAddress');
    const gs: GatewayStatus = {
      conditions: [
        badAddress
          ? condition('Accepted', false, 'UnsupportedAddress', `address type ${badAddress.type} is not supported`, gen)
          : condition('Accepted', true, 'Accepted', 'gateway accepted', gen),
        condition('Programmed', !badAddress && listeners.some((l) => l.usable), badAddress ? 'Invalid' : listeners.some((l) => l.usable) ? 'Programmed' : 'Invalid', 'gateway programmed', gen),
      ],
      listeners: listeners.map((l) => ({ name: l.spec.name, attachedRoutes: l.attachedRoutes, supportedKinds: l.supportedKinds, conditions: l.conditions })),
    };
    if (addresses.length > 0) gs.addresses = addresses.map((a) => ({ type: a.type ?? 'IPAddress', value: a.value }));
    status.gateways.set(key, gs);
    if (badAddress) continue;
    const ports = tables.get(key) ?? new Map<number, PortTable>();
    for (const l of listeners) if (l.usable && !ports.has(l.spec.port)) ports.set(l.spec.port, portTable(l));
    for (const t of ports.values()) {
      for (const hosts of t.grpcHosts ? [t.hosts, t.grpcHosts] : [t.hosts]) {
        for (const pt of hosts.exact.values()) sortTable(pt);
        for (const pt of hosts.wildcard.values()) sortTable(pt);
        if (hosts.any) sortTable(hosts.any);
      }
    }
    gateways.push({ key, addresses: addresses.map((a) => a.value), ports });
  }
  return { gateways, status };
}
