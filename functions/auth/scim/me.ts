// /Me (RFC 7644 §3.11): the User resource of whoever the bearer token was issued to. A token with
// no user behind it (a SCIM token, client credentials) gets 501, as §3.11 allows.
import type { Hono } from 'hono';
import { bearerToken, checkAccessToken } from '../core/access-tokens.js';
import { effectiveGroupsOf } from '../core/membership.js';
import type { AuthRuntime } from '../core/runtime.js';
import { isScimToken } from '../core/scim-tokens.js';
import { findUserById } from '../core/users.js';
import { tenantOf } from '../web/request.js';
import { parseListQuery, project } from './list-query.js';
import { notModified, scimJson } from './request.js';
import { ScimError, scimNotFound } from './scim-error.js';
import { toScimUser } from './user-resource.js';

const unauthorized = (detail: string) => new ScimError(401, detail, undefined, { 'www-authenticate': 'Bearer realm="scim"' });

export function scimMeRoutes(app: Hono, rt: AuthRuntime): void {
  app.all('/Me', async (c) => {
    const tenant = await tenantOf(rt, c.req.param('tenant'), () => scimNotFound('No such tenant.'));
    const token = bearerToken(c.req.header('authorization'));
    if (!token) throw unauthorized('A Bearer token is required.');
    // §3.11: "If the service provider does not support /Me for the token's subject, 501".
    if (isScimToken(token)) throw new ScimError(501, 'A SCIM token has no user behind it, so it has no /Me.');
    const claims = await checkAccessToken(rt, tenant, token);
    if (!claims) throw unauthorized('The access token is invalid, expired or revoked.');
    const user = await findUserById(rt.db, tenant.id, claims.sub);
    if (!user) throw new ScimError(501, 'The token was not issued to a user of this tenant, so it has no /Me.');
    // Changing one's own userName, externalId or active flag is a provisioning act: read only.
    if (c.req.method !== 'GET') throw new ScimError(501, 'Only GET is supported on /Me; changes go through /Users with a provisioning token.');
    if (!user.active) throw unauthorized('The user is deactivated.');
    if (notModified(c, user.version)) return new Response(null, { status: 304 });
    const base = `${rt.issuer(tenant.slug)}/scim/v2`;
    const resource = toScimUser(user, await effectiveGroupsOf(rt.db, tenant.id, user.id), base);
    // §3.11: the response's Location is the resource's own URI, not /Me.
    return scimJson(project(resource, parseListQuery((n) => c.req.query(n))), 200, user.version, { 'content-location': `${base}/Users/${user.id}` });
  });
}
