// Gateway listeners: protocol and kind support, conflicts, TLS certificate references.
// @see https://gateway-api.sigs.k8s.io/reference/spec/#gateway.networking.k8s.io/v1.Listener
import type { Gateway, LabelSelector, ListenerSpec, Namespace, ResourceSet, Secret } from './resources.js';
import { GATEWAY_GROUP, nsOf } from './resources.js';
import type { Condition } from './conditions.js';
import { ListenerReason, condition } from './conditions.js';
import type { ResourceIndex } from './references.js';
import { referenceAllowed } from './references.js';
import type { TlsCertificate } from './table.js';
import { isValidHostname } from './hostname.js';

export interface ListenerState {
  gateway: Gateway;
  spec: ListenerSpec;
  /** Accepted and not conflicted: routes may attach and traffic flows. */
  usable: boolean;
  /** The route kinds that may attach: those of its protocol, narrowed by allowedRoutes.kinds. */
  allowedKinds: Set<RouteKind>;
  certificates: TlsCertificate[];
  conditions: Condition[];
  supportedKinds: { group: string; kind: string }[];
  attachedRoutes: number;
}

export type RouteKind = 'HTTPRoute' | 'GRPCRoute' | 'TLSRoute';

/** The route kinds each protocol serves. */
const KINDS_OF: Record<string, RouteKind[]> = { HTTP: ['HTTPRoute', 'GRPCRoute'], HTTPS: ['HTTPRoute', 'GRPCRoute'], TLS: ['TLSRoute'] };

function secretPem(secret: Secret, key: string): string | undefined {
  const plain = secret.stringData?.[key];
  if (plain !== undefined) return plain;
  const b64 = secret.data?.[key];
  return b64 === undefined ? undefined : Buffer.from(b64, 'base64').toString('utf8');
}

/** `tls.options` of a listener that asks clients for a certificate (RFC 8705 mutual TLS). */
const CLIENT_CERTIFICATE = 'zenokube.io/client-certificate';
/** A Secret of the Gateway's namespace whose `ca.crt` the client certificates are verified against. */
export const CLIENT_CA_OPTION = 'zenokube.io/client-certificate-ca';

/**
 * The listener's client certificate request: `request` asks for one without requiring it (the
 * handshake succeeds without, or with one that does not verify; the ingress forwards what it got
 * and says whether it verified). Problems become Accepted=False or ResolvedRefs=False.
 */
function clientCertificateOf(secrets: Map<string, Secret>, gw: Gateway, l: ListenerSpec, conditions: Condition[]): TlsCertificate['clientCertificate'] {
  const options = l.tls?.options ?? {};
  const mode = options[CLIENT_CERTIFICATE];
  const gen = gw.metadata.generation;
  if (mode === undefined) {
    if (options[CLIENT_CA_OPTION] !== undefined) conditions.push(condition('Accepted', false, ListenerReason.Invalid, `${CLIENT_CA_OPTION} needs ${CLIENT_CERTIFICATE}: request`, gen));
    return undefined;
  }
  if (mode !== 'request') {
    conditions.push(condition('Accepted', false, ListenerReason.Invalid, `${CLIENT_CERTIFICATE} must be "request"`, gen));
    return undefined;
  }
  const caName = options[CLIENT_CA_OPTION];
  if (caName === undefined) return { ca: undefined };
  const secret = secrets.get(`${nsOf(gw)}/${caName}`);
  const ca = secret && secretPem(secret, 'ca.crt');
  if (!ca?.includes('-----BEGIN CERTIFICATE-----')) {
    conditions.push(condition('ResolvedRefs', false, ListenerReason.InvalidCertificateRef, `Secret ${nsOf(gw)}/${caName} is missing or has no ca.crt`, gen));
    return undefined;
  }
  return { ca };
}

/** Resolves a listener's certificateRefs to PEM pairs; problems become ResolvedRefs=False. */
function resolveCertificates(index: ResourceIndex, secrets: Map<string, Secret>, gw: Gateway, l: ListenerSpec, conditions: Condition[]): TlsCertificate[] {
  const out: TlsCertificate[] = [];
  const gen = gw.metadata.generation;
  const clientCertificate = clientCertificateOf(secrets, gw, l, conditions);
  for (const ref of l.tls?.certificateRefs ?? []) {
    const namespace = ref.namespace ?? nsOf(gw);
    if ((ref.group ?? '') !== '' || (ref.kind ?? 'Secret') !== 'Secret') {
      conditions.push(condition('ResolvedRefs', false, ListenerReason.InvalidCertificateRef, `certificateRef kind ${ref.kind} is not supported`, gen));
      continue;
    }
    if (!referenceAllowed(index, { group: GATEWAY_GROUP, kind: 'Gateway', namespace: nsOf(gw) }, { group: '', kind: 'Secret', namespace, name: ref.name })) {
      conditions.push(condition('ResolvedRefs', false, ListenerReason.RefNotPermitted, `no ReferenceGrant allows Secret ${namespace}/${ref.name}`, gen));
      continue;
    }
    const secret = secrets.get(`${namespace}/${ref.name}`);
    const cert = secret && secretPem(secret, 'tls.crt');
    const key = secret && secretPem(secret, 'tls.key');
    if (!cert || !key || !cert.includes('-----BEGIN CERTIFICATE-----') || !key.includes('PRIVATE KEY-----')) {
      conditions.push(condition('ResolvedRefs', false, ListenerReason.InvalidCertificateRef, `Secret ${namespace}/${ref.name} is missing or not a TLS secret`, gen));
      continue;
    }
    out.push({ hostname: l.hostname?.toLowerCase(), cert, key, ...(clientCertificate ? { clientCertificate } : {}) });
  }
  return out;
}

/** Evaluates every listener of a gateway. */
export function evaluateListeners(index: ResourceIndex, set: ResourceSet, gw: Gateway): ListenerState[] {
  const secrets = new Map(set.secrets.map((s) => [`${nsOf(s)}/${s.metadata.name}`, s]));
  const gen = gw.metadata.generation;
  const listeners = gw.spec?.listeners ?? [];
  return listeners.map((l) => {
    const conditions: Condition[] = [];
    const protocolKinds = KINDS_OF[l.protocol] ?? [];
    const protocolOk = protocolKinds.length > 0;
    const kinds = l.allowedRoutes?.kinds;
    const known = (k: { group?: string; kind: string }): k is { group?: string; kind: RouteKind } =>
      (k.group ?? GATEWAY_GROUP) === GATEWAY_GROUP && (protocolKinds as string[]).includes(k.kind);
    // Those asked for and served; every kind of the protocol when none is asked for.
    const allowedKinds = new Set<RouteKind>(kinds && kinds.length > 0 ? kinds.filter(known).map((k) => k.kind) : protocolKinds);
    const kindsOk = !kinds || kinds.every(known);
    const supportedKinds = protocolKinds.filter((k) => allowedKinds.has(k)).map((kind) => ({ group: GATEWAY_GROUP, kind }));
    const hostnameOk = l.hostname === undefined || isValidHostname(l.hostname.toLowerCase());
    const portOk = Number.isInteger(l.port) && l.port >= 1 && l.port <= 65535;
    const conflicts = listeners.filter((o) => o !== l && o.port === l.port);
    const protocolConflict = conflicts.some((o) => o.protocol !== l.protocol);
    const hostnameConflict = conflicts.some((o) => o.protocol === l.protocol && (o.hostname ?? '') === (l.hostname ?? ''));
    let certificates: TlsCertificate[] = [];
    if (l.protocol === 'HTTPS') {
      if (l.tls?.mode === 'Passthrough') conditions.push(condition('Accepted', false, ListenerReason.UnsupportedProtocol, 'HTTPS listeners terminate TLS', gen));
      certificates = resolveCertificates(index, secrets, gw, l, conditions);
      if ((l.tls?.certificateRefs ?? []).length === 0) conditions.push(condition('ResolvedRefs', false, ListenerReason.InvalidCertificateRef, 'an HTTPS listener needs a certificateRef', gen));
    }
    // A TLS listener here passes connections through by their server name (TLSRoute); terminating
    // TLS to proxy the stream inside ("mode: Terminate", the default) is not built.
    if (l.protocol === 'TLS' && l.tls?.mode !== 'Passthrough') conditions.push(condition('Accepted', false, ListenerReason.UnsupportedProtocol, 'TLS listeners support only tls.mode Passthrough', gen));
    if (!protocolOk) conditions.push(condition('Accepted', false, ListenerReason.UnsupportedProtocol, `protocol ${l.protocol} is not supported`, gen));
    else if (!hostnameOk || !portOk) conditions.push(condition('Accepted', false, ListenerReason.Invalid, 'invalid hostname or port', gen));
    if (!kindsOk) conditions.push(condition('ResolvedRefs', false, ListenerReason.InvalidRouteKinds, `only ${protocolKinds.join(' and ') || 'no route kind'} can attach to a ${l.protocol} listener`, gen));
    const conflicted = protocolConflict || hostnameConflict;
    conditions.push(
      condition('Conflicted', conflicted, conflicted ? (protocolConflict ? ListenerReason.ProtocolConflict : ListenerReason.HostnameConflict) : ListenerReason.NoConflicts, conflicted ? 'another listener uses this port' : '', gen),
    );
    const refsOk = !conditions.some((c) => c.type === 'ResolvedRefs' && c.status === 'False');
    const accepted = !conditions.some((c) => c.type === 'Accepted' && c.status === 'False');
    if (accepted) conditions.unshift(condition('Accepted', true, ListenerReason.Accepted, 'listener accepted', gen));
    if (refsOk) conditions.push(condition('ResolvedRefs', true, ListenerReason.ResolvedRefs, 'references resolved', gen));
    const usable = accepted && !conflicted && refsOk;
    conditions.push(condition('Programmed', usable, usable ? ListenerReason.Programmed : ListenerReason.Invalid, usable ? 'listener programmed' : 'listener not programmed', gen));
    return { gateway: gw, spec: l, usable, allowedKinds, certificates, conditions, supportedKinds, attachedRoutes: 0 };
  });
}

/** Whether a route in `routeNamespace` may attach per the listener's allowedRoutes.namespaces. */
export function namespaceAllowed(l: ListenerSpec, gatewayNamespace: string, routeNamespace: string, namespaces: Map<string, Namespace>): boolean {
  const from = l.allowedRoutes?.namespaces?.from ?? 'Same';
  if (from === 'All') return true;
  if (from === 'Same') return routeNamespace === gatewayNamespace;
  const ns = namespaces.get(routeNamespace);
  return selectorMatches(l.allowedRoutes?.namespaces?.selector, ns?.metadata.labels ?? {});
}

/** Kubernetes label selector semantics (an empty selector matches everything). */
function selectorMatches(sel: LabelSelector | undefined, labels: Record<string, string>): boolean {
  if (!sel) return false;
  for (const [k, v] of Object.entries(sel.matchLabels ?? {})) if (labels[k] !== v) return false;
  for (const e of sel.matchExpressions ?? []) {
    const has = Object.hasOwn(labels, e.key);
    const v = labels[e.key];
    if (e.operator === 'In' && !(has && (e.values ?? []).includes(v!))) return false;
    if (e.operator === 'NotIn' && has && (e.values ?? []).includes(v!)) return false;
    if (e.operator === 'Exists' && !has) return false;
    if (e.operator === 'DoesNotExist' && has) return false;
  }
  return true;
}
