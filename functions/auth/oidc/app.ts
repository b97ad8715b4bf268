// The oidc function's app: discovery, JWKS, UserInfo and client registration.
import { Hono, type Context } from 'hono';
import { sql } from 'drizzle-orm';
import type { FunctionContext } from '#shared/function/define';
import { rowsOf } from '#shared/db/index';
import { TenantGoneError } from '../core/keys.js';
import { OAuthError } from '../core/oauth-error.js';
import { createAuthRuntime, type AuthRuntime } from '../core/runtime.js';
import { allowAnyOrigin, preflight } from '../web/cors.js';
import { tenantOf } from '../web/request.js';
import { providerMetadata } from './discovery.js';
import { deleteRegistration, readRegistration, registerEndpoint, updateRegistration } from './registration.js';
import { userinfoEndpoint } from './userinfo.js';

const unknownTenant = () => new OAuthError('invalid_request', 'Unknown issuer.', { status: 404 });

export async function createApp(ctx: FunctionContext): Promise<Hono> {
  return buildOidcApp(await createAuthRuntime(ctx));
}

export function buildOidcApp(rt: AuthRuntime): Hono {
  const app = new Hono();
  const metadata = async (c: Context, slug: string | undefined) => {
    const tenant = await tenantOf(rt, slug, unknownTenant);
    const types = rowsOf<{ t: string }>(
      await rt.db.execute(sql`select distinct unnest(authorization_details_types) as t from auth.clients where tenant_id = ${tenant.id} order by 1`),
    ).map((r) => r.t);
    allowAnyOrigin(c);
    return c.json(providerMetadata(rt.issuer(tenant.slug), types, rt.mtlsUrls), 200, { 'cache-control': 'public, max-age=300' });
  };
  app.get('/auth/:tenant/.well-known/openid-configuration', (c) => metadata(c, c.req.param('tenant')));
  app.get('/auth/:tenant/.well-known/oauth-authorization-server', (c) => metadata(c, c.req.param('tenant')));
  // RFC 8414 §3.1: the well-known segment goes between the host and the issuer's path.
  app.get('/.well-known/openid-configuration/auth/:tenant', (c) => metadata(c, c.req.param('tenant')));
  app.get('/.well-known/oauth-authorization-server/auth/:tenant', (c) => metadata(c, c.req.param('tenant')));
  app.get('/auth/:tenant/jwks', async (c) => {
    const tenant = await tenantOf(rt, c.req.param('tenant'), unknownTenant);
    const jwks = await rt.keys.jwks(tenant.id).catch((err: unknown) => {
      // Deleted while this pod's resolver still held it: unknown from now on, not a 500.
      if (!(err instanceof TenantGoneError)) throw err;
      rt.tenants.forget(tenant.slug);
      throw unknownTenant();
    });
    allowAnyOrigin(c);
    return c.json(jwks, 200, { 'cache-control': 'public, max-age=60', 'content-type': 'application/jwk-set+json' });
  });
  app.options('/auth/:tenant/userinfo', (c) => preflight(c, 'GET, POST'));
  app.on(['GET', 'POST'], '/auth/:tenant/userinfo', (c) => userinfoEndpoint(c, rt));
  app.post('/auth/:tenant/register', (c) => registerEndpoint(c, rt));
  app.get('/auth/:tenant/register/:clientId', (c) => readRegistration(c, rt));
  app.put('/auth/:tenant/register/:clientId', (c) => updateRegistration(c, rt));
  app.delete('/auth/:tenant/register/:clientId', (c) => deleteRegistration(c, rt));
  return app;
}
