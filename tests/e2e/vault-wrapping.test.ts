// Response wrapping on real PostgreSQL, through node-vault and the vault CLI's HTTP shapes
// (`X-Vault-Wrap-TTL`, sys/wrapping/*): a wrapped answer is stored encrypted under a single-use
// token, unwrapped exactly once even under concurrency, refused when spent, expired, forged or
// used elsewhere, and no clear secret reaches a table or the audit log.
// @see https://developer.hashicorp.com/vault/docs/concepts/response-wrapping
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { sql } from 'drizzle-orm';
import nodeVault from 'node-vault';
import { createTestDatabase, type TestDatabase } from '#tests/support/database';
import type { RowMac } from '#functions/vault/core/integrity';
import { operatorRowMac, resignToken, startVaultServer, statusOf, type VaultServer } from './vault-server.js';

interface WrapInfo {
  token: string;
  accessor: string;
  ttl: number;
  creation_time: string;
  creation_path: string;
  wrapped_accessor?: string;
}
type Answer = { status: number; body: Record<string, unknown> & { errors?: string[]; data?: Record<string, unknown> | null; wrap_info?: WrapInfo | null } };

const INVALID = { errors: ['wrapping token is not valid or does not exist'] };

describe('ZenoVault response wrapping', () => {
  let tdb: TestDatabase;
  let vs: VaultServer;
  let root: string;
  let operatorMac: RowMac;
  const client = (token?: string) => nodeVault({ apiVersion: 'v1', endpoint: vs.endpoint, token, noCustomHTTPVerbs: true });
  /** A call as the vault CLI makes it: JSON body, token and wrap TTL headers. */
  const call = async (method: string, path: string, opts: { token?: string | undefined; body?: unknown; wrapTtl?: string } = {}): Promise<Answer> => {
    const headers: Record<string, string> = {};
    if (opts.token !== undefined) headers['x-vault-token'] = opts.token;
    if (opts.wrapTtl !== undefined) headers['x-vault-wrap-ttl'] = opts.wrapTtl;
    const res = await fetch(`${vs.baseUrl}/vault/v1/${path}`, { method, headers, body: opts.body === undefined ? undefined : JSON.stringify(opts.body) });
    const text = await res.text();
    return { status: res.status, body: text ? (JSON.parse(text) as Answer['body']) : {} };
  };
  const wrapInfo = (a: Answer): WrapInfo => {
    assert.equal(a.status, 200, JSON.stringify(a.body));
    assert.equal(a.body.data, null);
    return a.body.wrap_info!;
  };
  const putSecret = async (path: string, data: Record<string, string>) => client(root).write(`secret/data/${path}`, { data });
  const wrapRead = async (path: string, ttl = '5m') => wrapInfo(await call('GET', `secret/data/${path}`, { token: root, wrapTtl: ttl }));

  before(async () => {
    tdb = await createTestDatabase();
    vs = await startVaultServer(tdb.database);
    const init = await client().init({ secret_shares: 1, secret_threshold: 1 });
    root = init.root_token;
    await client().unseal({ key: init.keys[0] });
    operatorMac = await operatorRowMac(tdb.database, init.keys);
  });
  after(async () => {
    await vs?.close();
    await tdb?.drop();
  });

  it('wraps a KV read into wrap_info and unwraps it once with node-vault', async () => {
    const marker = `marker-${randomBytes(8).toString('hex')}`;
    await putSecret('app/db', { password: marker });
    const res = await client(root).read('secret/data/app/db', { headers: { 'X-Vault-Wrap-TTL': '5m' } });
    assert.equal(res.data, null);
    const info = res.wrap_info as WrapInfo;
    assert.match(info.token, /^hvs\./);
    assert.equal(info.ttl, 300);
    assert.equal(info.creation_path, 'secret/data/app/db');
    assert.ok(Math.abs(Date.parse(info.creation_time) - Date.now()) < 60_000, info.creation_time);
    assert.equal(typeof info.accessor, 'string');
    assert.equal(info.wrapped_accessor, undefined);
    // The wrapping token as Vault makes it: single use, response-wrapping policy, orphan, bounded.
    const [row] = await tdb.database.query<{ policies: string[]; num_uses: number; orphan: boolean; renewable: boolean; explicit_max_ttl_seconds: number; path: string }>(
      sql`select policies, num_uses, orphan, renewable, explicit_max_ttl_seconds, path from vault.tokens where accessor = ${info.accessor}`,
    );
    assert.deepEqual(row, { policies: ['response-wrapping'], num_uses: 1, orphan: true, renewable: false, explicit_max_ttl_seconds: 300, path: 'secret/data/app/db' });

    const unwrapped = await client(root).unwrap({ token: info.token });
    assert.deepEqual((unwrapped.data as { data: unknown }).data, { password: marker });
    assert.equal((unwrapped.data as { metadata: { version: number } }).metadata.version, 1);
    // Replay of a spent token.
    await assert.rejects(client(root).unwrap({ token: info.token }), (err: Error & { response?: { statusCode: number } }) => {
      assert.equal(err.response?.statusCode, 400);
      assert.equal(err.message, 'wrapping token is not valid or does not exist');
      return true;
    });
    const [left] = await tdb.database.query<{ n: number }>(sql`select count(*)::int as n from vault.wrapped_responses where accessor = ${info.accessor}`);
    assert.equal(left!.n, 0);
  });

  it('unwraps with the wrapping token as the caller token (vault unwrap TOKEN), and refuses its replay', async () => {
    await putSecret('cli', { k: 'v1' });
    const info = await wrapRead('cli');
    const first = await call('PUT', 'sys/wrapping/unwrap', { token: info.token });
    assert.equal(first.status, 200);
    assert.deepEqual((first.body.data as { data: unknown }).data, { k: 'v1' });
    assert.deepEqual(await call('PUT', 'sys/wrapping/unwrap', { token: info.token }), { status: 400, body: INVALID });
    // Wrapping token in both places: the caller's use spends it, as Vault warns.
    const both = await wrapRead('cli');
    assert.deepEqual(await call('PUT', 'sys/wrapping/unwrap', { token: both.token, body: { token: both.token } }), { status: 403, body: { errors: ['permission denied'] } });
  });

  it('hands the response to exactly one of 8 concurrent unwraps', async () => {
    await putSecret('race', { v: 'only-once' });
    for (let round = 0; round < 3; round++) {
      const info = await wrapRead('race');
      const answers = await Promise.all(
        Array.from({ length: 8 }, (_, i) => (i % 2 === 0 ? call('PUT', 'sys/wrapping/unwrap', { token: info.token }) : call('PUT', 'sys/wrapping/unwrap', { token: root, body: { token: info.token } }))),
      );
      const winners = answers.filter((a) => a.status === 200);
      assert.equal(winners.length, 1, JSON.stringify(answers.map((a) => a.status)));
      assert.deepEqual((winners[0]!.body.data as { data: unknown }).data, { v: 'only-once' });
      for (const a of answers.filter((x) => x.status !== 200)) assert.deepEqual(a, { status: 400, body: INVALID });
    }
  });

  it('refuses a wrapping token used as a normal token on another path, and that use spends it (as Vault)', async () => {
    await putSecret('elsewhere', { s: 'x' });
    const info = await wrapRead('elsewhere');
    assert.equal((await call('GET', 'secret/data/elsewhere', { token: info.token })).status, 403);
    assert.equal((await call('GET', 'auth/token/lookup-self', { token: info.token })).status, 403);
    assert.deepEqual(await call('PUT', 'sys/wrapping/unwrap', { token: root, body: { token: info.token } }), { status: 400, body: INVALID });
    // A token of the response-wrapping policy cannot be minted, nor the policy written.
    assert.deepEqual(await call('PUT', 'auth/token/create', { token: root, body: { policies: ['response-wrapping'] } }), {
      status: 400,
      body: { errors: ['cannot assign policy "response-wrapping"'] },
    });
    assert.equal((await call('PUT', 'sys/policies/acl/response-wrapping', { token: root, body: { policy: 'path "secret/*" { capabilities = ["read"] }' } })).status, 400);
  });

  it('refuses an expired wrapping token', async () => {
    await putSecret('ttl', { s: 'x' });
    const info = await wrapRead('ttl', '30s');
    // Expired as time would expire it: the row re-signed as the vault would (rows carry a MAC).
    await tdb.database.query(sql`update vault.tokens set expires_at = date_trunc('milliseconds', now() - interval '1 second') where accessor = ${info.accessor}`);
    await resignToken(tdb.database, operatorMac, info.accessor);
    assert.deepEqual(await call('PUT', 'sys/wrapping/lookup', { body: { token: info.token } }), { status: 400, body: INVALID });
    assert.deepEqual(await call('PUT', 'sys/wrapping/unwrap', { token: info.token }), { status: 400, body: INVALID });
  });

  it('answers hostile and malformed wrap TTLs with a 400 in Vault shape, before the handler runs', async () => {
    await putSecret('hostile', { s: 'v1' });
    const cases: Array<[string, string]> = [
      ['-5', 'requested wrap ttl cannot be negative'],
      ['-1h', 'requested wrap ttl cannot be negative'],
      ['abc', 'time: invalid duration "abc"'],
      ['5 minutes', 'time: invalid duration "5 minutes"'],
      ['1e3', 'time: invalid duration "1e3"'],
      ['0.5s', 'wrapping ttl is lower than the minimum of 1s'],
      ['769h', 'wrapping ttl exceeds the maximum of 2764800s'],
      ['99999999999999999999', 'wrapping ttl exceeds the maximum of 2764800s'],
      ['x'.repeat(5000), 'time: invalid duration'],
    ];
    for (const [ttl, message] of cases) {
      const write = await call('PUT', 'secret/data/hostile', { token: root, wrapTtl: ttl, body: { data: { s: 'changed' } } });
      assert.deepEqual(write, { status: 400, body: { errors: [message] } }, ttl.slice(0, 20));
    }
    // None of the refused writes happened.
    const current = await client(root).read('secret/data/hostile');
    assert.deepEqual(current.data.data, { s: 'v1' });
    assert.equal(current.data.metadata.version, 1);
    // Zero means no wrapping, as in Vault.
    const plain = await call('GET', 'secret/data/hostile', { token: root, wrapTtl: '0' });
    assert.equal(plain.status, 200);
    assert.equal(plain.body.wrap_info, null);
    // A namespace is still refused.
    assert.equal((await fetch(`${vs.baseUrl}/vault/v1/secret/data/hostile`, { headers: { 'x-vault-token': root, 'x-vault-namespace': 'team' } })).status, 400);
  });

  it('wraps arbitrary data with sys/wrapping/wrap, looks it up without spending it, rewraps it', async () => {
    assert.deepEqual(await call('PUT', 'sys/wrapping/wrap', { token: root, body: { foo: 'bar' } }), {
      status: 400,
      body: { errors: ['endpoint requires response wrapping to be used'] },
    });
    const res = await client(root).write('sys/wrapping/wrap', { foo: 'bar', zip: 'zap' }, { headers: { 'X-Vault-Wrap-TTL': '60' } });
    const info = res.wrap_info as WrapInfo;
    assert.equal(info.creation_path, 'sys/wrapping/wrap');
    assert.equal(info.ttl, 60);
    // Lookup needs no token of its own and spends nothing.
    for (let i = 0; i < 2; i++) {
      const look = await call('PUT', 'sys/wrapping/lookup', { body: { token: info.token } });
      assert.equal(look.status, 200);
      assert.deepEqual(look.body.data, { creation_path: 'sys/wrapping/wrap', creation_time: info.creation_time, creation_ttl: 60 });
    }
    const rewrapped = wrapInfo(await call('PUT', 'sys/wrapping/rewrap', { token: info.token }));
    assert.notEqual(rewrapped.token, info.token);
    assert.equal(rewrapped.creation_path, 'sys/wrapping/wrap');
    assert.equal(rewrapped.ttl, 60);
    assert.deepEqual(await call('PUT', 'sys/wrapping/unwrap', { token: info.token }), { status: 400, body: INVALID });
    const unwrapped = await call('PUT', 'sys/wrapping/unwrap', { token: root, body: { token: rewrapped.token } });
    assert.deepEqual(unwrapped.body.data, { foo: 'bar', zip: 'zap' });
  });

  it('wraps a token creation, with the created token accessor in wrapped_accessor', async () => {
    const res = await call('PUT', 'auth/token/create', { token: root, wrapTtl: '2m', body: { policies: ['default'], ttl: '1h' } });
    const info = wrapInfo(res);
    assert.equal(info.creation_path, 'auth/token/create');
    const unwrapped = await call('PUT', 'sys/wrapping/unwrap', { token: info.token });
    const auth = unwrapped.body.auth as { client_token: string; accessor: string };
    assert.equal(info.wrapped_accessor, auth.accessor);
    const self = await client(auth.client_token).tokenLookupSelf();
    assert.equal(self.data.accessor, auth.accessor);
  });

  it('refuses a non-wrapping token given to unwrap without spending its uses', async () => {
    const limited = await client(root).tokenCreate({ policies: ['default'], num_uses: 3 });
    assert.deepEqual(await call('PUT', 'sys/wrapping/unwrap', { token: root, body: { token: limited.auth.client_token } }), { status: 400, body: INVALID });
    assert.deepEqual(await call('PUT', 'sys/wrapping/lookup', { body: { token: limited.auth.client_token } }), { status: 400, body: INVALID });
    assert.equal((await client(root).tokenLookup({ token: limited.auth.client_token })).data.num_uses, 3);
    // No token at all.
    assert.equal((await call('PUT', 'sys/wrapping/unwrap', {})).status, 403);
    assert.deepEqual(await call('PUT', 'sys/wrapping/lookup', {}), { status: 400, body: { errors: ['missing "token" value in input'] } });
    // A caller without the unwrap capability cannot unwrap another's token by body.
    await client(root).write('sys/policies/acl/nowrap', { policy: 'path "sys/wrapping/unwrap" { capabilities = ["deny"] }' });
    const denied = await client(root).tokenCreate({ policies: ['nowrap'] });
    await putSecret('denied', { s: 'x' });
    const info = await wrapRead('denied');
    assert.equal(await statusOf(client(denied.auth.client_token).unwrap({ token: info.token })), 403);
    // ...and that refusal spent nothing of the wrapping token.
    assert.equal((await call('PUT', 'sys/wrapping/unwrap', { token: info.token })).status, 200);
  });

  it('refuses wrapped rows a database writer altered or swapped (403, audited)', async () => {
    await putSecret('swap-a', { s: 'secret-a' });
    await putSecret('swap-b', { s: 'secret-b' });
    const a = await wrapRead('swap-a');
    const b = await wrapRead('swap-b');
    await tdb.database.query(sql`
      update vault.wrapped_responses w set ciphertext = o.ciphertext, wrapped_dek = o.wrapped_dek
      from vault.wrapped_responses o
      where (w.accessor, o.accessor) in ((${a.accessor}, ${b.accessor}), (${b.accessor}, ${a.accessor}))`);
    const forged = { status: 403, body: { errors: ['integrity check failed'] } };
    assert.deepEqual(await call('PUT', 'sys/wrapping/unwrap', { token: a.token }), forged);
    assert.deepEqual(await call('PUT', 'sys/wrapping/unwrap', { token: root, body: { token: b.token } }), forged);
    // Extending a row's life is refused too.
    await putSecret('extend', { s: 'x' });
    const c = await wrapRead('extend');
    await tdb.database.query(sql`update vault.wrapped_responses set expires_at = expires_at + interval '30 days' where accessor = ${c.accessor}`);
    assert.deepEqual(await call('PUT', 'sys/wrapping/lookup', { body: { token: c.token } }), forged);
    const [audited] = await tdb.database.query<{ n: number }>(
      sql`select count(*)::int as n from vault.audit_log where type = 'response' and status = 403 and error = 'integrity check failed' and path like 'sys/wrapping/%'`,
    );
    assert.equal(audited!.n, 3);
    // The refusals spent nothing: the wrapping tokens are still there.
    const [live] = await tdb.database.query<{ n: number }>(
      sql`select count(*)::int as n from vault.tokens where accessor in (${a.accessor}, ${b.accessor}, ${c.accessor})`,
    );
    assert.equal(live!.n, 3);
  });

  it('keeps no clear secret in any table or the audit log', async () => {
    const marker = `plain-${randomBytes(12).toString('hex')}`;
    const wrapped = await client(root).write('sys/wrapping/wrap', { secret: marker }, { headers: { 'X-Vault-Wrap-TTL': '5m' } });
    const token = (wrapped.wrap_info as WrapInfo).token;
    const scan = async () => {
      const rows = await tdb.database.query<{ n: number }>(sql`
        select (select count(*) from vault.wrapped_responses w where position(${marker} in w::text) > 0
                  or position(convert_to(${marker}, 'UTF8') in w.ciphertext) > 0)
             + (select count(*) from vault.audit_log a where position(${marker} in a::text) > 0 or position(${token} in a::text) > 0)
             + (select count(*) from vault.tokens t where position(${token} in t::text) > 0) as n`);
      return Number(rows[0]!.n);
    };
    assert.equal(await scan(), 0);
    const unwrapped = await call('PUT', 'sys/wrapping/unwrap', { token });
    assert.deepEqual(unwrapped.body.data, { secret: marker });
    assert.equal(await scan(), 0);
    // The audit device has the wrapping token HMAC'd, so its use can be traced.
    const [audited] = await tdb.database.query<{ token: string }>(
      sql`select data->'wrap_info'->>'token' as token from vault.audit_log where type = 'response' and path = 'sys/wrapping/wrap' and status = 200 order by seq desc limit 1`,
    );
    assert.match(audited!.token, /^hmac-sha256:[0-9a-f]{64}$/);
  });
});
