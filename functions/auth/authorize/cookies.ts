// The sign-in cookies: scoped to the tenant's path (a tenant never sees another's cookie),
// HttpOnly, SameSite=Lax, Secure whenever the public URL is https.
import type { Context } from 'hono';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import type { AuthRuntime } from '../core/runtime.js';
import type { Tenant } from '../core/schema.js';
import { randomHandle } from '../core/crypto.js';
import { INTERACTION_TTL_SECONDS } from '../core/interactions.js';
import { SESSION_TTL_SECONDS } from '../core/sessions.js';

export const SESSION_COOKIE = 'zk_session';
/** A random id of the browser, binding pending sign-ins (and their CSRF tokens) to it. */
export const BROWSER_COOKIE = 'zk_browser';

const options = (rt: AuthRuntime, tenant: Tenant, maxAge: number) =>
  ({ path: `/auth/${tenant.slug}`, httpOnly: true, sameSite: 'Lax', secure: rt.secureCookies, maxAge }) as const;

export function readCookie(c: Context, name: string): string | undefined {
  const v = getCookie(c, name);
  return v && v.length <= 100 ? v : undefined;
}

export function setSessionCookie(c: Context, rt: AuthRuntime, tenant: Tenant, secret: string): void {
  setCookie(c, SESSION_COOKIE, secret, options(rt, tenant, SESSION_TTL_SECONDS));
}

/** The browser id from its cookie, minted (and set) when absent. */
export function browserId(c: Context, rt: AuthRuntime, tenant: Tenant): string {
  const existing = readCookie(c, BROWSER_COOKIE);
  if (existing && /^[A-Za-z0-9_-]{43}$/.test(existing)) return existing;
  const id = randomHandle(32);
  setCookie(c, BROWSER_COOKIE, id, options(rt, tenant, INTERACTION_TTL_SECONDS * 6));
  return id;
}

export function clearCookie(c: Context, rt: AuthRuntime, tenant: Tenant, name: string): void {
  deleteCookie(c, name, { path: `/auth/${tenant.slug}`, secure: rt.secureCookies });
}
