// Client metadata as RFC 7591 §2 defines it, validated, with our policy knobs beside it.
import { z } from 'zod';
import { GRANT_TYPES } from './grant-types.js';
import { isIP } from 'node:net';
import { parseDistinguishedName } from './mtls.js';
import type { Client, ClientAuthMethod } from './schema.js';

export const SUPPORTED_SCOPES = ['openid', 'profile', 'email', 'groups', 'offline_access'] as const;
/** RFC 8705 §2's two methods authenticate with the certificate the ingress forwards (docs/auth.md#mutual-tls). */
export const AUTH_METHODS = ['client_secret_basic', 'client_secret_post', 'private_key_jwt', 'tls_client_auth', 'self_signed_tls_client_auth', 'none'] as const satisfies readonly ClientAuthMethod[];

/**
 * Redirect URIs: absolute, no fragment (RFC 6749 §3.1.2); https, or http on a loopback host
 * for development and native apps (RFC 8252 §7.3).
 */
function isAcceptableRedirectUri(value: string): boolean {
  let u: URL;
  try {
    u = new URL(value);
  } catch {
    return false;
  }
  if (u.hash || value.includes('#')) return false;
  if (u.protocol === 'https:') return true;
  if (u.protocol === 'http:') return u.hostname === 'localhost' || u.hostname === '127.0.0.1' || u.hostname === '[::1]';
  // Private-use URI schemes of native apps (RFC 8252 §7.1): reverse domain names.
  return /^[a-z][a-z0-9+.-]*\.[a-z0-9+.-]+:$/.test(u.protocol);
}

const redirectUri = z.string().max(2000).refine(isAcceptableRedirectUri, 'must be an absolute https (or loopback http) URI without a fragment');
/** A logout URI the server calls or frames: absolute http(s), https unless on a loopback host, no fragment. */
const logoutUri = z
  .string()
  .max(2000)
  .refine((v) => isAcceptableRedirectUri(v) && /^https?:/.test(v), 'must be an absolute https (or loopback http) URI without a fragment');
/** A browser origin (CORS): `scheme://host[:port]` exactly as serialised, https or http on a loopback host. */
const webOrigin = z
  .string()
  .max(300)
  .refine((v) => {
    try {
      const u = new URL(v);
      // A host name or an IP literal: no wildcard, which no browser sends and exact matching never meets.
      if (!/^([a-z0-9-]+\.)*[a-z0-9-]+$|^\[[0-9a-f:.]+\]$/.test(u.hostname)) return false;
      return u.origin === v && (u.protocol === 'https:' || (u.protocol === 'http:' && ['localhost', '127.0.0.1', '[::1]'].includes(u.hostname)));
    } catch {
      return false;
    }
  }, 'must be an origin (https://host[:port], or http on a loopback host) without a path');
const scopeToken = z.string().regex(/^[\x21\x23-\x5B\x5D-\x7E]+$/, 'not a scope token (RFC 6749 §3.3)');
const jwk = z.object({ kty: z.string() }).loose();

/** The registration request (RFC 7591 §2 and §3.1) and the admin API's client body. */
export const clientMetadataSchema = z.object({
  client_id: z.string().regex(/^[A-Za-z0-9._~-]{2,128}$/).optional(),
  client_name: z.string().min(1).max(200).optional(),
  redirect_uris: z.array(redirectUri).max(50).default([]),
  post_logout_redirect_uris: z.array(redirectUri).max(50).default([]),
  /** Browser origins allowed to call the token endpoints (CORS); absent: the redirect URIs' origins. */
  allowed_origins: z.array(webOrigin).max(50).optional(),
  /** OIDC Back-Channel Logout 1.0 §2.2. */
  backchannel_logout_uri: logoutUri.optional(),
  backchannel_logout_session_required: z.boolean().default(false),
  /** OIDC Front-Channel Logout 1.0 §2. */
  frontchannel_logout_uri: logoutUri.optional(),
  frontchannel_logout_session_required: z.boolean().default(false),
  token_endpoint_auth_method: z.enum(AUTH_METHODS).default('client_secret_basic'),
  grant_types: z.array(z.enum(GRANT_TYPES)).min(1).max(GRANT_TYPES.length).default(['authorization_code']),
  response_types: z.array(z.literal('code')).max(1).default(['code']),
  scope: z.string().max(2000).optional(),
  jwks: z.object({ keys: z.array(jwk).min(1).max(10) }).optional(),
  id_token_signed_response_alg: z.enum(['RS256', 'EdDSA']).default('RS256'),
  require_pushed_authorization_requests: z.boolean().default(false),
  authorization_details_types: z.array(z.string().min(1).max(200)).max(50).default([]),
  /** RFC 9449 §5.2: every token request of the client must carry a DPoP proof. */
  dpop_bound_access_tokens: z.boolean().default(false),
  /** Our extension: the client's proofs at the token endpoint must carry a server nonce (RFC 9449 §8). */
  dpop_nonce_required: z.boolean().default(false),
  /** RFC 9101 §10.5: authorization requests must come as signed request objects. */
  require_signed_request_object: z.boolean().default(false),
  /** JARM §3: the algorithm of the client's signed authorization responses. */
  authorization_signed_response_alg: z.enum(['RS256', 'EdDSA']).default('RS256'),
  /** Our extension: hold the client to the FAPI 2.0 Security Profile (see docs/auth-fapi.md). */
  security_profile: z.enum(['fapi2']).optional(),
  /** RFC 8705 §2.1.2: exactly one of these identifies a tls_client_auth client's certificate. */
  tls_client_auth_subject_dn: z.string().min(1).max(1000).optional(),
  tls_client_auth_san_dns: z.string().min(1).max(1000).optional(),
  tls_client_auth_san_uri: z.string().min(1).max(1000).optional(),
  tls_client_auth_san_ip: z.string().min(1).max(100).optional(),
  tls_client_auth_san_email: z.string().min(1).max(1000).optional(),
  /** RFC 8705 §3.4: access tokens are bound to the client certificate. */
  tls_client_certificate_bound_access_tokens: z.boolean().default(false),
  /** Our extensions for RFC 8693 (admin API only; ignored from DCR): what the client may exchange tokens for. */
  token_exchange_audiences: z.array(z.string().min(1).max(1000)).max(50).optional(),
  token_exchange_impersonation: z.boolean().optional(),
  /** Issuers whose JWT access tokens the client may present as subject_token, each with its public keys. */
  token_exchange_trusted_issuers: z.array(z.object({ issuer: z.string().url().max(1000), jwks: z.object({ keys: z.array(jwk).min(1).max(10) }) })).max(10).optional(),
  /** Our extensions (admin API only; ignored from DCR). */
  access_token_ttl: z.number().int().min(60).max(86_400).optional(),
  refresh_token_ttl: z.number().int().min(300).max(31_536_000).optional(),
  first_party: z.boolean().optional(),
  /** What the `groups` claim of ID tokens and UserInfo lists: names (default) or ids (stable across renames). */
  groups_claim_format: z.enum(['names', 'ids']).default('names'),
  /** Seconds a rotated refresh token stays usable for a retry (as Okta's grace period, Auth0's reuse interval). */
  refresh_token_reuse_grace: z.number().int().min(0).max(60).optional(),
});
export type ClientMetadataInput = z.input<typeof clientMetadataSchema>;
export type ClientMetadata = z.output<typeof clientMetadataSchema>;

/** Cross-field rules; returns a problem description or undefined. */
export function checkClientMetadata(m: ClientMetadata): string | undefined {
  if (m.grant_types.includes('authorization_code') && m.redirect_uris.length === 0) return 'redirect_uris is required for the authorization_code grant';
  if (m.token_endpoint_auth_method === 'private_key_jwt' && !m.jwks) return 'private_key_jwt needs jwks (jwks_uri is not supported)';
  if (m.token_endpoint_auth_method === 'none' && m.grant_types.includes('client_credentials')) return 'a public client cannot use client_credentials';
  // FAPI 2.0 §5.3.2.1: refresh token rotation without exceptions; PAR + private_key_jwt is our FAPI profile.
  if ((m.refresh_token_reuse_grace ?? 0) > 0 && m.require_pushed_authorization_requests && m.token_endpoint_auth_method === 'private_key_jwt') {
    return 'a FAPI client (PAR and private_key_jwt) gets no refresh token reuse grace';
  }
  // Front-Channel Logout 1.0 §2: "The domain, port, and scheme of this URL MUST be the same as that of a registered Redirection URI value."
  if (m.frontchannel_logout_uri !== undefined && !m.redirect_uris.some((r) => new URL(r).origin === new URL(m.frontchannel_logout_uri!).origin)) {
    return 'frontchannel_logout_uri must have the origin (scheme, host, port) of one of the registered callback URIs';
  }
  const mtls = checkMtlsMetadata(m);
  if (mtls) return mtls;
  if (m.require_signed_request_object && !m.jwks) return 'require_signed_request_object needs jwks to verify the request objects';
  const fapi = checkFapiMetadata(m);
  if (fapi) return fapi;
  for (const s of (m.scope ?? '').split(' ').filter(Boolean)) {
    if (!scopeToken.safeParse(s).success) return `scope "${s}" is not a valid scope token`;
  }
  return undefined;
}

/**
 * RFC 8705 §2.1.2: "A client using the tls_client_auth authentication method MUST use exactly one
 * of the below metadata parameters to indicate the certificate subject value"; §2.2: a
 * self_signed_tls_client_auth client registers its certificates in `jwks`.
 * @see https://www.rfc-editor.org/rfc/rfc8705#section-2.1.2
 */
function checkMtlsMetadata(m: ClientMetadata): string | undefined {
  const tlsFields = [m.tls_client_auth_subject_dn, m.tls_client_auth_san_dns, m.tls_client_auth_san_uri, m.tls_client_auth_san_ip, m.tls_client_auth_san_email].filter((v) => v !== undefined);
  if (m.token_endpoint_auth_method !== 'tls_client_auth') {
    if (tlsFields.length > 0) return 'the tls_client_auth_* fields only apply to token_endpoint_auth_method tls_client_auth';
  } else if (tlsFields.length !== 1) {
    return 'tls_client_auth needs exactly one of tls_client_auth_subject_dn, tls_client_auth_san_dns, tls_client_auth_san_uri, tls_client_auth_san_ip, tls_client_auth_san_email';
  }
  if (m.tls_client_auth_subject_dn !== undefined && !parseDistinguishedName(m.tls_client_auth_subject_dn)) return 'tls_client_auth_subject_dn is not an RFC 4514 distinguished name (single-valued RDNs)';
  if (m.tls_client_auth_san_ip !== undefined && isIP(m.tls_client_auth_san_ip) === 0) return 'tls_client_auth_san_ip is not an IPv4 or IPv6 address';
  if (m.tls_client_auth_san_uri !== undefined && !URL.canParse(m.tls_client_auth_san_uri)) return 'tls_client_auth_san_uri is not an absolute URI';
  if (m.token_endpoint_auth_method === 'self_signed_tls_client_auth' && !m.jwks) return 'self_signed_tls_client_auth needs jwks holding the client certificates (x5c) or their keys';
  return undefined;
}

/**
 * FAPI 2.0 Security Profile §5.3.2.1 and §5.3.3: confidential clients authenticating with
 * private_key_jwt or mutual TLS, the code flow only, no refresh token reuse grace.
 * @see https://openid.net/specs/fapi-security-profile-2_0-final.html#section-5.3.2.1
 */
function checkFapiMetadata(m: ClientMetadata): string | undefined {
  if (m.security_profile !== 'fapi2') return undefined;
  // §5.3.2.1 item 4: "shall only support ... MTLS (RFC 8705) or private_key_jwt".
  if (!['private_key_jwt', 'tls_client_auth', 'self_signed_tls_client_auth'].includes(m.token_endpoint_auth_method)) return 'a FAPI 2.0 client authenticates with private_key_jwt or mutual TLS';
  if (m.response_types.some((t) => t !== 'code')) return 'a FAPI 2.0 client uses response_type=code only';
  if ((m.refresh_token_reuse_grace ?? 0) > 0) return 'a FAPI 2.0 client gets no refresh token reuse grace';
  return undefined;
}

/** The metadata we return for a client (RFC 7591 §3.2.1), never its secret hash. */
export function describeClient(c: Client): Record<string, unknown> {
  return {
    client_id: c.clientId,
    client_name: c.name,
    redirect_uris: c.redirectUris,
    post_logout_redirect_uris: c.postLogoutRedirectUris,
    ...(c.allowedOrigins ? { allowed_origins: c.allowedOrigins } : {}),
    ...(c.backchannelLogoutUri ? { backchannel_logout_uri: c.backchannelLogoutUri } : {}),
    backchannel_logout_session_required: c.backchannelLogoutSessionRequired,
    ...(c.frontchannelLogoutUri ? { frontchannel_logout_uri: c.frontchannelLogoutUri } : {}),
    frontchannel_logout_session_required: c.frontchannelLogoutSessionRequired,
    token_endpoint_auth_method: c.tokenEndpointAuthMethod,
    grant_types: c.grantTypes,
    response_types: c.grantTypes.includes('authorization_code') ? ['code'] : [],
    scope: c.scopes.join(' '),
    id_token_signed_response_alg: c.idTokenSignedResponseAlg,
    require_pushed_authorization_requests: c.requirePushedAuthorizationRequests,
    authorization_details_types: c.authorizationDetailsTypes,
    dpop_bound_access_tokens: c.dpopBoundAccessTokens,
    dpop_nonce_required: c.dpopNonceRequired,
    require_signed_request_object: c.requireSignedRequestObject,
    authorization_signed_response_alg: c.authorizationSignedResponseAlg,
    ...(c.securityProfile ? { security_profile: c.securityProfile } : {}),
    ...(c.tlsClientAuthSubjectDn ? { tls_client_auth_subject_dn: c.tlsClientAuthSubjectDn } : {}),
    ...(c.tlsClientAuthSanDns ? { tls_client_auth_san_dns: c.tlsClientAuthSanDns } : {}),
    ...(c.tlsClientAuthSanUri ? { tls_client_auth_san_uri: c.tlsClientAuthSanUri } : {}),
    ...(c.tlsClientAuthSanIp ? { tls_client_auth_san_ip: c.tlsClientAuthSanIp } : {}),
    ...(c.tlsClientAuthSanEmail ? { tls_client_auth_san_email: c.tlsClientAuthSanEmail } : {}),
    tls_client_certificate_bound_access_tokens: c.tlsClientCertificateBoundAccessTokens,
    token_exchange_audiences: c.tokenExchangeAudiences,
    token_exchange_impersonation: c.tokenExchangeImpersonation,
    token_exchange_trusted_issuers: c.tokenExchangeTrustedIssuers,
    ...(c.jwks ? { jwks: c.jwks } : {}),
    access_token_ttl: c.accessTokenTtl,
    refresh_token_ttl: c.refreshTokenTtl,
    refresh_token_reuse_grace: c.refreshReuseGraceSeconds,
    first_party: c.firstParty,
    groups_claim_format: c.groupsClaimFormat,
    client_id_issued_at: Math.floor(c.createdAt.getTime() / 1000),
  };
}
