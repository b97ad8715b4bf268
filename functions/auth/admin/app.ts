// The admin function's app.
import { Hono } from 'hono';
import type { FunctionContext } from '#shared/function/define';
import type { EventHandler } from '#shared/events/receive';
import { AUTH_EVENTS } from '../core/event-types.js';
import { pruneExpired } from '../core/grants.js';
import { loadPasswordPolicy, type PasswordPolicy } from '../core/password-policy.js';
import { createAuthRuntime, type AuthRuntime } from '../core/runtime.js';
import { clientRoutes } from './client-routes.js';
import { groupRoutes } from './group-routes.js';
import { keySessionRoutes } from './key-session-routes.js';
import { scimPeerRoutes } from './scim-peer-routes.js';
import { scimTargetRoutes } from './scim-target-routes.js';
import { scimTokenRoutes } from './scim-token-routes.js';
import { mfaPolicyRoutes } from './mfa-policy-routes.js';
import { pruneSamlRequests } from '../core/saml/requests.js';
import { createSamlSecrets } from '../core/saml/secrets.js';
import { applyDueRefreshes, readDueRefreshes } from './saml-metadata-refresh.js';
import { samlRoutes } from './saml-routes.js';
import { signupRoutes } from './signup-routes.js';
import { brandingRoutes } from './branding-routes.js';
import { tenantRoutes } from './tenant-routes.js';
import { userRoutes } from './user-routes.js';
import { userSessionRoutes } from './user-session-routes.js';
import { webauthnRoutes } from './webauthn-routes.js';

/**
 * The scheduled clean-up and metadata refresh: run in the inbox transaction, so a redelivered tick
 * does nothing twice. The refresh reads the SPs' metadata URLs before that transaction: a slow
 * URL (up to the 10 s deadline) holds no connection.
 */
export function events(ctx: FunctionContext): Record<string, EventHandler> {
  return {
    [AUTH_EVENTS.cleanupScheduled]: async (_event, tx) => {
      const deleted = await pruneExpired(tx);
      const samlRequests = await pruneSamlRequests(tx);
      ctx.log.info('expired rows deleted', { ...deleted, samlRequests });
    },
    [AUTH_EVENTS.samlMetadataScheduled]: {
      prepare: () => readDueRefreshes(ctx.database.db),
      apply: async (event, tx, read: Awaited<ReturnType<typeof readDueRefreshes>>) => {
        const summary = await applyDueRefreshes(tx, read, { ip: undefined, userAgent: undefined, requestId: event.id });
        ctx.log.info('saml metadata refreshed', summary);
      },
    },
  };
}

export async function createApp(ctx: FunctionContext): Promise<Hono> {
  const rt = await createAuthRuntime(ctx);
  const app = buildAdminApp(rt, await loadPasswordPolicy(ctx.env));
  samlRoutes(app, rt, (await createSamlSecrets(ctx, rt.db)).keys);
  return app;
}

export function buildAdminApp(rt: AuthRuntime, passwords: PasswordPolicy): Hono {
  const app = new Hono();
  tenantRoutes(app, rt);
  userRoutes(app, rt, passwords);
  clientRoutes(app, rt);
  keySessionRoutes(app, rt);
  scimTokenRoutes(app, rt);
  scimTargetRoutes(app, rt);
  scimPeerRoutes(app, rt);
  groupRoutes(app, rt);
  mfaPolicyRoutes(app, rt);
  signupRoutes(app, rt);
  brandingRoutes(app, rt);
  webauthnRoutes(app, rt);
  userSessionRoutes(app, rt);
  return app;
}
