import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'drizzle-orm';
import { createTestDatabase, type TestDatabase } from '#tests/support/database';
import { waitFor } from '#tests/support/poll';
import mailApi from '../api/function.js';
import { startMailHarness, type MailHarness } from '../testing/harness.js';
import { startSmtpReceiver, type SmtpReceiver } from '../testing/smtp-receiver.js';
import { createDomainLimiter } from './domain-limit.js';
import mailDeliver from './function.js';

describe('createDomainLimiter', () => {
  it('lets `limit` holders of a domain in and hands a released slot to the next in line', async () => {
    const l = createDomainLimiter(2);
    const order: string[] = [];
    const a = await l.acquire(['x.test']);
    const b = await l.acquire(['x.test']);
    const c = l.acquire(['x.test']).then((r) => (order.push('c'), r));
    const other = await l.acquire(['y.test']);
    order.push('y');
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(order, ['y'], 'the third waits, another domain does not');
    a();
    a(); // a second release gives nothing twice
    (await c)();
    b();
    other();
    assert.deepEqual(order, ['y', 'c']);
    const again = [await l.acquire(['x.test']), await l.acquire(['x.test'])];
    for (const r of again) r();
  });

  it('takes several domains in one order, so two messages sharing them cannot deadlock', async () => {
    const l = createDomainLimiter(1);
    const first = await l.acquire(['b.test', 'a.test']);
    const second = l.acquire(['a.test', 'b.test']);
    const third = l.acquire(['b.test', 'a.test']);
    first();
    (await second)();
    (await third)();
  });

  it('refuses a limit that is not a positive integer', () => {
    assert.throws(() => createDomainLimiter(0), TypeError);
    assert.throws(() => createDomainLimiter(1.5), TypeError);
  });
});

describe('mail-deliver per-domain concurrency (smtp-server counting transactions per recipient domain)', () => {
  const T = 'acme';
  let tdb: TestDatabase;
  let h: MailHarness;
  let smtp: SmtpReceiver;

  before(async () => {
    tdb = await createTestDatabase({ max: 8 });
    smtp = await startSmtpReceiver();
    h = await startMailHarness(tdb.database, [mailApi, mailDeliver], { ZENO_MAIL_SMTP_URL: smtp.url, ZENO_MAIL_SMTP_POOL: '6', ZENO_MAIL_CONCURRENCY: '10', ZENO_MAIL_DOMAIN_CONCURRENCY: '2' });
  });
  after(async () => {
    await h?.close();
    await smtp?.close();
    await tdb?.drop();
  });

  it('keeps at most the limit of transactions open per recipient domain while other domains use the free connections', async () => {
    const send = await h.issuer.token(T, 'mail:send');
    const admin = await h.issuer.token(T, 'mail:admin');
    await h.request(`/mail/${T}/v1/senders/acme.test`, { method: 'PUT', headers: { authorization: `Bearer ${admin}` } });
    let open!: () => void;
    smtp.gate = new Promise<void>((r) => (open = r));
    const to = [...Array.from({ length: 6 }, (_, i) => `user${i}@busy.example`), 'a@one.example', 'b@two.example', 'c@three.example'];
    for (const address of to) {
      const r = await h.request(`/mail/${T}/v1/messages`, {
        method: 'POST',
        headers: { authorization: `Bearer ${send}`, 'content-type': 'application/json' },
        body: JSON.stringify({ from: 'billing@acme.test', to: address, subject: 'Hello', text: 'Body', subjects: ['user-a'] }),
      });
      assert.equal(r.status, 202);
    }
    // One wake claims them all in one batch (concurrency 10).
    await h.request('/_events', {
      method: 'POST',
      headers: { 'ce-specversion': '1.0', 'ce-id': 'wake-1', 'ce-source': '/mail/api', 'ce-type': 'io.zenokube.mail.delivery.scheduled', 'content-type': 'application/json' },
      body: JSON.stringify({ schedule: 'test' }),
    }, 'mail-deliver');
    // The receiver holds every transaction: busy.example reaches its limit, the other three
    // domains take three more connections, and one connection of six stays free.
    await waitFor('held transactions', () => {
      const held = ['busy.example', 'one.example', 'two.example', 'three.example'].map((d) => smtp.inFlight.get(d) ?? 0);
      return held[0] === 2 && held.slice(1).every((n) => n === 1) ? true : undefined;
    });
    assert.equal(smtp.maxInFlight.get('busy.example'), 2);
    smtp.gate = undefined;
    open();
    await waitFor('all sent', async () => {
      const [row] = await tdb.database.query<{ n: number }>(sql`select count(*)::int as n from mail.messages where status = 'sent'`);
      return row!.n === to.length ? true : undefined;
    });
    assert.equal(smtp.received.length, to.length);
    assert.equal(smtp.maxInFlight.get('busy.example'), 2, 'never more than the limit');
    assert.equal(smtp.maxInFlight.get('one.example'), 1);
  });
});
