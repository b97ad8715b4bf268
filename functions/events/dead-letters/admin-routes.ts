// The admin API of the dead-letter store under /events/dead-letters: list (paged, by type), show,
// replay, delete. Every route takes a zeno:admin token (./admin-auth.ts) before reading its input.
import type { Context, Hono } from 'hono';
import type { Db } from '#shared/db/index';
import { badRequest, notFound } from '#shared/http/errors';
import type { Logger } from '#shared/log/index';
import { deleteDeadLetter, findDeadLetter, listDeadLetters } from '../core/dead-letters.js';
import type { DeadLetter } from '../core/schema.js';
import type { AdminCheck } from './admin-auth.js';
import { replayDeadLetter, type ReplayDeps } from './replay.js';

const ADMIN_PREFIX = '/events/dead-letters';

const DEFAULT_LIMIT = 50;
const MAX_LIMIT = 200;
/** A dead letter id: a positive bigserial, as a decimal string within JavaScript's safe integers. */
const ID = /^[1-9]\d{0,15}$/;

function idParam(value: string | undefined, name = 'id'): number {
  if (value === undefined || !ID.test(value) || !Number.isSafeInteger(Number(value))) throw badRequest('invalid_id', `${name} must be a dead letter id (a positive integer).`);
  return Number(value);
}

function limitParam(value: string | undefined): number {
  if (value === undefined) return DEFAULT_LIMIT;
  const n = Number(value);
  if (!/^\d{1,3}$/.test(value) || n < 1 || n > MAX_LIMIT) throw badRequest('invalid_limit', `limit must be an integer from 1 to ${MAX_LIMIT}.`);
  return n;
}

function typeParam(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  if (value.length === 0 || value.length > 1024) throw badRequest('invalid_type', 'type must be an event type of 1 to 1024 characters.');
  return value;
}

/** The data as JSON when it is JSON, else base64: what an operator needs to judge the event. */
function dataView(row: DeadLetter): { data?: unknown; dataBase64?: string } {
  if (!row.data) return {};
  const ct = row.attributes.datacontenttype ?? 'application/json';
  if (/^application\/([\w.+-]*\+)?json\b/i.test(ct)) {
    try {
      return { data: JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(row.data)) };
    } catch {
      // Not valid JSON after all: shown as bytes.
    }
  }
  return { dataBase64: Buffer.from(row.data).toString('base64') };
}

const view = (row: DeadLetter) => {
  const { key: _key, data: _data, seq, ...rest } = row;
  return { id: String(seq), ...rest, ...dataView(row) };
};

export function mountAdminRoutes(app: Hono<any>, deps: { db: Db; log: Logger; check: AdminCheck; replay: Omit<ReplayDeps, 'db'> }): void {
  const admin = (c: Context) => deps.check(c.req.header('authorization'));

  app.get(ADMIN_PREFIX, async (c) => {
    await admin(c);
    const limit = limitParam(c.req.query('limit'));
    const type = typeParam(c.req.query('type'));
    const before = c.req.query('before') === undefined ? undefined : idParam(c.req.query('before'), 'before');
    const rows = await listDeadLetters(deps.db, { limit, ...(type === undefined ? {} : { type }), ...(before === undefined ? {} : { before }) });
    const items = rows.map(({ seq, ...rest }) => ({ id: String(seq), ...rest }));
    // Keyset paging: the next page starts below the last id of a full page.
    return c.json({ items, next: rows.length === limit ? String(rows[rows.length - 1]!.seq) : null });
  });

  app.get(`${ADMIN_PREFIX}/:id`, async (c) => {
    await admin(c);
    const row = await findDeadLetter(deps.db, idParam(c.req.param('id')));
    if (!row) throw notFound('No such dead letter.');
    return c.json(view(row));
  });

  app.post(`${ADMIN_PREFIX}/:id/replay`, async (c) => {
    const who = await admin(c);
    const id = idParam(c.req.param('id'));
    const { replayedAt } = await replayDeadLetter({ db: deps.db, ...deps.replay }, id);
    deps.log.info('dead letter replayed', { dead_letter: id, admin: who.sub });
    return c.json({ id: String(id), replayedAt });
  });

  app.delete(`${ADMIN_PREFIX}/:id`, async (c) => {
    const who = await admin(c);
    const id = idParam(c.req.param('id'));
    if (!(await deleteDeadLetter(deps.db, id))) throw notFound('No such dead letter.');
    deps.log.info('dead letter deleted', { dead_letter: id, admin: who.sub });
    return c.body(null, 204);
  });
}
