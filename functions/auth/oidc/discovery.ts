// The provider metadata of a tenant (OIDC Discovery 1.0 §3, RFC 8414 §2, RFC 9126 §5,
// RFC 9207 §3, RFC 9396 §10, RFC 7591, RFC 8628 §4, RFC 9449 §5.1, RFC 9101 §10, JARM §4,
// RFC 8705 §3.3 and §5).
import { ACR } from '../core/acr.js';
import { ASSERTION_ALGS } from '../core/client-auth.js';
import { AUTH_METHODS, SUPPORTED_SCOPES } from '../core/client-metadata.js';
import { DPOP_ALGS } from '../core/dpop.js';
import { GRANT_TYPES } from '../core/grant-types.js';
import { AUTHORIZATION_SIGNING_ALGS } from '../core/jarm.js';
import { REQUEST_OBJECT_ALGS } from '../core/request-object.js';

/** The endpoints a client may reach with its certificate (RFC 8705 §5), as `mtls_endpoint_aliases` names them. */
const MTLS_ENDPOINTS = {
  token_endpoint: 'token',
  revocation_endpoint: 'revoke',
  introspection_endpoint: 'introspect',
  device_authorization_endpoint: 'device_authorization',
  pushed_authorization_request_endpoint: 'par',
  userinfo_endpoint: 'userinfo',
} as const;

/**
 * `mtlsUrls(url)` lists the URLs a certificate is accepted at for an endpoint: the endpoint and,
 * where the mTLS listener has its own base URL (ZENO_AUTH_MTLS_BASE_URL), its alias there.
 */
export function providerMetadata(issuer: string, detailTypes: string[], mtlsUrls: (url: string) => string[] = (u) => [u]): Record<string, unknown> {
  const confidential = AUTH_METHODS.filter((m) => m !== 'none');
  // RFC 8705 §5: "the authorization server MAY publish ... endpoints for mutual-TLS"; a client
  // that finds none uses the conventional ones (which then take certificates themselves).
  const mtlsAliases = Object.fromEntries(Object.entries(MTLS_ENDPOINTS).map(([name, path]) => [name, mtlsUrls(`${issuer}/${path}`).at(-1)]));
  return {
    issuer,
    authorization_endpoint: `${issuer}/authorize`,
    token_endpoint: `${issuer}/token`,
    userinfo_endpoint: `${issuer}/userinfo`,
    jwks_uri: `${issuer}/jwks`,
    registration_endpoint: `${issuer}/register`,
    pushed_authorization_request_endpoint: `${issuer}/par`,
    introspection_endpoint: `${issuer}/introspect`,
    revocation_endpoint: `${issuer}/revoke`,
    // RFC 8628 §4.
    device_authorization_endpoint: `${issuer}/device_authorization`,
    end_session_endpoint: `${issuer}/logout`,
    // OIDC Back-Channel Logout 1.0 §2.1 and Front-Channel Logout 1.0 §3: both with `sid`.
    backchannel_logout_supported: true,
    backchannel_logout_session_supported: true,
    frontchannel_logout_supported: true,
    frontchannel_logout_session_supported: true,
    scopes_supported: [...SUPPORTED_SCOPES],
    response_types_supported: ['code'],
    // JARM §4.1: jwt and its three carriers.
    response_modes_supported: ['query', 'jwt', 'query.jwt', 'fragment.jwt', 'form_post.jwt'],
    authorization_signing_alg_values_supported: [...AUTHORIZATION_SIGNING_ALGS],
    grant_types_supported: [...GRANT_TYPES],
    subject_types_supported: ['public'],
    acr_values_supported: [ACR.password, ACR.mfa],
    id_token_signing_alg_values_supported: ['RS256', 'EdDSA'],
    token_endpoint_auth_methods_supported: [...AUTH_METHODS],
    token_endpoint_auth_signing_alg_values_supported: ASSERTION_ALGS,
    introspection_endpoint_auth_methods_supported: confidential,
    introspection_endpoint_auth_signing_alg_values_supported: ASSERTION_ALGS,
    revocation_endpoint_auth_methods_supported: [...AUTH_METHODS],
    revocation_endpoint_auth_signing_alg_values_supported: ASSERTION_ALGS,
    code_challenge_methods_supported: ['S256'],
    prompt_values_supported: ['none', 'login', 'consent', 'select_account'],
    claims_supported: ['sub', 'iss', 'aud', 'exp', 'iat', 'auth_time', 'nonce', 'acr', 'amr', 'azp', 'sid', 'at_hash', 'name', 'given_name', 'family_name', 'preferred_username', 'updated_at', 'email', 'email_verified', 'groups'],
    claims_parameter_supported: false,
    // RFC 9101: request objects by value, and by reference only through PAR (no external request_uri).
    request_parameter_supported: true,
    request_uri_parameter_supported: false,
    request_object_signing_alg_values_supported: REQUEST_OBJECT_ALGS,
    require_signed_request_object: false,
    require_pushed_authorization_requests: false,
    authorization_response_iss_parameter_supported: true,
    authorization_details_types_supported: detailTypes,
    // RFC 9449 §5.1.
    dpop_signing_alg_values_supported: [...DPOP_ALGS],
    // RFC 8705 §3.3 and §5.
    tls_client_certificate_bound_access_tokens: true,
    mtls_endpoint_aliases: mtlsAliases,
  };
}
