// The admin function's app.
import { Hono } from 'hono';
import type { FunctionContext } from '#shared/function/define';
import { createAuthRuntime, type AuthRuntime } from '../core/runtime.js';
import { clientRoutes } from './client-routes.js';
import { keySessionRoutes } from './key-session-routes.js';
import { tenantRoutes } from './tenant-routes.js';
import { userRoutes } from './user-routes.js';

export async function createApp(ctx: FunctionContext): Promise<Hono> {
  return buildAdminApp(await createAuthRuntime(ctx));
}

export function buildAdminApp(rt: AuthRuntime): Hono {
  const app = new Hono();
  tenantRoutes(app, rt);
  userRoutes(app, rt);
  clientRoutes(app, rt);
  keySessionRoutes(app, rt);
  return app;
}
