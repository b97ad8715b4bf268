// Admin calls (scope mail:admin) for a tenant's delivery: its transport (SMTP or Microsoft Graph)
// and its DKIM keys. Secrets go in and never come out: GET shows whether one is set.
import type { Hono } from 'hono';
import { z } from 'zod';
import type { AppEnv } from '#shared/http/app';
import { badRequest, notFound } from '#shared/http/errors';
import { jsonBody } from '#shared/http/validate';
import { hasControlChars } from '../core/address.js';
import { writeAudit } from '../core/audit.js';
import { SELECTOR, dkimKeyPair, dkimRecord, listDkimKeys, removeDkimKey, saveDkimKey } from '../core/dkim-keys.js';
import { graphConfig, loadTransport, removeTransport, saveTransport, smtpConfig, transportView } from '../core/transports.js';
import { authorize, type ApiDeps } from './context.js';

const DOMAIN = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]([a-z0-9-]{0,61}[a-z0-9])?$/;
const field = (max: number) => z.string().min(1).max(max).refine((v) => !hasControlChars(v), { message: 'no line break or control character' });

const transportBody = z.discriminatedUnion('type', [
  z.strictObject({
    type: z.literal('smtp'),
    url: field(2048).optional(),
    host: field(255).optional(),
    port: z.number().int().optional(),
    security: z.enum(['tls', 'starttls', 'opportunistic']).optional(),
    user: field(512).optional(),
    password: field(1024).optional(),
  }),
  z.strictObject({
    type: z.literal('graph'),
    tenantId: field(253),
    clientId: field(64),
    clientSecret: field(1024),
    sender: field(256),
    tokenUrl: field(2048).optional(),
    graphUrl: field(2048).optional(),
  }),
]);
const dkimBody = z.strictObject({ selector: field(253), privateKey: z.string().min(1).max(16_384).optional() });

export function mountTransportRoutes(app: Hono<AppEnv>, deps: ApiDeps): void {
  const meta = (c: Parameters<typeof deps.sourceIp>[0]) => ({ requestId: c.get('requestId'), sourceIp: deps.sourceIp(c) });

  app.get('/mail/:tenant/v1/transport', async (c) => {
    const { tenant } = await authorize(deps, c, 'mail:admin');
    const t = await loadTransport(deps.database.db, deps.keys, tenant);
    return c.json(t ? { ...transportView(t.config), updatedAt: t.updatedAt } : { type: 'default' });
  });
  app.put('/mail/:tenant/v1/transport', async (c) => {
    const { tenant, actor } = await authorize(deps, c, 'mail:admin');
    const { type, ...body } = await jsonBody(c, transportBody);
    const config = type === 'smtp' ? smtpConfig(body as Parameters<typeof smtpConfig>[0]) : graphConfig(body as Parameters<typeof graphConfig>[0]);
    await deps.database.transaction(async (tx) => {
      await saveTransport(tx, deps.keys, tenant, config);
      await writeAudit(tx, { tenant, actor, action: 'transport.set', target: type, outcome: 'ok', ...meta(c) });
    });
    return c.json(transportView(config));
  });
  app.delete('/mail/:tenant/v1/transport', async (c) => {
    const { tenant, actor } = await authorize(deps, c, 'mail:admin');
    if (!(await removeTransport(deps.database.db, tenant))) throw notFound('The tenant uses the default transport.');
    await writeAudit(deps.database.db, { tenant, actor, action: 'transport.remove', target: 'transport', outcome: 'ok', ...meta(c) });
    return c.body(null, 204);
  });

  app.get('/mail/:tenant/v1/dkim', async (c) => {
    const { tenant } = await authorize(deps, c, 'mail:admin');
    const rows = await listDkimKeys(deps.database.db, tenant);
    return c.json({ keys: rows.map((r) => ({ domain: r.domain, selector: r.selector, dns: dkimRecord(r), createdAt: r.createdAt })) });
  });
  /** A key for the domain: generated (RSA 2048) unless `privateKey` imports one; replaces the old one. */
  app.put('/mail/:tenant/v1/dkim/:domain', async (c) => {
    const { tenant, actor } = await authorize(deps, c, 'mail:admin');
    const domain = c.req.param('domain').toLowerCase();
    if (!DOMAIN.test(domain)) throw badRequest('invalid_domain', 'That is not a domain name.');
    const body = await jsonBody(c, dkimBody);
    const selector = body.selector.toLowerCase();
    if (!SELECTOR.test(selector)) throw badRequest('invalid_selector', 'A selector is one or more DNS labels (RFC 6376 §3.1).');
    const pair = dkimKeyPair(body.privateKey);
    const row = await deps.database.transaction(async (tx) => {
      const saved = await saveDkimKey(tx, deps.keys, tenant, domain, selector, pair);
      await writeAudit(tx, { tenant, actor, action: body.privateKey === undefined ? 'dkim.generate' : 'dkim.import', target: `${selector}._domainkey.${domain}`, outcome: 'ok', ...meta(c) });
      return saved;
    });
    return c.json({ domain, selector, dns: dkimRecord(row) }, 201);
  });
  app.delete('/mail/:tenant/v1/dkim/:domain', async (c) => {
    const { tenant, actor } = await authorize(deps, c, 'mail:admin');
    const domain = c.req.param('domain').toLowerCase();
    if (!(await removeDkimKey(deps.database.db, tenant, domain))) throw notFound('No DKIM key for that domain.');
    await writeAudit(deps.database.db, { tenant, actor, action: 'dkim.remove', target: domain, outcome: 'ok', ...meta(c) });
    return c.body(null, 204);
  });
}
