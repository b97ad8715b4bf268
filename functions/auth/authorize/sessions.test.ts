import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { createTestDatabase, type TestDatabase } from '#tests/support/database';
import { startAuthHarness, type AuthHarness } from '../testing/harness.js';
import { Browser } from '../testing/browser.js';
import { makeClient, makeTenant, makeUser } from '../testing/fixtures.js';

describe('sessions: cookies bound to device rows, listed and signed out by the user', () => {
  let tdb: TestDatabase;
  let h: AuthHarness;
  const challenge = createHash('sha256').update(randomBytes(32).toString('base64url')).digest('base64url');
  before(async () => {
    tdb = await createTestDatabase();
    h = await startAuthHarness(tdb.database, { listen: true });
    const t = await makeTenant(tdb.database.db, 'devices');
    await makeUser(tdb.database.db, t, { username: 'dora', password: 'explorer-123' });
    await makeClient(tdb.database.db, t, { client_id: 'app', redirect_uris: ['http://localhost:9/cb'], grant_types: ['authorization_code'], scope: 'openid', first_party: true });
  });
  after(async () => {
    await h.close();
    await tdb.drop();
  });

  const authorize = (prompt?: string) =>
    `${h.baseUrl}/auth/devices/authorize?` +
    new URLSearchParams({ client_id: 'app', redirect_uri: 'http://localhost:9/cb', response_type: 'code', scope: 'openid', code_challenge: challenge, code_challenge_method: 'S256', ...(prompt ? { prompt } : {}) });

  async function signIn(userAgent: string): Promise<Browser> {
    const b = new Browser(userAgent);
    const page = await b.fetch(authorize());
    const res = await b.submit(await page.text(), { username: 'dora', password: 'explorer-123' }, /\/login$/);
    assert.equal(res.status, 303);
    const cookie = res.headers.getSetCookie().find((c) => c.startsWith('zk_session='))!;
    assert.match(cookie, /HttpOnly/i);
    assert.match(cookie, /SameSite=Lax/i);
    assert.match(cookie, /Path=\/auth\/devices/);
    return b;
  }

  it('lists both devices and signs the other one out', async () => {
    const laptop = await signIn('Laptop/1.0');
    const phone = await signIn('Phone/2.0');
    const page = await laptop.fetch(`${h.baseUrl}/auth/devices/account/sessions`);
    const html = await page.text();
    assert.equal(page.status, 200);
    assert.match(html, /Laptop\/1\.0<\/strong> \(this device\)/);
    assert.match(html, /Phone\/2\.0/);
    const phoneForm = [...html.matchAll(/<li>[\s\S]*?<\/li>/g)].map((m) => m[0]).find((li) => li.includes('Phone/2.0'))!;
    const res = await laptop.submit(phoneForm, {});
    assert.equal(res.status, 200);
    assert.match(await res.text(), /The session was signed out/);
    const silent = await phone.fetch(authorize('none'));
    assert.equal(new URL(silent.headers.get('location')!).searchParams.get('error'), 'login_required');
    const still = await laptop.fetch(authorize('none'));
    assert.ok(new URL(still.headers.get('location')!).searchParams.get('code'));
  });

  it('refuses a forged CSRF token and answers 401 without a session', async () => {
    const b = await signIn('Tablet/3.0');
    const forged = await b.fetch(`${h.baseUrl}/auth/devices/account/sessions`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'csrf=nope&session=00000000-0000-0000-0000-000000000000' });
    assert.equal(forged.status, 400);
    assert.equal((await fetch(`${h.baseUrl}/auth/devices/account/sessions`)).status, 401);
  });
});
