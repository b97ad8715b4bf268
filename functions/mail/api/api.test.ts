import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'drizzle-orm';
import { createTestDatabase, type TestDatabase } from '#tests/support/database';
import { startMailHarness, type MailHarness } from '../testing/harness.js';
import mailApi from './function.js';

const T = 'acme';

describe('mail-api', () => {
  let tdb: TestDatabase;
  let h: MailHarness;
  let send: string;
  let admin: string;

  before(async () => {
    tdb = await createTestDatabase({ max: 6 });
    h = await startMailHarness(tdb.database, [mailApi], { ZENO_MAIL_MAX_ATTACHMENT_BYTES: '1000' });
    send = await h.issuer.token(T, 'openid mail:send');
    admin = await h.issuer.token(T, 'mail:admin');
    const r = await api('PUT', `/mail/${T}/v1/senders/acme.test`, undefined, admin);
    assert.equal(r.status, 204);
  });
  after(async () => {
    await h?.close();
    await tdb?.drop();
  });

  function api(method: string, path: string, body?: unknown, token: string | null = send, headers: Record<string, string> = {}) {
    return h.request(path, {
      method,
      headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
      ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
    });
  }
  const message = (over: Record<string, unknown> = {}) => ({
    from: 'Acme Billing <billing@acme.test>',
    to: 'Alice Example <alice@example.org>',
    subject: 'Your invoice',
    text: 'Hello Alice',
    subjects: ['user-a'],
    tags: ['invoice'],
    ...over,
  });
  const count = async () => (await tdb.database.query<{ n: number }>(sql`select count(*)::int as n from mail.messages`))[0]!.n;
  const outboxCount = async () => (await tdb.database.query<{ n: number }>(sql`select count(*)::int as n from mail.outbox where type = 'io.zenokube.mail.message.queued'`))[0]!.n;

  describe('POST /mail/{tenant}/v1/messages', () => {
    it('accepts a message with 202 and its id, queues it and announces it', async () => {
      const before = await outboxCount();
      const r = await api('POST', `/mail/${T}/v1/messages`, message());
      assert.equal(r.status, 202);
      const { id, status } = (await r.json()) as { id: string; status: string };
      assert.equal(status, 'queued');
      assert.equal(await outboxCount(), before + 1);
      const g = await api('GET', `/mail/${T}/v1/messages/${id}`);
      assert.equal(g.status, 200);
      const m = (await g.json()) as { status: string; to: { address: string }[]; subject: string; events: { kind: string }[] };
      assert.equal(m.status, 'queued');
      assert.deepEqual(m.to, [{ name: 'Alice Example', address: 'alice@example.org' }]);
      assert.equal(m.subject, 'Your invoice');
      assert.deepEqual(m.events.map((e) => e.kind), ['queued']);
    });

    it('answers the same message for the same Idempotency-Key, and refuses the key for another request', async () => {
      const n = await count();
      const headers = { 'idempotency-key': 'order-42' };
      const [a, b] = await Promise.all([api('POST', `/mail/${T}/v1/messages`, message(), send, headers), api('POST', `/mail/${T}/v1/messages`, message(), send, headers)]);
      assert.equal(a.status, 202);
      assert.equal(b.status, 202);
      const ids = [((await a.json()) as { id: string }).id, ((await b.json()) as { id: string }).id];
      assert.equal(ids[0], ids[1]);
      const c = await api('POST', `/mail/${T}/v1/messages`, message(), send, headers);
      assert.equal(((await c.json()) as { id: string }).id, ids[0]);
      assert.equal(await count(), n + 1, 'one message for three requests');
      const d = await api('POST', `/mail/${T}/v1/messages`, message({ subject: 'Other' }), send, headers);
      assert.equal(d.status, 422);
      assert.equal(((await d.json()) as { code: string }).code, 'idempotency_key_reused');
    });

    it('refuses missing, foreign-tenant and under-scoped tokens', async () => {
      assert.equal((await api('POST', `/mail/${T}/v1/messages`, message(), null)).status, 401);
      assert.equal((await api('POST', `/mail/${T}/v1/messages`, message(), await h.issuer.token('other', 'mail:send'))).status, 401);
      const r = await api('POST', `/mail/${T}/v1/messages`, message(), await h.issuer.token(T, 'openid'));
      assert.equal(r.status, 403);
      assert.equal(((await r.json()) as { code: string }).code, 'insufficient_scope');
      assert.equal((await api('DELETE', `/mail/${T}/v1/subjects/user-x`, undefined, send)).status, 403, 'mail:send is not mail:admin');
      assert.equal((await api('POST', `/mail/${T}/v1/messages`, message(), await h.issuer.token(T, 'mail:send', { expiresIn: '-1m' }))).status, 401);
      // A system-tenant platform admin may act on any tenant; a system mail:send token may not.
      assert.equal((await api('GET', `/mail/${T}/v1/senders`, undefined, await h.issuer.token('system', 'zeno:admin'))).status, 200);
      assert.equal((await api('POST', `/mail/${T}/v1/messages`, message(), await h.issuer.token('system', 'mail:send'))).status, 403);
    });

    const bad: [string, unknown, number, string][] = [
      ['CR/LF in the subject', message({ subject: 'Hi\r\nBcc: victim@example.org' }), 400, 'header_injection'],
      ['LF in a recipient', message({ to: ['alice@example.org\nBcc: x@example.org'] }), 400, 'header_injection'],
      ['CR/LF in a display name', message({ from: 'Acme\r\nX: y <billing@acme.test>' }), 400, 'header_injection'],
      ['CR/LF in a custom header value', message({ headers: { 'X-Campaign': 'a\r\nBcc: x@example.org' } }), 400, 'header_injection'],
      ['CR/LF in a custom header name', message({ headers: { 'X-A\r\nBcc': 'x' } }), 400, 'header_injection'],
      ['CR/LF in an attachment name', message({ attachments: [{ filename: 'a\r\n.txt', content: 'aGk=' }] }), 400, 'header_injection'],
      ['a reserved header', message({ headers: { Bcc: 'x@example.org' } }), 400, 'reserved_header'],
      ['an invalid address', message({ to: 'not an address' }), 400, 'invalid_address'],
      ['an address without a domain dot', message({ cc: ['alice@localhost'] }), 400, 'invalid_address'],
      ['attachments over the limit', message({ attachments: [{ filename: 'big.bin', content: Buffer.alloc(2000).toString('base64') }] }), 413, 'attachments_too_large'],
      ['an attachment that is not base64', message({ attachments: [{ filename: 'a.bin', content: '!!!' }] }), 422, 'validation_failed'],
      ['an unknown template', message({ subject: undefined, text: undefined, template: { name: 'nope' } }), 422, 'unknown_template'],
      ['an unverified sender domain', message({ from: 'x@evil.test' }), 422, 'sender_not_verified'],
      ['no subjects', message({ subjects: [] }), 422, 'validation_failed'],
      ['no body', message({ text: undefined }), 400, 'missing_body'],
      ['an unknown field', message({ sneaky: 1 }), 422, 'validation_failed'],
      ['malformed JSON', '{"from":', 400, 'malformed_json'],
    ];
    for (const [what, body, status, code] of bad) {
      it(`refuses ${what} with ${status} ${code} and queues nothing`, async () => {
        const n = await count();
        const r = await api('POST', `/mail/${T}/v1/messages`, body);
        assert.equal(r.status, status);
        assert.match(r.headers.get('content-type') ?? '', /problem\+json/);
        assert.equal(((await r.json()) as { code: string }).code, code);
        assert.equal(await count(), n);
      });
    }

    it('refuses a body over the platform limit with 413', async () => {
      const r = await api('POST', `/mail/${T}/v1/messages`, message({ text: 'x'.repeat(2 * 1024 * 1024) }));
      assert.equal(r.status, 413);
    });
  });

  describe('templates', () => {
    it('versions a template per locale, previews it and sends it with escaped variables and a generated text part', async () => {
      let r = await api('PUT', `/mail/${T}/v1/templates/welcome/en`, { subject: 'Welcome {{name}}', html: '<p>Hello {{name}}</p>' }, admin);
      assert.equal(r.status, 201);
      r = await api('PUT', `/mail/${T}/v1/templates/welcome/en`, { subject: 'Welcome, {{name}}', html: '<p>Hi {{name}}, <a href="{{link}}">start</a></p>' }, admin);
      assert.deepEqual(await r.json(), { name: 'welcome', locale: 'en', version: 2 });
      r = await api('PUT', `/mail/${T}/v1/templates/welcome/de`, { subject: 'Willkommen {{name}}', text: 'Hallo {{name}}' }, admin);
      assert.equal(r.status, 201);
      r = await api('PUT', `/mail/${T}/v1/templates/bad/en`, { subject: 'a\nb', text: 'x' }, admin);
      assert.equal(r.status, 422);

      r = await api('POST', `/mail/${T}/v1/templates/welcome/preview`, { locale: 'de-CH', variables: { name: 'Jörg' } }, admin);
      assert.deepEqual(await r.json(), { locale: 'de', version: 1, subject: 'Willkommen Jörg', text: 'Hallo Jörg' });
      r = await api('POST', `/mail/${T}/v1/templates/welcome/preview`, { variables: { name: '<b>Eve</b>', link: 'https://x.test/?a=1&b=2' } }, admin);
      const p = (await r.json()) as { subject: string; text: string; html: string; version: number };
      assert.equal(p.version, 2);
      assert.equal(p.html, '<p>Hi &lt;b&gt;Eve&lt;/b&gt;, <a href="https://x.test/?a=1&amp;b=2">start</a></p>');
      assert.equal(p.text, 'Hi <b>Eve</b>, start (https://x.test/?a=1&b=2)');
      r = await api('POST', `/mail/${T}/v1/templates/welcome/preview`, { variables: {} }, admin);
      assert.equal(r.status, 422);
      assert.equal(((await r.json()) as { code: string }).code, 'missing_variables');

      const n = await count();
      r = await api('POST', `/mail/${T}/v1/messages`, message({ subject: undefined, text: undefined, template: { name: 'welcome', variables: { name: 'Eve' } } }));
      assert.equal(r.status, 422, 'a missing variable queues nothing');
      assert.equal(await count(), n);
      r = await api('POST', `/mail/${T}/v1/messages`, message({ subject: undefined, text: undefined, template: { name: 'welcome', locale: 'fr', variables: { name: 'Eve', link: 'https://x.test' } } }));
      assert.equal(r.status, 202);
      const { id } = (await r.json()) as { id: string };
      const m = (await (await api('GET', `/mail/${T}/v1/messages/${id}`)).json()) as { subject: string; template: unknown };
      assert.equal(m.subject, 'Welcome, Eve');
      assert.deepEqual(m.template, { name: 'welcome', locale: 'en', version: 2 });
    });
  });

  describe('DELETE /mail/{tenant}/v1/subjects/{id}', () => {
    it('erases the subject: their messages answer 410 erased, others still read, new mail for them is refused', async () => {
      const a = ((await (await api('POST', `/mail/${T}/v1/messages`, message({ subjects: ['user-e'] }))).json()) as { id: string }).id;
      const b = ((await (await api('POST', `/mail/${T}/v1/messages`, message({ subjects: ['user-f'] }))).json()) as { id: string }).id;
      const r = await api('DELETE', `/mail/${T}/v1/subjects/user-e`, undefined, admin);
      assert.equal(r.status, 200);
      assert.deepEqual(await r.json(), { subject: 'user-e', erased: true, messages: 1, cancelled: 1 });
      const g = await api('GET', `/mail/${T}/v1/messages/${a}`);
      assert.equal(g.status, 410);
      const problem = (await g.json()) as { code: string; message: { status: string; events: { kind: string }[] } };
      assert.equal(problem.code, 'erased');
      assert.equal(problem.message.status, 'cancelled');
      assert.deepEqual(problem.message.events.map((e) => e.kind), ['queued', 'cancelled', 'erased']);
      assert.equal((await api('GET', `/mail/${T}/v1/messages/${b}`)).status, 200);
      const again = await api('POST', `/mail/${T}/v1/messages`, message({ subjects: ['user-e'] }));
      assert.equal(again.status, 410);
      assert.equal(((await again.json()) as { code: string }).code, 'subject_erased');
      const [auditRow] = await tdb.database.query<{ actor: string; source_ip: string }>(sql`select actor, source_ip from mail.audit where action = 'subject.erase'`);
      assert.deepEqual(auditRow, { actor: 'caller-1', source_ip: '127.0.0.1' });
    });

    it('erases the subject when ZenoAuth announces the user deleted, once per event', async () => {
      const a = ((await (await api('POST', `/mail/${T}/v1/messages`, message({ subjects: ['user-g'] }))).json()) as { id: string }).id;
      const deliver = () =>
        h.request('/_events', {
          method: 'POST',
          headers: { 'ce-specversion': '1.0', 'ce-id': 'del-1', 'ce-source': '/auth/admin', 'ce-type': 'io.zenokube.auth.user.deleted', 'content-type': 'application/json' },
          body: JSON.stringify({ tenant: T, userId: 'user-g', username: 'gina' }),
        });
      assert.equal((await deliver()).status, 202);
      assert.equal((await api('GET', `/mail/${T}/v1/messages/${a}`)).status, 410);
      const r = await deliver();
      assert.equal(r.headers.get('zeno-event-status'), 'duplicate');
    });
  });

  describe("ZenoAuth's account mails (io.zenokube.auth.mail.requested)", () => {
    const requested = (id: string, data: Record<string, unknown>) =>
      h.request('/_events', {
        method: 'POST',
        headers: { 'ce-specversion': '1.0', 'ce-id': id, 'ce-source': '/auth/authorize', 'ce-type': 'io.zenokube.auth.mail.requested', 'content-type': 'application/json' },
        body: JSON.stringify(data),
      });
    const reset = { tenant: T, template: 'password-reset', to: 'rita@example.org', userId: 'user-r', variables: { name: 'rita', link: 'https://id.acme.test/auth/acme/password/reset?token=abc', expiresInMinutes: '30', tenantName: 'Acme' } };

    it('queues a password-reset mail from the built-in template, from the tenant\'s sender, once per event, and erases it with the user', async () => {
      const before = await count();
      assert.equal((await requested('mail-req-1', reset)).status, 202);
      assert.equal(await count(), before + 1);
      const list = (await (await api('GET', `/mail/${T}/v1/messages?tag=zenoauth`)).json()) as { items: { id: string }[] };
      assert.equal(list.items.length, 1);
      const m = (await (await api('GET', `/mail/${T}/v1/messages/${list.items[0]!.id}`)).json()) as { from: { address: string }; to: { address: string }[]; subjects: string[]; subject: string; template: { name: string } };
      assert.equal(m.from.address, 'no-reply@acme.test');
      assert.equal(m.subject, 'Reset your password');
      assert.equal(m.template.name, 'zenoauth.password-reset');
      assert.deepEqual(m.to.map((x) => x.address), ['rita@example.org']);
      assert.deepEqual(m.subjects, ['user-r']);
      // Redelivered: the inbox answers it, nothing is queued twice.
      assert.equal((await requested('mail-req-1', reset)).headers.get('zeno-event-status'), 'duplicate');
      assert.equal(await count(), before + 1);
      // The user is the message's data subject: deleting the user erases it.
      const erased = await h.request('/_events', {
        method: 'POST',
        headers: { 'ce-specversion': '1.0', 'ce-id': 'del-r', 'ce-source': '/auth/admin', 'ce-type': 'io.zenokube.auth.user.deleted', 'content-type': 'application/json' },
        body: JSON.stringify({ tenant: T, userId: 'user-r', username: 'rita' }),
      });
      assert.equal(erased.status, 202);
      assert.equal((await api('GET', `/mail/${T}/v1/messages/${list.items[0]!.id}`)).status, 410);
    });

    it('queues the new-device notice with the variables ZenoAuth sends', async () => {
      const before = await count();
      const notice = { tenant: T, template: 'new-device', to: 'rita@example.org', userId: 'user-n', variables: { name: 'rita', device: 'Phone/2.0', ip: '203.0.113.9', time: '2026-12-07T16:00:00.000Z', link: 'https://id.acme.test/auth/acme/account/sessions' } };
      assert.equal((await requested('mail-req-nd', notice)).status, 202);
      assert.equal(await count(), before + 1);
    });

    it('consumes without queueing a request it can never send: an unknown template, a bad address, a missing variable, a tenant with no sender', async () => {
      const before = await count();
      for (const [id, data] of [
        ['mail-req-2', { ...reset, template: 'invoice' }],
        ['mail-req-3', { ...reset, to: 'not an address\r\nBcc: x@evil.test' }],
        ['mail-req-4', { ...reset, variables: { name: 'rita' } }],
        ['mail-req-5', { ...reset, tenant: 'nosender' }],
      ] as const) {
        const r = await requested(id, data);
        assert.equal(r.status, 202, `${id}: ${r.status}`);
      }
      assert.equal(await count(), before);
    });
  });

  describe('GET /mail/{tenant}/v1/messages', () => {
    it('lists by recipient through the blind index, by tag and status, and never across tenants', async () => {
      await api('POST', `/mail/${T}/v1/messages`, message({ to: 'Zed@Example.org', tags: ['zed'], subjects: ['user-z'] }));
      const r = await api('GET', `/mail/${T}/v1/messages?to=zed@example.org`);
      const { items } = (await r.json()) as { items: { tags: string[] }[] };
      assert.equal(items.length, 1);
      assert.deepEqual(items[0]!.tags, ['zed']);
      assert.equal(((await (await api('GET', `/mail/${T}/v1/messages?tag=zed&status=queued`)).json()) as { items: unknown[] }).items.length, 1);
      assert.equal((await api('GET', `/mail/${T}/v1/messages?status=bogus`)).status, 400);
      assert.equal((await api('GET', `/mail/${T}/v1/messages?limit=0`)).status, 400);
      const other = await h.issuer.token('other', 'mail:send');
      assert.equal(((await (await api('GET', '/mail/other/v1/messages', undefined, other)).json()) as { items: unknown[] }).items.length, 0);
      const one = ((await (await api('GET', `/mail/${T}/v1/messages?limit=1`)).json()) as { items: { id: string }[] }).items[0]!;
      assert.equal((await api('GET', `/mail/other/v1/messages/${one.id}`, undefined, other)).status, 404);
    });
  });
});
