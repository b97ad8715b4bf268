import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { createTestDatabase, type TestDatabase } from '#tests/support/database';
import { startAuthHarness, type AuthHarness } from '../testing/harness.js';
import { Browser } from '../testing/browser.js';
import { basicAuth, form, makeClient, makeTenant, makeUser } from '../testing/fixtures.js';
import type { User } from '../core/schema.js';

const REDIRECT = 'http://localhost:9/cb';

describe('device-aware sessions: new-device event, sign-out ends the session grants, sign out other devices', () => {
  let tdb: TestDatabase;
  let h: AuthHarness;
  let secret: string;
  let user: User;
  const verifier = randomBytes(32).toString('base64url');
  const challenge = createHash('sha256').update(verifier).digest('base64url');
  before(async () => {
    tdb = await createTestDatabase();
    h = await startAuthHarness(tdb.database, { listen: true });
    const t = await makeTenant(tdb.database.db, 'dev');
    user = await makeUser(tdb.database.db, t, { username: 'dev', email: 'dev@example.org', password: 'dev-password-1' });
    ({ secret } = (await makeClient(tdb.database.db, t, { client_id: 'app', redirect_uris: [REDIRECT], grant_types: ['authorization_code', 'refresh_token'], scope: 'openid', first_party: true })) as { secret: string });
  });
  after(async () => {
    await h.close();
    await tdb.drop();
  });

  const token = (body: Record<string, string>) => h.fetch('/auth/dev/token', { ...form(body), headers: { ...form(body).headers, authorization: basicAuth('app', secret) } });

  /** Signs in with the password and redeems the code: the refresh token of the new session. */
  async function signIn(b: Browser): Promise<string> {
    const page = await b.fetch(`${h.baseUrl}/auth/dev/authorize?` + new URLSearchParams({ client_id: 'app', redirect_uri: REDIRECT, response_type: 'code', scope: 'openid', code_challenge: challenge, code_challenge_method: 'S256' }));
    const res = await b.submit(await page.text(), { username: 'dev', password: 'dev-password-1' }, /\/login$/);
    assert.equal(res.status, 303);
    const code = new URL(res.headers.get('location')!).searchParams.get('code')!;
    const t = await token({ grant_type: 'authorization_code', code, redirect_uri: REDIRECT, code_verifier: verifier });
    assert.equal(t.status, 200);
    return ((await t.json()) as { refresh_token: string }).refresh_token;
  }

  const newDeviceEvents = async () =>
    tdb.database.query<{ data: { userId: string; userAgent: string; authenticator: string } }>(sql`select data from auth.outbox where type = 'io.zenokube.auth.session.new-device' order by id`);

  it('announces a sign-in from a device the user never used, not the first sign-in nor a known device', async () => {
    const laptop = new Browser('Laptop/1.0');
    await signIn(laptop);
    assert.equal((await newDeviceEvents()).length, 0, 'the first sign-in has nothing to compare with');
    laptop.jar.delete('zk_session');
    await signIn(laptop);
    assert.equal((await newDeviceEvents()).length, 0, 'the same device again');
    await signIn(new Browser('Phone/2.0'));
    const events = await newDeviceEvents();
    assert.equal(events.length, 1);
    assert.deepEqual([events[0]!.data.userId, events[0]!.data.userAgent, events[0]!.data.authenticator], [user.id, 'Phone/2.0', 'password']);
    const [audited] = await tdb.database.query<{ n: number }>(sql`select count(*)::int as n from auth.audit where action = 'session.new_device'`);
    assert.equal(audited!.n, 1);
    // And the notice ZenoMail sends the user, from the zenoauth.new-device template.
    const mails = await tdb.database.query<{ data: { template: string; to: string; userId: string; variables: Record<string, string> } }>(
      sql`select data from auth.outbox where type = 'io.zenokube.auth.mail.requested' order by id`,
    );
    assert.equal(mails.length, 1);
    const { template, to, userId, variables } = mails[0]!.data;
    assert.deepEqual([template, to, userId, variables.device, variables.name], ['new-device', 'dev@example.org', user.id, 'Phone/2.0', 'dev']);
    assert.match(variables.link!, /\/auth\/dev\/account\/sessions$/);
    assert.deepEqual(Object.keys(variables).sort(), ['device', 'ip', 'link', 'name', 'time']);
  });

  it('revokes the refresh tokens of a session when it signs out', async () => {
    const b = new Browser('Logout/1.0');
    const refresh = await signIn(b);
    const page = await b.fetch(`${h.baseUrl}/auth/dev/logout`);
    assert.equal((await b.submit(await page.text(), { confirm: 'yes' })).status, 200);
    const res = await token({ grant_type: 'refresh_token', refresh_token: refresh });
    assert.equal(res.status, 400);
    assert.equal(((await res.json()) as { error: string }).error, 'invalid_grant');
  });

  it('lists sessions with what they signed in with, and signs out all other devices with their grants', async () => {
    await tdb.database.query(sql`update auth.sessions set revoked_at = now() where revoked_at is null`);
    const here = new Browser('Here/1.0');
    const hereRefresh = await signIn(here);
    const thereRefresh = await signIn(new Browser('There/1.0'));
    const page = await here.fetch(`${h.baseUrl}/auth/dev/account/sessions`);
    const html = await page.text();
    assert.match(html, /There\/1\.0/);
    assert.match(html, /with password/);
    assert.equal((await here.submit(html, { op: 'others', csrf: 'forged' }, /account\/sessions$/)).status, 400);
    const done = await here.submit(html.replace(/name="session" value="[^"]+"/g, ''), { op: 'others' }, /account\/sessions$/);
    assert.equal(done.status, 200);
    const after = await done.text();
    assert.match(after, /One other session was signed out/);
    assert.doesNotMatch(after, /There\/1\.0/);
    assert.equal((await token({ grant_type: 'refresh_token', refresh_token: thereRefresh })).status, 400);
    assert.equal((await token({ grant_type: 'refresh_token', refresh_token: hereRefresh })).status, 200, 'this device keeps its grant');
  });

  it('lets an admin sign a user out everywhere', async () => {
    const b = new Browser('Admin/1.0');
    const refresh = await signIn(b);
    const t = await h.fetch('/auth/system/token', { ...form({ grant_type: 'client_credentials', scope: 'zeno:admin' }), headers: { ...form({}).headers, authorization: basicAuth('zeno-admin', h.adminSecret) } });
    const adminToken = ((await t.json()) as { access_token: string }).access_token;
    const del = (path: string) => h.fetch(path, { method: 'DELETE', headers: { authorization: `Bearer ${adminToken}` } });
    assert.equal((await del('/auth/admin/tenants/dev/users/not-a-user/sessions')).status, 404);
    const res = await del(`/auth/admin/tenants/dev/users/${user.id}/sessions`);
    assert.equal(res.status, 200);
    assert.ok(((await res.json()) as { revoked: number }).revoked >= 1);
    assert.equal((await token({ grant_type: 'refresh_token', refresh_token: refresh })).status, 400);
    assert.equal((await b.fetch(`${h.baseUrl}/auth/dev/account/sessions`)).status, 401);
  });
});
