// events-dead-letters: the dead-letter sink of every Trigger (POST /_events) and the admin API
// over what it stored (/events/dead-letters).
import { Hono } from 'hono';
import { createEventSender } from '#shared/events/sender';
import type { FunctionContext } from '#shared/function/define';
import { createAdminCheck } from './admin-auth.js';
import { mountAdminRoutes } from './admin-routes.js';
import { createDeadLetterMetrics } from './metrics.js';
import { mountDeadLetterSink } from './receive-route.js';

/** The issuer whose zeno:admin tokens the admin API takes: the system tenant of this installation. */
function adminIssuer(ctx: FunctionContext): string {
  return ctx.env.ZENO_ADMIN_ISSUER ?? `${ctx.config.baseUrl}/auth/system`;
}

export function createApp(ctx: FunctionContext) {
  const db = ctx.database.db;
  const app = new Hono();
  const metrics = createDeadLetterMetrics(ctx.metrics.registry, db);
  mountDeadLetterSink(app, { db, log: ctx.log, metrics });
  const check = createAdminCheck({ issuer: adminIssuer(ctx), ...(ctx.env.ZENO_ADMIN_JWKS_URL ? { jwksUrl: ctx.env.ZENO_ADMIN_JWKS_URL } : {}) });
  // A replay opens its own connection pool for one send and closes it: replays are rare.
  mountAdminRoutes(app, { db, log: ctx.log, check, replay: { sink: ctx.config.sink, sender: () => createEventSender({ timeoutMs: 10_000 }) } });
  return app;
}
