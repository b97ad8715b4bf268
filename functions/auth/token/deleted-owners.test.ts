import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'drizzle-orm';
import { createTestDatabase, type TestDatabase } from '#tests/support/database';
import { startAuthHarness, type AuthHarness } from '../testing/harness.js';
import { basicAuth, form, makeClient, makeTenant, makeUser } from '../testing/fixtures.js';
import { mintRefreshToken } from '../testing/grants.js';
import { deleteClient } from '../core/clients.js';
import { deleteUser } from '../core/users.js';
import type { Client, Tenant } from '../core/schema.js';

describe('access tokens of a deleted user or client (RFC 7662 §2.2, OIDC Core §5.3)', () => {
  let tdb: TestDatabase;
  let h: AuthHarness;
  let tenant: Tenant;
  let web: Client;
  let webSecret: string;
  let rsSecret: string;
  before(async () => {
    tdb = await createTestDatabase();
    h = await startAuthHarness(tdb.database);
    tenant = await makeTenant(tdb.database.db, 'gone');
    ({ client: web, secret: webSecret } = (await makeClient(tdb.database.db, tenant, {
      client_id: 'web',
      redirect_uris: ['http://localhost:9/cb'],
      grant_types: ['authorization_code', 'refresh_token', 'client_credentials'],
      scope: 'openid read',
    })) as { client: Client; secret: string });
    ({ secret: rsSecret } = (await makeClient(tdb.database.db, tenant, { client_id: 'rs', grant_types: ['client_credentials'], scope: 'read' })) as { secret: string });
  });
  after(async () => {
    await h.close();
    await tdb.drop();
  });

  const introspect = async (token: string) =>
    (await (await h.fetch('/auth/gone/introspect', { ...form({ token }), headers: { ...form({}).headers, authorization: basicAuth('rs', rsSecret) } })).json()) as { active: boolean };

  async function userAccessToken(username: string): Promise<string> {
    const user = await makeUser(tdb.database.db, tenant, { username });
    const refresh = await mintRefreshToken(tdb.database.db, tenant, web, user, 'openid read');
    const res = await h.fetch('/auth/gone/token', { ...form({ grant_type: 'refresh_token', refresh_token: refresh }), headers: { ...form({}).headers, authorization: basicAuth('web', webSecret) } });
    assert.equal(res.status, 200);
    return ((await res.json()) as { access_token: string }).access_token;
  }

  it('reports the access token of a deleted user inactive and refuses it at userinfo', async () => {
    const at = await userAccessToken('ulla');
    assert.equal((await introspect(at)).active, true);
    const [row] = await tdb.database.query<{ id: string }>(sql`select id from auth.users where username = 'ulla'`);
    assert.ok(await deleteUser(tdb.database.db, tenant.id, row!.id));
    assert.equal((await introspect(at)).active, false);
    const info = await h.fetch('/auth/gone/userinfo', { headers: { authorization: `Bearer ${at}` } });
    assert.equal(info.status, 401);
    assert.match(info.headers.get('www-authenticate') ?? '', /invalid_token/);
  });

  it('reports the tokens of a deleted client inactive, for user grants and client credentials alike', async () => {
    const userAt = await userAccessToken('carl');
    const cc = await h.fetch('/auth/gone/token', { ...form({ grant_type: 'client_credentials', scope: 'read' }), headers: { ...form({}).headers, authorization: basicAuth('web', webSecret) } });
    const ccAt = ((await cc.json()) as { access_token: string }).access_token;
    assert.equal((await introspect(userAt)).active, true);
    assert.equal((await introspect(ccAt)).active, true);
    assert.ok(await deleteClient(tdb.database.db, tenant.id, 'web'));
    assert.equal((await introspect(userAt)).active, false);
    assert.equal((await introspect(ccAt)).active, false);
  });
});
