// /Users (RFC 7644 §3.3 create, §3.4.1 get, §3.4.2 list, §3.4.3 search, §3.5.1 replace,
// §3.5.2 patch, §3.6 delete). Deactivating a user or setting a password ends their sessions
// and grants, as the admin API does; a `password` follows the tenant's password policy.
import type { Context, Hono } from 'hono';
import { and, eq, isNull, sql } from 'drizzle-orm';
import type { Tx } from '#shared/db/index';
import { AUTH_EVENTS } from '../core/event-types.js';
import { isUuid } from '../core/groups.js';
import { effectiveGroupsOf } from '../core/membership.js';
import type { PasswordPolicy } from '../core/password-policy.js';
import { hashPassword } from '../core/passwords.js';
import type { AuthRuntime } from '../core/runtime.js';
import { tokenFamilies, users, type User } from '../core/schema.js';
import { revokeUserSessions } from '../core/sessions.js';
import { parseListQuery, parseSearchBody, project, type ListQuery } from './list-query.js';
import { applyPatch, parsePatchBody } from './patch.js';
import { checkIfMatch, notModified, scimBody, scimJson, scimRequest, type ScimRequest } from './request.js';
import { LIST_SCHEMA } from './schemas.js';
import { invalidValue, scimNotFound } from './scim-error.js';
import { insertScimUser, listUsers, lockUser, replaceScimUser } from './store.js';
import { parseScimUser, toScimUser, type UserValues } from './user-resource.js';

const MULTI = new Set(['emails', 'phonenumbers', 'groups']);

/**
 * RFC 7644 §3.12: a value the service provider does not accept is a 400 with scimType
 * `invalidValue`; the detail says why, never the password.
 */
async function checkPassword(passwords: PasswordPolicy, values: UserValues): Promise<void> {
  if (values.password === undefined) return;
  const problem = await passwords.problem(values.password, values.username);
  if (problem) throw invalidValue(`"password": ${problem}`);
}

export function scimUserRoutes(app: Hono, rt: AuthRuntime, passwords: PasswordPolicy): void {
  const representation = async (q: AuthRuntime['db'] | Tx, s: ScimRequest, u: User) => toScimUser(u, await effectiveGroupsOf(q, s.tenant.id, u.id), s.base);

  const list = async (c: Context, s: ScimRequest, lq: ListQuery) => {
    const { total, rows } = await listUsers(rt.db, s.tenant.id, lq);
    const resources = [];
    for (const u of rows) resources.push(project(await representation(rt.db, s, u), lq));
    return scimJson({ schemas: [LIST_SCHEMA], totalResults: total, startIndex: lq.startIndex, itemsPerPage: resources.length, Resources: resources });
  };

  app.get('/Users', async (c) => {
    const s = await scimRequest(c, rt);
    return list(c, s, parseListQuery((n) => c.req.query(n)));
  });
  app.post('/Users/.search', async (c) => {
    const s = await scimRequest(c, rt);
    return list(c, s, parseSearchBody(await scimBody(c)));
  });

  app.get('/Users/:id', async (c) => {
    const s = await scimRequest(c, rt);
    const u = await findUser(rt.db, s, c.req.param('id'));
    if (notModified(c, u.version)) return new Response(null, { status: 304 });
    return scimJson(project(await representation(rt.db, s, u), parseListQuery((n) => c.req.query(n))), 200, u.version);
  });

  app.post('/Users', async (c) => {
    const s = await scimRequest(c, rt);
    const values = parseScimUser(await scimBody(c));
    await checkPassword(passwords, values);
    const passwordHash = values.password ? await hashPassword(values.password) : undefined;
    const out = await rt.transaction(async (tx) => {
      const u = await insertScimUser(tx, s.tenant.id, values, passwordHash);
      await s.record(tx, 'scim.user.created', { user: u.id }, [{ type: AUTH_EVENTS.userCreated, data: { tenant: s.tenant.slug, userId: u.id, username: u.username, externalId: u.externalId } }]);
      return u;
    });
    return scimJson(await representation(rt.db, s, out), 201, out.version, { location: `${s.base}/Users/${out.id}` });
  });

  /** PUT and PATCH: lock, check If-Match, compute the new values, write them all. */
  const rewrite = async (c: Context, s: ScimRequest, next: (current: User, tx: Tx) => Promise<UserValues>) => {
    const id = c.req.param('id') ?? '';
    if (!isUuid(id)) throw scimNotFound();
    let values: UserValues | undefined;
    let passwordHash: string | undefined;
    const out = await rt.transaction(async (tx) => {
      const current = await lockUser(tx, s.tenant.id, id);
      if (!current) throw scimNotFound();
      checkIfMatch(c, current.version);
      values = await next(current, tx);
      await checkPassword(passwords, values);
      // Argon2id outside the row lock would be kinder, but the value is only known here; a password
      // change through SCIM is rare (provisioning sends it once).
      if (values.password) passwordHash = await hashPassword(values.password);
      const u = await replaceScimUser(tx, s.tenant.id, id, values, passwordHash);
      if ((current.active && !u.active) || passwordHash) {
        const ended = await revokeUserSessions(tx, s.tenant.id, u.id);
        const reason = !u.active ? 'user_disabled' : 'password_changed';
        for (const sid of ended) await rt.events.emit(tx, { type: AUTH_EVENTS.sessionRevoked, data: { tenant: s.tenant.slug, sessionId: sid, userId: u.id, reason } });
        await tx
          .update(tokenFamilies)
          .set({ revokedAt: sql`now()`, revokedReason: !u.active ? 'user_disabled' : 'password_changed' })
          .where(and(eq(tokenFamilies.tenantId, s.tenant.id), eq(tokenFamilies.userId, u.id), isNull(tokenFamilies.revokedAt)));
      }
      await s.record(tx, 'scim.user.updated', { user: u.id, method: c.req.method }, [{ type: AUTH_EVENTS.userUpdated, data: { tenant: s.tenant.slug, userId: u.id, username: u.username, active: u.active } }]);
      return u;
    });
    return scimJson(await representation(rt.db, s, out), 200, out.version);
  };

  app.put('/Users/:id', async (c) => {
    const s = await scimRequest(c, rt);
    const values = parseScimUser(await scimBody(c));
    return rewrite(c, s, async () => values);
  });

  app.patch('/Users/:id', async (c) => {
    const s = await scimRequest(c, rt);
    const ops = parsePatchBody(await scimBody(c));
    return rewrite(c, s, async (current, tx) => {
      const resource = await representation(tx, s, current);
      const patched = applyPatch(resource, ops, MULTI);
      return parseScimUser(patched);
    });
  });

  app.delete('/Users/:id', async (c) => {
    const s = await scimRequest(c, rt);
    const id = c.req.param('id');
    if (!isUuid(id)) throw scimNotFound();
    await rt.transaction(async (tx) => {
      const current = await lockUser(tx, s.tenant.id, id);
      if (!current) throw scimNotFound();
      checkIfMatch(c, current.version);
      await tx.delete(users).where(and(eq(users.tenantId, s.tenant.id), eq(users.id, id)));
      await s.record(tx, 'scim.user.deleted', { user: id }, [{ type: AUTH_EVENTS.userDeleted, data: { tenant: s.tenant.slug, userId: id, username: current.username } }]);
    });
    return new Response(null, { status: 204 });
  });
}

async function findUser(q: AuthRuntime['db'], s: ScimRequest, id: string): Promise<User> {
  if (!isUuid(id)) throw scimNotFound();
  const [u] = await q.select().from(users).where(and(eq(users.tenantId, s.tenant.id), eq(users.id, id))).limit(1);
  if (!u) throw scimNotFound();
  return u;
}
