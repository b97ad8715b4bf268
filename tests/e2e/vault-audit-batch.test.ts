// Batched audit writes on real PostgreSQL, still audit-or-fail: concurrent requests' rows go in
// few INSERTs, each request waits for its own batch's commit; a row the database refuses fails
// only its own request; a batch written after the seal epoch moved writes nothing. And the api's
// audit line keys: each row names its key, a line key verifies only its own rows, and the audit
// key itself is no longer handed out on the internal channel.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac, hkdfSync, randomBytes } from 'node:crypto';
import { sql } from 'drizzle-orm';
import nodeVault from 'node-vault';
import { request } from 'undici';
import { createAuditWriter, lineKey, readSealEpoch, SealedSinceError, type AuditEntry } from '#functions/vault/core/audit';
import { signRequest, SIGNATURE_HEADER } from '#functions/vault/core/internal-auth';
import { combine } from '#functions/vault/core/shamir';
import type { Queryable } from '#shared/db/index';
import { createTestDatabase, type TestDatabase } from '#tests/support/database';
import { startVaultServer, type VaultServer } from './vault-server.js';

const entry = (requestId: string, type: AuditEntry['type'], path = 'secret/data/x'): AuditEntry => ({
  type,
  requestId,
  operation: 'read',
  path,
  remoteAddress: '127.0.0.1',
  accessor: 'acc',
  policies: ['default'],
  decision: 'allow',
  ...(type === 'response' ? { status: 200, data: { data: { password: 'p' } } } : {}),
});

describe('batched audit writes and line keys', () => {
  let tdb: TestDatabase;
  let vs: VaultServer;
  let root: string;
  let rootKey: Buffer;
  const internalKey = randomBytes(32);
  const key = { key: randomBytes(32), id: 'test-key' };

  /** The database with every statement counted. */
  const counting = () => {
    let statements = 0;
    const db = { execute: (q: Parameters<Queryable['execute']>[0]) => (statements++, tdb.database.db.execute(q)) } as unknown as Queryable;
    return { db, statements: () => statements };
  };
  const rowsOf = (prefix: string) =>
    tdb.database.query<{ request_id: string; type: string; key_id: string | null }>(sql`select request_id, type, key_id from vault.audit_log where request_id like ${prefix + '%'} order by seq`);

  before(async () => {
    tdb = await createTestDatabase();
    vs = await startVaultServer(tdb.database, { VAULT_INTERNAL_KEY: internalKey.toString('base64') });
    const vault = nodeVault({ apiVersion: 'v1', endpoint: vs.endpoint, noCustomHTTPVerbs: true });
    const init = await vault.init({ secret_shares: 1, secret_threshold: 1 });
    root = init.root_token;
    rootKey = combine([Buffer.from(init.keys[0], 'hex')]);
    await vault.unseal({ key: init.keys[0] });
  });
  after(async () => {
    await vs?.close();
    await tdb?.drop();
  });

  it('writes 40 concurrent requests in fewer statements, each request\'s rows together and in order', async () => {
    const { db, statements } = counting();
    const writer = createAuditWriter(db);
    const epoch = (await readSealEpoch(tdb.database.db))!;
    await Promise.all(Array.from({ length: 40 }, (_, i) => writer.write(key, epoch, [entry(`b1-${i}`, 'request'), entry(`b1-${i}`, 'response')])));
    const rows = await rowsOf('b1-');
    assert.equal(rows.length, 80);
    for (let i = 0; i < 40; i++) {
      assert.deepEqual(rows.filter((r) => r.request_id === `b1-${i}`).map((r) => r.type), ['request', 'response']);
    }
    assert.ok(statements() < 40, `${statements()} statements for 40 requests`);
    assert.ok(rows.every((r) => r.key_id === 'test-key'));
  });

  it('fails only the request whose row the database refuses, after its batch fails', async () => {
    const writer = createAuditWriter(tdb.database.db);
    const epoch = (await readSealEpoch(tdb.database.db))!;
    // A path PostgreSQL cannot store (text holds no NUL): the attacker's row.
    const results = await Promise.allSettled(
      Array.from({ length: 10 }, (_, i) => writer.write(key, epoch, [entry(`b2-${i}`, 'request', i === 4 ? 'secret/data/\u0000' : 'secret/data/x')])),
    );
    assert.deepEqual(results.map((r) => r.status), results.map((_, i) => (i === 4 ? 'rejected' : 'fulfilled')));
    assert.deepEqual((await rowsOf('b2-')).map((r) => r.request_id).sort(), Array.from({ length: 10 }, (_, i) => `b2-${i}`).filter((id) => id !== 'b2-4').sort());
  });

  it('writes nothing when the seal epoch moved, and says so', async () => {
    const writer = createAuditWriter(tdb.database.db);
    const epoch = (await readSealEpoch(tdb.database.db))!;
    await assert.rejects(writer.write(key, epoch - 1, [entry('b3-0', 'request')]), SealedSinceError);
    await assert.rejects(writer.write(key, epoch + 1, [entry('b3-1', 'request')]), SealedSinceError);
    await writer.write(key, epoch, [entry('b3-2', 'request')]);
    assert.deepEqual((await rowsOf('b3-')).map((r) => r.request_id), ['b3-2']);
  });

  it('fails the request when its batch cannot be written (audit-or-fail), concurrent requests alike', async () => {
    await tdb.database.query(sql`create function vault.audit_down_b() returns trigger language plpgsql as $$ begin raise exception 'audit storage down'; end $$`);
    await tdb.database.query(sql`create trigger audit_down_b before insert on vault.audit_log for each row execute function vault.audit_down_b()`);
    try {
      const statuses = await Promise.all(
        Array.from({ length: 12 }, async () => (await fetch(`${vs.baseUrl}/vault/v1/auth/token/lookup-self`, { headers: { 'x-vault-token': root } })).status),
      );
      assert.deepEqual(statuses, Array(12).fill(500));
    } finally {
      await tdb.database.query(sql`drop trigger audit_down_b on vault.audit_log`);
    }
  });

  describe('line keys', () => {
    const internal = async (path: string) => {
      const res = await request(`${vs.baseUrl}/_fn/vault-unsealer${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', [SIGNATURE_HEADER]: signRequest(internalKey, 'POST', path, '{}') },
        body: '{}',
      });
      return { status: res.statusCode, body: (await res.body.json()) as Record<string, string> };
    };
    const auditKey = () => Buffer.from(hkdfSync('sha256', rootKey, Buffer.alloc(0), 'zenokube/vault/audit-hmac/v1', 32));
    const hmac = (k: Buffer, v: string) => `hmac-sha256:${createHmac('sha256', k).update(v).digest('hex')}`;

    it('no longer hands out the audit key on the internal channel', async () => {
      assert.equal((await internal('/internal/v1/audit-key')).status, 404);
    });

    it('hands out a fresh line key per call, each derived from the audit key with its id', async () => {
      const a = await internal('/internal/v1/audit-line-key');
      const b = await internal('/internal/v1/audit-line-key');
      assert.equal(a.status, 200);
      assert.notEqual(a.body.id, b.body.id);
      assert.deepEqual(Buffer.from(a.body.key!, 'base64'), lineKey(auditKey(), a.body.id!));
      assert.notDeepEqual(Buffer.from(a.body.key!, 'base64'), auditKey());
    });

    it('hashes every api row under a line key named on the row; another line key cannot verify it', async () => {
      const secret = `line-${randomBytes(6).toString('hex')}`;
      const res = await fetch(`${vs.baseUrl}/vault/v1/secret/data/line`, {
        method: 'PUT',
        headers: { 'x-vault-token': root, 'content-type': 'application/json', 'x-request-id': 'line-1' },
        body: JSON.stringify({ data: { password: secret } }),
      });
      assert.equal(res.status, 200);
      const [row] = await tdb.database.query<{ key_id: string; data: { data: { password: string } } }>(sql`select key_id, data from vault.audit_log where request_id = 'line-1' and type = 'request'`);
      assert.ok(row!.key_id);
      assert.equal(row!.data.data.password, hmac(lineKey(auditKey(), row!.key_id), secret), 'the holder of the root key verifies it');
      const other = await internal('/internal/v1/audit-line-key');
      assert.notEqual(row!.data.data.password, hmac(Buffer.from(other.body.key!, 'base64'), secret), 'a line key of its own does not verify it');
    });
  });
});
