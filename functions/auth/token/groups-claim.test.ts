// The `groups` claim of ID tokens and UserInfo: flattened transitive membership, bounded, with the
// OIDC distributed-claim overage form past the limit.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { decodeJwt } from 'jose';
import { createTestDatabase, type TestDatabase } from '#tests/support/database';
import { startAuthHarness, type AuthHarness } from '../testing/harness.js';
import { basicAuth, form, makeClient, makeUser, makeWebClientFixture } from '../testing/fixtures.js';
import { mintCode } from '../testing/grants.js';
import { addMembers, insertGroup } from '../core/groups.js';
import { GROUPS_CLAIM_LIMIT } from '../core/groups-claim.js';
import type { Client, Tenant, User } from '../core/schema.js';

const REDIRECT = 'https://app.example.com/cb';

describe('groups claim in ID tokens and UserInfo (OIDC Core §5.1, §5.6.2)', () => {
  let tdb: TestDatabase;
  let h: AuthHarness;
  let tenant: Tenant;
  let client: Client;
  let user: User;
  let secret: string;
  before(async () => {
    tdb = await createTestDatabase();
    ({ tenant, user, client, secret } = await makeWebClientFixture(tdb.database.db, 'acme', { username: 'alice', redirectUri: REDIRECT, scope: 'openid profile groups' }));
    h = await startAuthHarness(tdb.database);
  });
  after(async () => {
    await h.close();
    await tdb.drop();
  });

  const tokensFor = async (u: User, scope: string) => {
    const code = await mintCode(tdb.database.db, tenant, client, u, REDIRECT, scope);
    const body = { grant_type: 'authorization_code', code, redirect_uri: REDIRECT };
    const res = await h.fetch('/auth/acme/token', { ...form(body), headers: { ...form(body).headers, authorization: basicAuth('web', secret) } });
    assert.equal(res.status, 200);
    return (await res.json()) as { id_token: string; access_token: string };
  };
  const userinfo = async (accessToken: string) => (await (await h.fetch('/auth/acme/userinfo', { headers: { authorization: `Bearer ${accessToken}` } })).json()) as Record<string, unknown>;
  const group = async (name: string) => (await insertGroup(tdb.database.db, tenant.id, { displayName: name }))!;

  it('carries direct and inherited group names when the groups scope is granted', async () => {
    const [staff, eng, backend] = [await group('all-staff'), await group('eng'), await group('eng-backend')];
    await addMembers(tdb.database.db, tenant.id, staff.id, [{ value: eng.id, type: 'Group' }]);
    await addMembers(tdb.database.db, tenant.id, eng.id, [{ value: backend.id, type: 'Group' }]);
    await addMembers(tdb.database.db, tenant.id, backend.id, [{ value: user.id, type: 'User' }]);
    const t = await tokensFor(user, 'openid groups');
    assert.deepEqual(decodeJwt(t.id_token).groups, ['all-staff', 'eng', 'eng-backend']);
    assert.deepEqual((await userinfo(t.access_token)).groups, ['all-staff', 'eng', 'eng-backend']);
    const without = await tokensFor(user, 'openid profile');
    assert.equal(decodeJwt(without.id_token).groups, undefined);
    assert.equal((await userinfo(without.access_token)).groups, undefined);
  });

  it('lists group ids instead of names to a client registered with groups_claim_format ids', async () => {
    const { client: byId, secret: byIdSecret } = await makeClient(tdb.database.db, tenant, { client_id: 'by-id', redirect_uris: [REDIRECT], grant_types: ['authorization_code'], scope: 'openid groups', groups_claim_format: 'ids' });
    const member = await makeUser(tdb.database.db, tenant, { username: 'ids' });
    const [outer, inner] = [await group('ids-outer'), await group('ids-inner')];
    await addMembers(tdb.database.db, tenant.id, outer.id, [{ value: inner.id, type: 'Group' }]);
    await addMembers(tdb.database.db, tenant.id, inner.id, [{ value: member.id, type: 'User' }]);
    const code = await mintCode(tdb.database.db, tenant, byId, member, REDIRECT, 'openid groups');
    const body = { grant_type: 'authorization_code', code, redirect_uri: REDIRECT };
    const res = await h.fetch('/auth/acme/token', { ...form(body), headers: { ...form(body).headers, authorization: basicAuth('by-id', byIdSecret!) } });
    assert.equal(res.status, 200);
    const t = (await res.json()) as { id_token: string; access_token: string };
    assert.deepEqual([...(decodeJwt(t.id_token).groups as string[])].sort(), [outer.id, inner.id].sort());
    assert.deepEqual([...((await userinfo(t.access_token)).groups as string[])].sort(), [outer.id, inner.id].sort());
    // The web client of the same user's tenant still gets names.
    assert.deepEqual((await userinfo((await tokensFor(member, 'openid groups')).access_token)).groups, ['ids-inner', 'ids-outer']);
  });

  it(`points at UserInfo instead of listing past ${GROUPS_CLAIM_LIMIT} groups, and UserInfo lists them all`, async () => {
    const many = await makeUser(tdb.database.db, tenant, { username: 'many' });
    for (let i = 0; i <= GROUPS_CLAIM_LIMIT; i++) {
      const g = await group(`bulk-${String(i).padStart(3, '0')}`);
      await addMembers(tdb.database.db, tenant.id, g.id, [{ value: many.id, type: 'User' }]);
    }
    const t = await tokensFor(many, 'openid groups');
    const claims = decodeJwt(t.id_token);
    assert.equal(claims.groups, undefined);
    assert.deepEqual(claims._claim_names, { groups: 'src1' });
    assert.deepEqual(claims._claim_sources, { src1: { endpoint: `${h.baseUrl}/auth/acme/userinfo` } });
    assert.equal(((await userinfo(t.access_token)).groups as string[]).length, GROUPS_CLAIM_LIMIT + 1);
  });
});
