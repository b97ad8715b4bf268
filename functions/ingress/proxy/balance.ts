// Picks the backend (weighted backendRefs) and the endpoint (round robin, skipping open circuits
// unless all are, sticky under GEP-1619 session persistence).
// @see https://gateway-api.sigs.k8s.io/reference/spec/#gateway.networking.k8s.io/v1.HTTPBackendRef (weight)
// @see https://gateway-api.sigs.k8s.io/geps/gep-1619/
import { createHash } from 'node:crypto';
import type { CompiledBackend, CompiledRule } from '../engine/table.js';
import type { Endpoint } from '../engine/references.js';
import type { CircuitBreakers } from './circuit.js';

/** Weighted choice; weight-0 backends never receive traffic. undefined when all weights are 0. */
export function pickBackend(rule: CompiledRule, random: () => number = Math.random): CompiledBackend | undefined {
  const backends = rule.backends;
  if (backends.length === 1) return backends[0]!.weight > 0 ? backends[0] : undefined;
  if (rule.totalWeight <= 0) return undefined;
  let r = random() * rule.totalWeight;
  for (let i = 0; i < backends.length; i++) {
    const b = backends[i]!;
    if (r < b.weight) return b;
    r -= b.weight;
  }
  return backends[backends.length - 1];
}

const cursors = new WeakMap<Endpoint[], { n: number }>();

const keys = new WeakMap<Endpoint, string>();

/**
 * `host:port`, the endpoint's circuit and pool key. Read two or three times per request: built once
 * per endpoint object (tables are rebuilt on reload), so the circuit map hashes an interned string.
 */
export function endpointKey(e: Endpoint): string {
  let k = keys.get(e);
  if (k === undefined) keys.set(e, (k = `${e.host}:${e.port}`));
  return k;
}

/**
 * Round robin over endpoints whose circuit allows a request; undefined only when there is none.
 * When every endpoint's circuit is open the backend is in panic, as Envoy's outlier detection
 * puts it below its panic threshold: the circuits are ignored and the round robin goes over them
 * all, so that a service is never left with no endpoint (its only one answering 503s for a while,
 * a rollout that failed every endpoint at once), and the first success closes a circuit again.
 * @see https://www.envoyproxy.io/docs/envoy/latest/intro/arch_overview/upstream/load_balancing/panic_threshold
 */
export function pickEndpoint(endpoints: Endpoint[], breakers: CircuitBreakers): Endpoint | undefined {
  const len = endpoints.length;
  if (len === 0) return undefined;
  let cur = cursors.get(endpoints);
  if (!cur) cursors.set(endpoints, (cur = { n: 0 }));
  for (let i = 0; i < len; i++) {
    const e = endpoints[cur.n++ % len]!;
    if (breakers.allow(endpointKey(e))) return e;
  }
  return endpoints[cur.n++ % len];
}

/** Opaque session token for an endpoint: its address is not disclosed to clients. */
export function sessionToken(e: Endpoint): string {
  return createHash('sha256').update(endpointKey(e)).digest('base64url').slice(0, 22);
}

/** The endpoint a session token names, if it is still among the endpoints. */
export function endpointForToken(endpoints: Endpoint[], token: string): Endpoint | undefined {
  for (const e of endpoints) if (sessionToken(e) === token) return e;
  return undefined;
}

/** Value of one cookie in a Cookie header. */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}
