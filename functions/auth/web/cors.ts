// CORS for browser clients: a single-page app (a public client with PKCE) calls the token and
// revocation endpoints from its own origin, and reads the discovery document and the keys.
//
// - Discovery and JWKS are public documents: any origin may read them (`*`, no credentials).
// - The token and revocation endpoints answer a preflight for any origin (it reveals nothing and
//   spends nothing), but the request itself is served to a browser only from one of the client's
//   allowed origins: its `allowed_origins` metadata, exact match, or by default the origins of its
//   redirect URIs (the origin the code came back to). A request from another origin is refused
//   before its grant runs, so no code or refresh token is spent on a page that could not have read
//   the answer anyway. UserInfo answers its preflight the same way and is readable by the allowed
//   origins of the token's client.
// @see https://fetch.spec.whatwg.org/#http-cors-protocol
// @see https://datatracker.ietf.org/doc/html/draft-ietf-oauth-browser-based-apps#section-6.3.2
import type { Context } from 'hono';
import type { Client } from '../core/schema.js';

/** Request fields a browser client sends to the token endpoint beyond the CORS-safelisted ones. */
const ALLOWED_HEADERS = 'authorization, content-type, dpop';
/** Response fields a browser client needs to read: the DPoP nonce and the challenge of a 401. */
const EXPOSED_HEADERS = 'dpop-nonce, www-authenticate';

/** `https://host[:port]` of an http(s) URL; undefined for anything else (custom schemes, garbage). */
function originOf(uri: string): string | undefined {
  try {
    const u = new URL(uri);
    return u.protocol === 'https:' || u.protocol === 'http:' ? u.origin : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Whether a browser at `origin` may read a client's answers: the origin is exactly one of the
 * client's `allowed_origins`, or, when it has none set, that of one of its redirect URIs (scheme,
 * host and port; `null` and malformed origins never are).
 */
export function originAllowed(origin: string, client: Pick<Client, 'allowedOrigins' | 'redirectUris'>): boolean {
  if (originOf(origin) !== origin) return false;
  if (client.allowedOrigins) return client.allowedOrigins.includes(origin);
  return client.redirectUris.some((uri) => originOf(uri) === origin);
}

/** The answer to a preflight: any well-formed origin, these methods and fields, cached ten minutes. */
export function preflight(c: Context, methods = 'POST'): Response {
  const origin = c.req.header('origin');
  const headers: Record<string, string> = { allow: `OPTIONS, ${methods}`, vary: 'Origin' };
  if (origin !== undefined && originOf(origin) === origin) {
    headers['access-control-allow-origin'] = origin;
    headers['access-control-allow-methods'] = methods;
    headers['access-control-allow-headers'] = ALLOWED_HEADERS;
    headers['access-control-max-age'] = '600';
  }
  return new Response(null, { status: 204, headers });
}

/** Marks a response readable by the browser at `origin` (an origin already checked against the client). */
export function allowOrigin(res: Response, origin: string): void {
  res.headers.set('access-control-allow-origin', origin);
  res.headers.set('access-control-expose-headers', EXPOSED_HEADERS);
  res.headers.append('vary', 'Origin');
}

/** Marks a public document (discovery, JWKS) readable from any origin. */
export function allowAnyOrigin(c: Context): void {
  c.header('access-control-allow-origin', '*');
}
