// Who may call a tenant's SCIM API (RFC 7644 §2): a SCIM token of the tenant, an access token of
// the tenant with scope `scim` (a provisioning client), or the admin token (zeno:admin) of the
// system tenant's zeno-admin client.
import { bearerToken, checkAccessToken } from '../core/access-tokens.js';
import { ADMIN_CLIENT_ID, ADMIN_SCOPE, SYSTEM_TENANT } from '../core/bootstrap.js';
import type { AuthRuntime } from '../core/runtime.js';
import type { Tenant } from '../core/schema.js';
import { isScimToken, verifyScimToken } from '../core/scim-tokens.js';
import { ScimError } from './scim-error.js';

const SCIM_SCOPE = 'scim';

const unauthorized = (detail: string) => new ScimError(401, detail, undefined, { 'www-authenticate': 'Bearer realm="scim"' });

/** Returns the actor for the audit trail (`scim-token:<id>` or `client:<client_id>`), or throws 401/403. */
export async function authenticateScim(rt: AuthRuntime, tenant: Tenant, header: string | undefined): Promise<string> {
  const token = bearerToken(header);
  if (!token) throw unauthorized('A Bearer token is required.');
  if (isScimToken(token)) {
    const id = await verifyScimToken(rt.db, tenant.id, token);
    if (!id) throw unauthorized('The SCIM token is invalid or revoked.');
    return `scim-token:${id}`;
  }
  const own = await checkAccessToken(rt, tenant, token);
  if (own) {
    const scopes = own.scope.split(' ');
    const systemAdmin = tenant.slug === SYSTEM_TENANT && own.client_id === ADMIN_CLIENT_ID && scopes.includes(ADMIN_SCOPE);
    if (!scopes.includes(SCIM_SCOPE) && !systemAdmin) throw new ScimError(403, `The access token needs scope ${SCIM_SCOPE}.`);
    return `client:${own.client_id}`;
  }
  const system = tenant.slug === SYSTEM_TENANT ? undefined : await rt.tenants.resolve(SYSTEM_TENANT);
  const admin = system ? await checkAccessToken(rt, system, token) : undefined;
  if (admin && admin.client_id === ADMIN_CLIENT_ID && admin.scope.split(' ').some((s) => s === ADMIN_SCOPE || s === SCIM_SCOPE)) {
    return `admin:${admin.sub}`;
  }
  if (admin) throw new ScimError(403, `The token needs scope ${ADMIN_SCOPE} or ${SCIM_SCOPE}.`);
  throw unauthorized('The access token is invalid, expired or revoked.');
}
