import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'drizzle-orm';
import { createTestDatabase, type TestDatabase } from '#tests/support/database';
import { startAuthHarness, type AuthHarness } from '../testing/harness.js';
import { BREACH_FIXTURE } from '../testing/breach-fixture.js';
import { Browser } from '../testing/browser.js';
import { basicAuth, form, makeTenant } from '../testing/fixtures.js';

interface MailEvent {
  tenant: string;
  template: string;
  to: string;
  userId: string;
  variables: Record<string, string>;
}

describe('self-service sign-up (per-tenant policy) and e-mail confirmation by single-use link', () => {
  let tdb: TestDatabase;
  let h: AuthHarness;
  let token: string;
  const admin = (method: string, path: string, body?: unknown) =>
    h.fetch(`/auth/admin/tenants/acme${path}`, { method, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, ...(body ? { body: JSON.stringify(body) } : {}) });
  const signupUrl = () => `${h.baseUrl}/auth/acme/signup`;
  const mails = async () => (await tdb.database.query<{ data: MailEvent }>(sql`select data from auth.outbox where type = 'io.zenokube.auth.mail.requested' order by seq`)).map((r) => r.data);
  const userCount = async () => (await tdb.database.query<{ n: number }>(sql`select count(*)::int as n from auth.users u join auth.tenants t on t.id = u.tenant_id where t.slug = 'acme'`))[0]!.n;
  const refusals = async (reason: string) => (await tdb.database.query<{ n: number }>(sql`select count(*)::int as n from auth.audit where action = 'user.signup' and outcome = 'failure' and detail->>'reason' = ${reason}`))[0]!.n;

  before(async () => {
    tdb = await createTestDatabase();
    h = await startAuthHarness(tdb.database, { listen: true, env: { ZENO_AUTH_BREACHED_PASSWORDS_FILE: BREACH_FIXTURE } });
    await makeTenant(tdb.database.db, 'acme');
    const res = await h.fetch('/auth/system/token', { ...form({ grant_type: 'client_credentials', scope: 'zeno:admin' }), headers: { ...form({}).headers, authorization: basicAuth('zeno-admin', h.adminSecret) } });
    token = ((await res.json()) as { access_token: string }).access_token;
  });
  after(async () => {
    await h.close();
    await tdb.drop();
  });

  async function signUp(b: Browser, fields: Record<string, string>, url = signupUrl()): Promise<Response> {
    const page = await b.fetch(url);
    assert.equal(page.status, 200);
    return b.submit(await page.text(), fields, /\/signup$/);
  }

  it('refuses sign-up while the policy is off (the default), page and form alike', async () => {
    assert.deepEqual(await (await admin('GET', '/signup-policy')).json(), { mode: 'off', allowedDomains: [] });
    const b = new Browser('Signup/0');
    const page = await b.fetch(signupUrl());
    assert.equal(page.status, 403);
    assert.match(await page.text(), /does not take sign-ups/);
    const post = await b.fetch(signupUrl(), { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'email=a%40acme.example&password=a-long-password-1' });
    assert.equal(post.status, 403);
    assert.equal(await userCount(), 0);
    assert.equal(await refusals('signup_off'), 1);
    assert.equal((await b.fetch(`${h.baseUrl}/auth/nowhere/signup`)).status, 404);
  });

  it('takes the policy from the admin API and refuses a bad one with 422', async () => {
    assert.equal((await admin('PUT', '/signup-policy', { mode: 'maybe' })).status, 422);
    assert.equal((await admin('PUT', '/signup-policy', { mode: 'open', allowedDomains: ['not a domain'] })).status, 422);
    const put = await admin('PUT', '/signup-policy', { mode: 'open', allowedDomains: ['ACME.example', 'acme.example'] });
    assert.equal(put.status, 200);
    assert.deepEqual(await (await admin('GET', '/signup-policy')).json(), { mode: 'open', allowedDomains: ['acme.example'] });
  });

  it('refuses an address of a domain that is not allowed, a malformed address, a short or breached password', async () => {
    const b = new Browser('Signup/1');
    const other = await signUp(b, { email: 'wile@evil.example', password: 'a-long-password-1' });
    assert.equal(other.status, 403);
    assert.match(await other.text(), /domain cannot sign up/);
    assert.equal(await refusals('domain_not_allowed'), 1);
    for (const email of ['not-an-address', '<wile@acme.example>', 'wile@acme', 'a@b@acme.example']) assert.equal((await signUp(b, { email, password: 'a-long-password-1' })).status, 400, email);
    const short = await signUp(b, { email: 'wile@acme.example', password: 'short' });
    assert.equal(short.status, 400);
    assert.match(await short.text(), /at least 10 characters/);
    const breached = await signUp(b, { email: 'wile@acme.example', password: 'password1234' });
    assert.equal(breached.status, 400);
    assert.match(await breached.text(), /exposed in data breaches/);
    const forged = await b.fetch(signupUrl(), { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'csrf=forged&email=wile%40acme.example&password=a-long-password-1' });
    assert.equal(forged.status, 400);
    assert.equal(await userCount(), 0);
    assert.equal((await mails()).length, 0);
  });

  it('creates the user unverified and asks ZenoMail for the verify-email template with its variables', async () => {
    const b = new Browser('Signup/2');
    const res = await signUp(b, { email: 'Wile@ACME.example', name: 'Wile E. Coyote', password: 'a-long-password-1' });
    assert.equal(res.status, 200);
    assert.match(await res.text(), /Check your inbox/);
    const [user] = await tdb.database.query<{ id: string; username: string; email: string; email_verified: boolean; password_hash: string }>(sql`select id, username, email, email_verified, password_hash from auth.users where email = 'Wile@acme.example'`);
    assert.equal(user!.username, 'wile@acme.example');
    assert.equal(user!.email_verified, false);
    assert.match(user!.password_hash, /^\$argon2id\$/);
    const [mail] = await mails();
    const link = mail!.variables.link!;
    assert.deepEqual(mail, { tenant: 'acme', template: 'verify-email', to: 'Wile@acme.example', userId: user!.id, variables: { name: 'Wile E. Coyote', link, expiresInMinutes: '1440' } });
    assert.match(link, new RegExp(`^${h.baseUrl}/auth/acme/email/verify\\?token=[A-Za-z0-9_-]{43}$`));
    const secret = new URL(link).searchParams.get('token')!;
    const audit = await tdb.database.query<{ detail: unknown }>(sql`select detail from auth.audit`);
    assert.ok(!JSON.stringify(audit).includes(secret), 'the token is in no audit row');
    const [stored] = await tdb.database.query<{ token_hash: string; purpose: string }>(sql`select token_hash, purpose from auth.email_confirmations`);
    assert.notEqual(stored!.token_hash, secret);
    assert.equal(stored!.purpose, 'verify');
    const created = await tdb.database.query<{ data: { username: string } }>(sql`select data from auth.outbox where type = 'io.zenokube.auth.user.created'`);
    assert.deepEqual(created.map((e) => e.data.username), ['wile@acme.example']);
  });

  it('answers an address already in use exactly as a new one, creating and mailing nothing', async () => {
    const before = (await mails()).length;
    const again = await signUp(new Browser('Signup/3'), { email: 'wile@acme.example', password: 'another-password-2' });
    const fresh = await signUp(new Browser('Signup/3'), { email: 'beep@acme.example', password: 'another-password-2' });
    assert.equal(again.status, 200);
    assert.equal((await again.text()).replace('wile@', 'X@'), (await fresh.text()).replace('beep@', 'X@'));
    assert.equal((await mails()).length, before + 1, 'only the new address was mailed');
    assert.equal(await refusals('email_taken'), 1);
  });

  it('confirms the address once; a reused, forged, malformed or expired link is refused', async () => {
    const link = (await mails())[0]!.variables.link!;
    const b = new Browser('Verify/1');
    const page = await b.fetch(link);
    assert.equal(page.status, 200);
    const html = await page.text();
    assert.match(html, /Wile@acme\.example/);
    const [before] = await tdb.database.query<{ email_verified: boolean }>(sql`select email_verified from auth.users where username = 'wile@acme.example'`);
    assert.equal(before!.email_verified, false, 'opening the link confirms nothing');
    assert.equal((await b.submit(html, { csrf: 'forged' })).status, 400);
    const done = await b.submit(html, {});
    assert.equal(done.status, 200);
    assert.match(await done.text(), /confirmed/);
    const [after] = await tdb.database.query<{ email_verified: boolean }>(sql`select email_verified from auth.users where username = 'wile@acme.example'`);
    assert.equal(after!.email_verified, true);
    assert.equal((await b.submit(html, {})).status, 400, 'a reused link is refused');
    assert.equal((await b.fetch(link)).status, 400);
    for (const t of ['', 'x', 'A'.repeat(43), '%00']) assert.equal((await b.fetch(`${h.baseUrl}/auth/acme/email/verify?token=${t}`)).status, 400);
    // A link of another tenant's path does not open this tenant's rows.
    await makeTenant(tdb.database.db, 'other');
    const beep = (await mails()).find((m) => m.to === 'beep@acme.example')!.variables.link!;
    assert.equal((await b.fetch(beep.replace('/auth/acme/', '/auth/other/'))).status, 400);
    await tdb.database.query(sql`update auth.email_confirmations set expires_at = now() - interval '1 second' where used_at is null`);
    assert.equal((await b.fetch(beep)).status, 400, 'an expired link is refused');
    const failures = await tdb.database.query<{ n: number }>(sql`select count(*)::int as n from auth.audit where action = 'email.verify' and outcome = 'failure'`);
    assert.equal(failures[0]!.n, 1);
  });

  it('lets only a holder of a live invitation sign up when invite-only, as the invited address', async () => {
    assert.equal((await admin('PUT', '/signup-policy', { mode: 'invite-only' })).status, 200);
    const b = new Browser('Invite/1');
    assert.equal((await b.fetch(signupUrl())).status, 403);
    assert.equal((await b.fetch(`${signupUrl()}?invite=${'A'.repeat(43)}`)).status, 403);
    assert.equal(await refusals('invite_required'), 0, 'showing the page audits nothing');
    assert.equal((await admin('POST', '/signup-invites', { email: 'not an address' })).status, 422);
    assert.equal((await admin('POST', '/signup-invites', { expiresInHours: 0 })).status, 422);
    const created = await admin('POST', '/signup-invites', { email: 'RoadRunner@desert.example' });
    assert.equal(created.status, 201);
    assert.equal(created.headers.get('cache-control'), 'no-store');
    const invite = (await created.json()) as { link: string; email: string };
    assert.equal(invite.email, 'RoadRunner@desert.example');
    const secret = new URL(invite.link).searchParams.get('invite')!;
    const audit = await tdb.database.query<{ detail: unknown }>(sql`select detail from auth.audit where action = 'signup.invite.created'`);
    assert.equal(audit.length, 1);
    assert.ok(!JSON.stringify(audit).includes(secret));

    const page = await b.fetch(invite.link);
    assert.equal(page.status, 200);
    const html = await page.text();
    assert.match(html, /value="roadrunner@desert.example"/);
    const wrong = await b.submit(html, { email: 'wile@acme.example', password: 'meep-meep-meep-1' });
    assert.equal(wrong.status, 403);
    assert.match(await wrong.text(), /for another e-mail address/);
    const ok = await b.submit(html, { email: 'roadrunner@desert.example', password: 'meep-meep-meep-1' });
    assert.equal(ok.status, 200);
    const [u] = await tdb.database.query<{ email_verified: boolean }>(sql`select email_verified from auth.users where username = 'roadrunner@desert.example'`);
    assert.equal(u!.email_verified, false);
    assert.equal((await b.fetch(invite.link)).status, 403, 'a used invitation opens nothing');
    assert.equal((await b.submit(html, { email: 'roadrunner2@desert.example', password: 'meep-meep-meep-1' })).status, 403);

    const open = (await (await admin('POST', '/signup-invites', {})).json()) as { link: string };
    await tdb.database.query(sql`update auth.signup_invites set expires_at = now() - interval '1 second' where used_at is null`);
    assert.equal((await b.fetch(open.link)).status, 403, 'an expired invitation opens nothing');
  });

  it('limits the accounts one address creates in an hour', async () => {
    const before = await userCount();
    // Fill the hour's allowance from the address of the sign-ups above.
    await tdb.database.query(sql`insert into auth.audit (tenant_id, action, outcome, ip)
      select tenant_id, 'user.signup', 'success', ip from (select tenant_id, ip from auth.audit where action = 'user.signup' and outcome = 'success' limit 1) s, generate_series(1, 10)`);
    const res = await signUp(new Browser('Signup/9'), { email: 'spam@desert.example', password: 'a-long-password-9' }, (await (await admin('POST', '/signup-invites', {})).json() as { link: string }).link);
    assert.equal(res.status, 429);
    assert.match(await res.text(), /Too many accounts/);
    assert.equal(await userCount(), before);
    await tdb.database.query(sql`delete from auth.audit where action = 'user.signup' and outcome = 'success' and actor is null`);
  });

  it('shows the tenant branding set through the admin API, and refuses colours or logos that could inject', async () => {
    for (const bad of [{ primaryColour: 'red' }, { primaryColour: '#fff;}body{display:none' }, { logoUrl: 'http://cdn.acme.example/logo.svg' }, { logoUrl: 'javascript:alert(1)' }, { displayName: '' }]) {
      assert.equal((await admin('PUT', '/branding', bad)).status, 422, JSON.stringify(bad));
    }
    const brand = { displayName: 'ACME Corporation', logoUrl: 'https://cdn.acme.example/logo.svg', primaryColour: '#ffcc00', backgroundColour: '#102030' };
    assert.equal((await admin('PUT', '/branding', brand)).status, 200);
    assert.deepEqual(await (await admin('GET', '/branding')).json(), brand);
    assert.equal((await admin('PUT', '/signup-policy', { mode: 'open' })).status, 200);
    const b = new Browser('Brand/1');
    for (const path of ['/signup', '/password/forgot']) {
      const page = await b.fetch(`${h.baseUrl}/auth/acme${path}`);
      assert.equal(page.status, 200);
      const html = await page.text();
      assert.match(html, /<img class="logo" src="https:\/\/cdn\.acme\.example\/logo\.svg" alt="ACME Corporation"/);
      assert.match(html, /<title>[^<]*ACME Corporation<\/title>/);
      // Dark text on the yellow buttons: the contrast rule picks it, not the brand.
      assert.match(html, /button:not\(\.secondary\)\{background:#ffcc00;color:#000000\}body\{background:#102030\}/);
      assert.match(page.headers.get('content-security-policy')!, /img-src 'self' data: https:\/\/cdn\.acme\.example;/);
    }
    assert.equal((await admin('PUT', '/branding', {})).status, 200);
    const plain = await b.fetch(signupUrl());
    assert.doesNotMatch(await plain.text(), /class="logo"/);
    assert.match(plain.headers.get('content-security-policy')!, /img-src 'self' data:;/);
  });

  it('refuses even an invitation once sign-up is off', async () => {
    const invite = (await (await admin('POST', '/signup-invites', {})).json()) as { link: string };
    assert.equal((await admin('PUT', '/signup-policy', { mode: 'off' })).status, 200);
    assert.equal((await new Browser('Invite/2').fetch(invite.link)).status, 403);
  });
});
