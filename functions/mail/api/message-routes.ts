// POST/GET {base}/mail/{tenant}/v1/messages: accept, show and list messages.
import type { Hono } from 'hono';
import type { AppEnv } from '#shared/http/app';
import { AppError, badRequest, notFound } from '#shared/http/errors';
import { blindIndex } from '../core/keys.js';
import { normalizeAddress, parseAddress } from '../core/address.js';
import { MESSAGE_STATUS, type MessageStatus } from '../core/content.js';
import { findMessage, listMessages, messageHistory, openContent } from '../core/messages.js';
import { acceptMessage } from '../core/send.js';
import { suppress } from '../core/suppressions.js';
import { verifyUnsubscribeToken } from '../core/unsubscribe.js';
import { authorize, type ApiDeps } from './context.js';
import { readSendBody } from './send-body.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
// An Idempotency-Key is an opaque printable token (draft-ietf-httpapi-idempotency-key-header §2).
const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/;

export function mountMessageRoutes(app: Hono<AppEnv>, deps: ApiDeps): void {
  app.post('/mail/:tenant/v1/messages', async (c) => {
    const { tenant } = await authorize(deps, c, 'mail:send');
    const key = c.req.header('idempotency-key');
    if (key !== undefined && !IDEMPOTENCY_KEY.test(key)) throw badRequest('invalid_idempotency_key', 'Idempotency-Key must be 1 to 255 printable ASCII characters.');
    const input = await readSendBody(c, deps.maxAttachmentBytes);
    const accepted = await acceptMessage(deps, tenant, input, key);
    return c.json({ id: accepted.id, status: accepted.status }, 202, { location: `/mail/${tenant}/v1/messages/${accepted.id}`, ...(accepted.replayed ? { 'idempotent-replayed': 'true' } : {}) });
  });

  /**
   * RFC 8058 one-click unsubscribe: the token is the authority, no Bearer token. §3.2: the POST
   * carries `List-Unsubscribe=One-Click`; the receiver's client sends it without user agent state.
   */
  app.post('/mail/:tenant/v1/unsubscribe/:token', async (c) => {
    const tenant = c.req.param('tenant');
    const addressIndex = /^[a-z0-9][a-z0-9-]{0,62}$/.test(tenant) ? verifyUnsubscribeToken(deps.keys, tenant, c.req.param('token')) : undefined;
    if (!addressIndex) throw notFound('This unsubscribe link is not valid.');
    await suppress(deps.database.db, tenant, addressIndex, 'unsubscribed');
    return c.text('You are unsubscribed.', 200);
  });

  app.get('/mail/:tenant/v1/messages/:id', async (c) => {
    const { tenant } = await authorize(deps, c, 'mail:send');
    const id = c.req.param('id');
    const m = UUID.test(id) ? await findMessage(deps.database.db, tenant, id) : undefined;
    if (!m) throw notFound('No such message.');
    const summary = { id: m.id, status: m.status, subjects: m.subjects, tags: m.tags, recipientCount: m.recipientCount, sizeBytes: m.sizeBytes, attempts: m.attempts, createdAt: m.createdAt, updatedAt: m.updatedAt };
    let opened;
    try {
      opened = await openContent(deps.database.db, deps.keys, m);
    } catch (err) {
      if (!(err instanceof Error && 'code' in err && err.code === 'message_erased')) throw err;
      const events = await messageHistory(deps.database.db, m, undefined);
      throw new AppError(410, 'erased', 'Gone', { detail: 'This message concerns an erased data subject; its content no longer exists.', extras: { message: { ...summary, events } } });
    }
    const { content, key } = opened;
    try {
      const events = await messageHistory(deps.database.db, m, key);
      return c.json({
        ...summary,
        from: content.from, to: content.to, cc: content.cc, bcc: content.bcc, replyTo: content.replyTo,
        subject: content.subject,
        template: content.template ? { name: content.template.name, locale: content.template.locale, version: content.template.version } : undefined,
        attachments: content.attachments.map((a) => ({ filename: a.filename, contentType: a.contentType, size: Math.floor((a.content.length * 3) / 4) })),
        events,
      });
    } finally {
      key.fill(0);
    }
  });

  app.get('/mail/:tenant/v1/messages', async (c) => {
    const { tenant } = await authorize(deps, c, 'mail:send');
    const q = c.req.query();
    const limit = q.limit === undefined ? 50 : Number(q.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > 200) throw badRequest('invalid_limit', 'limit is an integer from 1 to 200.');
    if (q.status !== undefined && !(MESSAGE_STATUS as readonly string[]).includes(q.status)) throw badRequest('invalid_status', `status is one of ${MESSAGE_STATUS.join(', ')}.`);
    const before = q.before === undefined ? undefined : new Date(q.before);
    if (before && Number.isNaN(before.getTime())) throw badRequest('invalid_before', 'before is an ISO 8601 time.');
    let recipientIndex: string | undefined;
    if (q.to !== undefined) {
      const address = parseAddress(q.to);
      if (!address) throw badRequest('invalid_address', 'to is an address local@domain.');
      recipientIndex = blindIndex(deps.keys, 'address', normalizeAddress(address));
    }
    const rows = await listMessages(deps.database.db, tenant, {
      limit,
      ...(q.status ? { status: q.status as MessageStatus } : {}),
      ...(q.tag ? { tag: q.tag } : {}),
      ...(q.subject ? { subject: q.subject } : {}),
      ...(recipientIndex ? { recipientIndex } : {}),
      ...(before ? { before } : {}),
    });
    const items = rows.map((m) => ({ id: m.id, status: m.status, subjects: m.subjects, tags: m.tags, recipientCount: m.recipientCount, createdAt: m.createdAt }));
    return c.json({ items, next: rows.length === limit ? rows.at(-1)!.createdAt.toISOString() : null });
  });
}
