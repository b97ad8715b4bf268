// The authorization endpoint's two failure renderings and its success redirect. An error the
// client cannot be trusted with (unknown client, unregistered redirect URI) is a page for the
// user; any other error goes back to the client with `state` and `iss` (RFC 9207).
import { createHash } from 'node:crypto';
import type { Context } from 'hono';
import { AppError } from '#shared/http/errors';
import type { PageBrand } from '../core/branding.js';
import { signAuthorizationResponse } from '../core/jarm.js';
import type { ResponseMode } from './authorization-request.js';
import type { FlowContext } from './flow-context.js';
import { renderPage } from './pages/render.js';
import { ErrorPage } from './pages/error-page.js';
import { FormPostPage, FORM_POST_SCRIPT } from './pages/form-post-page.js';

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

/** Where and how an authorization response goes: the redirect URI, the state to echo, the response mode. */
interface ResponseTarget {
  redirectUri: string;
  state?: string | undefined;
  responseMode?: ResponseMode | undefined;
}

const FORM_POST_HEADERS = {
  ...HTML_HEADERS,
  'content-security-policy': `default-src 'none'; script-src 'sha256-${createHash('sha256').update(FORM_POST_SCRIPT).digest('base64')}'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'`,
} as const;

/**
 * The authorization response (RFC 6749 §4.1.2) in the client's response mode: query parameters
 * with `iss` (RFC 9207 §2), or one `response` JWT signed by the tenant (JARM §2.3) carried in
 * the query, the fragment or an auto-posted form. Keeps cookies set on `c`.
 */
export async function authorizationResponse(c: Context, f: Pick<FlowContext, 'rt' | 'tenant' | 'issuer' | 'client'>, to: ResponseTarget, params: Record<string, string | undefined>): Promise<Response> {
  const mode = to.responseMode ?? 'query';
  if (mode === 'query') return redirectWith(c, to.redirectUri, { ...params, state: to.state, iss: f.issuer });
  const signer = await f.rt.keys.signer(f.tenant.id);
  // JARM §2.1: iss is a claim of the JWT, so RFC 9207's parameter is not repeated beside it (RFC 9207 §2.4).
  const response = await signAuthorizationResponse(signer, { issuer: f.issuer, clientId: f.client.clientId, alg: f.client.authorizationSignedResponseAlg, params: { ...params, state: to.state } });
  if (mode === 'query.jwt') return redirectWith(c, to.redirectUri, { response });
  if (mode === 'fragment.jwt') {
    const u = new URL(to.redirectUri);
    u.hash = new URLSearchParams({ response }).toString();
    return c.body(null, 303, { location: u.toString(), 'cache-control': 'no-store' });
  }
  return c.html(renderPage(FormPostPage({ action: to.redirectUri, response })), 200, FORM_POST_HEADERS);
}

/**
 * An error response at the client's redirect URI.
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-4.1.2.1
 * @see https://www.rfc-editor.org/rfc/rfc9207#section-2 "iss ... MUST be included in the
 * authorization response" (errors too) when the server advertises support.
 */
export function redirectError(c: Context, f: Pick<FlowContext, 'rt' | 'tenant' | 'issuer' | 'client'>, to: ResponseTarget, error: string, description: string): Promise<Response> {
  return authorizationResponse(c, f, to, { error, error_description: description });
}
