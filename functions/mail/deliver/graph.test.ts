import { describe, it, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'drizzle-orm';
import { createTestDatabase, type TestDatabase } from '#tests/support/database';
import { waitFor } from '#tests/support/poll';
import mailApi from '../api/function.js';
import { startGraphPeer, type GraphPeer } from '../testing/graph-peer.js';
import { startMailHarness, type MailHarness } from '../testing/harness.js';
import mailDeliver from './function.js';

const T = 'acme';
const FINAL = new Set(['sent', 'bounced', 'failed', 'cancelled']);

describe('mail-deliver over Microsoft Graph sendMail (an HTTP peer checking the request shape)', () => {
  let tdb: TestDatabase;
  let h: MailHarness;
  let graph: GraphPeer;
  let admin: string;
  let send: string;

  before(async () => {
    tdb = await createTestDatabase({ max: 6 });
    graph = await startGraphPeer();
    // The default relay points nowhere: anything sent through it would be deferred, not delivered.
    h = await startMailHarness(tdb.database, [mailApi, mailDeliver], { ZENO_MAIL_SMTP_URL: 'smtp://127.0.0.1:9', ZENO_MAIL_RETRY_BASE_SECONDS: '0.2' });
    admin = await h.issuer.token(T, 'mail:admin');
    send = await h.issuer.token(T, 'mail:send');
    assert.equal((await api('PUT', `/mail/${T}/v1/senders/acme.test`, undefined, admin)).status, 204);
    await useGraph(graph.clientSecret);
  });
  after(async () => {
    await h?.close();
    await graph?.close();
    await tdb?.drop();
  });
  beforeEach(() => {
    graph.sent.length = 0;
    graph.log.length = 0;
    graph.script = [];
  });

  function api(method: string, path: string, body?: unknown, token = send) {
    return h.request(path, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
  }
  async function useGraph(clientSecret: string) {
    const r = await api('PUT', `/mail/${T}/v1/transport`, {
      type: 'graph',
      tenantId: '9a8b7c6d-1111-2222-3333-444455556666',
      clientId: graph.clientId,
      clientSecret,
      sender: 'mailer@acme.test',
      tokenUrl: `${graph.base}/tenant/oauth2/v2.0/token`,
      graphUrl: `${graph.base}/v1.0`,
    }, admin);
    assert.equal(r.status, 200, await r.clone().text());
  }
  async function queue(over: Record<string, unknown> = {}): Promise<string> {
    const r = await api('POST', `/mail/${T}/v1/messages`, { from: 'Acme Billing <billing@acme.test>', to: 'Alice <alice@example.org>', subject: 'Invoice 42', text: 'Plain body', subjects: ['user-a'], ...over });
    assert.equal(r.status, 202, await r.clone().text());
    const { id } = (await r.json()) as { id: string };
    await h.request('/_events', {
      method: 'POST',
      headers: { 'ce-specversion': '1.0', 'ce-id': `queued-${id}`, 'ce-source': '/mail/api', 'ce-type': 'io.zenokube.mail.message.queued', 'content-type': 'application/json' },
      body: JSON.stringify({ tenant: T, messageId: id }),
    }, 'mail-deliver');
    return id;
  }
  const status = async (id: string) => (await tdb.database.query<{ status: string; attempts: number }>(sql`select status, attempts from mail.messages where id = ${id}`))[0]!;
  const settled = (id: string) => waitFor(`message ${id} to settle`, async () => { const s = await status(id); return FINAL.has(s.status) ? s : undefined; }, 1500);
  const history = async (id: string) => ((await (await api('GET', `/mail/${T}/v1/messages/${id}`)).json()) as { events: { kind: string; detail?: Record<string, unknown> }[] }).events;

  it('sends the JSON form with recipients, both bodies as HTML, X- headers and attachments; one token for many messages', async () => {
    const tokensBefore = graph.tokens;
    const id = await queue({
      cc: 'Carol <carol@example.org>',
      bcc: 'hidden@example.org',
      replyTo: 'support@acme.test',
      html: '<p>HTML <b>body</b></p>',
      headers: { 'X-Campaign': 'spring' },
      attachments: [{ filename: 'invoice.pdf', contentType: 'application/pdf', content: Buffer.from('%PDF-1.4 fake').toString('base64') }],
    });
    assert.equal((await settled(id)).status, 'sent');
    const second = await queue();
    assert.equal((await settled(second)).status, 'sent');
    assert.equal(graph.tokens - tokensBefore, 1, 'the token is cached until it expires');
    const [first, next] = graph.sent;
    assert.equal(first!.form, 'json');
    assert.equal(first!.user, 'mailer@acme.test');
    const m = first!.json!.message;
    assert.equal(m.subject, 'Invoice 42');
    assert.deepEqual(m.body, { contentType: 'HTML', content: '<p>HTML <b>body</b></p>' });
    assert.deepEqual(m.from, { emailAddress: { address: 'billing@acme.test', name: 'Acme Billing' } });
    assert.deepEqual(m.toRecipients, [{ emailAddress: { address: 'alice@example.org', name: 'Alice' } }]);
    assert.deepEqual(m.ccRecipients, [{ emailAddress: { address: 'carol@example.org', name: 'Carol' } }]);
    assert.deepEqual(m.bccRecipients, [{ emailAddress: { address: 'hidden@example.org' } }]);
    assert.deepEqual(m.replyTo, [{ emailAddress: { address: 'support@acme.test' } }]);
    assert.deepEqual(m.internetMessageHeaders, [{ name: 'X-Campaign', value: 'spring' }]);
    assert.equal(Buffer.from(m.attachments![0]!.contentBytes, 'base64').toString(), '%PDF-1.4 fake');
    assert.equal(first!.json!.saveToSentItems, false);
    assert.deepEqual(next!.json!.message.body, { contentType: 'Text', content: 'Plain body' });
    const events = await history(id);
    assert.deepEqual(events.map((e) => e.kind), ['queued', 'sending', 'sent']);
    assert.match(String(events[2]!.detail!.response), /^202 Accepted request-id [0-9a-f]+$/);
  });

  it('sends the MIME form when a header such as List-Unsubscribe needs it, Bcc kept for Graph to route', async () => {
    const id = await queue({ to: 'Una <una@example.org>', unsubscribe: true, html: '<p>Hi</p>' });
    assert.equal((await settled(id)).status, 'sent');
    const [got] = graph.sent;
    assert.equal(got!.form, 'mime');
    const p = got!.parsed!;
    assert.equal(p.subject, 'Invoice 42');
    assert.equal(p.messageId, `<${id}@acme.test>`);
    assert.equal((Array.isArray(p.to) ? p.to[0] : p.to)?.value[0]?.address, 'una@example.org');
    const line = (m: typeof p, key: string) => (m.headerLines.find((l) => l.key === key)?.line ?? '').replace(/\r\n[ \t]+/g, ' ');
    assert.match(line(p, 'list-unsubscribe'), /^List-Unsubscribe: <http:\/\/localhost:8080\/mail\/acme\/v1\/unsubscribe\/[^>]+>$/);
    assert.equal(line(p, 'list-unsubscribe-post'), 'List-Unsubscribe-Post: List-Unsubscribe=One-Click');
    assert.equal(p.text?.trim(), 'Plain body');
    assert.equal(p.html, '<p>Hi</p>');
    assert.match(String((await history(id)).at(-1)!.detail!.response), /\(MIME\)$/);
    const withBcc = await queue({ bcc: 'hidden@example.org', headers: { 'List-Id': 'Invoices <invoices.acme.test>' } });
    assert.equal((await settled(withBcc)).status, 'sent');
    const q = graph.sent[1]!.parsed!;
    assert.equal(graph.sent[1]!.form, 'mime');
    assert.equal((Array.isArray(q.bcc) ? q.bcc[0] : q.bcc)?.value[0]?.address, 'hidden@example.org');
    assert.equal(line(q, 'list-id'), 'List-ID: Invoices <invoices.acme.test>', 'nodemailer writes the RFC 2919 spelling');
  });

  it('defers a 429 for at least its Retry-After, then delivers once', async () => {
    graph.script = [{ status: 429, retryAfter: '1', code: 'ApplicationThrottled' }];
    const t0 = Date.now();
    const id = await queue();
    const s = await settled(id);
    assert.equal(s.status, 'sent');
    assert.equal(s.attempts, 2);
    assert.equal(graph.sent.length, 1);
    const events = await history(id);
    assert.deepEqual(events.map((e) => e.kind), ['queued', 'sending', 'deferred', 'sending', 'sent']);
    const d = events[2]!.detail!;
    assert.equal(d.code, 429);
    assert.match(String(d.reason), /ApplicationThrottled/);
    assert.ok(Date.parse(String(d.retryAt)) - t0 >= 1000, 'not before Retry-After');
  });

  it('retries a 503 as temporary', async () => {
    graph.script = [{ status: 503, code: 'ServiceUnavailable' }];
    const id = await queue();
    const s = await settled(id);
    assert.equal(s.status, 'sent');
    assert.equal(s.attempts, 2);
  });

  for (const [code, graphCode] of [[400, 'ErrorInvalidRecipients'], [403, 'ErrorAccessDenied'], [404, 'ErrorInvalidUser']] as const) {
    it(`fails a ${code} at once with Graph's reason recorded, not retried`, async () => {
      graph.script = [{ status: code, code: graphCode }];
      const id = await queue();
      const s = await settled(id);
      assert.equal(s.status, 'failed');
      assert.equal(s.attempts, 1);
      assert.equal(graph.log.length, 1);
      const last = (await history(id)).at(-1)!;
      assert.equal(last.detail!.code, code);
      assert.match(String(last.detail!.reason), new RegExp(`^Graph sendMail ${code}: ${graphCode}`));
    });
  }

  it('asks for a new token once the cached one expires', async () => {
    graph.expiresIn = 60; // within the minute kept in reserve: expired as soon as issued
    await useGraph(graph.clientSecret); // a fresh transport, no token cached
    try {
      const before = graph.tokens;
      for (const _ of [1, 2]) assert.equal((await settled(await queue())).status, 'sent');
      assert.equal(graph.tokens - before, 2);
    } finally {
      graph.expiresIn = 3600;
      await useGraph(graph.clientSecret);
    }
  });

  it('fails with the token endpoint reason when the client secret is wrong, without the secret in the history', async () => {
    await useGraph('not-the-secret');
    try {
      const id = await queue();
      const s = await settled(id);
      assert.equal(s.status, 'failed');
      assert.equal(graph.log.length, 0, 'sendMail never called');
      const events = await history(id);
      assert.match(String(events.at(-1)!.detail!.reason), /^token endpoint 401: invalid_client: AADSTS7000215/);
      assert.ok(!JSON.stringify(events).includes('not-the-secret'));
    } finally {
      await useGraph(graph.clientSecret);
    }
  });
});
