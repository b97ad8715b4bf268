import { describe, it, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'drizzle-orm';
import { createTestDatabase, type TestDatabase } from '#tests/support/database';
import { waitFor } from '#tests/support/poll';
import mailApi from '../api/function.js';
import { startMailHarness, type MailHarness } from '../testing/harness.js';
import { smtpReply, startSmtpReceiver, type SmtpReceiver } from '../testing/smtp-receiver.js';
import mailDeliver from './function.js';

const T = 'acme';
const FINAL = new Set(['sent', 'bounced', 'failed', 'cancelled']);

describe('mail-deliver over SMTP (smtp-server + mailparser as the peer)', () => {
  let tdb: TestDatabase;
  let h: MailHarness;
  let smtp: SmtpReceiver;
  let send: string;
  let admin: string;

  before(async () => {
    tdb = await createTestDatabase({ max: 8 });
    smtp = await startSmtpReceiver();
    h = await startMailHarness(tdb.database, [mailApi, mailDeliver], { ZENO_MAIL_SMTP_URL: smtp.url, ZENO_MAIL_RETRY_BASE_SECONDS: '0.2' });
    send = await h.issuer.token(T, 'mail:send');
    admin = await h.issuer.token(T, 'mail:admin');
    assert.equal((await api('PUT', `/mail/${T}/v1/senders/acme.test`, undefined, admin)).status, 204);
  });
  after(async () => {
    await h?.close();
    await smtp?.close();
    await tdb?.drop();
  });
  beforeEach(() => {
    smtp.received.length = 0;
    smtp.script = {};
  });

  function api(method: string, path: string, body?: unknown, token = send, headers: Record<string, string> = {}) {
    return h.request(path, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
  }
  async function queue(over: Record<string, unknown> = {}): Promise<string> {
    const r = await api('POST', `/mail/${T}/v1/messages`, {
      from: 'Acme Billing <billing@acme.test>',
      to: ['Alice <alice@example.org>'],
      subject: 'Invoice 42',
      text: 'Plain body',
      subjects: ['user-a'],
      ...over,
    });
    assert.equal(r.status, 202, await r.clone().text());
    return ((await r.json()) as { id: string }).id;
  }
  /** The queued event as the Broker delivers it to mail-deliver. */
  const announce = (id: string, eventId = `queued-${id}`) =>
    h.request('/_events', {
      method: 'POST',
      headers: { 'ce-specversion': '1.0', 'ce-id': eventId, 'ce-source': '/mail/api', 'ce-type': 'io.zenokube.mail.message.queued', 'content-type': 'application/json' },
      body: JSON.stringify({ tenant: T, messageId: id }),
    }, 'mail-deliver');
  const status = async (id: string) => (await tdb.database.query<{ status: string; attempts: number }>(sql`select status, attempts from mail.messages where id = ${id}`))[0]!;
  const settled = (id: string) => waitFor(`message ${id} to settle`, async () => { const s = await status(id); return FINAL.has(s.status) ? s : undefined; }, 1500);
  const history = async (id: string) => ((await (await api('GET', `/mail/${T}/v1/messages/${id}`)).json()) as { events: { kind: string; detail?: Record<string, unknown> }[] }).events;

  it('delivers a message whose headers, parts and attachments arrive intact, Bcc only on the envelope', async () => {
    const id = await queue({
      cc: 'Carol <carol@example.org>',
      bcc: ['hidden@example.org'],
      replyTo: 'support@acme.test',
      html: '<p>HTML <b>body</b></p>',
      headers: { 'X-Campaign': 'spring', 'List-Unsubscribe': '<https://acme.test/u/1>' },
      attachments: [{ filename: 'invoice.pdf', contentType: 'application/pdf', content: Buffer.from('%PDF-1.4 fake').toString('base64') }],
    });
    assert.equal((await announce(id)).status, 202);
    assert.equal((await settled(id)).status, 'sent');
    assert.equal(smtp.received.length, 1);
    const [got] = smtp.received;
    const p = got!.parsed;
    assert.equal(p.subject, 'Invoice 42');
    assert.equal(p.messageId, `<${id}@acme.test>`);
    assert.deepEqual(p.from?.value, [{ name: 'Acme Billing', address: 'billing@acme.test' }]);
    assert.deepEqual((Array.isArray(p.to) ? p.to[0] : p.to)?.value, [{ name: 'Alice', address: 'alice@example.org' }]);
    assert.equal((Array.isArray(p.cc) ? p.cc[0] : p.cc)?.value[0]?.address, 'carol@example.org');
    assert.equal(p.bcc, undefined, 'Bcc is not a header');
    assert.deepEqual(got!.envelope.to.sort(), ['alice@example.org', 'carol@example.org', 'hidden@example.org']);
    assert.equal(got!.envelope.from, 'billing@acme.test');
    assert.equal(p.text?.trim(), 'Plain body');
    assert.equal(p.html, '<p>HTML <b>body</b></p>');
    assert.equal(p.headers.get('x-campaign'), 'spring');
    assert.equal(p.attachments.length, 1);
    assert.equal(p.attachments[0]!.filename, 'invoice.pdf');
    assert.equal(p.attachments[0]!.content.toString(), '%PDF-1.4 fake');
    const events = await history(id);
    assert.deepEqual(events.map((e) => e.kind), ['queued', 'sending', 'sent']);
    assert.match(String(events[2]!.detail!.response), /^250 /);
  });

  it('sends once however often and however concurrently the event is redelivered', async () => {
    const id = await queue();
    const answers = await Promise.all([announce(id), announce(id), announce(id, 'other-id'), announce(id, 'third-id')]);
    for (const a of answers) assert.equal(a.status, 202);
    assert.equal((await settled(id)).status, 'sent');
    assert.equal((await announce(id)).headers.get('zeno-event-status'), 'duplicate');
    assert.equal((await announce(id, 'late-id')).status, 202);
    // Nothing else is due: let a round pass and count.
    await h.hosted.find((x) => x.declaration.name === 'mail-deliver')!.app.request('/healthz');
    await waitFor('a quiet round', async () => ((await status(id)).status === 'sent' ? true : undefined));
    assert.equal(smtp.received.filter((r) => r.parsed.messageId === `<${id}@acme.test>`).length, 1);
    assert.equal((await status(id)).attempts, 1);
  });

  it('retries a temporary 4xx and delivers once', async () => {
    smtp.script = { data: (n) => (n === 1 ? smtpReply(451, '4.3.0 Try again later') : undefined) };
    const id = await queue();
    await announce(id);
    const s = await settled(id);
    assert.equal(s.status, 'sent');
    assert.equal(s.attempts, 2);
    assert.equal(smtp.received.length, 1);
    const kinds = (await history(id)).map((e) => e.kind);
    assert.deepEqual(kinds, ['queued', 'sending', 'deferred', 'sending', 'sent']);
    const deferred = (await history(id))[2]!.detail!;
    assert.equal(deferred.code, 451);
    assert.match(String(deferred.reason), /Try again later/);
  });

  it('fails a permanent 5xx at once, suppresses the address and refuses later sends to it', async () => {
    smtp.script = { rcpt: (a) => (a === 'gone@example.org' ? smtpReply(550, '5.1.1 No such user') : undefined) };
    const id = await queue({ to: 'gone@example.org' });
    await announce(id);
    const s = await settled(id);
    assert.equal(s.status, 'bounced');
    assert.equal(s.attempts, 1, 'not retried');
    assert.equal(smtp.received.length, 0);
    const last = (await history(id)).at(-1)!;
    assert.equal(last.kind, 'bounced');
    assert.equal(last.detail!.code, 550);
    const again = await api('POST', `/mail/${T}/v1/messages`, { from: 'billing@acme.test', to: 'GONE@example.org', subject: 's', text: 't', subjects: ['user-a'] });
    assert.equal(again.status, 422);
    assert.equal(((await again.json()) as { code: string }).code, 'recipient_suppressed');
  });

  it('delivers to the accepted recipients and suppresses the refused one when only some are refused', async () => {
    smtp.script = { rcpt: (a) => (a === 'nobody@example.org' ? smtpReply(550, '5.1.1 No such user') : undefined) };
    const id = await queue({ to: ['alice@example.org', 'nobody@example.org'] });
    await announce(id);
    assert.equal((await settled(id)).status, 'sent');
    assert.deepEqual(smtp.received[0]!.envelope.to, ['alice@example.org']);
    const sent = (await history(id)).at(-1)!.detail as { refused: { address: string; code: number }[] };
    assert.deepEqual(sent.refused.map((r) => [r.address, r.code]), [['nobody@example.org', 550]]);
  });

  it('keeps a message while the server is down and delivers it once the server is back', async () => {
    const port = smtp.port;
    await smtp.close();
    const id = await queue();
    await announce(id);
    await waitFor('a deferral', async () => ((await status(id)).status === 'deferred' ? true : undefined), 1500);
    const reason = String((await history(id)).find((e) => e.kind === 'deferred')!.detail!.reason);
    assert.match(reason, /ECONNREFUSED|connect/i);
    const back = await startSmtpReceiver(port);
    try {
      const s = await settled(id);
      assert.equal(s.status, 'sent');
      assert.ok(s.attempts >= 2);
      assert.equal(back.received.length, 1);
    } finally {
      smtp = back;
    }
  });

  it('cancels and sends nothing for a subject erased before delivery', async () => {
    const id = await queue({ subjects: ['user-erased-early'] });
    assert.equal((await api('DELETE', `/mail/${T}/v1/subjects/user-erased-early`, undefined, admin)).status, 200);
    await announce(id);
    assert.equal((await settled(id)).status, 'cancelled');
    assert.equal(smtp.received.length, 0);
  });

  it('adds RFC 8058 one-click unsubscribe headers whose POST suppresses that recipient', async () => {
    const id = await queue({ to: 'Una <una@example.org>', unsubscribe: true });
    await announce(id);
    assert.equal((await settled(id)).status, 'sent');
    const raw = smtp.received[0]!.raw.toString('latin1');
    assert.match(raw, /^List-Unsubscribe-Post: List-Unsubscribe=One-Click\r$/m);
    const url = /^List-Unsubscribe:\s*<([^>]+)>/m.exec(raw)![1]!;
    assert.match(url, /^http:\/\/localhost:8080\/mail\/acme\/v1\/unsubscribe\/[A-Za-z0-9_-]{43}\.[A-Za-z0-9_-]{43}$/);
    assert.ok(!url.includes('una'), 'the link names no address');
    const path = new URL(url).pathname;
    const forged = path.slice(0, -2) + (path.endsWith('AA') ? 'BB' : 'AA');
    const post = (p: string) => h.request(p, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'List-Unsubscribe=One-Click' });
    assert.equal((await post(forged)).status, 404);
    assert.equal((await post(path.replace('/acme/', '/other/'))).status, 404, 'a link of one tenant means nothing in another');
    assert.equal((await post(path)).status, 200);
    const again = await api('POST', `/mail/${T}/v1/messages`, { from: 'billing@acme.test', to: 'una@example.org', subject: 's', text: 't', subjects: ['user-a'] });
    assert.equal(((await again.json()) as { code: string }).code, 'recipient_suppressed');
    const two = await api('POST', `/mail/${T}/v1/messages`, { from: 'billing@acme.test', to: 'a@example.org', cc: 'b@example.org', subject: 's', text: 't', subjects: ['user-a'], unsubscribe: true });
    assert.equal(((await two.json()) as { code: string }).code, 'unsubscribe_needs_one_recipient');
  });

  it('delivers many messages at once over pooled connections, each exactly once', async () => {
    const before = smtp.connections;
    const ids = await Promise.all(Array.from({ length: 30 }, (_, i) => queue({ subject: `bulk ${i}` })));
    await Promise.all(ids.map((id) => announce(id)));
    for (const id of ids) assert.equal((await settled(id)).status, 'sent');
    assert.equal(smtp.received.length, 30);
    assert.equal(new Set(smtp.received.map((r) => r.parsed.messageId)).size, 30);
    assert.ok(smtp.connections - before <= 5, `pooled: ${smtp.connections - before} connections for 30 messages`);
  });
});
