import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'drizzle-orm';
import { createTestDatabase, type TestDatabase } from '#tests/support/database';
import { startAuthHarness, type AuthHarness } from '../testing/harness.js';
import { Browser } from '../testing/browser.js';
import { BREACH_FIXTURE } from '../testing/breach-fixture.js';
import { makeTenant, makeUser } from '../testing/fixtures.js';
import { verifyPassword } from '../core/passwords.js';

describe('password reset by a single-use link sent through ZenoMail (io.zenokube.auth.mail.requested)', () => {
  let tdb: TestDatabase;
  let h: AuthHarness;
  before(async () => {
    tdb = await createTestDatabase();
    h = await startAuthHarness(tdb.database, { listen: true, env: { ZENO_AUTH_BREACHED_PASSWORDS_FILE: BREACH_FIXTURE } });
    const t = await makeTenant(tdb.database.db, 'pw');
    await makeUser(tdb.database.db, t, { username: 'rita', email: 'rita@example.com', password: 'old-password-1' });
    await makeUser(tdb.database.db, t, { username: 'nomail', password: 'old-password-2' });
  });
  after(async () => {
    await h.close();
    await tdb.drop();
  });

  const mails = () => tdb.database.query<{ data: { to: string; template: string; variables: { link: string } } }>(sql`select data from auth.outbox where type = 'io.zenokube.auth.mail.requested' order by id`);

  async function ask(b: Browser, username: string): Promise<string> {
    const page = await b.fetch(`${h.baseUrl}/auth/pw/password/forgot`);
    const res = await b.submit(await page.text(), { username });
    assert.equal(res.status, 200);
    return res.text();
  }

  it('answers the same for known and unknown accounts, and mails a link only to a known one', async () => {
    const b = new Browser('Reset/1.0');
    const unknown = await ask(b, 'nobody');
    const nomail = await ask(b, 'nomail');
    const known = await ask(b, 'rita');
    assert.equal(unknown, known);
    assert.equal(nomail, known);
    const sent = await mails();
    assert.equal(sent.length, 1);
    assert.equal(sent[0]!.data.to, 'rita@example.com');
    assert.equal(sent[0]!.data.template, 'password-reset');
    assert.match(sent[0]!.data.variables.link, /\/auth\/pw\/password\/reset\?token=[A-Za-z0-9_-]{43}$/);
    const token = new URL(sent[0]!.data.variables.link).searchParams.get('token')!;
    const audit = await tdb.database.query<{ detail: unknown }>(sql`select detail from auth.audit where action like 'password.%'`);
    assert.ok(!JSON.stringify(audit).includes(token), 'the token is in no audit row');
    const [stored] = await tdb.database.query<{ token_hash: string }>(sql`select token_hash from auth.password_resets`);
    assert.notEqual(stored!.token_hash, token);
  });

  it('sets a new password once and refuses the reused link', async () => {
    const link = (await mails())[0]!.data.variables.link;
    const b = new Browser('Reset/2.0');
    const form = await b.fetch(link);
    assert.equal(form.status, 200);
    const html = await form.text();
    const short = await b.submit(html, { password: 'short' });
    assert.equal(short.status, 400);
    assert.match(await short.text(), /at least 10 characters/);
    const breached = await b.submit(html, { password: 'password1234' });
    assert.equal(breached.status, 400);
    assert.match(await breached.text(), /exposed in data breaches/);
    assert.equal((await b.submit(html, { password: 'new-password-123', csrf: 'forged' })).status, 400);
    const done = await b.submit(html, { password: 'new-password-123' });
    assert.equal(done.status, 200);
    const [row] = await tdb.database.query<{ password_hash: string }>(sql`select password_hash from auth.users where username = 'rita'`);
    assert.ok(await verifyPassword(row!.password_hash, 'new-password-123'));
    const again = await b.submit(html, { password: 'another-password-1' });
    assert.equal(again.status, 400);
    assert.equal((await b.fetch(link)).status, 400, 'the link no longer opens the form');
    const [failures] = await tdb.database.query<{ n: number }>(sql`select count(*)::int as n from auth.audit where action = 'password.reset' and outcome = 'failure'`);
    assert.equal(failures!.n, 1);
  });

  it('refuses a forged, malformed or expired link with a 400 page', async () => {
    const b = new Browser('Reset/3.0');
    for (const token of ['', 'x', 'A'.repeat(43), '%00']) assert.equal((await b.fetch(`${h.baseUrl}/auth/pw/password/reset?token=${token}`)).status, 400);
    await ask(b, 'rita');
    const link = (await mails()).at(-1)!.data.variables.link;
    await tdb.database.query(sql`update auth.password_resets set expires_at = now() - interval '1 second' where used_at is null`);
    assert.equal((await b.fetch(link)).status, 400);
  });

  it('sends at most three links an hour to one account', async () => {
    const b = new Browser('Reset/4.0');
    const before = (await mails()).length;
    for (let i = 0; i < 4; i++) await ask(b, 'rita');
    // Two were sent in the earlier tests within the hour.
    assert.equal((await mails()).length - before, 1);
  });
});
