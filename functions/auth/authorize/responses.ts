// The authorization endpoint's two failure renderings and its success redirect. An error the
// client cannot be trusted with (unknown client, unregistered redirect URI) is a page for the
// user; any other error goes back to the client with `state` and `iss` (RFC 9207).
import type { Context } from 'hono';
import { AppError } from '#shared/http/errors';
import type { PageBrand } from '../core/branding.js';
import { renderPage } from './pages/render.js';
import { ErrorPage } from './pages/error-page.js';

/** Security headers of every HTML page: no framing, no inline or foreign scripts (only our passkey.js), nothing cached. */
const HTML_HEADERS = {
  'content-type': 'text/html; charset=utf-8',
  'cache-control': 'no-store',
  'content-security-policy': "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'",
} as const;

export class AuthorizePageError extends AppError {
  constructor(status: number, code: string, message: string) {
    super(status, code, message);
    this.name = 'AuthorizePageError';
  }

  override getResponse(): Response {
    return new Response(renderPage(ErrorPage({ title: 'This request cannot be completed', message: this.message })), { status: this.status, headers: HTML_HEADERS });
  }
}

/** Appends response parameters to the redirect URI's query (RFC 6749 §4.1.2); keeps cookies set on `c`. */
export function redirectWith(c: Context, redirectUri: string, params: Record<string, string | undefined>): Response {
  const u = new URL(redirectUri);
  for (const [k, v] of Object.entries(params)) if (v !== undefined) u.searchParams.append(k, v);
  return c.body(null, 303, { location: u.toString(), 'cache-control': 'no-store' });
}

/** Sends a server-rendered page; keeps cookies set on `c`. A brand's logo origin is the one image source added to the CSP. */
export function sendPage(c: Context, status: number, node: unknown, brand?: PageBrand): Response {
  if (!brand?.logoUrl) return c.html(renderPage(node), status as 200, HTML_HEADERS);
  const csp = HTML_HEADERS['content-security-policy'].replace("img-src 'self' data:", `img-src 'self' data: ${new URL(brand.logoUrl).origin}`);
  return c.html(renderPage(node), status as 200, { ...HTML_HEADERS, 'content-security-policy': csp });
}

/**
 * An error response at the client's redirect URI.
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-4.1.2.1
 * @see https://www.rfc-editor.org/rfc/rfc9207#section-2 "iss ... MUST be included in the
 * authorization response" (errors too) when the server advertises support.
 */
export function redirectError(c: Context, redirectUri: string, issuer: string, state: string | undefined, error: string, description: string): Response {
  return redirectWith(c, redirectUri, { error, error_description: description, state, iss: issuer });
}
