// mail-api: the send API, message status and history, erasure of data subjects, senders and
// templates ({base}/mail/{tenant}/v1/…); erases a subject when ZenoAuth deletes the user.
import { Hono } from 'hono';
import type { FunctionContext } from '#shared/function/define';
import type { AppEnv } from '#shared/http/app';
import { createClientAddressOf } from '#shared/http/client-address';
import { eraseSubjectIn } from '../core/erase.js';
import { deriveMailKeys } from '../core/keys.js';
import { resolveKey } from '#shared/crypto/key-file';
import { mountAdminRoutes } from './admin-routes.js';
import type { ApiDeps } from './context.js';
import { mountMessageRoutes } from './message-routes.js';
import { toProblem } from './problems.js';
import { createTokenCheck } from './token-check.js';
import { mountTransportRoutes } from './transport-routes.js';

/** Comma-separated domains, lower-cased. */
const domainList = (v: string | undefined) => (v ?? '').split(',').map((d) => d.trim().toLowerCase()).filter(Boolean);

export async function createApp(ctx: FunctionContext) {
  const serviceKey = await resolveKey({ configured: ctx.env.ZENO_MAIL_SERVICE_KEY, variable: 'ZENO_MAIL_SERVICE_KEY', file: ['mail', 'service.key'], dataDir: ctx.config.dataDir, allowGenerate: ctx.config.serviceName === undefined });
  const keys = deriveMailKeys(serviceKey);
  serviceKey.fill(0);
  const issuerBase = ctx.env.ZENO_MAIL_ISSUER_BASE ?? `${ctx.config.baseUrl}/auth`;
  const clientAddressOf = createClientAddressOf(ctx.config.trustedProxies);
  const deps: ApiDeps = {
    database: ctx.database,
    events: ctx.events,
    keys,
    check: createTokenCheck({ issuerBase, jwksBase: ctx.env.ZENO_MAIL_JWKS_BASE }),
    systemSenderDomains: domainList(ctx.env.ZENO_MAIL_SENDER_DOMAINS),
    baseUrl: ctx.config.baseUrl,
    maxAttachmentBytes: Number(ctx.env.ZENO_MAIL_MAX_ATTACHMENT_BYTES ?? 10 * 1024 * 1024),
    sourceIp: (c) => clientAddressOf((c.env as { incoming?: { socket?: { remoteAddress?: string } } } | undefined)?.incoming?.socket?.remoteAddress, c.req.header('x-forwarded-for')),
  };
  const app = new Hono<AppEnv>();
  mountMessageRoutes(app, deps);
  mountAdminRoutes(app, deps);
  mountTransportRoutes(app, deps);
  app.onError((err) => {
    throw toProblem(err);
  });
  return app;
}

/** ZenoAuth deleted a user: erase the data subject of the same id in that tenant. */
export const events = (ctx: FunctionContext) => ({
  'io.zenokube.auth.user.deleted': async (event: { data: { tenant: string; userId: string } }, tx: Parameters<typeof eraseSubjectIn>[0]) => {
    await eraseSubjectIn(tx, ctx.events, { tenant: event.data.tenant, subject: event.data.userId, actor: 'io.zenokube.auth.user.deleted' });
  },
});
