// BackendTLSPolicy: which Service ports the proxy speaks TLS to, the name it asks for (SNI) and
// checks, and the certificates it trusts (ConfigMaps' `ca.crt`, or the system's). A policy that
// cannot be honoured makes its Service's backends fail (500) rather than fall back to cleartext.
// @see https://gateway-api.sigs.k8s.io/api-types/backendtlspolicy/
// @see https://gateway-api.sigs.k8s.io/reference/spec/#gateway.networking.k8s.io/v1alpha3.BackendTLSPolicyValidation
import { createHash } from 'node:crypto';
import type { BackendTLSPolicy, ResourceSet } from './resources.js';
import { GATEWAY_GROUP, keyOf, nsOf } from './resources.js';
import type { Condition, PolicyAncestorStatus } from './conditions.js';
import { CONTROLLER_NAME, condition } from './conditions.js';
import { isValidHostname } from './hostname.js';

/** How to speak TLS to an upstream (a BackendTLSPolicy's validation), shared by its endpoints. */
export interface UpstreamTls {
  /** `namespace/name` of the policy and a digest of what it says: endpoints with different TLS settings never share a connection. */
  key: string;
  /** SNI, and the name the certificate must carry unless `subjectAltNames` are given. */
  servername: string;
  /** PEM certificates to trust; undefined for the system's (wellKnownCACertificates: System). */
  ca: string[] | undefined;
  /** Names the certificate must carry one of, instead of `servername`. */
  subjectAltNames: { type: 'Hostname' | 'URI'; value: string }[];
}

/** What a policy means for the Service ports it targets: TLS settings, or why it cannot be honoured. */
type Verdict = { ok: true; tls: UpstreamTls } | { ok: false; reason: string; message: string };

interface Entry {
  policy: BackendTLSPolicy;
  verdict: Verdict;
  /** Lost a target to an older policy. */
  conflicted: boolean;
  targetMissing: boolean;
  /** Gateways (`namespace/name`) of routes that use a Service it targets. */
  ancestors: Set<string>;
}

export interface BackendTlsPolicies {
  /**
   * The TLS settings of a Service port (`portName` is the Service port's name, "" when unnamed), a
   * refusal, or undefined when no policy targets it. `gateways` are the parents of the route that
   * uses it, for the policy's status.
   */
  forPort(namespace: string, service: string, portName: string, gateways: string[]): Verdict | undefined;
  /** Status per policy (`namespace/name`), one ancestor entry per Gateway of `ours` whose routes use it. */
  status(ours: Set<string>): Map<string, { ancestors: PolicyAncestorStatus[] }>;
}

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

function created(p: BackendTLSPolicy): number {
  const t = p.metadata.creationTimestamp ? Date.parse(p.metadata.creationTimestamp) : NaN;
  return Number.isNaN(t) ? 0 : t;
}

function judge(set: Pick<ResourceSet, 'configMaps'>, p: BackendTLSPolicy): Verdict {
  const v = p.spec?.validation;
  const hostname = v?.hostname?.toLowerCase();
  // "Hostname ... MUST be used for authentication and MUST be used as the SNI"; a wildcard is not a name to ask for.
  if (!v || !hostname || hostname.startsWith('*.') || !isValidHostname(hostname)) return { ok: false, reason: 'Invalid', message: 'validation.hostname must be a DNS name' };
  const refs = v.caCertificateRefs ?? [];
  const system = v.wellKnownCACertificates;
  // "Exactly one of CACertificateRefs or WellKnownCACertificates MUST be specified."
  if ((refs.length > 0) === (system !== undefined)) return { ok: false, reason: 'Invalid', message: 'exactly one of caCertificateRefs and wellKnownCACertificates must be set' };
  if (system !== undefined && system !== 'System') return { ok: false, reason: 'Invalid', message: `wellKnownCACertificates ${system} is not supported` };
  let ca: string[] | undefined;
  if (refs.length > 0) {
    ca = [];
    for (const ref of refs) {
      if ((ref.group ?? '') !== '' || (ref.kind ?? 'ConfigMap') !== 'ConfigMap') return { ok: false, reason: 'InvalidKind', message: `caCertificateRef ${ref.group ?? ''}/${ref.kind} is not supported` };
      const cm = set.configMaps.find((c) => nsOf(c) === nsOf(p) && c.metadata.name === ref.name);
      const certs = cm?.data?.['ca.crt']?.match(PEM_CERT);
      if (!certs) return { ok: false, reason: 'InvalidCACertificateRef', message: `ConfigMap ${nsOf(p)}/${ref.name} is missing or has no PEM certificate under ca.crt` };
      ca.push(...certs);
    }
  }
  const subjectAltNames: UpstreamTls['subjectAltNames'] = [];
  for (const san of v.subjectAltNames ?? []) {
    const type = san.type ?? 'Hostname';
    const value = type === 'URI' ? san.uri : san.hostname?.toLowerCase();
    if (!value || (type !== 'Hostname' && type !== 'URI')) return { ok: false, reason: 'Invalid', message: 'each subjectAltName needs its type and value' };
    subjectAltNames.push({ type, value });
  }
  const digest = createHash('sha256').update(JSON.stringify([hostname, ca ?? null, subjectAltNames])).digest('base64url').slice(0, 16);
  return { ok: true, tls: { key: `${keyOf(p)}#${digest}`, servername: hostname, ca, subjectAltNames } };
}

/** Indexes the policies of a resource set by their targets. */
export function indexBackendTlsPolicies(set: Pick<ResourceSet, 'backendTLSPolicies' | 'configMaps' | 'services'>): BackendTlsPolicies {
  const services = new Set(set.services.map(keyOf));
  const entries = [...set.backendTLSPolicies]
    .sort((a, b) => created(a) - created(b) || (keyOf(a) < keyOf(b) ? -1 : keyOf(a) > keyOf(b) ? 1 : 0))
    .map((policy): Entry => ({ policy, verdict: judge(set, policy), conflicted: false, targetMissing: false, ancestors: new Set() }));
  /** `namespace/service#section` ("" for the whole Service) → the policies that name it, oldest (the one applied) first. */
  const byTarget = new Map<string, Entry[]>();
  for (const e of entries) {
    for (const t of e.policy.spec?.targetRefs ?? []) {
      if ((t.group ?? '') !== '' || (t.kind ?? 'Service') !== 'Service') {
        if (e.verdict.ok) e.verdict = { ok: false, reason: 'Invalid', message: `targetRef ${t.group ?? ''}/${t.kind} is not supported` };
        continue;
      }
      if (!services.has(`${nsOf(e.policy)}/${t.name}`)) e.targetMissing = true;
      const key = `${nsOf(e.policy)}/${t.name}#${t.sectionName ?? ''}`;
      const list = byTarget.get(key);
      if (list) {
        e.conflicted = true;
        list.push(e);
      } else byTarget.set(key, [e]);
    }
  }
  return {
    forPort(namespace, service, portName, gateways) {
      // A policy naming the port (sectionName) is more specific than one for the whole Service.
      const list = (portName !== '' ? byTarget.get(`${namespace}/${service}#${portName}`) : undefined) ?? byTarget.get(`${namespace}/${service}#`);
      if (!list) return undefined;
      for (const e of list) for (const g of gateways) e.ancestors.add(g);
      return list[0]!.verdict;
    },
    status(ours) {
      const out = new Map<string, { ancestors: PolicyAncestorStatus[] }>();
      for (const e of entries) {
        const gen = e.policy.metadata.generation;
        const conditions: Condition[] = [];
        if (!e.verdict.ok && e.verdict.reason === 'Invalid') conditions.push(condition('Accepted', false, 'Invalid', e.verdict.message, gen));
        else if (e.conflicted) conditions.push(condition('Accepted', false, 'Conflicted', 'an older BackendTLSPolicy targets the same Service port', gen));
        else if (e.targetMissing) conditions.push(condition('Accepted', false, 'TargetNotFound', 'a targeted Service does not exist', gen));
        else conditions.push(condition('Accepted', true, 'Accepted', 'policy accepted', gen));
        if (!e.verdict.ok && e.verdict.reason !== 'Invalid') conditions.push(condition('ResolvedRefs', false, e.verdict.reason, e.verdict.message, gen));
        else conditions.push(condition('ResolvedRefs', true, 'ResolvedRefs', 'references resolved', gen));
        const ancestors = [...e.ancestors].filter((g) => ours.has(g)).sort().map((g) => {
          const [namespace, name] = g.split('/') as [string, string];
          return { ancestorRef: { group: GATEWAY_GROUP, kind: 'Gateway', namespace, name }, controllerName: CONTROLLER_NAME, conditions };
        });
        out.set(keyOf(e.policy), { ancestors });
      }
      return out;
    },
  };
}
