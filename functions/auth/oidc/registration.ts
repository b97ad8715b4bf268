// Dynamic Client Registration (RFC 7591) with an initial access token (the admin token), and the
// management protocol (RFC 7592) with the registration access token returned at registration.
import type { Context } from 'hono';
import { and, eq } from 'drizzle-orm';
import { requireAdminToken } from '../core/admin-auth.js';
import { bearerToken } from '../core/access-tokens.js';
import { recordAudit } from '../core/audit.js';
import { checkClientMetadata, clientMetadataSchema, describeClient, type ClientMetadata } from '../core/client-metadata.js';
import { clientValues, deleteClient, findClient, insertClient } from '../core/clients.js';
import { safeEqual, sha256Hex } from '../core/crypto.js';
import { AUTH_EVENTS } from '../core/event-types.js';
import { tokenJson } from '../web/token-json.js';
import { bearerError, OAuthError } from '../core/oauth-error.js';
import type { AuthRuntime } from '../core/runtime.js';
import { clients, type Client, type Tenant } from '../core/schema.js';
import { hasNul, requestMeta, tenantOf } from '../web/request.js';

const unknownTenant = () => new OAuthError('invalid_request', 'Unknown issuer.', { status: 404 });

/** RFC 7591 §3.2.2: invalid_redirect_uri / invalid_client_metadata, status 400. */
async function readMetadata(c: Context): Promise<ClientMetadata> {
  const type = (c.req.header('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== 'application/json') throw new OAuthError('invalid_client_metadata', 'Send the metadata as application/json.');
  let raw: unknown;
  try {
    raw = JSON.parse(await c.req.text());
  } catch {
    throw new OAuthError('invalid_client_metadata', 'The body is not valid JSON.');
  }
  if (hasNul(raw)) throw new OAuthError('invalid_client_metadata', 'The metadata contains a NUL character.');
  const parsed = clientMetadataSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const field = String(issue.path[0] ?? '');
    throw new OAuthError(field.includes('redirect_uri') ? 'invalid_redirect_uri' : 'invalid_client_metadata', `${issue.path.join('.') || 'body'}: ${issue.message}`);
  }
  const problem = checkClientMetadata(parsed.data);
  if (problem) throw new OAuthError(problem.includes('redirect') ? 'invalid_redirect_uri' : 'invalid_client_metadata', problem);
  // Policy knobs are for the admin API only.
  return { ...parsed.data, first_party: false, access_token_ttl: undefined, refresh_token_ttl: undefined };
}

function registrationResponse(issuer: string, client: Client, extra: Record<string, unknown>, status: number): Response {
  const { access_token_ttl: _a, refresh_token_ttl: _r, first_party: _f, ...meta } = describeClient(client);
  return tokenJson({ ...meta, registration_client_uri: `${issuer}/register/${encodeURIComponent(client.clientId)}`, ...extra }, status);
}

export async function registerEndpoint(c: Context, rt: AuthRuntime): Promise<Response> {
  const tenant = await tenantOf(rt, c.req.param('tenant'), unknownTenant);
  const admin = await requireAdminToken(rt, c.req.header('authorization'));
  const m = await readMetadata(c);
  const { values, secret, registrationToken } = clientValues(tenant.id, m, { dynamic: true });
  const client = await rt.transaction(async (tx) => {
    const row = await insertClient(tx, values);
    if (!row) throw new OAuthError('invalid_client_metadata', 'Could not register the client; try again.');
    await recordAudit(tx, { tenantId: tenant.id, action: 'client.created', outcome: 'success', actor: admin.sub, clientId: row.clientId, detail: { via: 'dcr' } }, requestMeta(c, rt));
    await rt.events.emit(tx, { type: AUTH_EVENTS.clientCreated, data: { tenant: tenant.slug, clientId: row.clientId, actor: admin.sub } });
    return row;
  });
  return registrationResponse(rt.issuer(tenant.slug), client, {
    ...(secret ? { client_secret: secret, client_secret_expires_at: 0 } : {}),
    registration_access_token: registrationToken,
  }, 201);
}

/** RFC 7592 §2: the registration access token authorises reading, updating and deleting. */
async function managedClient(c: Context, rt: AuthRuntime): Promise<{ tenant: Tenant; client: Client }> {
  const tenant = await tenantOf(rt, c.req.param('tenant'), unknownTenant);
  const token = bearerToken(c.req.header('authorization'));
  const clientId = c.req.param('clientId') ?? '';
  const client = token && clientId.length <= 128 ? await findClient(rt.db, tenant.id, clientId) : undefined;
  // Unknown client and wrong token look the same (RFC 7592 §2.1: 401, no existence leak).
  if (!client?.registrationTokenHash || !token || !safeEqual(sha256Hex(token), client.registrationTokenHash)) {
    throw bearerError('invalid_token', 'The registration access token is invalid.');
  }
  return { tenant, client };
}

export async function readRegistration(c: Context, rt: AuthRuntime): Promise<Response> {
  const { tenant, client } = await managedClient(c, rt);
  return registrationResponse(rt.issuer(tenant.slug), client, {}, 200);
}

export async function updateRegistration(c: Context, rt: AuthRuntime): Promise<Response> {
  const { tenant, client } = await managedClient(c, rt);
  const m = await readMetadata(c);
  // RFC 7592 §2.2: the body's client_id must be the client's.
  if (m.client_id !== undefined && m.client_id !== client.clientId) throw new OAuthError('invalid_client_metadata', 'client_id cannot change.');
  if (m.token_endpoint_auth_method !== client.tokenEndpointAuthMethod) throw new OAuthError('invalid_client_metadata', 'token_endpoint_auth_method cannot change.');
  const { values } = clientValues(tenant.id, m, { dynamic: true });
  const updated = await rt.transaction(async (tx) => {
    const [row] = await tx
      .update(clients)
      .set({
        name: values.name,
        redirectUris: values.redirectUris,
        postLogoutRedirectUris: values.postLogoutRedirectUris,
        allowedOrigins: values.allowedOrigins,
        groupsClaimFormat: values.groupsClaimFormat,
        backchannelLogoutUri: values.backchannelLogoutUri,
        backchannelLogoutSessionRequired: values.backchannelLogoutSessionRequired,
        frontchannelLogoutUri: values.frontchannelLogoutUri,
        frontchannelLogoutSessionRequired: values.frontchannelLogoutSessionRequired,
        grantTypes: values.grantTypes,
        scopes: values.scopes,
        jwks: values.jwks,
        idTokenSignedResponseAlg: values.idTokenSignedResponseAlg,
        requirePushedAuthorizationRequests: values.requirePushedAuthorizationRequests,
        authorizationDetailsTypes: values.authorizationDetailsTypes,
        dpopBoundAccessTokens: values.dpopBoundAccessTokens,
        dpopNonceRequired: values.dpopNonceRequired,
        updatedAt: new Date(),
      })
      .where(and(eq(clients.id, client.id), eq(clients.tenantId, tenant.id)))
      .returning();
    await recordAudit(tx, { tenantId: tenant.id, action: 'client.updated', outcome: 'success', actor: client.clientId, clientId: client.clientId, detail: { via: 'dcr-management' } }, requestMeta(c, rt));
    await rt.events.emit(tx, { type: AUTH_EVENTS.clientUpdated, data: { tenant: tenant.slug, clientId: client.clientId, actor: client.clientId } });
    return row!;
  });
  return registrationResponse(rt.issuer(tenant.slug), updated, {}, 200);
}

export async function deleteRegistration(c: Context, rt: AuthRuntime): Promise<Response> {
  const { tenant, client } = await managedClient(c, rt);
  await rt.transaction(async (tx) => {
    await deleteClient(tx, tenant.id, client.clientId);
    await recordAudit(tx, { tenantId: tenant.id, action: 'client.deleted', outcome: 'success', actor: client.clientId, clientId: client.clientId, detail: { via: 'dcr-management' } }, requestMeta(c, rt));
    await rt.events.emit(tx, { type: AUTH_EVENTS.clientDeleted, data: { tenant: tenant.slug, clientId: client.clientId, actor: client.clientId } });
  });
  return new Response(null, { status: 204, headers: { 'cache-control': 'no-store' } });
}
