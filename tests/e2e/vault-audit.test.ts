// The audit device: every request and response recorded with its decision, secrets HMAC'd with
// a line key derived from the root key (its id on the row); a failed audit write fails the
// request and changes nothing.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac, hkdfSync, randomBytes } from 'node:crypto';
import { sql } from 'drizzle-orm';
import nodeVault from 'node-vault';
import { createTestDatabase, type TestDatabase } from '#tests/support/database';
import { lineKey } from '#functions/vault/core/audit';
import { combine } from '#functions/vault/core/shamir';
import { startVaultServer, type VaultServer } from './vault-server.js';

type AuditRow = { key_id: string | null; type: string; request_id: string; operation: string; path: string; remote_address: string | null; accessor: string | null; decision: string; status: number | null; error: string | null; data: any };

describe('vault audit device', () => {
  let tdb: TestDatabase;
  let vs: VaultServer;
  let vault: ReturnType<typeof nodeVault>;
  let auditKey: Buffer;
  let rootToken: string;
  let unsealKey: string;
  const secret = `audit-${randomBytes(8).toString('hex')}`;
  /** The HMAC of `v` under the line key that hashed `row`, derived by whoever holds the root key. */
  const hmac = (v: string, row: AuditRow) => {
    assert.ok(row.key_id, 'every row names its line key');
    return `hmac-sha256:${createHmac('sha256', lineKey(auditKey, row.key_id)).update(v).digest('hex')}`;
  };
  const rows = (where = sql`true`) => tdb.database.query<AuditRow>(sql`select * from vault.audit_log where ${where} order by seq`);

  before(async () => {
    tdb = await createTestDatabase();
    vs = await startVaultServer(tdb.database);
    vault = nodeVault({ apiVersion: 'v1', endpoint: vs.endpoint, noCustomHTTPVerbs: true });
    const init = await vault.init({ secret_shares: 1, secret_threshold: 1 });
    rootToken = init.root_token;
    vault.token = rootToken;
    unsealKey = init.keys[0];
    await vault.unseal({ key: unsealKey });
    const root = combine([Buffer.from(init.keys[0], 'hex')]);
    auditKey = Buffer.from(hkdfSync('sha256', root, Buffer.alloc(0), 'zenokube/vault/audit-hmac/v1', 32));
  });
  after(async () => {
    await vs?.close();
    await tdb?.drop();
  });

  it('records request and response with path, operation, decision, source address and hashed values', async () => {
    const res = await fetch(`${vs.baseUrl}/vault/v1/secret/data/audited`, {
      method: 'PUT',
      headers: { 'x-vault-token': rootToken, 'content-type': 'application/json', 'x-request-id': 'req-audit-1' },
      body: JSON.stringify({ data: { password: secret } }),
    });
    assert.equal(res.status, 200);
    const entries = await rows(sql`request_id = 'req-audit-1'`);
    assert.deepEqual(entries.map((e) => e.type), ['request', 'response']);
    const [req, resp] = entries as [AuditRow, AuditRow];
    assert.equal(req.path, 'secret/data/audited');
    assert.equal(req.operation, 'update');
    assert.equal(req.decision, 'allow');
    assert.match(req.remote_address ?? '', /127\.0\.0\.1/);
    assert.deepEqual(req.data, { data: { password: hmac(secret, req) } }, 'the secret is recorded only as its HMAC');
    assert.equal(resp.status, 200);
    const lookup = await vault.tokenLookupSelf();
    assert.equal(req.accessor, hmac(lookup.data.accessor, req), 'the accessor is HMACd as Vault does by default');
    const all = JSON.stringify(await rows());
    assert.ok(!all.includes(secret), 'no clear secret anywhere in the audit log');
    assert.ok(!all.includes(rootToken), 'no clear token anywhere in the audit log');
  });

  it('records a kv read as its request row then its response row, values hashed', async () => {
    const res = await fetch(`${vs.baseUrl}/vault/v1/secret/data/audited`, { headers: { 'x-vault-token': rootToken, 'x-request-id': 'req-audit-read' } });
    assert.equal(res.status, 200);
    const entries = await rows(sql`request_id = 'req-audit-read'`);
    assert.deepEqual(entries.map((e) => [e.type, e.operation, e.decision, e.status]), [['request', 'read', 'allow', null], ['response', 'read', 'allow', 200]]);
    assert.equal(entries[1]!.data.data.password, hmac(secret, entries[1]!));
  });

  it('records a read of a missing secret with its 404 response', async () => {
    const res = await fetch(`${vs.baseUrl}/vault/v1/secret/data/never-written`, { headers: { 'x-vault-token': rootToken, 'x-request-id': 'req-audit-404' } });
    assert.equal(res.status, 404);
    const entries = await rows(sql`request_id = 'req-audit-404'`);
    assert.deepEqual(entries.map((e) => [e.type, e.status]), [['request', null], ['response', 404]]);
  });

  it('records denials', async () => {
    const res = await fetch(`${vs.baseUrl}/vault/v1/secret/data/audited`, { headers: { 'x-vault-token': 'hvs.bogus', 'x-request-id': 'req-audit-2' } });
    assert.equal(res.status, 403);
    const [entry] = await rows(sql`request_id = 'req-audit-2'`);
    assert.equal(entry!.decision, 'deny');
    assert.equal(entry!.error, 'permission denied');
  });

  it('records sys/seal, served by the unsealer, as well', async () => {
    const res = await fetch(`${vs.baseUrl}/vault/v1/sys/seal`, { method: 'PUT', headers: { 'x-vault-token': rootToken, 'x-request-id': 'req-audit-seal' } });
    assert.equal(res.status, 204);
    const [entry] = await rows(sql`request_id = 'req-audit-seal'`);
    assert.equal(entry!.path, 'sys/seal');
    assert.equal(entry!.decision, 'allow');
    assert.ok(entry!.accessor?.startsWith('hmac-sha256:'));
    await vault.unseal({ key: unsealKey });
  });

  it('fails the request and writes nothing when the audit write fails', async () => {
    await tdb.database.query(sql`create function vault.audit_down() returns trigger language plpgsql as $$ begin raise exception 'audit storage down'; end $$`);
    await tdb.database.query(sql`create trigger audit_down before insert on vault.audit_log for each row execute function vault.audit_down()`);
    try {
      const res = await fetch(`${vs.baseUrl}/vault/v1/secret/data/unaudited`, {
        method: 'PUT',
        headers: { 'x-vault-token': rootToken, 'content-type': 'application/json' },
        body: JSON.stringify({ data: { v: 1 } }),
      });
      assert.equal(res.status, 500);
      assert.deepEqual(await res.json(), { errors: ['internal error'] });
      const read = await fetch(`${vs.baseUrl}/vault/v1/secret/data/audited`, { headers: { 'x-vault-token': rootToken } });
      assert.equal(read.status, 500, 'reads fail too: nothing is served unaudited');
    } finally {
      await tdb.database.query(sql`drop trigger audit_down on vault.audit_log`);
    }
    const written = await tdb.database.query<{ n: string }>(sql`select count(*) as n from vault.kv_metadata where path = 'unaudited'`);
    assert.equal(Number(written[0]!.n), 0);
  });
});
