// The "database dump" property: after writing known secrets, no row or column of the vault
// schema holds a plaintext secret, a DEK, a KEK, the root key or a live token, in raw, hex or
// base64 form; and a ciphertext moved to another row is refused (403 integrity check failed).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { sql } from 'drizzle-orm';
import nodeVault from 'node-vault';
import { createTestDatabase, type TestDatabase } from '#tests/support/database';
import { aad, kvContext, open } from '#functions/vault/core/envelope';
import { combine } from '#functions/vault/core/shamir';
import { startVaultServer, type VaultServer } from './vault-server.js';

type Row = Record<string, unknown>;

/** Every textual form an attacker could grep a dump for. */
function forms(value: Buffer | string): string[] {
  if (typeof value === 'string') return [value];
  return [value.toString('hex'), value.toString('hex').toUpperCase(), value.toString('base64'), value.toString('base64url')];
}

describe('database dump of the vault schema', () => {
  let tdb: TestDatabase;
  let vs: VaultServer;
  let rootToken: string;
  let rootKey: Buffer;
  const secrets = Array.from({ length: 6 }, () => `plain-${randomBytes(12).toString('hex')}`);
  let vault: ReturnType<typeof nodeVault>;

  before(async () => {
    tdb = await createTestDatabase();
    vs = await startVaultServer(tdb.database);
    vault = nodeVault({ apiVersion: 'v1', endpoint: vs.endpoint, noCustomHTTPVerbs: true });
    const init = await vault.init({ secret_shares: 5, secret_threshold: 3 });
    rootToken = init.root_token;
    vault.token = rootToken;
    for (const k of init.keys.slice(0, 3)) await vault.unseal({ key: k });
    rootKey = combine(init.keys.slice(0, 3).map((k: string) => Buffer.from(k, 'hex')));
    await vault.write('secret/data/dump/a', { data: { password: secrets[0], api_key: secrets[1] } });
    await vault.write('secret/data/dump/a', { data: { password: secrets[2] } });
    await vault.write('secret/data/dump/b', { data: { nested: { deep: [secrets[3]] } } });
    await vault.write('secret/data/dump/c', { data: { v: secrets[4] } });
    await vault.write('secret/data/dump/d', { data: { v: secrets[5] } });
    await vault.read('secret/data/dump/a');
  });
  after(async () => {
    await vs?.close();
    await tdb?.drop();
  });

  it('holds no plaintext secret, DEK, KEK, root key or live token in any row or column', async () => {
    const db = tdb.database;
    const mounts = await db.query<{ path: string; wrapped_kek: Uint8Array }>(sql`select path, wrapped_kek from vault.mounts`);
    const keks = mounts.map((m) => open(rootKey, m.wrapped_kek, aad.kek(m.path)));
    const versions = await db.query<{ mount: string; path: string; version: number; wrapped_dek: Uint8Array }>(
      sql`select mount, path, version, wrapped_dek from vault.kv_versions`,
    );
    assert.equal(versions.length, 5);
    const kekOf = new Map(mounts.map((m, i) => [m.path, keks[i]!]));
    const deks = versions.map((v) => open(kekOf.get(v.mount)!, v.wrapped_dek, aad.dek(v.mount, kvContext(v.path, v.version))));
    const forbidden: { what: string; raw?: Buffer; texts: string[] }[] = [
      ...secrets.map((s, i) => ({ what: `secret ${i}`, raw: Buffer.from(s), texts: [s, Buffer.from(s).toString('hex'), Buffer.from(s).toString('base64')] })),
      { what: 'root key', raw: rootKey, texts: forms(rootKey) },
      ...keks.map((k, i) => ({ what: `KEK ${i}`, raw: k, texts: forms(k) })),
      ...deks.map((k, i) => ({ what: `DEK ${i}`, raw: k, texts: forms(k) })),
      { what: 'root token', texts: [rootToken, rootToken.slice(4)] },
    ];

    const tables = await db.query<{ table_name: string }>(
      sql`select table_name from information_schema.tables where table_schema = 'vault' order by 1`,
    );
    assert.ok(tables.length >= 8);
    // Control: metadata is not secret (as in Vault), so a custom_metadata value must be found.
    const control = `control-${randomBytes(8).toString('hex')}`;
    await vault.write('secret/metadata/dump/a', { custom_metadata: { note: control } });
    let controlSeen = false;
    let scannedRows = 0;
    for (const { table_name } of tables) {
      // row_to_json renders every column (bytea as \x hex, jsonb nested) as text.
      const rows = await db.query<{ j: string }>(sql`select row_to_json(t)::text as j from ${sql.identifier('vault')}.${sql.identifier(table_name)} t`);
      const raws = await db.query<Row>(sql`select * from ${sql.identifier('vault')}.${sql.identifier(table_name)}`);
      scannedRows += rows.length;
      for (const { j } of rows) {
        if (j.includes(control)) controlSeen = true;
        const lower = j.toLowerCase();
        for (const f of forbidden) {
          for (const t of f.texts) assert.ok(!j.includes(t) && !lower.includes(t.toLowerCase()), `${f.what} found in vault.${table_name}`);
        }
      }
      for (const row of raws) {
        for (const [col, value] of Object.entries(row)) {
          if (!(value instanceof Uint8Array)) continue;
          const buf = Buffer.from(value);
          for (const f of forbidden) if (f.raw) assert.equal(buf.indexOf(f.raw), -1, `${f.what} found raw in vault.${table_name}.${col}`);
        }
      }
    }
    assert.ok(scannedRows > 10, `scanned ${scannedRows} rows`);
    assert.ok(controlSeen, 'the scan does find a value that is stored in clear');
  });

  it('refuses to decrypt a ciphertext moved to another row, with or without its wrapped DEK', async () => {
    const db = tdb.database;
    assert.equal((await vault.read('secret/data/dump/d')).data.data.v, secrets[5]);
    // Ciphertext alone: d's DEK opens, but c's ciphertext is bound to c's path and version.
    await db.query(sql`update vault.kv_versions d set ciphertext = c.ciphertext
      from vault.kv_versions c where d.path = 'dump/d' and c.path = 'dump/c'`);
    const moved = await fetch(`${vs.baseUrl}/vault/v1/secret/data/dump/d`, { headers: { 'x-vault-token': rootToken } });
    assert.equal(moved.status, 403);
    assert.deepEqual(await moved.json(), { errors: ['integrity check failed'] });
    // Ciphertext with its wrapped DEK: the DEK is bound to c's row too.
    await db.query(sql`update vault.kv_versions d set ciphertext = c.ciphertext, wrapped_dek = c.wrapped_dek
      from vault.kv_versions c where d.path = 'dump/d' and c.path = 'dump/c'`);
    const both = await fetch(`${vs.baseUrl}/vault/v1/secret/data/dump/d`, { headers: { 'x-vault-token': rootToken } });
    assert.equal(both.status, 403);
    const text = await both.text();
    assert.ok(!text.includes(secrets[4]!), 'the moved secret does not leak');
    assert.equal((await vault.read('secret/data/dump/c')).data.data.v, secrets[4], 'the original row still reads');
  });
});
