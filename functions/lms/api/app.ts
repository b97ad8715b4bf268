// lms-api: mounts the admin and license routes under /lms/{tenant}, and the scheduled sweep.
import { Hono } from 'hono';
import type { EventHandler } from '#shared/events/receive';
import type { FunctionContext } from '#shared/function/define';
import { createClientAddressOf } from '#shared/http/client-address';
import { AppError } from '#shared/http/errors';
import { createKeyHasher } from '../core/crypto.js';
import { createKeyStore } from '../core/keys.js';
import { resolveKey } from '#shared/crypto/key-file';
import type { LmsRuntime } from '../core/runtime.js';
import { sweepLicenses } from '../core/sweep.js';
import { createAdminCheck, type AdminCheck } from './admin-auth.js';
import { mountAdminRoutes } from './admin-routes.js';
import { mountLicenseRoutes } from './license-routes.js';
import { isTenant, type LmsEnv } from './params.js';

/** Builds what the routes run on; `now` is the clock (tests pass their own). */
export async function createRuntime(ctx: FunctionContext, now: () => Date = () => new Date()): Promise<LmsRuntime> {
  const masterKey = await resolveKey({ configured: ctx.env.LMS_MASTER_KEY, variable: 'LMS_MASTER_KEY', file: ['lms', 'master.key'], dataDir: ctx.config.dataDir, allowGenerate: ctx.config.serviceName === undefined });
  return { database: ctx.database, keys: createKeyStore(masterKey), hashKey: createKeyHasher(masterKey), events: ctx.events, now, issuer: (t) => `${ctx.config.baseUrl}/lms/${t}` };
}

function adminCheckOf(ctx: FunctionContext): AdminCheck {
  const base = ctx.env.LMS_AUTH_ISSUER_BASE ?? `${ctx.config.baseUrl}/auth`;
  const template = ctx.env.LMS_AUTH_JWKS_URL;
  return createAdminCheck({
    issuer: (t) => `${base}/${t}`,
    jwksUrl: (t) => (template ? template.replaceAll('{tenant}', t) : `${base}/${t}/jwks`),
  });
}

/** The API on a given runtime and admin check (the function's own, or a test's). */
export function createLmsApp(rt: LmsRuntime, check: AdminCheck, trustedProxies: readonly string[] = []): Hono {
  const addressOf = createClientAddressOf(trustedProxies);
  const tenantApp = new Hono<LmsEnv>();
  tenantApp.use(async (c, next) => {
    if (!isTenant(c.req.param('tenant' as never) ?? '')) throw new AppError(404, 'not_found', 'Not Found', { detail: 'No such tenant.' });
    const peer = (c.env as { incoming?: { socket?: { remoteAddress?: string } } } | undefined)?.incoming?.socket?.remoteAddress;
    c.set('clientAddress', addressOf(peer, c.req.header('x-forwarded-for')));
    await next();
  });
  mountLicenseRoutes(tenantApp, rt, check);
  mountAdminRoutes(tenantApp, rt, check);
  const app = new Hono();
  app.route('/lms/:tenant', tenantApp);
  return app;
}

export async function createApp(ctx: FunctionContext) {
  return createLmsApp(await createRuntime(ctx), adminCheckOf(ctx), ctx.config.trustedProxies);
}

export function events(ctx: FunctionContext, now?: () => Date): Record<string, EventHandler> {
  let runtime: Promise<LmsRuntime> | undefined;
  return {
    'io.zenokube.lms.sweep.scheduled': async (_event, tx) => {
      runtime ??= createRuntime(ctx, now);
      const done = await sweepLicenses(await runtime, tx);
      if (done.expired || done.missed) ctx.log.info('lms sweep', done);
    },
  };
}
