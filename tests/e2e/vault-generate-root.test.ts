// sys/generate-root on real PostgreSQL, as Vault ≥ 1.10 does it: the attempt generates an OTP
// (shown once), a quorum of unseal shares with the nonce completes it, and the new root token
// comes back only as base64(token XOR OTP). Refusals: wrong nonce, duplicate share, wrong share
// (canary), PGP, a wrong-length OTP, a second attempt at once; cancel; a sealed vault.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'drizzle-orm';
import nodeVault from 'node-vault';
import { runVaultCli } from '#cli/vault';
import { createTestDatabase, type TestDatabase } from '#tests/support/database';
import { call, startVaultServer, type VaultServer } from './vault-server.js';


/** What `vault operator generate-root -decode` does (Vault ≥ 1.10): base64 (raw) XOR the OTP. */
function decode(encoded: string, otp: string): string {
  const bytes = Buffer.from(encoded, 'base64');
  const pad = Buffer.from(otp, 'utf8');
  assert.equal(bytes.length, pad.length);
  return Buffer.from(bytes.map((b, i) => b ^ pad[i]!)).toString('utf8');
}

describe('sys/generate-root', () => {
  let tdb: TestDatabase;
  let vs: VaultServer;
  let keys: string[];
  let rootToken: string;

  before(async () => {
    tdb = await createTestDatabase({ max: 4 });
    vs = await startVaultServer(tdb.database);
    const init = await call(vs, 'PUT', 'sys/init', { secret_shares: 3, secret_threshold: 2 });
    keys = init.body.keys as string[];
    rootToken = init.body.root_token as string;
    for (const key of keys.slice(0, 2)) await call(vs, 'PUT', 'sys/unseal', { key });
  });
  after(async () => {
    await vs?.close();
    await tdb?.drop();
  });

  it('reports no attempt in progress', async () => {
    const s = await call(vs, 'GET', 'sys/generate-root/attempt');
    assert.equal(s.status, 200);
    assert.deepEqual(s.body, {
      started: false, nonce: '', progress: 0, required: 2, encoded_token: '', encoded_root_token: '',
      pgp_fingerprint: '', otp: '', otp_length: 47, complete: false,
    });
  });

  it('refuses a PGP key and an OTP of the wrong length', async () => {
    const pgp = await call(vs, 'PUT', 'sys/generate-root/attempt', { pgp_key: 'bWFkZSB1cA==' });
    assert.equal(pgp.status, 400);
    assert.match(pgp.body.errors![0]!, /PGP/);
    const short = await call(vs, 'PUT', 'sys/generate-root/attempt', { otp: 'abc' });
    assert.equal(short.status, 400);
    assert.match(short.body.errors![0]!, /wrong length/);
    const wide = await call(vs, 'PUT', 'sys/generate-root/attempt', { otp: 'é'.repeat(47) });
    assert.equal(wide.status, 400);
    assert.match(wide.body.errors![0]!, /ASCII/);
    assert.equal((await call(vs, 'GET', 'sys/generate-root/attempt')).body.started, false);
  });

  it('generates a root token with an OTP: shown once, decoded by the holder, works as root', async () => {
    const start = await call(vs, 'PUT', 'sys/generate-root/attempt', {});
    assert.equal(start.status, 200);
    const otp = start.body.otp as string;
    assert.match(otp, /^[0-9A-Za-z]{47}$/);
    assert.equal(start.body.otp_length, 47);
    const nonce = start.body.nonce as string;
    const status = await call(vs, 'GET', 'sys/generate-root/attempt');
    assert.equal(status.body.otp, '', 'the OTP is never shown again');
    assert.deepEqual([status.body.started, status.body.nonce, status.body.progress], [true, nonce, 0]);
    // A second attempt at once is refused.
    const again = await call(vs, 'PUT', 'sys/generate-root/attempt', {});
    assert.equal(again.status, 400);
    assert.match(again.body.errors![0]!, /root generation already in progress/);

    const wrong = await call(vs, 'PUT', 'sys/generate-root/update', { key: keys[0], nonce: 'not-the-nonce' });
    assert.equal(wrong.status, 400);
    assert.match(wrong.body.errors![0]!, /incorrect nonce/);
    const one = await call(vs, 'PUT', 'sys/generate-root/update', { key: keys[2], nonce });
    assert.deepEqual([one.body.progress, one.body.complete, one.body.encoded_token], [1, false, '']);
    const dup = await call(vs, 'PUT', 'sys/generate-root/update', { key: keys[2], nonce });
    assert.equal(dup.status, 400);
    assert.match(dup.body.errors![0]!, /already been provided/);
    const done = await call(vs, 'PUT', 'sys/generate-root/update', { key: keys[0], nonce });
    assert.equal(done.status, 200);
    assert.equal(done.body.complete, true);
    const encoded = done.body.encoded_token as string;
    assert.equal(done.body.encoded_root_token, encoded);
    assert.doesNotMatch(encoded, /^hvs\./);
    const token = decode(encoded, otp);
    assert.match(token, /^hvs\.[A-Za-z0-9_-]{43}$/);
    assert.notEqual(token, rootToken);
    // The token is a root token of this vault, stored hashed like every other.
    const client = nodeVault({ apiVersion: 'v1', endpoint: vs.endpoint, token, noCustomHTTPVerbs: true });
    const self = await client.tokenLookupSelf();
    assert.deepEqual(self.data.policies, ['root']);
    assert.equal(self.data.ttl, 0);
    await client.write('secret/data/by-new-root', { data: { ok: 'yes' } });
    const rows = await tdb.database.query<{ n: number }>(sql`select count(*)::int as n from vault.tokens where policies = array['root']`);
    assert.equal(rows[0]!.n, 2);
    assert.equal((await call(vs, 'GET', 'sys/generate-root/attempt')).body.started, false, 'the attempt is over');
    // The zenokube CLI decodes it too.
    let out = '';
    const code = await runVaultCli(['generate-root', '-decode', encoded, '-otp', otp], {
      env: {}, out: (t) => (out += t), err: () => undefined, readStdin: async () => '', fetch,
    });
    assert.equal(code, 0);
    assert.equal(out.trim(), token);
  });

  it('takes an OTP of the token\'s length given by the operator, and does not echo it', async () => {
    const otp = 'A'.repeat(47);
    const start = await call(vs, 'PUT', 'sys/generate-root/attempt', { otp });
    assert.equal(start.body.otp, '');
    const nonce = start.body.nonce;
    await call(vs, 'PUT', 'sys/generate-root/update', { key: keys[1], nonce });
    const done = await call(vs, 'PUT', 'sys/generate-root/update', { key: keys[2], nonce });
    assert.match(decode(done.body.encoded_token as string, otp), /^hvs\./);
  });

  it('refuses shares that are not the unseal key (canary) and resets the progress', async () => {
    const start = await call(vs, 'PUT', 'sys/generate-root/attempt', {});
    const nonce = start.body.nonce;
    const forged = Buffer.from(keys[1]!, 'hex');
    forged[3]! ^= 0xff;
    await call(vs, 'PUT', 'sys/generate-root/update', { key: keys[0], nonce });
    const bad = await call(vs, 'PUT', 'sys/generate-root/update', { key: forged.toString('base64'), nonce });
    assert.equal(bad.status, 400);
    assert.match(bad.body.errors![0]!, /verification canary/);
    const s = await call(vs, 'GET', 'sys/generate-root/attempt');
    assert.deepEqual([s.body.started, s.body.progress, s.body.complete], [true, 0, false]);
    const before = await tdb.database.query<{ n: number }>(sql`select count(*)::int as n from vault.tokens`);
    assert.equal(before[0]!.n, 3, 'no token was minted');
    // Cancel: the attempt and its progress are gone.
    assert.equal((await call(vs, 'DELETE', 'sys/generate-root/attempt')).status, 204);
    assert.equal((await call(vs, 'GET', 'sys/generate-root/attempt')).body.started, false);
    const late = await call(vs, 'PUT', 'sys/generate-root/update', { key: keys[1], nonce });
    assert.equal(late.status, 400);
    assert.match(late.body.errors![0]!, /no root generation in progress/);
  });

  it('lets one of two attempts started at once win', async () => {
    const both = await Promise.all([call(vs, 'PUT', 'sys/generate-root/attempt', {}), call(vs, 'PUT', 'sys/generate-root/attempt', {})]);
    assert.deepEqual(both.map((r) => r.status).sort(), [200, 400]);
    assert.equal((await call(vs, 'DELETE', 'sys/generate-root/attempt')).status, 204);
  });

  it('refuses hostile bodies with 400 and a sealed vault with 503', async () => {
    const start = await call(vs, 'PUT', 'sys/generate-root/attempt', {});
    for (const body of [{ key: 42, nonce: start.body.nonce }, { key: keys[0], nonce: ['x'] }, { key: 'zz', nonce: start.body.nonce }]) {
      const r = await call(vs, 'PUT', 'sys/generate-root/update', body);
      assert.equal(r.status, 400, JSON.stringify(body));
    }
    await vs.restartUnsealer();
    const sealed = await call(vs, 'GET', 'sys/generate-root/attempt');
    assert.equal(sealed.status, 503);
    assert.equal((await call(vs, 'PUT', 'sys/generate-root/update', { key: keys[0], nonce: start.body.nonce })).status, 503);
  });
});
