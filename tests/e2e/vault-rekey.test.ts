// sys/rekey on real PostgreSQL: HashiCorp's ceremony (init, status, update with key + nonce,
// cancel), its refusals (wrong nonce, duplicate share, wrong share, PGP/backup/verification), two
// ceremonies started at once, a crash mid-rekey (the transaction fails: the old shares stay
// valid and nothing is half-rewrapped), and a second unsealer replica over the same database
// that notices the rekey on its next use and seals itself instead of going on with the old key.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'drizzle-orm';
import nodeVault from 'node-vault';
import { createTestDatabase, type TestDatabase } from '#tests/support/database';
import { call, startVaultServer, type Answer, type VaultServer } from './vault-server.js';


/** A share with one y byte changed: well formed, wrong. */
function corrupt(hex: string): string {
  const b = Buffer.from(hex, 'hex');
  b[0]! ^= 0x5a;
  return b.toString('hex');
}

describe('sys/rekey', () => {
  let tdb: TestDatabase;
  let a: VaultServer;
  let b: VaultServer;
  /** A third replica that stays sealed through the rekey. */
  let c: VaultServer;
  let keys: string[];
  let rootToken: string;
  const env = { VAULT_ROOT_CHECK_MS: '0' };
  const client = (vs: VaultServer) => nodeVault({ apiVersion: 'v1', endpoint: vs.endpoint, token: rootToken, noCustomHTTPVerbs: true });

  const unseal = async (vs: VaultServer, shares: string[]) => {
    let last: Answer | undefined;
    for (const key of shares) last = await call(vs, 'PUT', 'sys/unseal', { key });
    return last!;
  };
  const canary = async () =>
    Buffer.from((await tdb.database.query<{ canary: Uint8Array }>(sql`select canary from vault.seal_config`))[0]!.canary);
  const keks = async () =>
    (await tdb.database.query<{ path: string; wrapped_kek: Uint8Array }>(sql`select path, wrapped_kek from vault.mounts order by path`)).map(
      (r) => `${r.path}:${Buffer.from(r.wrapped_kek).toString('hex')}`,
    );

  before(async () => {
    tdb = await createTestDatabase({ max: 6 });
    // Two unsealers of one vault, as the two pods of the Deployment (each behind its own api here).
    a = await startVaultServer(tdb.database, env);
    b = await startVaultServer(tdb.database, env);
    c = await startVaultServer(tdb.database, env);
    const init = await call(a, 'PUT', 'sys/init', { secret_shares: 5, secret_threshold: 3 });
    keys = init.body.keys as string[];
    rootToken = init.body.root_token as string;
    assert.equal((await unseal(a, keys.slice(0, 3))).body.sealed, false);
    assert.equal((await unseal(b, keys.slice(2, 5))).body.sealed, false);
    await client(a).write('secret/data/before', { data: { password: 'written-before-the-rekey' } });
    await client(a).write('transit/keys/orders', {});
  });
  after(async () => {
    await c?.close();
    await b?.close();
    await a?.close();
    await tdb?.drop();
  });

  it('reports no rekey in progress, with the threshold of the current shares', async () => {
    const s = await call(a, 'GET', 'sys/rekey/init');
    assert.equal(s.status, 200);
    assert.deepEqual(s.body, { started: false, nonce: '', t: 0, n: 0, progress: 0, required: 3, pgp_fingerprints: null, backup: false, verification_required: false });
  });

  it('refuses PGP keys, backup, verification and a bad split with 400 in Vault\'s shape', async () => {
    for (const [body, msg] of [
      [{ secret_shares: 3, secret_threshold: 2, pgp_keys: ['a', 'b', 'c'] }, /PGP/],
      [{ secret_shares: 3, secret_threshold: 2, backup: true }, /backup/],
      [{ secret_shares: 3, secret_threshold: 2, require_verification: true }, /verification/],
      [{ secret_shares: 2, secret_threshold: 3 }, /threshold cannot be larger/],
      [{ secret_shares: 3, secret_threshold: 1 }, /greater than one/],
      [{ secret_shares: 'many', secret_threshold: 2 }, /integer/],
      [{}, /required/],
    ] as const) {
      const r = await call(a, 'PUT', 'sys/rekey/init', body);
      assert.equal(r.status, 400, JSON.stringify(body));
      assert.match(r.body.errors![0]!, msg);
    }
    assert.equal((await call(a, 'GET', 'sys/rekey/init')).body.started, false, 'a refused init starts nothing');
  });

  it('lets one of two rekeys started at once win; the other is refused', async () => {
    const both = await Promise.all([
      call(a, 'PUT', 'sys/rekey/init', { secret_shares: 3, secret_threshold: 2 }),
      call(b, 'PUT', 'sys/rekey/init', { secret_shares: 4, secret_threshold: 2 }),
    ]);
    assert.deepEqual(both.map((r) => r.status).sort(), [200, 400]);
    const lost = both.find((r) => r.status === 400)!;
    assert.match(lost.body.errors![0]!, /rekey already in progress/);
    const won = both.find((r) => r.status === 200)!;
    // Both replicas see the same ceremony.
    assert.equal((await call(b, 'GET', 'sys/rekey/init')).body.nonce, won.body.nonce);
    assert.equal((await call(a, 'DELETE', 'sys/rekey/init')).status, 204);
  });

  it('refuses a wrong nonce and a duplicate share, keeping the progress; cancel forgets it', async () => {
    const init = await call(a, 'PUT', 'sys/rekey/init', { secret_shares: 3, secret_threshold: 2 });
    assert.equal(init.body.started, true);
    const nonce = init.body.nonce as string;
    assert.match(nonce, /^[0-9a-f-]{36}$/);
    const wrong = await call(a, 'PUT', 'sys/rekey/update', { key: keys[0], nonce: '00000000-0000-0000-0000-000000000000' });
    assert.equal(wrong.status, 400);
    assert.match(wrong.body.errors![0]!, /incorrect nonce/);
    // The refusal is audited.
    const audited = await tdb.database.query<{ decision: string; error: string }>(
      sql`select decision, error from vault.audit_log where path = 'sys/rekey/update' order by seq desc limit 1`,
    );
    assert.equal(audited[0]!.decision, 'deny');
    assert.match(audited[0]!.error, /incorrect nonce/);
    assert.equal((await call(a, 'PUT', 'sys/rekey/update', { key: keys[0] })).status, 400, 'a missing nonce');
    const first = await call(a, 'PUT', 'sys/rekey/update', { key: keys[0], nonce });
    assert.deepEqual([first.status, first.body.progress, first.body.required], [200, 1, 3]);
    // The same share again, through the other replica: refused, the progress stays.
    const dup = await call(b, 'PUT', 'sys/rekey/update', { key: keys[0], nonce });
    assert.equal(dup.status, 400);
    assert.match(dup.body.errors![0]!, /already been provided/);
    assert.equal((await call(b, 'GET', 'sys/rekey/init')).body.progress, 1);
    assert.equal((await call(a, 'PUT', 'sys/rekey/update', { key: 'not-a-key!', nonce })).status, 400);
    assert.equal((await call(a, 'DELETE', 'sys/rekey/init')).status, 204);
    assert.equal((await call(a, 'GET', 'sys/rekey/init')).body.started, false);
    const after = await call(a, 'PUT', 'sys/rekey/update', { key: keys[1], nonce });
    assert.equal(after.status, 400);
    assert.match(after.body.errors![0]!, /no rekey in progress/);
  });

  it('counts shares given at once through both replicas (no lost update), and completes once', async () => {
    const init = await call(a, 'PUT', 'sys/rekey/init', { secret_shares: 1, secret_threshold: 1 });
    const nonce = init.body.nonce;
    const two = await Promise.all([
      call(a, 'PUT', 'sys/rekey/update', { key: keys[0], nonce }),
      call(b, 'PUT', 'sys/rekey/update', { key: keys[1], nonce }),
    ]);
    assert.deepEqual(two.map((r) => r.body.progress).sort(), [1, 2]);
    assert.equal((await call(a, 'GET', 'sys/rekey/init')).body.progress, 2);
    // A moved nonce column no longer matches the sealed state bound to it.
    await tdb.database.query(sql`update vault.ceremonies set nonce = ${'11111111-1111-1111-1111-111111111111'} where kind = 'rekey'`);
    assert.equal((await call(a, 'GET', 'sys/rekey/init')).status, 403);
    await tdb.database.query(sql`update vault.ceremonies set nonce = ${nonce as string} where kind = 'rekey'`);
    assert.equal((await call(a, 'GET', 'sys/rekey/init')).body.progress, 2);
    assert.equal((await call(a, 'DELETE', 'sys/rekey/init')).status, 204);
  });

  it('stores no share in the clear: the ceremony row holds only sealed bytes', async () => {
    const init = await call(a, 'PUT', 'sys/rekey/init', { secret_shares: 3, secret_threshold: 2 });
    await call(a, 'PUT', 'sys/rekey/update', { key: keys[3], nonce: init.body.nonce });
    const rows = await tdb.database.query<{ sealed: Uint8Array }>(sql`select sealed from vault.ceremonies where kind = 'rekey'`);
    const dump = Buffer.from(rows[0]!.sealed);
    const share = Buffer.from(keys[3]!, 'hex');
    assert.equal(dump.includes(share), false);
    assert.equal(dump.includes(Buffer.from(share.toString('base64'))), false);
    assert.equal(dump.includes(Buffer.from(keys[3]!)), false);
    // A database writer changing the sealed state is refused, not obeyed.
    await tdb.database.query(sql`update vault.ceremonies set sealed = set_byte(sealed, 20, get_byte(sealed, 20) # 1) where kind = 'rekey'`);
    const forged = await call(a, 'GET', 'sys/rekey/init');
    assert.equal(forged.status, 403);
    assert.deepEqual(forged.body.errors, ['integrity check failed']);
    assert.equal((await call(a, 'DELETE', 'sys/rekey/init')).status, 204);
  });

  it('refuses shares that do not rebuild the root key (canary), resets the progress, changes nothing', async () => {
    const before = await canary();
    const init = await call(a, 'PUT', 'sys/rekey/init', { secret_shares: 3, secret_threshold: 2 });
    const nonce = init.body.nonce;
    await call(a, 'PUT', 'sys/rekey/update', { key: keys[0], nonce });
    await call(a, 'PUT', 'sys/rekey/update', { key: keys[1], nonce });
    const bad = await call(a, 'PUT', 'sys/rekey/update', { key: corrupt(keys[2]!), nonce });
    assert.equal(bad.status, 400);
    assert.match(bad.body.errors![0]!, /verification canary/);
    const s = await call(a, 'GET', 'sys/rekey/init');
    assert.deepEqual([s.body.started, s.body.nonce, s.body.progress], [true, nonce, 0]);
    assert.ok((await canary()).equals(before));
    assert.equal((await call(a, 'DELETE', 'sys/rekey/init')).status, 204);
  });

  it('survives a crash mid-rekey: the transaction fails, the old shares stay valid, nothing is half-rewrapped', async () => {
    const canaryBefore = await canary();
    const keksBefore = await keks();
    // The fault: the last statement of the rekey (the seal configuration) fails after every KEK
    // was rewrapped in the same transaction.
    await tdb.database.query(sql.raw(`create function vault.test_crash() returns trigger language plpgsql as $$
      begin raise exception 'simulated crash during rekey'; end $$`));
    await tdb.database.query(sql.raw('create trigger test_crash before update on vault.seal_config for each row execute function vault.test_crash()'));
    const init = await call(a, 'PUT', 'sys/rekey/init', { secret_shares: 3, secret_threshold: 2 });
    const nonce = init.body.nonce;
    await call(a, 'PUT', 'sys/rekey/update', { key: keys[0], nonce });
    await call(a, 'PUT', 'sys/rekey/update', { key: keys[1], nonce });
    const crashed = await call(a, 'PUT', 'sys/rekey/update', { key: keys[2], nonce });
    assert.ok(crashed.status >= 500, `the failed rekey answers ${crashed.status}`);
    assert.ok(Array.isArray(crashed.body.errors));
    assert.ok((await canary()).equals(canaryBefore), 'the canary is the old one');
    assert.deepEqual(await keks(), keksBefore, 'no KEK was rewrapped');
    // The ceremony is where it was before the failed share.
    assert.equal((await call(a, 'GET', 'sys/rekey/init')).body.progress, 2);
    // The replica kept the old root key: it still serves, and a restarted one unseals with the old shares.
    assert.equal((await client(a).read('secret/data/before')).data.data.password, 'written-before-the-rekey');
    await a.restartUnsealer();
    assert.equal((await unseal(a, [keys[4]!, keys[3]!, keys[1]!])).body.sealed, false);
    assert.equal((await client(a).read('secret/data/before')).data.data.password, 'written-before-the-rekey');
    await tdb.database.query(sql.raw('drop trigger test_crash on vault.seal_config'));
    await tdb.database.query(sql.raw('drop function vault.test_crash()'));
    assert.equal((await call(a, 'DELETE', 'sys/rekey/init')).status, 204);
  });

  it('rekeys: new shares shown once, the old ones refused, data and the other replica follow', async () => {
    const canaryBefore = await canary();
    const keksBefore = await keks();
    // The sealed replica has read the configuration (and taken one old share) before the rekey.
    assert.deepEqual([(await call(c, 'GET', 'sys/seal-status')).body.t, (await call(c, 'PUT', 'sys/unseal', { key: keys[0] })).body.progress], [3, 1]);
    const init = await call(a, 'PUT', 'sys/rekey/init', { secret_shares: 3, secret_threshold: 2 });
    assert.deepEqual([init.body.t, init.body.n, init.body.required], [2, 3, 3]);
    const nonce = init.body.nonce;
    const r1 = await call(a, 'PUT', 'sys/rekey/update', { key: keys[4], nonce });
    // Shares may come through either replica.
    const r2 = await call(b, 'PUT', 'sys/rekey/update', { key: keys[2], nonce });
    assert.deepEqual([r1.body.progress, r2.body.progress], [1, 2]);
    const done = await call(a, 'PUT', 'sys/rekey/update', { key: keys[0], nonce });
    assert.equal(done.status, 200);
    assert.equal(done.body.complete, true);
    assert.equal(done.body.nonce, nonce);
    const fresh = done.body.keys as string[];
    assert.equal(fresh.length, 3);
    assert.equal((done.body.keys_base64 as string[]).length, 3);
    for (const k of fresh) assert.equal(keys.includes(k), false);
    assert.equal((await call(a, 'GET', 'sys/rekey/init')).body.started, false, 'the ceremony is over');
    // Canary and every KEK rewrapped; the seal config says 2 of 3.
    assert.equal((await canary()).equals(canaryBefore), false);
    const keksAfter = await keks();
    assert.equal(keksAfter.length, keksBefore.length);
    for (let i = 0; i < keksAfter.length; i++) assert.notEqual(keksAfter[i], keksBefore[i]);
    const status = await call(a, 'GET', 'sys/seal-status');
    assert.deepEqual([status.body.sealed, status.body.t, status.body.n], [false, 2, 3]);

    // The rekeying replica adopted the new root key: it serves without a new unseal, old and new data.
    assert.equal((await client(a).read('secret/data/before')).data.data.password, 'written-before-the-rekey');
    await client(a).write('secret/data/after', { data: { password: 'written-after-the-rekey' } });
    const ct = (await client(a).write('transit/encrypt/orders', { plaintext: Buffer.from('order 1').toString('base64') })).data.ciphertext;

    // The other replica still holds the old root key: its next use finds the canary changed and
    // it seals itself rather than go on with a stale key.
    const read = await fetch(`${b.baseUrl}/vault/v1/secret/data/before`, { headers: { 'x-vault-token': rootToken } });
    assert.equal(read.status, 503);
    assert.equal((await call(b, 'GET', 'sys/seal-status')).body.sealed, true);
    // The old shares no longer unseal it (the threshold is 2 now); the new ones do.
    const old = await unseal(b, keys.slice(0, 2));
    assert.equal(old.status, 400);
    assert.match(old.body.errors![0]!, /canary/);
    assert.equal((await unseal(b, [fresh[2]!, fresh[0]!])).body.sealed, false);
    assert.equal((await client(b).read('secret/data/before')).data.data.password, 'written-before-the-rekey');
    assert.equal((await client(b).read('secret/data/after')).data.data.password, 'written-after-the-rekey');
    const pt = (await client(b).write('transit/decrypt/orders', { ciphertext: ct })).data.plaintext;
    assert.equal(Buffer.from(pt, 'base64').toString(), 'order 1');

    // The replica that stayed sealed checks shares against the new canary and threshold.
    assert.equal((await call(c, 'PUT', 'sys/unseal', { reset: true })).body.t, 2);
    assert.equal((await unseal(c, [keys[3]!, keys[4]!])).status, 400);
    assert.equal((await unseal(c, [fresh[0]!, fresh[1]!])).body.sealed, false);
    assert.equal((await client(c).read('secret/data/after')).data.data.password, 'written-after-the-rekey');

    // A restarted unsealer: old shares refused, new ones unseal.
    await a.restartUnsealer();
    assert.equal((await unseal(a, [keys[0]!, keys[1]!])).status, 400);
    assert.equal((await unseal(a, [fresh[1]!, fresh[2]!])).body.sealed, false);
    assert.equal((await client(a).read('secret/data/before')).data.data.password, 'written-before-the-rekey');
    keys = fresh;
  });

  it('needs an unsealed vault (503 while sealed) and an initialized one', async () => {
    await a.restartUnsealer();
    const r = await call(a, 'PUT', 'sys/rekey/init', { secret_shares: 3, secret_threshold: 2 });
    assert.equal(r.status, 503);
    assert.deepEqual(r.body.errors, ['Vault is sealed']);
    assert.equal((await call(a, 'GET', 'sys/rekey/init')).status, 503);
    assert.equal((await call(a, 'PATCH', 'sys/rekey/update', {})).status, 405);
  });
});
