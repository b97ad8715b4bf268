// The edge's check of an agent: a ZenoAuth client-credentials access token, verified as any
// resource server does (signature by the issuer's JWKS, issuer, `typ`, expiry, audience when
// configured), then every hostname the agent registers against the hostnames its client may serve.
// @see https://www.rfc-editor.org/rfc/rfc9068#section-4 (validating JWT access tokens)
// @see https://www.rfc-editor.org/rfc/rfc6749#section-4.4 (client credentials grant)
import { createRemoteJWKSet, errors, jwtVerify } from 'jose';
import type { JWTVerifyGetKey } from 'jose';
import { hostnameMatches, isValidHostname } from '../engine/hostname.js';
import { TunnelRefusal } from './refusal.js';

interface AgentAuthOptions {
  /** The issuer of the agents' tokens, e.g. `https://id.example.com/auth/sites`. */
  issuer: string;
  /** Its JWKS (default `<issuer>/jwks`). */
  jwksUrl?: string;
  /** The audience the tokens must carry, when set (a `resource` the agents ask for). */
  audience?: string;
  /** client_id → hostnames it may serve (exact names, or `*.example.com` covering one or more labels). */
  clients: Record<string, string[]>;
  /** Keys to use instead of fetching the JWKS (tests, pinned keys). */
  keys?: JWTVerifyGetKey;
}

export interface AgentIdentity {
  clientId: string;
  hostnames: string[];
}

export type AgentCheck = (authorization: string | undefined, hostnames: string | undefined) => Promise<AgentIdentity>;

const MAX_HOSTNAMES = 256;

/** The registered hostnames: a comma-separated list of Gateway API hostnames, lower-cased. */
export function parseHostnames(header: string | undefined): string[] {
  const list = (header ?? '').split(',').map((h) => h.trim().toLowerCase()).filter((h) => h.length > 0);
  if (list.length === 0) throw new TunnelRefusal('invalid_request', 'The agent registers no hostname.');
  if (list.length > MAX_HOSTNAMES) throw new TunnelRefusal('invalid_request', `At most ${MAX_HOSTNAMES} hostnames per session.`);
  for (const h of list) if (!isValidHostname(h)) throw new TunnelRefusal('invalid_request', `Not a valid hostname: ${h.slice(0, 80)}`);
  return [...new Set(list)];
}

/** Whether `allowed` covers `claimed`: the same name, or a wildcard covering it (and any narrower wildcard). */
export function hostnameAllowed(allowed: string[], claimed: string): boolean {
  return allowed.some((a) => a === claimed || (a.startsWith('*.') && hostnameMatches(a, claimed.startsWith('*.') ? claimed.slice(2) : claimed)));
}

/**
 * The keys could not be had (no answer, a non-200 answer, not a JWKS): the token is not judged.
 * jose raises the bare JOSEError for a non-200 JWKS answer; a network failure is no JOSEError.
 */
function issuerFailed(err: unknown): boolean {
  if (!(err instanceof errors.JOSEError)) return true;
  return err instanceof errors.JWKSTimeout || err instanceof errors.JWKSInvalid || err.code === 'ERR_JOSE_GENERIC';
}

export function createAgentCheck(opts: AgentAuthOptions): AgentCheck {
  const keys = opts.keys ?? createRemoteJWKSet(new URL(opts.jwksUrl ?? `${opts.issuer}/jwks`), { timeoutDuration: 5_000, cooldownDuration: 30_000 });
  const clients = new Map(Object.entries(opts.clients).map(([id, hosts]) => [id, hosts.map((h) => h.toLowerCase())]));
  return async (authorization, header) => {
    const m = authorization ? /^Bearer ([A-Za-z0-9\-._~+/]+=*)$/i.exec(authorization.trim()) : null;
    const token = m?.[1];
    if (!token || token.length > 8192) throw new TunnelRefusal('invalid_token', 'A Bearer access token of a tunnel client is required.');
    const hostnames = parseHostnames(header);
    let claims: Record<string, unknown>;
    try {
      // ZenoAuth signs access tokens with EdDSA and types them at+jwt (RFC 9068 §2.1).
      ({ payload: claims } = await jwtVerify(token, keys, {
        issuer: opts.issuer,
        algorithms: ['EdDSA'],
        typ: 'at+jwt',
        clockTolerance: 5,
        ...(opts.audience ? { audience: opts.audience } : {}),
      }));
    } catch (err) {
      if (issuerFailed(err)) throw new TunnelRefusal('issuer_unavailable', 'The token issuer cannot be reached to check the token.', { cause: err });
      throw new TunnelRefusal('invalid_token', 'The access token is invalid or expired.', { cause: err });
    }
    // RFC 9068 §2.2: client_id names the client the token was issued to; a token of the client
    // credentials grant has the client as its subject.
    const clientId = claims.client_id;
    if (typeof clientId !== 'string' || claims.sub !== clientId) throw new TunnelRefusal('invalid_token', 'The token is not a client credentials token.');
    const allowed = clients.get(clientId);
    if (!allowed) throw new TunnelRefusal('hostname_not_allowed', 'This client may not serve any hostname through the tunnel.');
    const refused = hostnames.filter((h) => !hostnameAllowed(allowed, h));
    if (refused.length > 0) throw new TunnelRefusal('hostname_not_allowed', `This client may not serve: ${refused.slice(0, 10).join(', ')}`);
    return { clientId, hostnames };
  };
}
