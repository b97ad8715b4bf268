// mail-api: the send API, message status and history, erasure of data subjects, senders and
// templates ({base}/mail/{tenant}/v1/…); erases a subject when ZenoAuth deletes the user, and
// queues the account mails ZenoAuth asks for.
import { Hono } from 'hono';
import type { FunctionContext } from '#shared/function/define';
import type { AppEnv } from '#shared/http/app';
import { createClientAddressOf } from '#shared/http/client-address';
import { eraseSubjectIn } from '../core/erase.js';
import { deriveMailKeys, type MailKeys } from '../core/keys.js';
import { accountMailInput, accountSender, isFinalRefusal, type AccountMailRequest } from '../core/account-mail.js';
import { acceptMessage } from '../core/send.js';
import { resolveKey } from '#shared/crypto/key-file';
import { mountAdminRoutes } from './admin-routes.js';
import type { ApiDeps } from './context.js';
import { mountMessageRoutes } from './message-routes.js';
import { toProblem } from './problems.js';
import { createTokenCheck } from './token-check.js';
import { mountTransportRoutes } from './transport-routes.js';

/** Comma-separated domains, lower-cased. */
const domainList = (v: string | undefined) => (v ?? '').split(',').map((d) => d.trim().toLowerCase()).filter(Boolean);

/** The product's keys, from the service key (configured, or generated once on one machine). */
async function loadMailKeys(ctx: FunctionContext): Promise<MailKeys> {
  const serviceKey = await resolveKey({ configured: ctx.env.ZENO_MAIL_SERVICE_KEY, variable: 'ZENO_MAIL_SERVICE_KEY', file: ['mail', 'service.key'], dataDir: ctx.config.dataDir, allowGenerate: ctx.config.serviceName === undefined });
  try {
    return deriveMailKeys(serviceKey);
  } finally {
    serviceKey.fill(0);
  }
}

export async function createApp(ctx: FunctionContext) {
  const keys = await loadMailKeys(ctx);
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

/**
 * ZenoAuth deleted a user: erase the data subject of the same id in that tenant. ZenoAuth asks for
 * an account mail: queue it from the built-in template (./../core/account-mail.ts).
 */
export const events = (ctx: FunctionContext) => {
  let keys: Promise<MailKeys> | undefined;
  const mailKeys = () => (keys ??= loadMailKeys(ctx));
  const systemSenderDomains = domainList(ctx.env.ZENO_MAIL_SENDER_DOMAINS);
  return {
    'io.zenokube.auth.user.deleted': async (event: { data: { tenant: string; userId: string } }, tx: Parameters<typeof eraseSubjectIn>[0]) => {
      await eraseSubjectIn(tx, ctx.events, { tenant: event.data.tenant, subject: event.data.userId, actor: 'io.zenokube.auth.user.deleted' });
    },
    'io.zenokube.auth.mail.requested': async (event: { id: string; data: AccountMailRequest }) => {
      const req = event.data;
      const from = await accountSender(ctx.database.db, req.tenant, ctx.env.ZENO_MAIL_ACCOUNT_FROM, systemSenderDomains);
      const input = accountMailInput(req, from);
      if (!input.ok) {
        ctx.log.warn('account mail not queued', { tenant: req.tenant, template: req.template, event: event.id, reason: input.why });
        return;
      }
      const deps = { database: ctx.database, events: ctx.events, keys: await mailKeys(), systemSenderDomains, baseUrl: ctx.config.baseUrl };
      try {
        await acceptMessage(deps, req.tenant, {
          from: input.from, to: [input.to], cc: [], bcc: [],
          template: { name: input.template, locale: input.locale, variables: req.variables },
          attachments: [], headers: {}, tags: ['zenoauth', req.template], subjects: [req.userId], unsubscribe: false,
        }, `zenoauth-event:${event.id}`);
      } catch (err) {
        // A refusal a retry cannot change (an unverified sender, a suppressed address, a variable
        // the template lacks) ends here, logged; anything else is retried by the broker.
        if (!isFinalRefusal(err)) throw err;
        ctx.log.warn('account mail refused', { tenant: req.tenant, template: req.template, event: event.id, reason: err.code });
      }
    },
  };
};
