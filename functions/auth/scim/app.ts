// The SCIM 2.0 function's app: {issuer}/scim/v2 of each tenant.
import { Hono } from 'hono';
import { AppError } from '#shared/http/errors';
import type { FunctionContext } from '#shared/function/define';
import { loadPasswordPolicy, type PasswordPolicy } from '../core/password-policy.js';
import { createAuthRuntime, type AuthRuntime } from '../core/runtime.js';
import { scimBulkRoutes } from './bulk.js';
import { scimDiscoveryRoutes } from './discovery.js';
import { scimGroupRoutes } from './group-routes.js';
import { ScimError, scimShaped } from './scim-error.js';
import { scimMeRoutes } from './me.js';
import { scimTombstoneRoutes } from './tombstone-routes.js';
import { scimUserRoutes } from './user-routes.js';

export const renderError = scimShaped;

export async function createApp(ctx: FunctionContext): Promise<Hono> {
  return buildScimApp(await createAuthRuntime(ctx), await loadPasswordPolicy(ctx.env));
}

function buildScimApp(rt: AuthRuntime, passwords: PasswordPolicy): Hono {
  const scim = new Hono();
  scimDiscoveryRoutes(scim, rt);
  scimUserRoutes(scim, rt, passwords);
  scimGroupRoutes(scim, rt);
  scimMeRoutes(scim, rt);
  scimTombstoneRoutes(scim, rt);
  // §3.7: each bulk operation runs through these same routes, as its own request.
  const operations = new Hono();
  operations.onError((err) => scimShaped(err instanceof AppError ? err : internalError(rt, err)));
  scimBulkRoutes(scim, rt, async (req) => operations.fetch(req));
  scim.all('/Bulk', () => {
    throw new ScimError(405, 'Bulk requests are POSTed.');
  });
  scim.all('*', () => {
    throw new ScimError(404, 'No such SCIM endpoint.');
  });
  operations.route('/auth/:tenant/scim/v2', scim);
  const app = new Hono();
  app.route('/auth/:tenant/scim/v2', scim);
  app.onError((err) => {
    throw err;
  });
  return app;
}

/** An unexpected failure inside one bulk operation: logged once, answered as the fixed 500. */
function internalError(rt: AuthRuntime, err: unknown): AppError {
  rt.log.error('bulk operation failed', { err });
  return new AppError(500, 'internal', 'Internal Server Error', { cause: err });
}
