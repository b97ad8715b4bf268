// Admin calls (scope mail:admin): erase a data subject, verified senders, templates.
import type { Hono } from 'hono';
import { z } from 'zod';
import type { AppEnv } from '#shared/http/app';
import { badRequest, notFound } from '#shared/http/errors';
import { jsonBody } from '#shared/http/validate';
import { hasControlChars } from '../core/address.js';
import { writeAudit } from '../core/audit.js';
import { eraseSubject } from '../core/erase.js';
import { renderTemplate } from '../core/render.js';
import { addSender, listSenders, removeSender } from '../core/senders.js';
import { findTemplate, listTemplateVersions, saveTemplateVersion } from '../core/templates.js';
import { authorize, type ApiDeps } from './context.js';

const SUBJECT_ID = /^[A-Za-z0-9_.:@-]{1,128}$/;
const DOMAIN = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]([a-z0-9-]{0,61}[a-z0-9])?$/;
const TEMPLATE_NAME = /^[a-z0-9][a-z0-9._-]{0,63}$/;
const LOCALE = /^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$/;

const templateBody = z
  .strictObject({ subject: z.string().min(1).max(900).refine((v) => !hasControlChars(v), { message: 'a subject has no line break or control character' }), text: z.string().max(1_000_000).optional(), html: z.string().max(1_000_000).optional() })
  .refine((t) => t.text !== undefined || t.html !== undefined, { message: 'a template needs text or html' });
const previewBody = z.strictObject({
  locale: z.string().regex(LOCALE).optional(),
  version: z.number().int().nonnegative().optional(),
  variables: z.record(z.string().max(64), z.string().max(10_000)).optional(),
});

export function mountAdminRoutes(app: Hono<AppEnv>, deps: ApiDeps): void {
  const meta = (c: Parameters<typeof deps.sourceIp>[0]) => ({ requestId: c.get('requestId'), sourceIp: deps.sourceIp(c) });

  /** Crypto-shredding: the subject's key is destroyed, their messages can no longer be read. */
  app.delete('/mail/:tenant/v1/subjects/:id', async (c) => {
    const { tenant, actor } = await authorize(deps, c, 'mail:admin');
    const subject = c.req.param('id');
    if (!SUBJECT_ID.test(subject)) throw badRequest('invalid_subject', 'A subject id is 1 to 128 characters of A-Z a-z 0-9 _ . : @ -.');
    const r = await eraseSubject(deps.database, deps.events, { tenant, subject, actor, ...meta(c) });
    return c.json({ subject, erased: r.erased, messages: r.messages, cancelled: r.cancelled });
  });

  app.get('/mail/:tenant/v1/senders', async (c) => {
    const { tenant } = await authorize(deps, c, 'mail:admin');
    const domains = await listSenders(deps.database.db, tenant);
    return c.json({ domains: tenant === 'system' ? [...new Set([...deps.systemSenderDomains, ...domains])].sort() : domains });
  });
  app.put('/mail/:tenant/v1/senders/:domain', async (c) => {
    const { tenant, actor } = await authorize(deps, c, 'mail:admin');
    const domain = c.req.param('domain').toLowerCase();
    if (!DOMAIN.test(domain)) throw badRequest('invalid_domain', 'That is not a domain name.');
    await addSender(deps.database.db, tenant, domain);
    await writeAudit(deps.database.db, { tenant, actor, action: 'sender.add', target: domain, outcome: 'ok', ...meta(c) });
    return c.body(null, 204);
  });
  app.delete('/mail/:tenant/v1/senders/:domain', async (c) => {
    const { tenant, actor } = await authorize(deps, c, 'mail:admin');
    const domain = c.req.param('domain').toLowerCase();
    if (!(await removeSender(deps.database.db, tenant, domain))) throw notFound('No such sender domain.');
    await writeAudit(deps.database.db, { tenant, actor, action: 'sender.remove', target: domain, outcome: 'ok', ...meta(c) });
    return c.body(null, 204);
  });

  /** A new version of the template in that locale. */
  app.put('/mail/:tenant/v1/templates/:name/:locale', async (c) => {
    const { tenant, actor } = await authorize(deps, c, 'mail:admin');
    const { name, locale } = c.req.param();
    if (!TEMPLATE_NAME.test(name) || !LOCALE.test(locale)) throw badRequest('invalid_template_name', 'Template names are a-z 0-9 . _ -, locales BCP 47 tags such as en or de-CH.');
    const body = await jsonBody(c, templateBody);
    const t = await deps.database.transaction(async (tx) => {
      const row = await saveTemplateVersion(tx, tenant, name, locale, body);
      await writeAudit(tx, { tenant, actor, action: 'template.save', target: `${name}/${locale}/v${row.version}`, outcome: 'ok', ...meta(c) });
      return row;
    });
    return c.json({ name: t.name, locale: t.locale, version: t.version }, 201);
  });
  app.get('/mail/:tenant/v1/templates/:name', async (c) => {
    const { tenant } = await authorize(deps, c, 'mail:admin');
    const rows = await listTemplateVersions(deps.database.db, tenant, c.req.param('name'));
    if (rows.length === 0) throw notFound('No such template.');
    return c.json({ versions: rows.map((t) => ({ locale: t.locale, version: t.version, ...(t.version === 0 ? { builtIn: true } : {}), subject: t.subject, text: t.text, html: t.html, createdAt: t.createdAt })) });
  });
  app.post('/mail/:tenant/v1/templates/:name/preview', async (c) => {
    const { tenant } = await authorize(deps, c, 'mail:admin');
    const body = await jsonBody(c, previewBody);
    const t = await findTemplate(deps.database.db, tenant, c.req.param('name'), body.locale ?? 'en', body.version);
    if (!t) throw notFound('No such template.');
    const r = renderTemplate({ subject: t.subject, text: t.text ?? undefined, html: t.html ?? undefined }, body.variables ?? {});
    return c.json({ locale: t.locale, version: t.version, ...r });
  });
}
