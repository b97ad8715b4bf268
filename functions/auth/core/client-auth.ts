// Client authentication at the token, PAR, introspection and revocation endpoints:
// client_secret_basic, client_secret_post (RFC 6749 §2.3.1), private_key_jwt (RFC 7523 §2.2,
// OIDC Core §9), tls_client_auth and self_signed_tls_client_auth (RFC 8705 §2) and none for
// public clients. Secret clients may use either secret method; a key client only its assertion;
// a certificate client only its certificate; a public client only its client_id.
import { decodeJwt, jwtVerify, type JWTPayload } from 'jose';
import { sql } from 'drizzle-orm';
import type { Queryable } from '#shared/db/index';
import type { ClientFinder } from './client-cache.js';
import { clientKeySet } from './client-keys.js';
import { findClient, verifyClientSecret } from './clients.js';
import { matchesSelfSigned, matchesTlsClientAuth, type PresentedCertificate } from './mtls.js';
import { OAuthError } from './oauth-error.js';
import { clientAssertionJtis, type Client, type Tenant } from './schema.js';

const JWT_BEARER_ASSERTION = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
/** Asymmetric algorithms only: `none` and HMAC (including HS256 keyed with a public key) never verify. */
export const ASSERTION_ALGS = ['EdDSA', 'Ed25519', 'ES256', 'PS256', 'RS256'];
/**
 * A client holding a secret may present it in the header or the body: the registered method
 * records its preference (RFC 7591 §2), the secret is the same credential either way.
 */
const SECRET_METHODS = new Set(['client_secret_basic', 'client_secret_post']);
/** Assertions may not live longer than this (bounds the replay table). */
const MAX_ASSERTION_SECONDS = 600;

interface ClientCredentialsInput {
  authorization: string | undefined;
  params: URLSearchParams;
  /** Audiences an assertion may name: the issuer and the endpoint URLs. */
  audiences: string[];
  /** The TLS client certificate the ingress vouched for (RFC 8705), if any. */
  certificate?: PresentedCertificate | undefined;
}

function invalidClient(description: string, basic: boolean): OAuthError {
  return new OAuthError('invalid_client', description, basic ? { headers: { 'www-authenticate': 'Basic realm="zenokube"' } } : {});
}

function decodeBasic(header: string): { id: string; secret: string } | undefined {
  const m = /^Basic ([A-Za-z0-9+/=]+)$/i.exec(header.trim());
  if (!m || m[1]!.length > 2048) return undefined;
  const raw = Buffer.from(m[1]!, 'base64').toString('utf8');
  const i = raw.indexOf(':');
  if (i < 0) return undefined;
  try {
    // RFC 6749 §2.3.1: the id and secret are form-urlencoded before base64 (most have nothing to decode).
    const dec = (s: string) => (s.includes('%') || s.includes('+') ? decodeURIComponent(s.replace(/\+/g, ' ')) : s);
    return { id: dec(raw.slice(0, i)), secret: dec(raw.slice(i + 1)) };
  } catch {
    return undefined;
  }
}

interface AuthenticatedClient {
  client: Client;
  method: Client['tokenEndpointAuthMethod'];
}

/**
 * Authenticates the calling client of `tenant`; every failure is `invalid_client` (401).
 * `find` loads the client row (the token function passes its notified cache, see client-cache.ts).
 */
export async function authenticateClient(q: Queryable, tenant: Tenant, input: ClientCredentialsInput, find: ClientFinder = findClient): Promise<AuthenticatedClient> {
  const p = input.params;
  const basic = input.authorization?.toLowerCase().startsWith('basic ') ? decodeBasic(input.authorization) : undefined;
  if (input.authorization?.toLowerCase().startsWith('basic ') && !basic) throw invalidClient('Malformed Basic credentials.', true);
  const assertionType = p.get('client_assertion_type');
  const assertion = p.get('client_assertion');
  const postSecret = p.get('client_secret');
  const used = [basic, postSecret !== null ? 1 : undefined, assertion !== null || assertionType !== null ? 1 : undefined].filter(Boolean).length;
  if (used > 1) throw new OAuthError('invalid_request', 'Use exactly one client authentication method.');

  if (basic) {
    const param = p.get('client_id');
    if (param !== null && param !== basic.id) throw invalidClient('client_id does not match the credentials.', true);
    const client = await find(q, tenant.id, basic.id);
    if (!client || !SECRET_METHODS.has(client.tokenEndpointAuthMethod) || !verifyClientSecret(client, basic.secret)) {
      throw invalidClient('Client authentication failed.', true);
    }
    return { client, method: 'client_secret_basic' };
  }
  if (postSecret !== null) {
    const id = p.get('client_id');
    if (!id) throw invalidClient('client_id is required with client_secret.', false);
    const client = await find(q, tenant.id, id);
    if (!client || !SECRET_METHODS.has(client.tokenEndpointAuthMethod) || !verifyClientSecret(client, postSecret)) {
      throw invalidClient('Client authentication failed.', false);
    }
    return { client, method: 'client_secret_post' };
  }
  if (assertion !== null || assertionType !== null) {
    if (assertionType !== JWT_BEARER_ASSERTION || !assertion) throw invalidClient('Unsupported client assertion.', false);
    return { client: await verifyAssertion(q, tenant, assertion, p.get('client_id'), input.audiences, find), method: 'private_key_jwt' };
  }
  const id = p.get('client_id');
  if (!id) throw invalidClient('Client authentication is required.', true);
  const client = await find(q, tenant.id, id);
  const method = client?.tokenEndpointAuthMethod;
  if (client && method === 'none') return { client, method };
  // RFC 8705 §2: "the client_id parameter [...] enables the authorization server to easily
  // identify the client independently from the content of the certificate".
  const cert = input.certificate;
  if (client && cert && (method === 'tls_client_auth' ? matchesTlsClientAuth(client, cert) : method === 'self_signed_tls_client_auth' && (await matchesSelfSigned(client, cert)))) {
    return { client, method: client.tokenEndpointAuthMethod };
  }
  throw invalidClient('Client authentication failed.', false);
}

/**
 * RFC 7523 §3: iss = sub = client_id, aud names this server, exp present and near, jti unique.
 * @see https://www.rfc-editor.org/rfc/rfc7523#section-3
 */
async function verifyAssertion(q: Queryable, tenant: Tenant, assertion: string, clientIdParam: string | null, audiences: string[], find: ClientFinder): Promise<Client> {
  let claims: JWTPayload;
  try {
    if (assertion.length > 8192) throw new Error('too long');
    claims = decodeJwt(assertion);
  } catch {
    throw invalidClient('The client assertion is not a JWT.', false);
  }
  const id = typeof claims.sub === 'string' ? claims.sub : undefined;
  if (!id || claims.iss !== id || (clientIdParam !== null && clientIdParam !== id)) throw invalidClient('The client assertion must have iss = sub = client_id.', false);
  const client = await find(q, tenant.id, id);
  const set = client?.tokenEndpointAuthMethod === 'private_key_jwt' ? clientKeySet(client) : undefined;
  if (!client || !set) throw invalidClient('Client authentication failed.', false);
  let verified: JWTPayload;
  try {
    ({ payload: verified } = await jwtVerify(assertion, set, {
      issuer: id,
      subject: id,
      audience: audiences,
      algorithms: ASSERTION_ALGS,
      requiredClaims: ['exp', 'jti'],
      clockTolerance: 5,
    }));
  } catch {
    throw invalidClient('The client assertion did not verify.', false);
  }
  const now = Math.floor(Date.now() / 1000);
  if (verified.exp! > now + MAX_ASSERTION_SECONDS) throw invalidClient('The client assertion lives too long.', false);
  if (typeof verified.jti !== 'string' || verified.jti.length > 256) throw invalidClient('The client assertion needs a jti.', false);
  const inserted = await q
    .insert(clientAssertionJtis)
    .values({ tenantId: tenant.id, clientId: client.id, jti: verified.jti, expiresAt: sql`to_timestamp(${verified.exp!})` })
    .onConflictDoNothing()
    .returning({ jti: clientAssertionJtis.jti });
  if (inserted.length === 0) throw invalidClient('The client assertion was already used.', false);
  return client;
}
