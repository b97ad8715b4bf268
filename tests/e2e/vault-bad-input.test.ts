// Hostile and malformed input against the vault over HTTP: Vault-shaped 4xx errors, never a 500,
// and nothing partially written.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'drizzle-orm';
import { Agent } from 'undici';
import { createTestDatabase, type TestDatabase } from '#tests/support/database';
import { startVaultServer, type VaultServer } from './vault-server.js';

describe('vault bad input', () => {
  let tdb: TestDatabase;
  let vs: VaultServer;
  let root: string;
  let keys: string[];

  const call = async (method: string, path: string, body?: string | object, token: string | undefined = root) => {
    const res = await fetch(`${vs.baseUrl}/vault/v1/${path}`, {
      method,
      headers: { 'content-type': 'application/json', ...(token ? { 'x-vault-token': token } : {}) },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, type: res.headers.get('content-type') ?? '', body: text ? (JSON.parse(text) as { errors?: string[] } & Record<string, any>) : null };
  };
  const versionsOf = async (path: string) =>
    Number((await tdb.database.query<{ n: string }>(sql`select count(*) as n from vault.kv_versions where path = ${path}`))[0]!.n);

  before(async () => {
    tdb = await createTestDatabase();
    vs = await startVaultServer(tdb.database);
    const init = await call('PUT', 'sys/init', { secret_shares: 3, secret_threshold: 2 });
    root = init.body!.root_token;
    keys = init.body!.keys;
  });
  after(async () => {
    await vs?.close();
    await tdb?.drop();
  });

  it('answers every request with 503 while sealed, and refuses bad init and unseal input with 400', async () => {
    assert.deepEqual((await call('GET', 'secret/data/x')).body, { errors: ['Vault is sealed'] });
    for (const [body, status] of [
      [{ secret_shares: 3, secret_threshold: 5 }, 400],
      [{ secret_shares: 300, secret_threshold: 2 }, 400],
      ['{"secret_shares": ', 400],
    ] as const) {
      const r = await call('PUT', 'sys/init', body);
      assert.equal(r.status, status);
      assert.ok(Array.isArray(r.body?.errors));
    }
    for (const key of ['zz-not-a-key!', 'abcd', '']) {
      const r = await call('PUT', 'sys/unseal', { key });
      assert.equal(r.status, 400, key);
      assert.ok(Array.isArray(r.body?.errors));
    }
    assert.equal((await call('PUT', 'sys/unseal', '[1,2]')).status, 400);
    await call('PUT', 'sys/unseal', { key: keys[0] });
    const s = await call('PUT', 'sys/unseal', { key: keys[1] });
    assert.equal(s.body!.sealed, false);
  });

  it('refuses malformed JSON and non-object bodies with 400 and writes nothing', async () => {
    for (const body of ['{"data": {"a": ', '[]', '"text"', 'null', '{"data": [1, 2]}', '{"data": "x"}', '{"options": {"cas": "x"}, "data": {}}', '{}']) {
      const r = await call('PUT', 'secret/data/bad', body);
      assert.equal(r.status, 400, body);
      assert.ok(r.type.startsWith('application/json'));
      assert.equal(r.body!.errors!.length, 1, body);
    }
    assert.equal(await versionsOf('bad'), 0);
    assert.equal((await call('GET', 'secret/metadata/bad')).status, 404);
  });

  it('refuses an oversized secret with 413 and writes nothing', async () => {
    const big = 'x'.repeat(600 * 1024);
    const r = await call('PUT', 'secret/data/big', { data: { big } });
    assert.equal(r.status, 413);
    assert.match(r.body!.errors![0]!, /too large/);
    assert.equal(await versionsOf('big'), 0);
    // Beyond the platform's body limit the request never reaches the vault handler.
    // The server answers before reading the body and closes: use a connection of its own.
    const agent = new Agent();
    try {
      const huge = await fetch(`${vs.baseUrl}/vault/v1/secret/data/big`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json', 'x-vault-token': root },
        body: JSON.stringify({ data: { big: 'y'.repeat(2 * 1024 * 1024) } }),
        dispatcher: agent,
      } as unknown as RequestInit);
      assert.equal(huge.status, 413);
      assert.equal(huge.headers.get('content-type'), 'application/json');
      assert.deepEqual(await huge.json(), { errors: ['The request body exceeds 1048576 bytes.'] });
      // The same without a declared length: the body streams in chunks until it passes the limit.
      const chunk = new TextEncoder().encode('{"data": {"big": "' + 'z'.repeat(64 * 1024));
      let sent = 0;
      const stream = new ReadableStream<Uint8Array>({
        pull(controller) {
          if (sent++ < 40) controller.enqueue(chunk);
          else controller.close();
        },
      });
      const chunked = await fetch(`${vs.baseUrl}/vault/v1/secret/data/big`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json', 'x-vault-token': root },
        body: stream,
        duplex: 'half',
        dispatcher: agent,
      } as unknown as RequestInit);
      assert.equal(chunked.status, 413);
      assert.equal(chunked.headers.get('content-type'), 'application/json');
      assert.equal(((await chunked.json()) as { errors: string[] }).errors.length, 1);
      // The unsealer's sys/ paths answer the same way.
      const unseal = await fetch(`${vs.baseUrl}/vault/v1/sys/unseal`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ key: 'k'.repeat(2 * 1024 * 1024) }),
        dispatcher: agent,
      } as unknown as RequestInit);
      assert.equal(unseal.status, 413);
      assert.deepEqual(await unseal.json(), { errors: ['The request body exceeds 1048576 bytes.'] });
    } finally {
      await agent.close();
    }
    assert.equal(await versionsOf('big'), 0);
  });

  it('answers unknown paths with 404 for a valid token and 403 without one', async () => {
    const unknown = await call('GET', 'nope/such/path');
    assert.equal(unknown.status, 404);
    assert.match(unknown.body!.errors![0]!, /no handler for route/);
    assert.deepEqual(await call('GET', 'secret/data/never-written'), { status: 404, type: 'application/json', body: { errors: [] } });
    assert.deepEqual((await call('GET', 'nope/such/path', undefined, '')).body, { errors: ['permission denied'] });
  });

  it('refuses wrong, forged and expired tokens with 403', async () => {
    for (const token of ['hvs.forged', 'x'.repeat(5000), root + 'x', root.slice(0, -1)]) {
      const r = await call('GET', 'secret/data/x', undefined, token);
      assert.equal(r.status, 403);
      assert.deepEqual(r.body, { errors: ['permission denied'] });
    }
    const short = await call('POST', 'auth/token/create', { ttl: '1s', policies: ['default'] });
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal((await call('GET', 'auth/token/lookup-self', undefined, short.body!.auth.client_token)).status, 403);
  });

  it('refuses bad paths, versions, operations and policies with 4xx', async () => {
    await call('PUT', 'secret/data/ok', { data: { a: 1 } });
    for (const [method, path, body] of [
      ['GET', 'secret/data/ok?version=abc', undefined],
      ['GET', 'secret/data/ok?version=-1', undefined],
      ['PUT', 'secret/data/a%2F%2Fb', { data: { a: 1 } }],
      ['PUT', 'secret/data/a%2F..%2Fb', { data: { a: 1 } }],
      ['POST', 'secret/delete/ok', { versions: [1e20] }],
      ['PUT', 'secret/metadata/ok', { max_versions: 1e12 }],
      ['PUT', 'secret/data/a%00b', { data: { a: 1 } }],
      ['GET', 'secret/data/%E0%A4%A', undefined],
      ['POST', 'secret/delete/ok', { versions: ['x'] }],
      ['POST', 'secret/destroy/ok', {}],
      ['PUT', 'secret/metadata/ok', { max_versions: -1 }],
      ['PUT', 'secret/metadata/ok', { custom_metadata: { a: 1 } }],
      ['PUT', 'secret/metadata/ok', { delete_version_after: 'soon' }],
      ['PUT', 'sys/policies/acl/bad', { policy: 'path "a" {' }],
      ['PUT', 'sys/policies/acl/bad', {}],
      ['PUT', 'sys/policies/acl/root', { policy: 'path "a" { capabilities = ["read"] }' }],
      ['PUT', 'sys/policies/acl/Bad Name!', { policy: 'path "a" { capabilities = ["read"] }' }],
      ['POST', 'auth/token/create', { ttl: 'forever' }],
      ['POST', 'auth/token/create', { num_uses: -1 }],
      ['POST', 'auth/token/create', { policies: [1, 2] }],
      ['PATCH', 'secret/metadata/ok', { max_versions: 1 }],
      ['DELETE', 'auth/token/lookup-self', undefined],
    ] as const) {
      const r = await call(method, path, body);
      assert.ok(r.status >= 400 && r.status < 500, `${method} ${path} answered ${r.status}`);
      assert.ok(Array.isArray(r.body?.errors), `${method} ${path} is Vault-shaped`);
    }
    assert.equal((await call('GET', 'secret/data/ok')).body!.data.data.a, 1);
  });

  it('never answers 500 to a barrage of odd bodies on every route', async () => {
    const bodies = ['', '{', '{}', '[]', '0', '"s"', '{"data": null}', '{"data": {"a": {"b": [null, true, 1e308]}}}', '{"versions": [1e20]}', '{"policy": 5}', '{"key": {"x": 1}}', '{"ttl": -5}', '{"\\u0000": "\\u0000"}', '{"custom_metadata": {"\\u0000": "x"}}', '{"policy": "path \\"\\u0000\\" { capabilities = [] }"}', '{"meta": {"a": "\\u0000"}}'];
    const paths = ['secret/data/odd', 'secret/metadata/odd', 'secret/delete/odd', 'secret/undelete/odd', 'secret/destroy/odd', 'auth/token/create', 'auth/token/renew-self', 'auth/token/lookup', 'sys/policies/acl/odd', 'sys/capabilities-self', 'sys/unseal', 'sys/init'];
    for (const path of paths) {
      for (const body of bodies) {
        const r = await call('POST', path, body);
        assert.ok(r.status < 500, `POST ${path} ${body} answered ${r.status}`);
      }
    }
    assert.equal((await call('GET', 'sys/seal-status')).body!.sealed, false);
  });

  it('refuses too deep or too wide JSON with a Vault-shaped 400 before parsing, and writes nothing', async () => {
    for (const body of [`{"data": ${'['.repeat(200_000)}${']'.repeat(200_000)}}`, `{"data": {"a": ${'{"b": '.repeat(65)}1${'}'.repeat(65)}}}`, `{"data": ${'['.repeat(100_000)}`]) {
      const r = await call('PUT', 'secret/data/deep', body);
      assert.equal(r.status, 400);
      assert.equal(r.type, 'application/json');
      assert.match(r.body!.errors![0]!, /nests deeper than 64 levels/);
    }
    const wide = JSON.stringify({ data: Object.fromEntries(Array.from({ length: 10_001 }, (_, i) => [`k${i}`, 1])) });
    const w = await call('PUT', 'secret/data/deep', wide);
    assert.equal(w.status, 400);
    assert.match(w.body!.errors![0]!, /more than 10000 keys/);
    assert.equal(await versionsOf('deep'), 0);
    // The limits themselves pass: 64 levels, and 9,999 keys (with the body's own `data`).
    const ok64 = await call('PUT', 'secret/data/deep', `{"data": {"a": ${'['.repeat(62)}"x"${']'.repeat(62)}}}`);
    assert.equal(ok64.status, 200);
    const okWide = await call('PUT', 'secret/data/deep', { data: Object.fromEntries(Array.from({ length: 9_999 }, (_, i) => [`k${i}`, 1])) });
    assert.equal(okWide.status, 200);
    assert.equal(await versionsOf('deep'), 2);
  });

  it('bounds the versions of delete, undelete and destroy, and applies a full valid list', async () => {
    for (let i = 1; i <= 3; i++) assert.equal((await call('PUT', 'secret/data/many', { data: { i } })).status, 200);
    for (const verb of ['delete', 'undelete', 'destroy']) {
      const r = await call('POST', `secret/${verb}/many`, { versions: Array.from({ length: 70_000 }, (_, i) => i + 1) });
      assert.equal(r.status, 400, verb);
      assert.match(r.body!.errors![0]!, /at most 1000 versions/);
    }
    assert.equal((await call('GET', 'secret/data/many')).body!.data.data.i, 3);
    const all = Array.from({ length: 1000 }, (_, i) => i + 1);
    assert.equal((await call('POST', 'secret/delete/many', { versions: [...all.slice(0, 500), ...all] })).status, 400, 'more than 1000 entries, duplicates or not');
    assert.equal((await call('POST', 'secret/destroy/many', { versions: all })).status, 204);
    const rows = await tdb.database.query<{ n: string }>(sql`select count(*) as n from vault.kv_versions where path = 'many' and destroyed and ciphertext is null`);
    assert.equal(Number(rows[0]!.n), 3);
  });

  it('refuses a control character in a path with an audited 400', async () => {
    for (const path of ['secret/data/c%00d', 'secret/data/a%0Ab', 'secret/metadata/x%1F', 'nope/%7F', 'sys/policies/acl/p%00']) {
      for (const method of ['GET', 'PUT']) {
        const r = await call(method, path, method === 'PUT' ? { data: { a: 1 } } : undefined);
        assert.equal(r.status, 400, `${method} ${path}`);
        assert.deepEqual(r.body, { errors: ['invalid path: it contains a control character'] });
      }
    }
    const audited = await tdb.database.query<{ path: string; decision: string; accessor: string | null }>(
      sql`select path, decision, accessor from vault.audit_log where error = 'invalid path: it contains a control character' and path = ${'secret/data/c\\u0000d'}`,
    );
    assert.equal(audited.length, 2);
    assert.ok(audited.every((a) => a.decision === 'allow' && a.accessor));
    // Without a valid token it is a 403 like any other path, audited too.
    const anon = await call('GET', 'secret/data/a%00b', undefined, '');
    assert.equal(anon.status, 403);
    assert.deepEqual(anon.body, { errors: ['permission denied'] });
  });

  it('refuses namespaces with a 400 instead of ignoring them; wraps on the api, refuses wrapping on the sys/ paths', async () => {
    const withHeaders = async (headers: Record<string, string>) => {
      const res = await fetch(`${vs.baseUrl}/vault/v1/secret/data/ok`, { headers: { 'x-vault-token': root, ...headers } });
      return { status: res.status, body: (await res.json()) as { errors?: string[]; data?: unknown; wrap_info?: { token?: string } | null } };
    };
    const wrapped = await withHeaders({ 'x-vault-wrap-ttl': '60s' });
    assert.equal(wrapped.status, 200);
    assert.equal(wrapped.body.data, null);
    assert.match(wrapped.body.wrap_info?.token ?? '', /^hvs\./);
    for (const ns of ['team-a', 'root/child', 'admin/']) {
      assert.deepEqual(await withHeaders({ 'x-vault-namespace': ns }), { status: 400, body: { errors: ['namespaces are not supported'] } }, ns);
    }
    for (const headers of [{ 'x-vault-namespace': '' }, { 'x-vault-namespace': 'root' }, { 'x-vault-namespace': 'root/' }, { 'x-vault-wrap-ttl': '' }] as Record<string, string>[]) {
      const r = await withHeaders(headers);
      assert.equal(r.status, 200, JSON.stringify(headers));
      assert.ok(r.body.data);
    }
    const audited = await tdb.database.query<{ n: string }>(sql`select count(*) as n from vault.audit_log where error in ('response wrapping is not supported', 'namespaces are not supported')`);
    assert.equal(Number(audited[0]!.n), 3);
    // The unsealer's sys/ paths too.
    for (const [headers, message] of [
      [{ 'x-vault-wrap-ttl': '5m' }, 'response wrapping is not supported'],
      [{ 'x-vault-namespace': 'team-a' }, 'namespaces are not supported'],
    ] as const) {
      const res = await fetch(`${vs.baseUrl}/vault/v1/sys/seal-status`, { headers });
      assert.equal(res.status, 400);
      assert.deepEqual(await res.json(), { errors: [message] });
    }
    assert.equal((await fetch(`${vs.baseUrl}/vault/v1/sys/seal-status`, { headers: { 'x-vault-namespace': 'root' } })).status, 200);
  });

  it('refuses an unseal key that is neither hex nor padded base64 with 400 while unsealed', async () => {
    assert.equal((await call('GET', 'sys/seal-status')).body!.sealed, false);
    for (const key of ['zz-not-a-key!', 'abc', 'a-b_c-d_', 'abcde', 'YWJj=', '0x1234']) {
      const r = await call('PUT', 'sys/unseal', { key });
      assert.equal(r.status, 400, key);
      assert.deepEqual(r.body, { errors: ["'key' must be a valid hex or base64 string"] }, key);
    }
    // A well-formed key while unsealed only reports the status.
    const again = await call('PUT', 'sys/unseal', { key: keys[0] });
    assert.equal(again.status, 200);
    assert.equal(again.body!.sealed, false);
  });
});

