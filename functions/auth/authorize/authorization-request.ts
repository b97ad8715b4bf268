// Validation of an authorization request (RFC 6749 §4.1.1, OIDC Core §3.1.2.1, RFC 7636,
// RFC 8707, RFC 9396, RFC 9101, JARM, FAPI 2.0). Client and redirect URI problems are shown to the user, never
// redirected; every other problem becomes an error response at the redirect URI.
import { OAuthError } from '../core/oauth-error.js';
import { checkScopes, parseAuthorizationDetails, parseResources, parseScope, type AuthorizationDetail } from '../core/request-params.js';
import type { Client } from '../core/schema.js';

/** A validated authorization request, as stored in an interaction or a pushed request. */
export interface AuthzRequest {
  clientId: string;
  redirectUri: string;
  scope: string[];
  state?: string | undefined;
  nonce?: string | undefined;
  codeChallenge?: string | undefined;
  prompt: string[];
  /** OIDC Core §3.1.2.1 acr_values, in order of preference. */
  acrValues: string[];
  maxAge?: number | undefined;
  loginHint?: string | undefined;
  resource: string[];
  authorizationDetails?: AuthorizationDetail[] | undefined;
  /** JARM §2.3: how the response is returned; absent means plain query parameters. */
  responseMode?: ResponseMode | undefined;
  /** Set for a device authorization request (RFC 8628) being confirmed: there is no redirect. */
  device?: { codeHash: string; userCode: string } | undefined;
}

/** JARM §2.3 response modes (`jwt` is stored as the code flow's default, `query.jwt`). */
export type ResponseMode = 'query' | 'query.jwt' | 'fragment.jwt' | 'form_post.jwt';
const RESPONSE_MODES: Record<string, ResponseMode> = { query: 'query', jwt: 'query.jwt', 'query.jwt': 'query.jwt', 'fragment.jwt': 'fragment.jwt', 'form_post.jwt': 'form_post.jwt' };

/** The response mode a raw request names, when it is one we support (used to render its errors). */
export const responseModeOf = (value: string | null | undefined): ResponseMode | undefined => (value ? RESPONSE_MODES[value] : undefined);

const PROMPTS = ['none', 'login', 'consent', 'select_account'];
/** RFC 7636 §4.2: BASE64URL(SHA256(verifier)) is 43 characters. */
const CHALLENGE = /^[A-Za-z0-9\-._~]{43,128}$/;

const one = (p: URLSearchParams, k: string) => p.get(k) ?? undefined;

/**
 * The redirect URI must be sent (OIDC Core §3.1.2.1 makes it REQUIRED; so the token request can
 * always be checked against it) and be one of the registered ones, compared as simple strings
 * (RFC 6749 §3.1.2.3, RFC 9700 §4.1.3).
 */
export function chooseRedirectUri(client: Client, given: string | undefined): string | undefined {
  return given !== undefined && client.redirectUris.includes(given) ? given : undefined;
}

/**
 * Validates everything but the client and redirect URI. Throws `OAuthError`; the caller renders it
 * as a redirect (front channel) or as JSON (PAR).
 */
export function validateAuthorizationParams(client: Client, redirectUri: string, p: URLSearchParams, opts: { pushed: boolean; signed: boolean }): AuthzRequest {
  const fapi = client.securityProfile === 'fapi2';
  const state = one(p, 'state');
  if (state !== undefined && state.length > 2048) throw new OAuthError('invalid_request', 'state is too long.');
  // Request objects are unpacked before this point (request-object.ts); one left here was nested or misplaced.
  if (p.has('request') || p.has('request_uri')) throw new OAuthError('invalid_request', 'request and request_uri cannot be used here.');
  if (!client.grantTypes.includes('authorization_code')) throw new OAuthError('unauthorized_client', 'The client may not use the authorization code flow.');
  if ((client.requirePushedAuthorizationRequests || fapi) && !opts.pushed) {
    throw new OAuthError('invalid_request', 'This client must use pushed authorization requests (RFC 9126 §6).');
  }
  // RFC 9101 §10.5: "the authorization server MUST reject any authorization request ... that does not use a signed Request Object".
  if (client.requireSignedRequestObject && !opts.signed) throw new OAuthError('invalid_request', 'This client must send a signed request object (RFC 9101 §10.5).');
  const responseType = one(p, 'response_type');
  if (!responseType) throw new OAuthError('invalid_request', 'response_type is required.');
  if (responseType !== 'code') {
    // FAPI 2.0 Security Profile §5.3.2.2 item 1: "shall support only the authorization code flow" (no implicit, no hybrid).
    throw new OAuthError('unsupported_response_type', fapi ? 'FAPI 2.0 allows only response_type=code (no implicit or hybrid flow).' : 'Only response_type=code is supported.');
  }
  const modeRaw = one(p, 'response_mode');
  const responseMode = modeRaw === undefined ? undefined : RESPONSE_MODES[modeRaw];
  if (modeRaw !== undefined && !responseMode) throw new OAuthError('invalid_request', 'response_mode must be query, jwt, query.jwt, fragment.jwt or form_post.jwt.');

  const scope = parseScope(one(p, 'scope'));
  checkScopes(scope, client.scopes);

  const method = one(p, 'code_challenge_method');
  const challenge = one(p, 'code_challenge');
  if (method !== undefined && method !== 'S256') throw new OAuthError('invalid_request', 'code_challenge_method must be S256; plain is not accepted.');
  if (challenge !== undefined) {
    // RFC 7636 §4.3: an absent method means plain, which we refuse.
    if (method === undefined) throw new OAuthError('invalid_request', 'code_challenge_method=S256 is required.');
    if (!CHALLENGE.test(challenge)) throw new OAuthError('invalid_request', 'code_challenge is malformed.');
  } else if (method !== undefined) {
    throw new OAuthError('invalid_request', 'code_challenge is missing.');
  } else if (client.tokenEndpointAuthMethod === 'none') {
    throw new OAuthError('invalid_request', 'Public clients must use PKCE (code_challenge with S256).');
  } else if (fapi) {
    // FAPI 2.0 Security Profile §5.3.2.2 item 5: "shall require ... PKCE ... with S256".
    throw new OAuthError('invalid_request', 'FAPI 2.0 requires PKCE (code_challenge with S256).');
  }

  const nonce = one(p, 'nonce');
  if (nonce !== undefined && (nonce.length === 0 || nonce.length > 512)) throw new OAuthError('invalid_request', 'nonce is malformed.');
  const prompt = (one(p, 'prompt') ?? '').split(' ').filter(Boolean);
  if (prompt.some((x) => !PROMPTS.includes(x))) throw new OAuthError('invalid_request', 'prompt has an unknown value.');
  // OIDC Core §3.1.2.1: "If this parameter contains none with any other value, an error is returned."
  if (prompt.includes('none') && prompt.length > 1) throw new OAuthError('invalid_request', 'prompt=none cannot be combined.');
  const maxAgeRaw = one(p, 'max_age');
  let maxAge: number | undefined;
  if (maxAgeRaw !== undefined) {
    if (!/^\d{1,9}$/.test(maxAgeRaw)) throw new OAuthError('invalid_request', 'max_age must be a non-negative integer.');
    maxAge = Number(maxAgeRaw);
  }
  const acrValues = (one(p, 'acr_values') ?? '').split(' ').filter(Boolean);
  if (acrValues.length > 10 || acrValues.some((v) => v.length > 200)) throw new OAuthError('invalid_request', 'acr_values is malformed.');
  const loginHint = one(p, 'login_hint');
  if (loginHint !== undefined && loginHint.length > 256) throw new OAuthError('invalid_request', 'login_hint is too long.');
  const resource = parseResources(p.getAll('resource'));
  const authorizationDetails = parseAuthorizationDetails(one(p, 'authorization_details'), client.authorizationDetailsTypes);
  return {
    clientId: client.clientId,
    redirectUri,
    scope,
    state,
    nonce,
    codeChallenge: challenge,
    prompt,
    acrValues,
    maxAge,
    loginHint,
    resource,
    authorizationDetails,
    ...(responseMode && responseMode !== 'query' ? { responseMode } : {}),
  };
}
