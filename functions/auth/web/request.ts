// Edge helpers shared by the auth functions: form bodies (RFC 6749 §3.2), the requester's
// address and user agent for the audit trail, and the tenant of the path.
import type { Context } from 'hono';
import { createClientAddressOf } from '#shared/http/client-address';
import type { RequestMeta } from '../core/audit.js';
import { OAuthError } from '../core/oauth-error.js';
import type { AuthRuntime } from '../core/runtime.js';
import type { Tenant } from '../core/schema.js';

/**
 * Reads an `application/x-www-form-urlencoded` body. "Request and response parameters MUST NOT
 * be included more than once" (RFC 6749 §3.1), except the ones listed in `repeatable`.
 */
export async function readForm(c: Context, repeatable: string[] = ['resource']): Promise<URLSearchParams> {
  const type = (c.req.header('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== 'application/x-www-form-urlencoded') {
    throw new OAuthError('invalid_request', 'The body must be application/x-www-form-urlencoded.');
  }
  const params = new URLSearchParams(await c.req.text());
  checkDuplicates(params, repeatable);
  if (hasNul(params)) throw new OAuthError('invalid_request', 'A parameter contains a NUL character.');
  return params;
}

/** True when any string in `value` holds U+0000, which PostgreSQL text and jsonb refuse. */
export function hasNul(value: unknown, depth = 0): boolean {
  if (typeof value === 'string') return value.includes('\u0000');
  if (value instanceof URLSearchParams) return [...value].some(([k, v]) => k.includes('\u0000') || v.includes('\u0000'));
  if (depth > 10 || value === null || typeof value !== 'object') return false;
  return Object.entries(value).some(([k, v]) => k.includes('\u0000') || hasNul(v, depth + 1));
}

export function checkDuplicates(params: URLSearchParams, repeatable: string[] = ['resource']): void {
  const seen = new Set<string>();
  for (const k of params.keys()) {
    if (seen.has(k) && !repeatable.includes(k)) throw new OAuthError('invalid_request', `The parameter ${k.slice(0, 50)} is repeated.`);
    seen.add(k);
  }
}

/** One resolver per trusted-proxy list (the runtime's frozen list), built at first use. */
const resolvers = new WeakMap<readonly string[], ReturnType<typeof createClientAddressOf>>();

/**
 * The requester for the audit trail and the login throttle. X-Forwarded-For is believed only
 * from a trusted proxy (ZENO_TRUSTED_PROXIES), hop by hop from the right: a client that writes
 * its own header cannot choose the address it is throttled and audited under.
 */
export function requestMeta(c: Context, rt: Pick<AuthRuntime, 'trustedProxies'>): RequestMeta {
  const env = c.env as { incoming?: { socket?: { remoteAddress?: string } } } | undefined;
  let clientAddressOf = resolvers.get(rt.trustedProxies);
  if (!clientAddressOf) resolvers.set(rt.trustedProxies, (clientAddressOf = createClientAddressOf(rt.trustedProxies)));
  return {
    ip: clientAddressOf(env?.incoming?.socket?.remoteAddress, c.req.header('x-forwarded-for')),
    userAgent: c.req.header('user-agent'),
    requestId: c.get('requestId') as string | undefined,
  };
}

/** Resolves `:tenant` or fails with `notFound` (each endpoint decides the shape). */
export async function tenantOf(rt: AuthRuntime, slug: string | undefined, notFound: () => Error): Promise<Tenant> {
  // Once booted, a cached tenant is answered without further awaits (each is a microtask).
  if (!rt.isReady) await rt.ready();
  const tenant = slug ? (rt.tenants.peek(slug) ?? { tenant: await rt.tenants.resolve(slug) }).tenant : undefined;
  if (!tenant) throw notFound();
  return tenant;
}
