import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'drizzle-orm';
import { createTestDatabase, type TestDatabase } from '#tests/support/database';
import { startAuthHarness, type AuthHarness } from '../testing/harness.js';
import { basicAuth, form, makeClient, makeTenant } from '../testing/fixtures.js';
import { mintScimToken, revokeScimToken } from '../core/scim-tokens.js';
import type { Tenant } from '../core/schema.js';

type Json = Record<string, any>;
const USER = 'urn:ietf:params:scim:schemas:core:2.0:User';
const GROUP = 'urn:ietf:params:scim:schemas:core:2.0:Group';
const ENTERPRISE = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';
const PATCH = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
const ERROR = 'urn:ietf:params:scim:api:messages:2.0:Error';

describe('SCIM 2.0 service provider {issuer}/scim/v2 (RFC 7643, RFC 7644)', () => {
  let tdb: TestDatabase;
  let h: AuthHarness;
  let acme: Tenant;
  let token: string;
  let otherToken: string;
  const call = async (method: string, path: string, body?: unknown, opts: { auth?: string; tenant?: string; headers?: Record<string, string>; raw?: string } = {}) => {
    const res = await h.fetch(`/auth/${opts.tenant ?? 'acme'}/scim/v2${path}`, {
      method,
      headers: { authorization: `Bearer ${opts.auth ?? token}`, ...(body !== undefined || opts.raw ? { 'content-type': 'application/scim+json' } : {}), ...opts.headers },
      ...(opts.raw !== undefined ? { body: opts.raw } : body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    return { status: res.status, headers: res.headers, body: (text ? JSON.parse(text) : undefined) as Json };
  };
  const newUser = async (userName: string, extra: Json = {}) => {
    const r = await call('POST', '/Users', { schemas: [USER], userName, ...extra });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    return r.body;
  };
  const newGroup = async (displayName: string, members: Json[] = []) => {
    const r = await call('POST', '/Groups', { schemas: [GROUP], displayName, members });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    return r.body;
  };
  const assertError = (r: { status: number; headers: Headers; body: Json }, status: number, scimType?: string) => {
    assert.equal(r.status, status, JSON.stringify(r.body));
    assert.equal(r.headers.get('content-type'), 'application/scim+json');
    assert.deepEqual(r.body.schemas, [ERROR]);
    assert.equal(r.body.status, String(status));
    assert.equal(r.body.scimType, scimType);
  };

  before(async () => {
    tdb = await createTestDatabase();
    h = await startAuthHarness(tdb.database);
    acme = await makeTenant(tdb.database.db, 'acme');
    const globex = await makeTenant(tdb.database.db, 'globex');
    token = (await mintScimToken(tdb.database.db, acme.id, 'entra')).token;
    otherToken = (await mintScimToken(tdb.database.db, globex.id, 'okta')).token;
  });
  after(async () => {
    await h.close();
    await tdb.drop();
  });

  describe('RFC 7644 §2 authentication', () => {
    it('refuses a missing, forged, revoked or other tenant token with 401 in the SCIM shape', async () => {
      assertError(await call('GET', '/Users', undefined, { auth: '' }), 401);
      const forged = token.slice(0, -4) + (token.endsWith('AAAA') ? 'BBBB' : 'AAAA');
      assertError(await call('GET', '/Users', undefined, { auth: forged }), 401);
      assertError(await call('GET', '/Users', undefined, { auth: otherToken }), 401);
      const t = await mintScimToken(tdb.database.db, acme.id, 'short-lived');
      assert.equal((await call('GET', '/Users', undefined, { auth: t.token })).status, 200);
      await revokeScimToken(tdb.database.db, acme.id, t.id);
      assertError(await call('GET', '/Users', undefined, { auth: t.token }), 401);
      const stored = await tdb.database.query<{ secret_hash: string }>(sql`select secret_hash from auth.scim_tokens where id = ${t.id}`);
      assert.equal(token.includes(stored[0]!.secret_hash), false);
    });

    it('takes an access token of the tenant with scope scim, and refuses one without it', async () => {
      const { client, secret } = await makeClient(tdb.database.db, acme, { client_id: 'provisioner', grant_types: ['client_credentials'], scope: 'scim other' });
      const get = async (scope: string) => {
        const res = await h.fetch('/auth/acme/token', { ...form({ grant_type: 'client_credentials', scope }), headers: { ...form({}).headers, authorization: basicAuth(client.clientId, secret!) } });
        return ((await res.json()) as { access_token: string }).access_token;
      };
      assert.equal((await call('GET', '/Users', undefined, { auth: await get('scim') })).status, 200);
      assertError(await call('GET', '/Users', undefined, { auth: await get('other') }), 403);
    });

    it('takes the admin token of zeno-admin (zeno:admin) for any tenant', async () => {
      const res = await h.fetch('/auth/system/token', { ...form({ grant_type: 'client_credentials', scope: 'zeno:admin' }), headers: { ...form({}).headers, authorization: basicAuth('zeno-admin', h.adminSecret) } });
      const admin = ((await res.json()) as { access_token: string }).access_token;
      assert.equal((await call('GET', '/Groups', undefined, { auth: admin })).status, 200);
      assert.equal((await call('GET', '/Groups', undefined, { auth: admin, tenant: 'globex' })).status, 200);
    });
    it('mints, lists and revokes SCIM tokens through the admin API, showing the token once', async () => {
      const res = await h.fetch('/auth/system/token', { ...form({ grant_type: 'client_credentials', scope: 'zeno:admin' }), headers: { ...form({}).headers, authorization: basicAuth('zeno-admin', h.adminSecret) } });
      const admin = ((await res.json()) as { access_token: string }).access_token;
      const adminCall = (method: string, path: string, body?: unknown) =>
        h.fetch(`/auth/admin/tenants/acme${path}`, { method, headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' }, ...(body ? { body: JSON.stringify(body) } : {}) });
      const minted = (await (await adminCall('POST', '/scim-tokens', { name: 'okta' })).json()) as { id: string; token: string; scimBase: string };
      assert.equal(minted.scimBase, `${h.baseUrl}/auth/acme/scim/v2`);
      assert.equal((await call('GET', '/ServiceProviderConfig', undefined, { auth: minted.token })).status, 200);
      const listed = (await (await adminCall('GET', '/scim-tokens')).json()) as { tokens: Json[] };
      assert.ok(listed.tokens.some((t) => t.id === minted.id && t.lastUsedAt && !('token' in t) && !('secretHash' in t)));
      assert.equal((await adminCall('DELETE', `/scim-tokens/${minted.id}`)).status, 204);
      assert.equal((await adminCall('DELETE', `/scim-tokens/${minted.id}`)).status, 404);
      assertError(await call('GET', '/ServiceProviderConfig', undefined, { auth: minted.token }), 401);
    });
  });

  describe('RFC 7644 §3.3 creating resources', () => {
    it('creates a user with the enterprise extension, answering 201, Location, ETag and meta', async () => {
      const r = await call('POST', '/Users', {
        schemas: [USER, ENTERPRISE], userName: 'Bjensen', externalId: 'ext-bjensen', name: { givenName: 'Barbara', familyName: 'Jensen' }, displayName: 'Babs Jensen',
        emails: [{ value: 'bjensen@example.com', type: 'work', primary: true }], password: 'correct horse battery', [ENTERPRISE]: { employeeNumber: '701984', department: 'Tour Operations', manager: { value: 'boss' } },
      });
      assert.equal(r.status, 201);
      assert.equal(r.headers.get('content-type'), 'application/scim+json');
      assert.equal(r.headers.get('location'), r.body.meta.location);
      assert.equal(r.headers.get('etag'), r.body.meta.version);
      assert.equal(r.body.userName, 'bjensen');
      assert.equal(r.body.active, true);
      assert.equal(r.body.password, undefined);
      assert.deepEqual(r.body[ENTERPRISE], { employeeNumber: '701984', department: 'Tour Operations', manager: { value: 'boss' } });
      assert.equal(r.body.meta.resourceType, 'User');
      assert.match(r.body.meta.location, new RegExp(`/auth/acme/scim/v2/Users/${r.body.id}$`));
      // One directory: the admin API and the login see the same row.
      const rows = await tdb.database.query<{ username: string; password_hash: string }>(sql`select username, password_hash from auth.users where id = ${r.body.id}`);
      assert.match(rows[0]!.password_hash, /^\$argon2id\$/);
    });

    it('answers 409 uniqueness for a taken userName or externalId, and 400 for a missing userName', async () => {
      await newUser('taken', { externalId: 'ext-taken' });
      assertError(await call('POST', '/Users', { schemas: [USER], userName: 'TAKEN' }), 409, 'uniqueness');
      assertError(await call('POST', '/Users', { schemas: [USER], userName: 'fresh', externalId: 'ext-taken' }), 409, 'uniqueness');
      assertError(await call('POST', '/Users', { schemas: [USER] }), 400, 'invalidValue');
    });

    it('refuses malformed JSON, a wrong schema, an unknown attribute and a wrong type with 400', async () => {
      assertError(await call('POST', '/Users', undefined, { raw: '{"schemas": [' }), 400, 'invalidSyntax');
      assertError(await call('POST', '/Users', { schemas: [GROUP], userName: 'x' }), 400, 'invalidSyntax');
      assertError(await call('POST', '/Users', { schemas: [USER], userName: 'x', shoeSize: 44 }), 400, 'invalidSyntax');
      assertError(await call('POST', '/Users', { schemas: [USER], userName: 'x', active: 'maybe' }), 400, 'invalidValue');
      assertError(await call('POST', '/Users', { schemas: [USER], userName: 'x', emails: 'a@b' }), 400, 'invalidValue');
      assertError(await call('POST', '/Users', { schemas: [USER], userName: 'nul\u0000' }), 400, 'invalidValue');
      assertError(await call('POST', '/Users', [1, 2]), 400, 'invalidSyntax');
      const wrongType = await h.fetch('/auth/acme/scim/v2/Users', { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'text/plain' }, body: '{}' });
      assert.equal(wrongType.status, 415);
    });

    it('refuses an oversized body with 413 in the SCIM shape', async () => {
      const r = await call('POST', '/Users', { schemas: [USER], userName: 'big', title: 'x'.repeat(2 * 1024 * 1024) });
      assert.equal(r.status, 413);
      assert.deepEqual(r.body.schemas, [ERROR]);
    });
  });

  describe('RFC 7644 §3.4.1 retrieving a resource, §3.14 versions', () => {
    it('gets a user by id, 404 for an unknown or malformed id, and 304 for a current If-None-Match', async () => {
      const u = await newUser('getme');
      const r = await call('GET', `/Users/${u.id}`);
      assert.equal(r.status, 200);
      assert.equal(r.body.userName, 'getme');
      assertError(await call('GET', '/Users/00000000-0000-4000-8000-000000000000'), 404);
      assertError(await call('GET', "/Users/1' or '1'='1"), 404);
      assert.equal((await call('GET', `/Users/${u.id}`, undefined, { headers: { 'if-none-match': r.headers.get('etag')! } })).status, 304);
    });

    it('refuses a PUT, PATCH or DELETE whose If-Match is stale with 412, and applies a current one', async () => {
      const u = await newUser('versioned');
      const stale = u.meta.version as string;
      const ok = await call('PATCH', `/Users/${u.id}`, { schemas: [PATCH], Operations: [{ op: 'replace', path: 'title', value: 'Boss' }] }, { headers: { 'if-match': stale } });
      assert.equal(ok.status, 200);
      assert.notEqual(ok.body.meta.version, stale);
      assertError(await call('PATCH', `/Users/${u.id}`, { schemas: [PATCH], Operations: [{ op: 'replace', path: 'title', value: 'Lost update' }] }, { headers: { 'if-match': stale } }), 412);
      assertError(await call('PUT', `/Users/${u.id}`, { schemas: [USER], userName: 'versioned' }, { headers: { 'if-match': stale } }), 412);
      assertError(await call('DELETE', `/Users/${u.id}`, undefined, { headers: { 'if-match': stale } }), 412);
      assert.equal((await call('GET', `/Users/${u.id}`)).body.title, 'Boss');
      assert.equal((await call('DELETE', `/Users/${u.id}`, undefined, { headers: { 'if-match': ok.body.meta.version } })).status, 204);
    });
  });

  describe('RFC 7644 §3.4.2 listing: filters, sorting, pagination, projection', () => {
    let ids: Record<string, string>;
    before(async () => {
      ids = {};
      for (const [name, given, email, active] of [['alice', 'Alice', 'alice@corp.example', true], ['alan', 'Alan', 'alan@home.example', true], ['bob', 'Bob', 'bob@corp.example', false], ['carol', 'Carol', undefined, true]] as const) {
        const u = await newUser(`f-${name}`, { name: { givenName: given, familyName: 'Filter' }, active, externalId: `fx-${name}`, ...(email ? { emails: [{ value: email, type: email.includes('corp') ? 'work' : 'home' }] } : {}) });
        ids[name] = u.id;
      }
    });
    const filter = async (f: string, extra = '') => {
      const r = await call('GET', `/Users?filter=${encodeURIComponent(f)}${extra}`);
      assert.equal(r.status, 200, JSON.stringify(r.body));
      return r.body;
    };
    const names = (b: Json) => (b.Resources as Json[]).map((u) => u.userName).sort();

    it('applies every comparison operator and presence', async () => {
      assert.deepEqual(names(await filter('userName eq "F-ALICE"')), ['f-alice']);
      assert.deepEqual(names(await filter('userName sw "f-a"')), ['f-alan', 'f-alice']);
      assert.deepEqual(names(await filter('userName ew "ol" and name.familyName eq "Filter"')), ['f-carol']);
      assert.deepEqual(names(await filter('name.givenName co "li"')), ['f-alice']);
      assert.deepEqual(names(await filter('name.familyName eq "Filter" and userName ne "f-alice"')), ['f-alan', 'f-bob', 'f-carol']);
      assert.deepEqual(names(await filter('name.familyName eq "Filter" and userName gt "f-b"')), ['f-bob', 'f-carol']);
      assert.deepEqual(names(await filter('name.familyName eq "Filter" and userName ge "f-bob"')), ['f-bob', 'f-carol']);
      assert.deepEqual(names(await filter('name.familyName eq "Filter" and userName lt "f-alice"')), ['f-alan']);
      assert.deepEqual(names(await filter('name.familyName eq "Filter" and userName le "f-alice"')), ['f-alan', 'f-alice']);
      assert.deepEqual(names(await filter('name.familyName eq "Filter" and not (emails pr)')), ['f-carol']);
      assert.deepEqual(names(await filter('externalId eq "fx-bob" or externalId eq "fx-carol"')), ['f-bob', 'f-carol']);
      assert.deepEqual(names(await filter('name.familyName eq "Filter" and active eq false')), ['f-bob']);
    });

    it('applies complex value paths, grouping and schema-qualified paths', async () => {
      assert.deepEqual(names(await filter('emails[type eq "work" and value co "corp"]')), ['f-alice', 'f-bob']);
      assert.deepEqual(names(await filter('emails.type eq "home"')), ['f-alan']);
      assert.deepEqual(names(await filter('(userName eq "f-alice" or userName eq "f-bob") and active eq true')), ['f-alice']);
      assert.deepEqual(names(await filter(`${USER}:userName eq "f-carol"`)), ['f-carol']);
    });

    it('filters on meta.lastModified with gt and lt', async () => {
      const mark = new Date(Date.now() + 2);
      while (Date.now() <= mark.getTime() + 2) await new Promise((r) => setTimeout(r, 2));
      await call('PATCH', `/Users/${ids.carol}`, { schemas: [PATCH], Operations: [{ op: 'replace', path: 'title', value: 'Touched' }] });
      assert.deepEqual(names(await filter(`name.familyName eq "Filter" and meta.lastModified gt "${mark.toISOString()}"`)), ['f-carol']);
      assert.deepEqual(names(await filter(`name.familyName eq "Filter" and meta.lastModified lt "${mark.toISOString()}"`)), ['f-alan', 'f-alice', 'f-bob']);
      assert.equal((await filter('name.familyName eq "Filter" and meta.lastModified le "2000-01-01T00:00:00Z"')).totalResults, 0);
      assert.equal((await filter('name.familyName eq "Filter" and meta.created ge "2000-01-01T00:00:00Z"')).totalResults, 4);
    });

    it('refuses a bad filter with 400 invalidFilter, and binds hostile values as data', async () => {
      for (const bad of ['userName eq', 'userName zz "x"', 'nosuch eq "x"', '(userName eq "x"', 'userName eq "x" junk', 'emails[type eq "a"', 'active eq "yes"', 'meta.lastModified gt "not a date"', 'urn:evil:x eq "1"', `${'('.repeat(40)}userName eq "x"${')'.repeat(40)}`, 'a eq "1" or '.repeat(100) + 'a eq "1"']) {
        assertError(await call('GET', `/Users?filter=${encodeURIComponent(bad)}`), 400, 'invalidFilter');
      }
      for (const hostile of [`x" or 1=1 --`, `'; drop table auth.users; --`, '%', '_', '\\']) {
        assert.equal((await filter(`userName eq ${JSON.stringify(hostile)}`)).totalResults, 0);
        assert.equal((await filter(`userName co ${JSON.stringify(hostile)}`)).totalResults, 0);
      }
      const count = await tdb.database.query<{ n: number }>(sql`select count(*)::int as n from auth.users`);
      assert.ok(count[0]!.n > 0);
    });

    it('paginates with startIndex and count (1-based), and sorts', async () => {
      const base = '&sortBy=userName&sortOrder=descending';
      const p1 = await filter('name.familyName eq "Filter"', `${base}&startIndex=1&count=3`);
      assert.equal(p1.totalResults, 4);
      assert.equal(p1.itemsPerPage, 3);
      assert.deepEqual((p1.Resources as Json[]).map((u) => u.userName), ['f-carol', 'f-bob', 'f-alice']);
      const p2 = await filter('name.familyName eq "Filter"', `${base}&startIndex=4&count=3`);
      assert.deepEqual((p2.Resources as Json[]).map((u) => u.userName), ['f-alan']);
      assert.equal(p2.startIndex, 4);
      const none = await filter('name.familyName eq "Filter"', '&count=0');
      assert.equal(none.totalResults, 4);
      assert.deepEqual(none.Resources, []);
      assert.equal((await filter('name.familyName eq "Filter"', '&startIndex=-5&count=1')).startIndex, 1);
      assertError(await call('GET', '/Users?sortBy=password'), 400, 'invalidValue');
      assertError(await call('GET', '/Users?count=abc'), 400, 'invalidValue');
    });

    it('projects attributes and excludedAttributes, always keeping id and schemas', async () => {
      const only = await filter('userName eq "f-alice"', '&attributes=userName,name.givenName');
      assert.deepEqual(only.Resources[0], { schemas: [USER], id: ids.alice, userName: 'f-alice', name: { givenName: 'Alice' } });
      const without = await filter('userName eq "f-alice"', '&excludedAttributes=emails,meta');
      assert.equal(without.Resources[0].emails, undefined);
      assert.equal(without.Resources[0].meta, undefined);
      assert.equal(without.Resources[0].userName, 'f-alice');
    });

    it('searches with POST /.search (§3.4.3)', async () => {
      const r = await call('POST', '/Users/.search', { schemas: ['urn:ietf:params:scim:api:messages:2.0:SearchRequest'], filter: 'userName eq "f-bob"', attributes: ['userName'] });
      assert.equal(r.status, 200);
      assert.deepEqual((r.body.Resources as Json[]).map((u) => u.userName), ['f-bob']);
    });
  });

  describe('RFC 7644 §3.5.1 replacing, §3.5.2 modifying with PATCH', () => {
    it('replaces a user as a whole, keeping its password and id', async () => {
      const u = await newUser('replace-me', { title: 'Old', password: 'long enough pw' });
      const r = await call('PUT', `/Users/${u.id}`, { schemas: [USER], id: 'ignored', userName: 'replace-me', displayName: 'Fresh' });
      assert.equal(r.status, 200);
      assert.equal(r.body.id, u.id);
      assert.equal(r.body.title, undefined);
      assert.equal(r.body.displayName, 'Fresh');
      const rows = await tdb.database.query<{ password_hash: string | null }>(sql`select password_hash from auth.users where id = ${u.id}`);
      assert.ok(rows[0]!.password_hash);
    });

    it('adds, replaces and removes with paths, sub-attributes, value filters and extension URNs', async () => {
      const u = await newUser('patchy', { emails: [{ value: 'w@x.example', type: 'work' }, { value: 'h@x.example', type: 'home' }] });
      const r = await call('PATCH', `/Users/${u.id}`, {
        schemas: [PATCH],
        Operations: [
          { op: 'Replace', path: 'active', value: 'False' },
          { op: 'add', path: 'name.givenName', value: 'Pat' },
          { op: 'replace', path: 'emails[type eq "work"].value', value: 'work@x.example' },
          { op: 'remove', path: 'emails[type eq "home"]' },
          { op: 'add', value: { title: 'Chief', [`${ENTERPRISE}:department`]: 'R&D' } },
          { op: 'add', path: `${ENTERPRISE}:costCenter`, value: 'CC-1' },
        ],
      });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.equal(r.body.active, false);
      assert.equal(r.body.name.givenName, 'Pat');
      assert.deepEqual(r.body.emails, [{ value: 'work@x.example', type: 'work' }]);
      assert.equal(r.body.title, 'Chief');
      assert.deepEqual(r.body[ENTERPRISE], { department: 'R&D', costCenter: 'CC-1' });
    });

    it('refuses bad PATCH bodies and paths and changes nothing when one operation of many fails', async () => {
      const u = await newUser('patch-bad', { title: 'Keep' });
      const patch = (ops: unknown, schemas = [PATCH]) => call('PATCH', `/Users/${u.id}`, { schemas, Operations: ops });
      assertError(await patch([{ op: 'replace', path: 'title', value: 'x' }], [USER]), 400, 'invalidSyntax');
      assertError(await patch([]), 400, 'invalidSyntax');
      assertError(await patch([{ op: 'move', path: 'title', value: 'x' }]), 400, 'invalidSyntax');
      assertError(await patch([{ op: 'remove' }]), 400, 'noTarget');
      assertError(await patch([{ op: 'replace', path: 'emails[type eq "nope"].value', value: 'x' }]), 400, 'noTarget');
      assertError(await patch([{ op: 'replace', path: 'emails[type eq', value: 'x' }]), 400, 'invalidPath');
      assertError(await patch([{ op: 'replace', path: 'title[type eq "x"]', value: 'x' }]), 400, 'invalidPath');
      assertError(await patch([{ op: 'replace', path: 'shoeSize', value: 44 }]), 400, 'invalidSyntax');
      assertError(await patch([{ op: 'replace', path: 'title', value: 'Changed' }, { op: 'replace', path: 'userName', value: '' }]), 400, 'invalidValue');
      assert.equal((await call('GET', `/Users/${u.id}`)).body.title, 'Keep');
    });
  });

  describe('RFC 7643 §4.2 groups with nested members', () => {
    it('creates nested groups and lists direct and indirect groups on the user', async () => {
      const u = await newUser('nested-user');
      const backend = await newGroup('eng-backend', [{ value: u.id }]);
      const eng = await newGroup('eng', [{ value: backend.id, type: 'Group' }]);
      const staff = await newGroup('all-staff', [{ value: eng.id, type: 'Group' }]);
      assert.deepEqual(backend.members.map((m: Json) => [m.value, m.type]), [[u.id, 'User']]);
      assert.deepEqual(staff.members.map((m: Json) => [m.value, m.type]), [[eng.id, 'Group']]);
      const got = await call('GET', `/Users/${u.id}`);
      const groups = Object.fromEntries((got.body.groups as Json[]).map((g) => [g.display, g.type]));
      assert.deepEqual(groups, { 'all-staff': 'indirect', eng: 'indirect', 'eng-backend': 'direct' });
      // §3.4.2.2 groups.value eq finds indirect members too.
      const members = await call('GET', `/Users?filter=${encodeURIComponent(`groups.value eq "${staff.id}"`)}`);
      assert.deepEqual((members.body.Resources as Json[]).map((x) => x.id), [u.id]);
      const direct = await call('GET', `/Groups?filter=${encodeURIComponent(`members.value eq "${eng.id}"`)}`);
      assert.deepEqual((direct.body.Resources as Json[]).map((x) => x.displayName), ['all-staff']);
    });

    it('refuses a membership that closes a cycle with 400 invalidValue naming the loop, writing nothing', async () => {
      const a = await newGroup('cyc-a');
      const b = await newGroup('cyc-b', [{ value: a.id, type: 'Group' }]);
      const r = await call('PATCH', `/Groups/${a.id}`, { schemas: [PATCH], Operations: [{ op: 'add', path: 'displayName', value: 'cyc-a-renamed' }, { op: 'add', path: 'members', value: [{ value: b.id, type: 'Group' }] }] });
      assertError(r, 400, 'invalidValue');
      assert.match(r.body.detail, new RegExp(`${a.id}.*${b.id}`));
      const again = await call('GET', `/Groups/${a.id}`);
      assert.equal(again.body.displayName, 'cyc-a');
      assert.equal(again.body.members, undefined);
      assertError(await call('PATCH', `/Groups/${a.id}`, { schemas: [PATCH], Operations: [{ op: 'add', path: 'members', value: [{ value: a.id }] }] }), 400, 'invalidValue');
    });

    it('adds and removes members by PATCH with members[value eq "…"], bumping the version', async () => {
      const [u1, u2] = [await newUser('m-one'), await newUser('m-two')];
      const g = await newGroup('patch-members', [{ value: u1.id }]);
      const added = await call('PATCH', `/Groups/${g.id}`, { schemas: [PATCH], Operations: [{ op: 'add', path: 'members', value: [{ value: u2.id }, { value: u1.id }] }] });
      assert.equal(added.status, 200);
      assert.deepEqual(added.body.members.map((m: Json) => m.value).sort(), [u1.id, u2.id].sort());
      assert.notEqual(added.body.meta.version, g.meta.version);
      const removed = await call('PATCH', `/Groups/${g.id}`, { schemas: [PATCH], Operations: [{ op: 'remove', path: `members[value eq "${u1.id}"]` }] });
      assert.deepEqual(removed.body.members.map((m: Json) => m.value), [u2.id]);
      const replaced = await call('PATCH', `/Groups/${g.id}`, { schemas: [PATCH], Operations: [{ op: 'replace', path: 'members', value: [{ value: u1.id }] }] });
      assert.deepEqual(replaced.body.members.map((m: Json) => m.value), [u1.id]);
      assertError(await call('PATCH', `/Groups/${g.id}`, { schemas: [PATCH], Operations: [{ op: 'add', path: 'members', value: [{ value: '00000000-0000-4000-8000-000000000000' }] }] }), 400, 'invalidValue');
      const events = await tdb.database.query<{ data: Json }>(sql`select data from auth.outbox where type = 'io.zenokube.auth.group.membership-changed' and data->>'groupId' = ${g.id} order by seq`);
      assert.equal(events.length, 4);
    });

    it('deletes a group and removes it from every group it belonged to', async () => {
      const child = await newGroup('del-child');
      const parent = await newGroup('del-parent', [{ value: child.id, type: 'Group' }]);
      assert.equal((await call('DELETE', `/Groups/${child.id}`)).status, 204);
      assert.equal((await call('GET', `/Groups/${parent.id}`)).body.members, undefined);
      assertError(await call('GET', `/Groups/${child.id}`), 404);
    });
  });

  describe('tenant isolation', () => {
    it('never shows, changes or links a resource of another tenant', async () => {
      const mine = await newUser('isolated');
      const g = await newGroup('isolated-group');
      assertError(await call('GET', `/Users/${mine.id}`, undefined, { auth: otherToken, tenant: 'globex' }), 404);
      assertError(await call('PATCH', `/Groups/${g.id}`, { schemas: [PATCH], Operations: [{ op: 'replace', path: 'displayName', value: 'pwned' }] }, { auth: otherToken, tenant: 'globex' }), 404);
      assertError(await call('DELETE', `/Users/${mine.id}`, undefined, { auth: otherToken, tenant: 'globex' }), 404);
      assert.equal((await call('GET', `/Users?filter=${encodeURIComponent('userName eq "isolated"')}`, undefined, { auth: otherToken, tenant: 'globex' })).body.totalResults, 0);
      const theirs = await call('POST', '/Groups', { schemas: [GROUP], displayName: 'theirs', members: [{ value: mine.id }] }, { auth: otherToken, tenant: 'globex' });
      assertError(theirs, 400, 'invalidValue');
    });
  });

  describe('RFC 7644 §4 discovery, §3.11 /Me', () => {
    it('serves ServiceProviderConfig, ResourceTypes and Schemas', async () => {
      const spc = await call('GET', '/ServiceProviderConfig');
      assert.equal(spc.body.patch.supported, true);
      assert.equal(spc.body.etag.supported, true);
      assert.equal(spc.body.filter.maxResults, 200);
      const rts = await call('GET', '/ResourceTypes');
      assert.deepEqual((rts.body.Resources as Json[]).map((r) => r.id), ['User', 'Group', 'Tombstone']);
      const schemas = await call('GET', '/Schemas');
      assert.deepEqual((schemas.body.Resources as Json[]).map((s) => s.id), [USER, GROUP, ENTERPRISE, 'urn:zenokube:params:scim:schemas:sync:2.0:Tombstone']);
      assert.equal((await call('GET', `/Schemas/${GROUP}`)).body.name, 'Group');
      assertError(await call('GET', '/Schemas/urn:nope'), 404);
      assertError(await call('GET', '/Me'), 501);
      assertError(await call('GET', '/Nope'), 404);
    });
  });
});
