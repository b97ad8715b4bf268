// Client queries and rules: secrets are 256-bit random values stored as SHA-256 (they are
// high-entropy, so a slow hash adds nothing) and compared in constant time.
import { createHash, timingSafeEqual } from 'node:crypto';
import { and, eq, sql } from 'drizzle-orm';
import type { Queryable } from '#shared/db/index';
import { randomHandle, sha256Hex } from './crypto.js';
import type { ClientMetadata } from './client-metadata.js';
import { clients, type Client, type NewClient } from './schema.js';

function prepareFindClient(q: Queryable) {
  return q
    .select()
    .from(clients)
    .where(and(eq(clients.tenantId, sql.placeholder('tenantId')), eq(clients.clientId, sql.placeholder('clientId'))))
    .limit(1)
    .prepare('auth_find_client');
}
const preparedFindClient = new WeakMap<object, ReturnType<typeof prepareFindClient>>();

/** The client lookup of every token request: built once per database handle, then only executed. */
export async function findClient(q: Queryable, tenantId: string, clientId: string): Promise<Client | undefined> {
  let prepared = preparedFindClient.get(q);
  if (!prepared) preparedFindClient.set(q, (prepared = prepareFindClient(q)));
  const [row] = await prepared.execute({ tenantId, clientId });
  return row;
}

/**
 * The stored SHA-256 as bytes, per client row: the token function's cache hands out the same row
 * for every request of a client. Anything but 64 lower-case hex digits never matches, as before.
 */
const storedDigests = new WeakMap<Client, Buffer>();

function storedDigest(client: Client): Buffer {
  let digest = storedDigests.get(client);
  if (digest === undefined) {
    digest = /^[0-9a-f]{64}$/.test(client.secretHash ?? '') ? Buffer.from(client.secretHash!, 'hex') : Buffer.alloc(0);
    storedDigests.set(client, digest);
  }
  return digest;
}

/** Constant-time check of a presented secret against the stored SHA-256 (digest bytes compared). */
export function verifyClientSecret(client: Client, presented: string): boolean {
  if (!client.secretHash || presented.length > 512) return false;
  const stored = storedDigest(client);
  const digest = createHash('sha256').update(presented, 'utf8').digest();
  return stored.length === digest.length && timingSafeEqual(digest, stored);
}

/** Turns validated metadata into a row; a secret is minted for secret-based auth methods. */
export function clientValues(
  tenantId: string,
  m: ClientMetadata,
  opts: { dynamic: boolean; secret?: string },
): { values: NewClient; secret: string | undefined; registrationToken: string | undefined } {
  const needsSecret = m.token_endpoint_auth_method === 'client_secret_basic' || m.token_endpoint_auth_method === 'client_secret_post';
  const secret = needsSecret ? (opts.secret ?? randomHandle(32)) : undefined;
  const registrationToken = opts.dynamic ? randomHandle(32) : undefined;
  const scopes = (m.scope ?? 'openid profile email').split(' ').filter(Boolean);
  return {
    secret,
    registrationToken,
    values: {
      tenantId,
      clientId: m.client_id && !opts.dynamic ? m.client_id : randomHandle(16),
      name: m.client_name ?? 'Unnamed client',
      secretHash: secret ? sha256Hex(secret) : null,
      tokenEndpointAuthMethod: m.token_endpoint_auth_method,
      redirectUris: m.redirect_uris,
      postLogoutRedirectUris: m.post_logout_redirect_uris,
      allowedOrigins: m.allowed_origins ? [...new Set(m.allowed_origins)] : null,
      backchannelLogoutUri: m.backchannel_logout_uri ?? null,
      backchannelLogoutSessionRequired: m.backchannel_logout_session_required,
      frontchannelLogoutUri: m.frontchannel_logout_uri ?? null,
      frontchannelLogoutSessionRequired: m.frontchannel_logout_session_required,
      grantTypes: [...new Set(m.grant_types)],
      scopes: [...new Set(scopes)],
      jwks: m.jwks ?? null,
      idTokenSignedResponseAlg: m.id_token_signed_response_alg,
      accessTokenTtl: m.access_token_ttl ?? 600,
      refreshTokenTtl: m.refresh_token_ttl ?? 2_592_000,
      // Only an admin may weaken rotation; a dynamically registered client never gets a grace.
      refreshReuseGraceSeconds: opts.dynamic ? 0 : (m.refresh_token_reuse_grace ?? 0),
      // The FAPI 2.0 profile turns PAR on (FAPI 2.0 Security Profile §5.3.2.2 item 2).
      requirePushedAuthorizationRequests: m.require_pushed_authorization_requests || m.security_profile === 'fapi2',
      requireSignedRequestObject: m.require_signed_request_object,
      authorizationSignedResponseAlg: m.authorization_signed_response_alg,
      securityProfile: m.security_profile ?? null,
      tlsClientAuthSubjectDn: m.tls_client_auth_subject_dn ?? null,
      tlsClientAuthSanDns: m.tls_client_auth_san_dns ?? null,
      tlsClientAuthSanUri: m.tls_client_auth_san_uri ?? null,
      tlsClientAuthSanIp: m.tls_client_auth_san_ip ?? null,
      tlsClientAuthSanEmail: m.tls_client_auth_san_email ?? null,
      tlsClientCertificateBoundAccessTokens: m.tls_client_certificate_bound_access_tokens,
      authorizationDetailsTypes: m.authorization_details_types,
      dpopBoundAccessTokens: m.dpop_bound_access_tokens,
      dpopNonceRequired: m.dpop_nonce_required,
      // Which audiences a client may reach on a user's behalf is the administrator's decision.
      tokenExchangeAudiences: opts.dynamic ? [] : [...new Set(m.token_exchange_audiences ?? [])],
      tokenExchangeImpersonation: opts.dynamic ? false : (m.token_exchange_impersonation ?? false),
      tokenExchangeTrustedIssuers: opts.dynamic ? [] : (m.token_exchange_trusted_issuers ?? []).map((t) => ({ issuer: t.issuer, jwks: { keys: t.jwks.keys as Record<string, unknown>[] } })),
      firstParty: opts.dynamic ? false : (m.first_party ?? false),
      groupsClaimFormat: m.groups_claim_format,
      registrationTokenHash: registrationToken ? sha256Hex(registrationToken) : null,
    },
  };
}

export async function insertClient(q: Queryable, values: NewClient): Promise<Client | undefined> {
  const [row] = await q.insert(clients).values(values).onConflictDoNothing().returning();
  return row;
}

export async function listClients(q: Queryable, tenantId: string): Promise<Client[]> {
  return q.select().from(clients).where(eq(clients.tenantId, tenantId)).orderBy(clients.clientId);
}

export async function deleteClient(q: Queryable, tenantId: string, clientId: string): Promise<Client | undefined> {
  const [row] = await q
    .delete(clients)
    .where(and(eq(clients.tenantId, tenantId), eq(clients.clientId, clientId)))
    .returning();
  return row;
}

export async function findClientById(q: Queryable, tenantId: string, id: string): Promise<Client | undefined> {
  const [row] = await q
    .select()
    .from(clients)
    .where(and(eq(clients.tenantId, tenantId), eq(clients.id, id)))
    .limit(1);
  return row;
}

/**
 * Replaces a secret-based client's secret with a fresh 256-bit value, returned once; the old one
 * stops working at commit (the token function's cache hears of it through the clients trigger).
 */
export async function rotateClientSecret(q: Queryable, tenantId: string, clientId: string): Promise<{ client: Client; secret: string } | 'not_found' | 'no_secret'> {
  const [row] = await q.select().from(clients).where(and(eq(clients.tenantId, tenantId), eq(clients.clientId, clientId))).for('update');
  if (!row) return 'not_found';
  if (row.tokenEndpointAuthMethod !== 'client_secret_basic' && row.tokenEndpointAuthMethod !== 'client_secret_post') return 'no_secret';
  const secret = randomHandle(32);
  const [updated] = await q
    .update(clients)
    .set({ secretHash: sha256Hex(secret), updatedAt: sql`now()` })
    .where(and(eq(clients.tenantId, tenantId), eq(clients.id, row.id)))
    .returning();
  return { client: updated!, secret };
}
