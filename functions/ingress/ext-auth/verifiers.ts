// The three ways an ExtAuthFilter decides: ask an HTTP auth service, introspect a token
// (RFC 7662), or verify a JWT against a JWKS. Each returns a decision without caching it.
// @see https://www.rfc-editor.org/rfc/rfc7662#section-2
import type { createRemoteJWKSet } from 'jose';
import type { ExtAuthFilterSpec } from '../engine/resources.js';
import type { ExtAuthDecision } from '../proxy/ext-auth.js';
import type { TtlCache } from './ttl-cache.js';

export const deny = (status: number, headers: [string, string][] = []): ExtAuthDecision => ({
  allow: false,
  status,
  headers: [['content-type', 'application/problem+json'], ...headers],
  body: Buffer.from(JSON.stringify({ type: 'about:blank', status, title: status === 401 ? 'Unauthorized' : status === 403 ? 'Forbidden' : 'Service Unavailable', code: status === 503 ? 'auth_unavailable' : 'unauthorized' })),
});

const challenge: [string, string][] = [['www-authenticate', 'Bearer']];

export function bearer(authorization: string | undefined): string | undefined {
  if (!authorization || !/^bearer /i.test(authorization)) return undefined;
  const t = authorization.slice(7).trim();
  return t.length > 0 && t.length <= 8192 ? t : undefined;
}

/** Forward mode: the auth service sees the chosen request headers; 2xx allows. */
export async function checkHttp(spec: ExtAuthFilterSpec, forwarded: [string, string][], timeoutMs: number, original: { method: string; path: string; host: string }): Promise<ExtAuthDecision> {
  const headers = new Headers(forwarded);
  headers.set('x-forwarded-method', original.method);
  headers.set('x-forwarded-uri', original.path);
  headers.set('x-forwarded-host', original.host);
  const res = await fetch(spec.url, { method: 'GET', headers, signal: AbortSignal.timeout(timeoutMs), redirect: 'manual' });
  await res.body?.cancel();
  if (res.status >= 200 && res.status < 300) {
    const pass: [string, string][] = [];
    for (const name of spec.forwardResponseHeaders ?? []) {
      const v = res.headers.get(name);
      if (v !== null) pass.push([name.toLowerCase(), v]);
    }
    return { allow: true, headers: pass, strip: (spec.forwardResponseHeaders ?? []).map((n) => n.toLowerCase()) };
  }
  if (res.status === 401 || res.status === 403) {
    const www = res.headers.get('www-authenticate');
    return deny(res.status, www ? [['www-authenticate', www]] : []);
  }
  return deny(503);
}

export interface Introspection {
  active: boolean;
  sub?: string;
  scope?: string;
  client_id?: string;
  exp?: number;
}

/** Introspection mode: the L2 cache keeps the server's answer per token hash until it expires. */
export async function checkIntrospection(
  spec: ExtAuthFilterSpec,
  clientSecret: string | undefined,
  token: string | undefined,
  tokenHash: string,
  l2: TtlCache<Introspection>,
  ttlMs: number,
  timeoutMs: number,
): Promise<ExtAuthDecision> {
  if (!token) return deny(401, challenge);
  let result = l2.get(`${spec.url}\u0000${tokenHash}`);
  if (!result) {
    const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' };
    if (spec.clientId) headers.authorization = `Basic ${Buffer.from(`${encodeURIComponent(spec.clientId)}:${encodeURIComponent(clientSecret ?? '')}`).toString('base64')}`;
    const res = await fetch(spec.url, { method: 'POST', headers, body: new URLSearchParams({ token, token_type_hint: 'access_token' }), signal: AbortSignal.timeout(timeoutMs) });
    if (!res.ok) {
      await res.body?.cancel();
      return deny(503);
    }
    result = (await res.json()) as Introspection;
    // "active" is REQUIRED; anything else is treated as inactive.
    const expMs = typeof result.exp === 'number' ? result.exp * 1000 - Date.now() : ttlMs;
    l2.set(`${spec.url}\u0000${tokenHash}`, result, Math.min(ttlMs, expMs));
  }
  if (result.active !== true) return deny(401, challenge);
  return { allow: true, headers: claimsHeaders(result.sub, result.scope, result.client_id), strip: CLAIM_HEADERS };
}

const jwksSets = new Map<string, ReturnType<typeof createRemoteJWKSet>>();

// jose is loaded by the first JWT check, not with the proxy: most gateways have no JWT filter,
// and the module costs the process 1.5-2.5 MB of resident memory from its start (measured).
let jose: Promise<typeof import('jose')> | undefined;

/** JWT mode: the JWKS is the L2 material, fetched once and refreshed by jose's own cache. */
export async function checkJwt(spec: ExtAuthFilterSpec, token: string | undefined): Promise<ExtAuthDecision> {
  if (!token) return deny(401, challenge);
  const { createRemoteJWKSet, jwtVerify } = await (jose ??= import('jose'));
  let jwks = jwksSets.get(spec.url);
  if (!jwks) jwksSets.set(spec.url, (jwks = createRemoteJWKSet(new URL(spec.url), { cacheMaxAge: 600_000, cooldownDuration: 30_000 })));
  try {
    const opts: { issuer?: string; audience?: string } = {};
    if (spec.issuer) opts.issuer = spec.issuer;
    if (spec.audience) opts.audience = spec.audience;
    const { payload } = await jwtVerify(token, jwks, opts);
    return { allow: true, headers: claimsHeaders(payload.sub, typeof payload.scope === 'string' ? payload.scope : undefined, typeof payload.client_id === 'string' ? payload.client_id : undefined), strip: CLAIM_HEADERS };
  } catch (err) {
    const code = (err as { code?: string }).code ?? '';
    if (code.startsWith('ERR_JWKS') && code !== 'ERR_JWKS_NO_MATCHING_KEY') return deny(503);
    return deny(401, [['www-authenticate', 'Bearer error="invalid_token"']]);
  }
}

const CLAIM_HEADERS = ['x-auth-subject', 'x-auth-scope', 'x-auth-client-id'];

function claimsHeaders(sub: string | undefined, scope: string | undefined, clientId: string | undefined): [string, string][] {
  const out: [string, string][] = [];
  if (sub) out.push(['x-auth-subject', sub]);
  if (scope) out.push(['x-auth-scope', scope]);
  if (clientId) out.push(['x-auth-client-id', clientId]);
  return out;
}
