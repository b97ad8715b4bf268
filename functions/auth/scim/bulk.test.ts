import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createTestDatabase, type TestDatabase } from '#tests/support/database';
import { startAuthHarness, type AuthHarness } from '../testing/harness.js';
import { basicAuth, form, makeClient, makeWebClientFixture } from '../testing/fixtures.js';
import { mintCode } from '../testing/grants.js';
import { mintScimToken } from '../core/scim-tokens.js';
import type { Client, Tenant, User } from '../core/schema.js';

type Json = Record<string, any>;
const USER = 'urn:ietf:params:scim:schemas:core:2.0:User';
const GROUP = 'urn:ietf:params:scim:schemas:core:2.0:Group';
const BULK = 'urn:ietf:params:scim:api:messages:2.0:BulkRequest';
const BULK_RESPONSE = 'urn:ietf:params:scim:api:messages:2.0:BulkResponse';
const ERROR = 'urn:ietf:params:scim:api:messages:2.0:Error';
const REDIRECT = 'https://app.example/cb';

describe('SCIM /Bulk and /Me (RFC 7644 §3.7, §3.11)', () => {
  let tdb: TestDatabase;
  let h: AuthHarness;
  let acme: Tenant;
  let alice: User;
  let web: Client;
  let webSecret: string;
  let token: string;
  const call = async (method: string, path: string, body?: unknown, opts: { auth?: string; raw?: string } = {}) => {
    const res = await h.fetch(`/auth/acme/scim/v2${path}`, {
      method,
      headers: { authorization: `Bearer ${opts.auth ?? token}`, ...(body !== undefined || opts.raw !== undefined ? { 'content-type': 'application/scim+json' } : {}) },
      ...(opts.raw !== undefined ? { body: opts.raw } : body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    return { status: res.status, headers: res.headers, body: (text ? JSON.parse(text) : undefined) as Json };
  };
  const bulk = (Operations: Json[], extra: Json = {}) => call('POST', '/Bulk', { schemas: [BULK], Operations, ...extra });
  const assertError = (r: { status: number; body: Json }, status: number, scimType?: string) => {
    assert.equal(r.status, status, JSON.stringify(r.body));
    assert.deepEqual(r.body.schemas, [ERROR]);
    assert.equal(r.body.status, String(status));
    assert.equal(r.body.scimType, scimType);
  };
  const accessTokenFor = async (u: User, scope: string) => {
    const code = await mintCode(tdb.database.db, acme, web, u, REDIRECT, scope);
    const body = { grant_type: 'authorization_code', code, redirect_uri: REDIRECT };
    const res = await h.fetch('/auth/acme/token', { ...form(body), headers: { ...form(body).headers, authorization: basicAuth('web', webSecret) } });
    assert.equal(res.status, 200);
    return ((await res.json()) as { access_token: string }).access_token;
  };

  before(async () => {
    tdb = await createTestDatabase();
    ({ tenant: acme, user: alice, client: web, secret: webSecret } = await makeWebClientFixture(tdb.database.db, 'acme', { username: 'alice', redirectUri: REDIRECT, scope: 'openid profile' }));
    h = await startAuthHarness(tdb.database);
    token = (await mintScimToken(tdb.database.db, acme.id, 'entra')).token;
  });
  after(async () => {
    await h.close();
    await tdb.drop();
  });

  describe('RFC 7644 §3.7 bulk operations', () => {
    it('advertises bulk support with maxOperations and maxPayloadSize in ServiceProviderConfig (RFC 7643 §5)', async () => {
      const r = await call('GET', '/ServiceProviderConfig');
      assert.deepEqual(r.body.bulk, { supported: true, maxOperations: 1000, maxPayloadSize: 524288 });
    });

    it('creates users and a group whose members refer to them by bulkId (§3.7.2)', async () => {
      const r = await bulk([
        { method: 'POST', path: '/Users', bulkId: 'u1', data: { schemas: [USER], userName: 'bulk-one' } },
        { method: 'POST', path: '/Users', bulkId: 'u2', data: { schemas: [USER], userName: 'bulk-two' } },
        { method: 'POST', path: '/Groups', bulkId: 'g1', data: { schemas: [GROUP], displayName: 'bulk-team', members: [{ value: 'bulkId:u1', type: 'User' }, { value: 'bulkId:u2', type: 'User' }] } },
      ]);
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.deepEqual(r.body.schemas, [BULK_RESPONSE]);
      assert.deepEqual(r.body.Operations.map((o: Json) => [o.method, o.bulkId, o.status]), [['POST', 'u1', '201'], ['POST', 'u2', '201'], ['POST', 'g1', '201']]);
      for (const o of r.body.Operations) assert.match(o.version, /^W\/"\d+"$/);
      const group = await call('GET', new URL(r.body.Operations[2].location).pathname.replace('/auth/acme/scim/v2', ''));
      assert.deepEqual(group.body.members.map((m: Json) => m.display).sort(), ['bulk-one', 'bulk-two']);
    });

    it('resolves a group that refers to a group created later in the same request, and the nesting is transitive (§3.7.2)', async () => {
      const r = await bulk([
        { method: 'POST', path: '/Groups', bulkId: 'parent', data: { schemas: [GROUP], displayName: 'bulk-parent', members: [{ value: 'bulkId:child', type: 'Group' }] } },
        { method: 'POST', path: '/Groups', bulkId: 'child', data: { schemas: [GROUP], displayName: 'bulk-child', members: [{ value: 'bulkId:carol', type: 'User' }] } },
        { method: 'POST', path: '/Users', bulkId: 'carol', data: { schemas: [USER], userName: 'bulk-carol' } },
      ]);
      assert.deepEqual(r.body.Operations.map((o: Json) => [o.bulkId, o.status]), [['parent', '201'], ['child', '201'], ['carol', '201']]);
      const carolId = r.body.Operations[2].location.split('/').pop();
      const carol = await call('GET', `/Users/${carolId}`);
      assert.deepEqual(carol.body.groups.map((g: Json) => [g.display, g.type]).sort(), [['bulk-child', 'direct'], ['bulk-parent', 'indirect']]);
    });

    it('runs PUT, PATCH and DELETE on ids and on bulkId paths, honouring version as If-Match (§3.7, §3.14)', async () => {
      const created = await bulk([{ method: 'POST', path: '/Users', bulkId: 'x', data: { schemas: [USER], userName: 'bulk-x' } }]);
      const id = created.body.Operations[0].location.split('/').pop();
      const r = await bulk([
        { method: 'PATCH', path: `/Users/${id}`, version: created.body.Operations[0].version, data: { schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'], Operations: [{ op: 'replace', path: 'title', value: 'Engineer' }] } },
        { method: 'PUT', path: `/Users/${id}`, version: 'W/"0"', data: { schemas: [USER], userName: 'bulk-x' } },
        { method: 'POST', path: '/Users', bulkId: 'y', data: { schemas: [USER], userName: 'bulk-y' } },
        { method: 'DELETE', path: '/Users/bulkId:y' },
      ]);
      assert.deepEqual(r.body.Operations.map((o: Json) => o.status), ['200', '412', '201', '204']);
      assert.deepEqual(r.body.Operations[1].response.schemas, [ERROR]);
      assert.equal((await call('GET', `/Users/${id}`)).body.title, 'Engineer');
      assert.equal((await call('GET', `/Users?filter=${encodeURIComponent('userName eq "bulk-y"')}`)).body.totalResults, 0);
    });

    it('reports each failed operation in the SCIM error schema and carries on without failOnErrors (§3.7.3)', async () => {
      const r = await bulk([
        { method: 'POST', path: '/Users', bulkId: 'dup1', data: { schemas: [USER], userName: 'bulk-dup' } },
        { method: 'POST', path: '/Users', bulkId: 'dup2', data: { schemas: [USER], userName: 'bulk-dup' } },
        { method: 'POST', path: '/Users', bulkId: 'bad', data: { schemas: [USER], userName: 'bulk-bad', shoeSize: 44 } },
        { method: 'POST', path: '/Users', bulkId: 'ok', data: { schemas: [USER], userName: 'bulk-ok' } },
        { method: 'DELETE', path: '/Users/00000000-0000-4000-8000-000000000000' },
      ]);
      assert.deepEqual(r.body.Operations.map((o: Json) => o.status), ['201', '409', '400', '201', '404']);
      assert.equal(r.body.Operations[1].response.scimType, 'uniqueness');
      assert.equal(r.body.Operations[2].response.scimType, 'invalidSyntax');
      for (const o of r.body.Operations.filter((x: Json) => x.status >= '400')) assert.deepEqual(o.response.schemas, [ERROR]);
    });

    it('stops after failOnErrors errors and returns only what it ran (§3.7.3)', async () => {
      const r = await bulk(
        [
          { method: 'POST', path: '/Users', bulkId: 'f1', data: { schemas: [USER], userName: 'alice' } },
          { method: 'POST', path: '/Users', bulkId: 'f2', data: { schemas: [USER], userName: 'bulk-f2' } },
          { method: 'POST', path: '/Users', bulkId: 'f3', data: { schemas: [USER], userName: 'alice' } },
          { method: 'POST', path: '/Users', bulkId: 'f4', data: { schemas: [USER], userName: 'bulk-f4' } },
        ],
        { failOnErrors: 2 },
      );
      assert.deepEqual(r.body.Operations.map((o: Json) => [o.bulkId, o.status]), [['f1', '409'], ['f2', '201'], ['f3', '409']]);
      assert.equal((await call('GET', `/Users?filter=${encodeURIComponent('userName eq "bulk-f4"')}`)).body.totalResults, 0);
    });

    it('answers 409 invalidValue for an operation whose bulkId failed, is missing or circular (§3.7.2, §3.7.3)', async () => {
      const r = await bulk([
        { method: 'POST', path: '/Users', bulkId: 'clash', data: { schemas: [USER], userName: 'alice' } },
        { method: 'POST', path: '/Groups', bulkId: 'needs-clash', data: { schemas: [GROUP], displayName: 'bulk-needs', members: [{ value: 'bulkId:clash', type: 'User' }] } },
        { method: 'POST', path: '/Groups', bulkId: 'ghost', data: { schemas: [GROUP], displayName: 'bulk-ghost', members: [{ value: 'bulkId:nowhere', type: 'User' }] } },
        { method: 'POST', path: '/Groups', bulkId: 'a', data: { schemas: [GROUP], displayName: 'bulk-a', members: [{ value: 'bulkId:b', type: 'Group' }] } },
        { method: 'POST', path: '/Groups', bulkId: 'b', data: { schemas: [GROUP], displayName: 'bulk-b', members: [{ value: 'bulkId:a', type: 'Group' }] } },
      ]);
      assert.deepEqual(r.body.Operations.map((o: Json) => [o.bulkId, o.status, o.response?.scimType]), [
        ['clash', '409', 'uniqueness'],
        ['needs-clash', '409', 'invalidValue'],
        ['ghost', '409', 'invalidValue'],
        ['a', '409', 'invalidValue'],
        ['b', '409', 'invalidValue'],
      ]);
      assert.match(r.body.Operations[1].response.detail, /"clash" failed/);
      assert.match(r.body.Operations[2].response.detail, /"nowhere" is not defined/);
      assert.match(r.body.Operations[3].response.detail, /circular/);
    });

    it('refuses more than maxOperations operations with 413 (§3.7.4)', async () => {
      const ops = Array.from({ length: 1001 }, (_, i) => ({ method: 'DELETE', path: `/Users/${i}` }));
      assertError(await bulk(ops), 413);
    });

    it('refuses a payload over maxPayloadSize with 413 and writes nothing (§3.7.4)', async () => {
      const r = await bulk([{ method: 'POST', path: '/Users', bulkId: 'big', data: { schemas: [USER], userName: 'bulk-big', title: 'x'.repeat(600 * 1024) } }]);
      assertError(r, 413);
      assert.equal((await call('GET', `/Users?filter=${encodeURIComponent('userName eq "bulk-big"')}`)).body.totalResults, 0);
    });

    it('answers malformed bulk requests with 400 in the SCIM error schema (§3.12)', async () => {
      assertError(await call('POST', '/Bulk', undefined, { raw: '{"schemas": [' }), 400, 'invalidSyntax');
      assertError(await call('POST', '/Bulk', { schemas: [USER], Operations: [] }), 400, 'invalidSyntax');
      assertError(await call('POST', '/Bulk', { schemas: [BULK] }), 400, 'invalidSyntax');
      assertError(await bulk([{ method: 'GET', path: '/Users' }]), 400, 'invalidSyntax');
      assertError(await bulk([{ method: 'POST', path: '/Users', data: { schemas: [USER], userName: 'no-bulk-id' } }]), 400, 'invalidSyntax');
      assertError(await bulk([{ method: 'POST', path: '/Bulk', bulkId: 'r', data: {} }]), 400, 'invalidSyntax');
      assertError(await bulk([{ method: 'PATCH', path: '/Users', data: {} }]), 400, 'invalidSyntax');
      assertError(await bulk([{ method: 'POST', path: '/Users', bulkId: 'same', data: {} }, { method: 'POST', path: '/Groups', bulkId: 'same', data: {} }]), 400, 'invalidSyntax');
      assertError(await bulk([], { failOnErrors: 0 }), 400, 'invalidValue');
      assertError(await call('GET', '/Bulk'), 405);
    });

    it('needs the same authentication as every SCIM call (§2)', async () => {
      const r = await call('POST', '/Bulk', { schemas: [BULK], Operations: [] }, { auth: 'nope' });
      assertError(r, 401);
    });
  });

  describe('RFC 7644 §3.11 /Me', () => {
    it('returns the User resource of the token\'s user, with its groups and its own location', async () => {
      const t = await accessTokenFor(alice, 'openid profile');
      const r = await call('GET', '/Me', undefined, { auth: t });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.equal(r.body.id, alice.id);
      assert.equal(r.body.userName, 'alice');
      assert.equal(r.body.meta.location, r.headers.get('content-location'));
      assert.match(r.headers.get('etag') ?? '', /^W\/"\d+"$/);
      const projected = await call('GET', '/Me?attributes=userName', undefined, { auth: t });
      assert.deepEqual(Object.keys(projected.body).sort(), ['id', 'schemas', 'userName']);
    });

    it('answers 501 in the SCIM error schema for a token with no user, and for writes', async () => {
      assertError(await call('GET', '/Me'), 501);
      const { client, secret } = await makeClient(tdb.database.db, acme, { client_id: 'robot', grant_types: ['client_credentials'], scope: 'scim' });
      const res = await h.fetch('/auth/acme/token', { ...form({ grant_type: 'client_credentials', scope: 'scim' }), headers: { ...form({}).headers, authorization: basicAuth(client.clientId, secret!) } });
      const robot = ((await res.json()) as { access_token: string }).access_token;
      assertError(await call('GET', '/Me', undefined, { auth: robot }), 501);
      const t = await accessTokenFor(alice, 'openid');
      assertError(await call('PATCH', '/Me', { schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'], Operations: [] }, { auth: t }), 501);
    });

    it('refuses a missing or forged token with 401', async () => {
      assertError(await call('GET', '/Me', undefined, { auth: '' }), 401);
      assertError(await call('GET', '/Me', undefined, { auth: 'eyJhbGciOiJFZERTQSJ9.e30.AAAA' }), 401);
    });
  });
});
