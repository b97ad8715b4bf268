import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { createTestDatabase, type TestDatabase } from '#tests/support/database';
import { verifyPassword } from '../core/passwords.js';
import { startAuthHarness, type AuthHarness } from '../testing/harness.js';
import { BREACH_FIXTURE } from '../testing/breach-fixture.js';
import { Browser } from '../testing/browser.js';
import { basicAuth, form, makeClient, makeTenant, makeUser } from '../testing/fixtures.js';

interface MailEvent {
  tenant: string;
  template: string;
  to: string;
  userId: string;
  variables: Record<string, string>;
}

describe('account: e-mail change by a link to the new address, password change, deletion', () => {
  let tdb: TestDatabase;
  let h: AuthHarness;
  let ellaId: string;
  const challenge = createHash('sha256').update(randomBytes(32).toString('base64url')).digest('base64url');
  const mails = async () => (await tdb.database.query<{ data: MailEvent }>(sql`select data from auth.outbox where type = 'io.zenokube.auth.mail.requested' and data->>'template' = 'verify-email' order by seq`)).map((r) => r.data);
  const ella = async () => (await tdb.database.query<{ email: string; email_verified: boolean; emails: unknown; password_hash: string }>(sql`select email, email_verified, emails, password_hash from auth.users where username = 'ella'`))[0]!;

  before(async () => {
    tdb = await createTestDatabase();
    h = await startAuthHarness(tdb.database, { listen: true, env: { ZENO_AUTH_BREACHED_PASSWORDS_FILE: BREACH_FIXTURE } });
    const t = await makeTenant(tdb.database.db, 'acct');
    ellaId = (await makeUser(tdb.database.db, t, { username: 'ella', email: 'ella@old.example', emailVerified: true, password: 'ella-password-1' })).id;
    await makeUser(tdb.database.db, t, { username: 'fred', email: 'fred@acct.example', password: 'fred-password-1' });
    await makeClient(tdb.database.db, t, { client_id: 'app', redirect_uris: ['http://localhost:9/cb'], grant_types: ['authorization_code'], scope: 'openid', first_party: true });
  });
  after(async () => {
    await h.close();
    await tdb.drop();
  });

  async function signIn(userAgent: string, password = 'ella-password-1'): Promise<Browser> {
    const b = new Browser(userAgent);
    const url = `${h.baseUrl}/auth/acct/authorize?` + new URLSearchParams({ client_id: 'app', redirect_uri: 'http://localhost:9/cb', response_type: 'code', scope: 'openid', code_challenge: challenge, code_challenge_method: 'S256' });
    const page = await b.fetch(url);
    const res = await b.submit(await page.text(), { username: 'ella', password }, /\/login$/);
    assert.equal(res.status, 303);
    return b;
  }

  const emailPage = `/auth/acct/account/email`;

  it('answers 401 without a session and 400 to a forged CSRF token', async () => {
    assert.equal((await fetch(`${h.baseUrl}${emailPage}`)).status, 401);
    assert.equal((await fetch(`${h.baseUrl}/auth/acct/account/password`)).status, 401);
    const b = await signIn('Laptop/1');
    const forged = await b.fetch(`${h.baseUrl}${emailPage}`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'csrf=nope&op=change&email=x%40new.example&password=ella-password-1' });
    assert.equal(forged.status, 400);
  });

  it('sends the link to the new address and changes nothing until it is opened', async () => {
    const b = await signIn('Laptop/2');
    const html = await (await b.fetch(`${h.baseUrl}${emailPage}`)).text();
    assert.match(html, /ella@old\.example/);
    const wrong = await b.submit(html, { email: 'ella@new.example', password: 'not-her-password' }, /account\/email$/);
    assert.equal(wrong.status, 400);
    assert.equal((await mails()).length, 0);
    const bad = await b.submit(html, { op: 'change', email: 'not an address', password: 'ella-password-1' }, /account\/email$/);
    assert.equal(bad.status, 400);
    const forms = [...html.matchAll(/<form[\s\S]*?<\/form>/g)].map((m) => m[0]);
    const change = forms.find((f) => f.includes('value="change"'))!;
    const res = await b.submit(change, { email: 'Ella@NEW.example', password: 'ella-password-1' });
    assert.equal(res.status, 200);
    assert.match(await res.text(), /on its way to Ella@new\.example/);
    const [mail] = await mails();
    assert.deepEqual(Object.keys(mail!.variables).sort(), ['expiresInMinutes', 'link', 'name']);
    assert.deepEqual({ ...mail, variables: { ...mail!.variables, link: '' } }, { tenant: 'acct', template: 'verify-email', to: 'Ella@new.example', userId: ellaId, variables: { name: 'ella', link: '', expiresInMinutes: '1440' } });
    const before = await ella();
    assert.equal(before.email, 'ella@old.example', 'the change waits for the link');
    assert.equal(before.email_verified, true);

    const link = mail!.variables.link!;
    const other = new Browser('Phone/1');
    const confirm = await other.fetch(link);
    assert.equal(confirm.status, 200);
    const confirmHtml = await confirm.text();
    assert.equal((await other.submit(confirmHtml, {})).status, 200);
    const after = await ella();
    assert.equal(after.email, 'Ella@new.example');
    assert.equal(after.email_verified, true);
    assert.deepEqual(after.emails, [{ value: 'Ella@new.example', type: 'work', primary: true }]);
    assert.equal((await other.submit(confirmHtml, {})).status, 400, 'the link works once');
    const notices = await tdb.database.query<{ data: MailEvent }>(sql`select data from auth.outbox where type = 'io.zenokube.auth.mail.requested' and data->>'template' = 'email-changed'`);
    assert.deepEqual(
      notices.map((n) => n.data),
      [{ tenant: 'acct', template: 'email-changed', to: 'ella@old.example', userId: ellaId, variables: { name: 'ella', newEmail: 'E***@new.example' } }],
      'the former address hears of the change once, with the new one masked',
    );
    const audit = await tdb.database.query<{ action: string; detail: unknown }>(sql`select action, detail from auth.audit where action like 'email.%' order by id`);
    assert.deepEqual(audit.map((a) => a.action), ['email.change.requested', 'email.change.requested', 'email.changed', 'email.verify']);
    assert.ok(!JSON.stringify(audit).includes(new URL(link).searchParams.get('token')!));
  });

  it('answers an address of another account as any other, and mails nothing', async () => {
    const b = await signIn('Laptop/3');
    const html = await (await b.fetch(`${h.baseUrl}${emailPage}`)).text();
    const change = [...html.matchAll(/<form[\s\S]*?<\/form>/g)].map((m) => m[0]).find((f) => f.includes('value="change"'))!;
    const before = (await mails()).length;
    const res = await b.submit(change, { email: 'fred@acct.example', password: 'ella-password-1' });
    assert.equal(res.status, 200);
    assert.match(await res.text(), /on its way to fred@acct\.example/);
    assert.equal((await mails()).length, before);
  });

  it('does not apply a confirmed change to an address another account took in between', async () => {
    const b = await signIn('Laptop/4');
    const html = await (await b.fetch(`${h.baseUrl}${emailPage}`)).text();
    const change = [...html.matchAll(/<form[\s\S]*?<\/form>/g)].map((m) => m[0]).find((f) => f.includes('value="change"'))!;
    assert.equal((await b.submit(change, { email: 'ella@third.example', password: 'ella-password-1' })).status, 200);
    const link = (await mails()).at(-1)!.variables.link!;
    await tdb.database.query(sql`update auth.users set email = 'ella@third.example' where username = 'fred'`);
    const page = await b.fetch(link);
    assert.equal((await b.submit(await page.text(), {})).status, 409);
    assert.equal((await ella()).email, 'Ella@new.example');
    await tdb.database.query(sql`update auth.users set email = 'fred@acct.example' where username = 'fred'`);
    const notices = await tdb.database.query<{ n: number }>(sql`select count(*)::int as n from auth.outbox where data->>'template' = 'email-changed'`);
    assert.equal(notices[0]!.n, 1, 'a refused change announces nothing');
  });

  it('tells no unverified former address of a change', async () => {
    await tdb.database.query(sql`update auth.users set email_verified = false where username = 'ella'`);
    const b = await signIn('Laptop/6');
    const html = await (await b.fetch(`${h.baseUrl}${emailPage}`)).text();
    const change = [...html.matchAll(/<form[\s\S]*?<\/form>/g)].map((m) => m[0]).find((f) => f.includes('value="change"'))!;
    assert.equal((await b.submit(change, { email: 'ella@fourth.example', password: 'ella-password-1' })).status, 200);
    const link = (await mails()).at(-1)!.variables.link!;
    const page = await b.fetch(link);
    assert.equal((await b.submit(await page.text(), {})).status, 200);
    assert.equal((await ella()).email, 'ella@fourth.example');
    const notices = await tdb.database.query<{ data: MailEvent }>(sql`select data from auth.outbox where data->>'template' = 'email-changed'`);
    assert.deepEqual(notices.map((n) => n.data.to), ['ella@old.example'], 'Ella@new.example was never proven, so it is not told');
  });

  it('changes the password under the policy and signs the other devices out', async () => {
    const laptop = await signIn('Laptop/5');
    const phone = await signIn('Phone/5');
    const url = `${h.baseUrl}/auth/acct/account/password`;
    const html = await (await laptop.fetch(url)).text();
    assert.equal((await laptop.submit(html, { current: 'wrong-password', password: 'a-brand-new-one-1' })).status, 400);
    const breached = await laptop.submit(html, { current: 'ella-password-1', password: 'password1234' });
    assert.equal(breached.status, 400);
    assert.match(await breached.text(), /exposed in data breaches/);
    assert.equal((await laptop.submit(html, { current: 'ella-password-1', password: 'short' })).status, 400);
    const ok = await laptop.submit(html, { current: 'ella-password-1', password: 'a-brand-new-one-1' });
    assert.equal(ok.status, 200);
    assert.ok(await verifyPassword((await ella()).password_hash, 'a-brand-new-one-1'));
    assert.equal((await phone.fetch(url)).status, 401, 'the other device is signed out');
    assert.equal((await laptop.fetch(url)).status, 200, 'this device stays signed in');
    const audit = await tdb.database.query<{ outcome: string }>(sql`select outcome from auth.audit where action = 'password.change' order by id`);
    assert.deepEqual(audit.map((a) => a.outcome), ['failure', 'success']);
  });

  it('emits io.zenokube.auth.user.deleted when an admin deletes the user', async () => {
    const res = await h.fetch('/auth/system/token', { ...form({ grant_type: 'client_credentials', scope: 'zeno:admin' }), headers: { ...form({}).headers, authorization: basicAuth('zeno-admin', h.adminSecret) } });
    const token = ((await res.json()) as { access_token: string }).access_token;
    const del = await h.fetch(`/auth/admin/tenants/acct/users/${ellaId}`, { method: 'DELETE', headers: { authorization: `Bearer ${token}` } });
    assert.equal(del.status, 204);
    const events = await tdb.database.query<{ data: unknown; source: string }>(sql`select data, source from auth.outbox where type = 'io.zenokube.auth.user.deleted'`);
    assert.deepEqual(events.map((e) => e.data), [{ tenant: 'acct', userId: ellaId, username: 'ella' }]);
    const left = await tdb.database.query<{ n: number }>(sql`select count(*)::int as n from auth.email_confirmations where user_id = ${ellaId}`);
    assert.equal(left[0]!.n, 0, 'her confirmation links went with her');
  });
});
