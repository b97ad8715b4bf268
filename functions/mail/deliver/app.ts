// mail-deliver: delivers queued messages when the send API announces them, and what is due
// (retries, leftovers of a stopped pod) on its schedule. No public routes.
import { Hono } from 'hono';
import type { FunctionContext } from '#shared/function/define';
import { deriveMailKeys } from '../core/keys.js';
import { resolveKey } from '#shared/crypto/key-file';
import { createDeliverer, type Deliverer } from './deliverer.js';
import { configuredDkim } from './dkim.js';
import { createDomainLimiter } from './domain-limit.js';
import { createRouter } from './routes.js';
import { createSmtpTransport } from './transport.js';

/**
 * The worker of each hosted context. The platform calls `events(ctx)` and `shutdown()` apart from
 * `createApp(ctx)`, so the worker `createApp` builds is found here by its context.
 */
const deliverers = new WeakMap<FunctionContext, Deliverer>();
const closers = new Set<() => Promise<void>>();

const positive = (name: string, v: string | undefined, fallback: number) => {
  const n = v === undefined ? fallback : Number(v);
  if (!Number.isFinite(n) || n < 0) throw new TypeError(`${name} must be a non-negative number`);
  return n;
};

export async function createApp(ctx: FunctionContext) {
  const serviceKey = await resolveKey({ configured: ctx.env.ZENO_MAIL_SERVICE_KEY, variable: 'ZENO_MAIL_SERVICE_KEY', file: ['mail', 'service.key'], dataDir: ctx.config.dataDir, allowGenerate: ctx.config.serviceName === undefined });
  const keys = deriveMailKeys(serviceKey);
  serviceKey.fill(0);
  const smtpPool = positive('ZENO_MAIL_SMTP_POOL', ctx.env.ZENO_MAIL_SMTP_POOL, 5);
  const smtp = createSmtpTransport({ url: ctx.env.ZENO_MAIL_SMTP_URL ?? 'smtp://127.0.0.1:2525', maxConnections: smtpPool });
  const router = createRouter({
    database: ctx.database,
    keys,
    fallback: smtp,
    fallbackDkim: configuredDkim(ctx.env.ZENO_MAIL_DKIM_DOMAIN, ctx.env.ZENO_MAIL_DKIM_SELECTOR, ctx.env.ZENO_MAIL_DKIM_PRIVATE_KEY),
    smtpPool,
  });
  const deliverer = createDeliverer({
    database: ctx.database,
    keys,
    log: ctx.log,
    routeFor: (tenant) => router.routeFor(tenant),
    domains: createDomainLimiter(positive('ZENO_MAIL_DOMAIN_CONCURRENCY', ctx.env.ZENO_MAIL_DOMAIN_CONCURRENCY, 4)),
    retryBaseMs: positive('ZENO_MAIL_RETRY_BASE_SECONDS', ctx.env.ZENO_MAIL_RETRY_BASE_SECONDS, 30) * 1000,
    retryHorizonMs: positive('ZENO_MAIL_RETRY_HORIZON_SECONDS', ctx.env.ZENO_MAIL_RETRY_HORIZON_SECONDS, 86_400) * 1000,
    concurrency: positive('ZENO_MAIL_CONCURRENCY', ctx.env.ZENO_MAIL_CONCURRENCY, 8),
  });
  deliverers.set(ctx, deliverer);
  const close = async () => {
    await deliverer.close();
    router.close();
    smtp.close();
  };
  closers.add(close);
  // Leftovers of an earlier pod are delivered at start.
  deliverer.wake();
  return new Hono();
}

/**
 * The queued event wakes the worker; the handler itself sends nothing, so no transaction stays
 * open across the SMTP exchange and a redelivered event can do no more than wake it again.
 */
export const events = (ctx: FunctionContext) => {
  const wake = async () => deliverers.get(ctx)?.wake();
  return {
    'io.zenokube.mail.message.queued': wake,
    'io.zenokube.mail.delivery.scheduled': wake,
  };
};

export async function shutdown(): Promise<void> {
  for (const close of closers) await close();
  closers.clear();
}
