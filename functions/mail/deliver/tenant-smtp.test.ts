import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'drizzle-orm';
// The verifier module alone: mailauth's main entry also loads its BIMI fetcher, which needs Node 22.
import { dkimVerify } from 'mailauth/lib/dkim/verify.js';
import { createTestDatabase, type TestDatabase } from '#tests/support/database';
import { waitFor } from '#tests/support/poll';
import mailApi from '../api/function.js';
import { startMailHarness, type MailHarness } from '../testing/harness.js';
import { startSmtpReceiver, type SmtpReceiver } from '../testing/smtp-receiver.js';
import mailDeliver from './function.js';

const T = 'acme';

describe('mail-deliver through a tenant transport and DKIM key set by the admin API', () => {
  let tdb: TestDatabase;
  let h: MailHarness;
  let fallback: SmtpReceiver;
  let relay: SmtpReceiver;
  let admin: string;
  let send: string;

  before(async () => {
    tdb = await createTestDatabase({ max: 6 });
    fallback = await startSmtpReceiver();
    relay = await startSmtpReceiver(0, { auth: { user: 'relay-user', pass: 'relay-pass' } });
    h = await startMailHarness(tdb.database, [mailApi, mailDeliver], { ZENO_MAIL_SMTP_URL: fallback.url, ZENO_MAIL_RETRY_BASE_SECONDS: '0.2' });
    admin = await h.issuer.token(T, 'mail:admin');
    send = await h.issuer.token(T, 'mail:send');
    assert.equal((await api('PUT', `/mail/${T}/v1/senders/acme.test`, undefined, admin)).status, 204);
  });
  after(async () => {
    await h?.close();
    await fallback?.close();
    await relay?.close();
    await tdb?.drop();
  });

  function api(method: string, path: string, body?: unknown, token = admin) {
    return h.request(path, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
  }
  async function deliver(subject: string): Promise<{ id: string; status: string }> {
    const r = await api('POST', `/mail/${T}/v1/messages`, { from: 'billing@acme.test', to: 'alice@example.org', subject, text: 'Body', subjects: ['user-a'] }, send);
    assert.equal(r.status, 202, await r.clone().text());
    const { id } = (await r.json()) as { id: string };
    await h.request('/_events', {
      method: 'POST',
      headers: { 'ce-specversion': '1.0', 'ce-id': `queued-${id}`, 'ce-source': '/mail/api', 'ce-type': 'io.zenokube.mail.message.queued', 'content-type': 'application/json' },
      body: JSON.stringify({ tenant: T, messageId: id }),
    }, 'mail-deliver');
    const status = await waitFor(`message ${id}`, async () => {
      const [row] = await tdb.database.query<{ status: string }>(sql`select status from mail.messages where id = ${id}`);
      return ['sent', 'failed', 'bounced'].includes(row!.status) ? row!.status : undefined;
    }, 1500);
    return { id, status };
  }

  it('sends through the default relay while the tenant has no transport', async () => {
    assert.equal((await deliver('via default')).status, 'sent');
    assert.equal(fallback.received.length, 1);
    assert.equal(relay.received.length, 0);
  });

  it("logs in to the tenant's relay with the sealed credentials and signs with the tenant's DKIM key", async () => {
    const t = await api('PUT', `/mail/${T}/v1/transport`, { type: 'smtp', host: '127.0.0.1', port: relay.port, security: 'opportunistic', user: 'relay-user', password: 'relay-pass' });
    assert.equal(t.status, 200, await t.clone().text());
    const k = await api('PUT', `/mail/${T}/v1/dkim/acme.test`, { selector: 'tenant1' });
    assert.equal(k.status, 201);
    const { dns } = (await k.json()) as { dns: { name: string; value: string } };
    const { status } = await deliver('via tenant relay');
    assert.equal(status, 'sent');
    assert.equal(relay.received.length, 1);
    assert.equal(fallback.received.length, 1, 'nothing more through the default');
    assert.deepEqual(relay.logins, ['relay-user']);
    const resolver = async (name: string, type: string) => {
      if (type === 'TXT' && name === dns.name) return [[dns.value]];
      throw Object.assign(new Error(`no ${type} for ${name}`), { code: 'ENOTFOUND' });
    };
    const result = await dkimVerify(relay.received[0]!.raw, { resolver });
    assert.equal(result.results.length, 1);
    assert.equal(result.results[0]!.status.result, 'pass');
    assert.equal(result.results[0]!.signingDomain, 'acme.test');
    assert.equal(result.results[0]!.selector, 'tenant1');
  });

  it('defers with the reason when the relay refuses the credentials', async () => {
    const t = await api('PUT', `/mail/${T}/v1/transport`, { type: 'smtp', host: '127.0.0.1', port: relay.port, security: 'opportunistic', user: 'relay-user', password: 'wrong' });
    assert.equal(t.status, 200);
    const r = await api('POST', `/mail/${T}/v1/messages`, { from: 'billing@acme.test', to: 'alice@example.org', subject: 'bad login', text: 'Body', subjects: ['user-a'] }, send);
    const { id } = (await r.json()) as { id: string };
    await h.request('/_events', {
      method: 'POST',
      headers: { 'ce-specversion': '1.0', 'ce-id': `queued-${id}`, 'ce-source': '/mail/api', 'ce-type': 'io.zenokube.mail.message.queued', 'content-type': 'application/json' },
      body: JSON.stringify({ tenant: T, messageId: id }),
    }, 'mail-deliver');
    await waitFor('a deferral', async () => ((await tdb.database.query<{ status: string }>(sql`select status from mail.messages where id = ${id}`))[0]!.status === 'deferred' ? true : undefined), 1500);
    const events = ((await (await api('GET', `/mail/${T}/v1/messages/${id}`, undefined, send)).json()) as { events: { kind: string; detail?: { reason?: string; code?: number } }[] }).events;
    const deferred = events.find((e) => e.kind === 'deferred')!;
    assert.match(String(deferred.detail!.reason), /Authentication credentials invalid/);
    assert.ok(!JSON.stringify(events).includes('wrong'), 'the password is not in the history');
    // Fixed settings reach the queued message at its next attempt.
    assert.equal((await api('PUT', `/mail/${T}/v1/transport`, { type: 'smtp', host: '127.0.0.1', port: relay.port, security: 'opportunistic', user: 'relay-user', password: 'relay-pass' })).status, 200);
    await waitFor('the retry', async () => ((await tdb.database.query<{ status: string }>(sql`select status from mail.messages where id = ${id}`))[0]!.status === 'sent' ? true : undefined), 1500);
  });

  it('refuses to send in clear when the relay must offer STARTTLS and does not', async () => {
    assert.equal((await api('PUT', `/mail/${T}/v1/transport`, { type: 'smtp', host: '127.0.0.1', port: relay.port, security: 'starttls', user: 'relay-user', password: 'relay-pass' })).status, 200);
    const before = relay.received.length;
    const r = await api('POST', `/mail/${T}/v1/messages`, { from: 'billing@acme.test', to: 'alice@example.org', subject: 'needs tls', text: 'Body', subjects: ['user-a'] }, send);
    const { id } = (await r.json()) as { id: string };
    await h.request('/_events', {
      method: 'POST',
      headers: { 'ce-specversion': '1.0', 'ce-id': `queued-${id}`, 'ce-source': '/mail/api', 'ce-type': 'io.zenokube.mail.message.queued', 'content-type': 'application/json' },
      body: JSON.stringify({ tenant: T, messageId: id }),
    }, 'mail-deliver');
    await waitFor('a deferral', async () => ((await tdb.database.query<{ status: string }>(sql`select status from mail.messages where id = ${id}`))[0]!.status === 'deferred' ? true : undefined), 1500);
    assert.equal(relay.received.length, before);
    // Back to the default: the queued message leaves through it.
    assert.equal((await api('DELETE', `/mail/${T}/v1/transport`)).status, 204);
    await waitFor('the retry', async () => ((await tdb.database.query<{ status: string }>(sql`select status from mail.messages where id = ${id}`))[0]!.status === 'sent' ? true : undefined), 1500);
    assert.equal(fallback.received.at(-1)!.parsed.subject, 'needs tls');
  });
});
