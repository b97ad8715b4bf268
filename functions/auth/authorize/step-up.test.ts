import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { decodeJwt } from 'jose';
import { sql } from 'drizzle-orm';
import { createTestDatabase, type TestDatabase } from '#tests/support/database';
import { startAuthHarness, type AuthHarness } from '../testing/harness.js';
import { Browser } from '../testing/browser.js';
import { basicAuth, form, makeClient, makeTenant, makeUser } from '../testing/fixtures.js';
import { createMfaSecrets } from '../core/mfa-secrets.js';
import { startTotpEnrolment, confirmTotp } from '../core/totp-credentials.js';
import { totp } from '../core/totp.js';
import type { Tenant, User } from '../core/schema.js';

const REDIRECT = 'http://localhost:9/cb';
const MFA = 'urn:zenokube:acr:mfa';

describe('step-up: tenant MFA policy, acr_values and max_age (OIDC Core §3.1.2.1)', () => {
  let tdb: TestDatabase;
  let h: AuthHarness;
  let tenant: Tenant;
  let secret: string;
  let adminToken: string;
  const masterKey = randomBytes(32);
  const mfa = createMfaSecrets(masterKey);
  const users: Record<string, User> = {};
  const totpSecrets: Record<string, Buffer> = {};
  const verifier = randomBytes(32).toString('base64url');
  const challenge = createHash('sha256').update(verifier).digest('base64url');
  let groupIds: { admins: string; ops: string };

  before(async () => {
    tdb = await createTestDatabase();
    h = await startAuthHarness(tdb.database, { listen: true, env: { ZENO_AUTH_MASTER_KEY: masterKey.toString('base64') } });
    tenant = await makeTenant(tdb.database.db, 'step');
    ({ secret } = (await makeClient(tdb.database.db, tenant, { client_id: 'app', redirect_uris: [REDIRECT], grant_types: ['authorization_code'], scope: 'openid', first_party: true })) as { secret: string });
    for (const name of ['una', 'gus', 'tia']) users[name] = await makeUser(tdb.database.db, tenant, { username: name, password: `${name}-password-1` });
    const [admins] = await tdb.database.query<{ id: string }>(sql`insert into auth.groups (tenant_id, display_name) values (${tenant.id}, 'admins') returning id`);
    const [ops] = await tdb.database.query<{ id: string }>(sql`insert into auth.groups (tenant_id, display_name) values (${tenant.id}, 'ops') returning id`);
    groupIds = { admins: admins!.id, ops: ops!.id };
    await tdb.database.db.execute(sql`insert into auth.group_nesting (parent_id, child_id) values (${admins!.id}, ${ops!.id})`);
    await tdb.database.db.execute(sql`insert into auth.group_members (group_id, user_id) values (${ops!.id}, ${users.gus!.id})`);
    const res = await h.fetch('/auth/system/token', { ...form({ grant_type: 'client_credentials', scope: 'zeno:admin' }), headers: { ...form({}).headers, authorization: basicAuth('zeno-admin', h.adminSecret) } });
    adminToken = ((await res.json()) as { access_token: string }).access_token;
  });
  after(async () => {
    await h.close();
    await tdb.drop();
  });

  const authorize = (b: Browser, extra: Record<string, string> = {}) =>
    b.fetch(`${h.baseUrl}/auth/step/authorize?` + new URLSearchParams({ client_id: 'app', redirect_uri: REDIRECT, response_type: 'code', scope: 'openid', code_challenge: challenge, code_challenge_method: 'S256', ...extra }));
  async function signIn(name: string): Promise<{ b: Browser; res: Response }> {
    const b = new Browser(`${name}/1.0`);
    const res = await b.submit(await (await authorize(b)).text(), { username: name, password: `${name}-password-1` }, /\/login$/);
    return { b, res };
  }
  async function idToken(location: string): Promise<Record<string, unknown>> {
    const body = { grant_type: 'authorization_code', code: new URL(location).searchParams.get('code')!, redirect_uri: REDIRECT, code_verifier: verifier };
    const res = await h.fetch('/auth/step/token', { ...form(body), headers: { ...form(body).headers, authorization: basicAuth('app', secret) } });
    return decodeJwt(((await res.json()) as { id_token: string }).id_token);
  }
  const policy = (body: unknown) =>
    h.fetch('/auth/admin/tenants/step/mfa-policy', { method: 'PUT', headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });

  it('steps a password session up to TOTP when acr_values asks for it, and issues the true acr', async () => {
    const { b, res } = await signIn('tia');
    assert.equal(res.status, 303);
    assert.equal((await idToken(res.headers.get('location')!)).acr, 'urn:zenokube:acr:pwd');
    const { credential, secret: key } = await startTotpEnrolment(tdb.database.db, mfa, tenant.id, users.tia!.id, { algorithm: 'SHA1', digits: 6, period: 30 });
    const now = Math.floor(Date.now() / 1000);
    assert.equal(await confirmTotp(tdb.database.db, mfa, tenant.id, users.tia!.id, totp(key, now - 30), now), 'ok');
    totpSecrets.tia = key;
    assert.ok(credential);
    // Without acr_values the live password session is enough (the policy is optional).
    assert.equal((await authorize(b)).status, 303);
    const stepped = await authorize(b, { acr_values: MFA });
    assert.equal(stepped.status, 200);
    const login = await b.submit(await stepped.text(), { username: 'tia', password: 'tia-password-1' }, /\/login$/);
    assert.equal(login.status, 200);
    const done = await b.submit(await login.text(), { code: totp(key, Math.floor(Date.now() / 1000)) }, /second-factor$/);
    assert.equal(done.status, 303);
    const claims = await idToken(done.headers.get('location')!);
    assert.equal(claims.acr, MFA);
    assert.deepEqual(claims.amr, ['pwd', 'otp', 'mfa']);
  });

  it('issues the password acr when acr_values asks for MFA of a user without a second factor (acr_values is voluntary)', async () => {
    const { b } = await signIn('una');
    const res = await authorize(b, { acr_values: MFA });
    assert.equal(res.status, 303);
    assert.equal((await idToken(res.headers.get('location')!)).acr, 'urn:zenokube:acr:pwd');
  });

  it('honours max_age=0 and prompt=login with a new sign-in', async () => {
    const { b } = await signIn('una');
    assert.equal((await authorize(b, { max_age: '0' })).status, 200);
    assert.equal((await authorize(b, { prompt: 'login' })).status, 200);
  });

  it('sends users without a second factor to set one up when the tenant requires it; prompt=none gets interaction_required', async () => {
    assert.equal((await policy({ mode: 'required' })).status, 200);
    const { res, b } = await signIn('una');
    assert.equal(res.status, 403);
    assert.match(await res.text(), /account\/totp/);
    const silent = await authorize(b, { prompt: 'none' });
    assert.equal(silent.status, 303);
    assert.equal(new URL(silent.headers.get('location')!).searchParams.get('error'), 'interaction_required');
    const audit = await tdb.database.query<{ actor: string }>(sql`select actor from auth.audit where action = 'tenant.mfa_policy.updated'`);
    assert.equal(audit.length, 1);
  });

  it('requires the second factor of members of given groups, nested membership included, and of no one else', async () => {
    assert.equal((await policy({ mode: 'groups', groups: [groupIds.admins] })).status, 200);
    assert.equal((await signIn('gus')).res.status, 403, 'gus is in ops, which is nested in admins');
    assert.equal((await signIn('una')).res.status, 303);
    assert.equal((await policy({ mode: 'groups', groups: [] })).status, 422);
    assert.equal((await policy({ mode: 'groups', groups: [crypto.randomUUID()] })).status, 422);
    assert.equal((await policy({ mode: 'sometimes' })).status, 422);
    assert.deepEqual(await (await h.fetch('/auth/admin/tenants/step/mfa-policy', { headers: { authorization: `Bearer ${adminToken}` } })).json(), { mode: 'groups', groups: [groupIds.admins] });
    assert.equal((await policy({ mode: 'optional' })).status, 200);
  });
});
