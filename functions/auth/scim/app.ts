// The SCIM 2.0 function's app: {issuer}/scim/v2 of each tenant.
import { Hono } from 'hono';
import type { FunctionContext } from '#shared/function/define';
import { createAuthRuntime, type AuthRuntime } from '../core/runtime.js';
import { scimDiscoveryRoutes } from './discovery.js';
import { scimGroupRoutes } from './group-routes.js';
import { scimRequest } from './request.js';
import { ScimError, scimShaped } from './scim-error.js';
import { scimUserRoutes } from './user-routes.js';

export const renderError = scimShaped;

export async function createApp(ctx: FunctionContext): Promise<Hono> {
  return buildScimApp(await createAuthRuntime(ctx));
}

function buildScimApp(rt: AuthRuntime): Hono {
  const scim = new Hono();
  scimDiscoveryRoutes(scim, rt);
  scimUserRoutes(scim, rt);
  scimGroupRoutes(scim, rt);
  // RFC 7644 §3.11: a provider without /Me answers 501.
  scim.all('/Me', async (c) => {
    await scimRequest(c, rt);
    throw new ScimError(501, 'The /Me alias is not supported: the caller is a provisioning client, not a user.');
  });
  scim.all('/Bulk', async (c) => {
    await scimRequest(c, rt);
    throw new ScimError(501, 'Bulk operations are not supported (ServiceProviderConfig bulk.supported is false).');
  });
  scim.all('*', () => {
    throw new ScimError(404, 'No such SCIM endpoint.');
  });
  const app = new Hono();
  app.route('/auth/:tenant/scim/v2', scim);
  app.onError((err) => {
    throw err;
  });
  return app;
}
