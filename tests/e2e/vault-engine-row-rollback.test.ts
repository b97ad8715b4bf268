// The rollback bound of transit keys, userpass users, JWT and Kubernetes auth roles and mounts,
// over real HTTP on real PostgreSQL. For each kind a database writer tries three things: a row
// of its own making (a made-up MAC), another row's valid content and MAC under the row's name,
// and the row's own earlier valid copy put back after the vault changed or deleted it. Each is
// refused with 403 "integrity check failed", audited and counted, never served; the vault's own
// rows, re-created through the API, are served again.
// @see https://developer.hashicorp.com/vault/docs/internals/security
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'drizzle-orm';
import nodeVault from 'node-vault';
import { createTestDatabase, type TestDatabase } from '#tests/support/database';
import { databaseWriter, REFUSED, type DatabaseWriter, type Row } from './vault-db-writer.js';
import { startVaultServer, type VaultServer } from './vault-server.js';

interface Answer {
  status: number;
  body: any;
}

/** One kind of row, driven through the API the way an operator and a client use it. */
interface Kind {
  table: string;
  key: string;
  /** Creates the row through the API. */
  create(name: string): Promise<void>;
  /** Changes it through the API, narrowing what it grants. */
  narrow(name: string): Promise<void>;
  /** Deletes it through the API. */
  remove(name: string): Promise<void>;
  /** The API path that serves the row. */
  path(name: string): string;
  /**
   * What the earlier copy would grant if it were served (an old password, an old key version);
   * `first` runs before `narrow`, `then` after the copy is put back.
   */
  abuse?: { first(name: string): Promise<void>; then(name: string): Promise<Answer> };
}

const madeUpMac = () => `\\x${randomBytes(32).toString('hex')}`;

describe('ZenoVault rollback of transit keys, auth roles, users and mounts by a database writer', () => {
  let tdb: TestDatabase;
  let vs: VaultServer;
  let db: DatabaseWriter;
  let rootToken: string;
  let unsealKey: string;
  const client = () => nodeVault({ apiVersion: 'v1', endpoint: vs.endpoint, noCustomHTTPVerbs: true });

  const call = async (method: string, path: string, body?: unknown, token = rootToken): Promise<Answer> => {
    const res = await fetch(`${vs.baseUrl}/vault/v1/${path}`, {
      method,
      headers: { ...(token ? { 'x-vault-token': token } : {}), ...(body ? { 'content-type': 'application/json' } : {}) },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
    return { status: res.status, body: res.status === 204 ? null : await res.json() };
  };
  const succeed = async (method: string, path: string, body?: unknown) => {
    const res = await call(method, path, body);
    assert.ok(res.status === 200 || res.status === 204, `${method} ${path}: ${res.status} ${JSON.stringify(res.body)}`);
    return res;
  };
  const assertRefused = (res: Answer, what: string) => {
    assert.equal(res.status, 403, `${what}: ${JSON.stringify(res.body)}`);
    assert.deepEqual(res.body, REFUSED, what);
  };

  before(async () => {
    tdb = await createTestDatabase();
    vs = await startVaultServer(tdb.database);
    db = databaseWriter(tdb.database, vs);
    const init = await client().init({ secret_shares: 1, secret_threshold: 1 });
    rootToken = init.root_token;
    unsealKey = init.keys[0];
    await client().unseal({ key: unsealKey });
  });
  after(async () => {
    await vs?.close();
    await tdb?.drop();
  });

  const ciphertexts = new Map<string, string>();
  const plaintext = Buffer.from('rolled back').toString('base64');

  const kinds: Record<string, Kind> = {
    'transit key': {
      table: 'transit_keys',
      key: 'name',
      create: async (name) => void (await succeed('POST', `transit/keys/${name}`, {})),
      narrow: async (name) => {
        await succeed('POST', `transit/keys/${name}/rotate`, {});
        await succeed('POST', `transit/keys/${name}/config`, { min_decryption_version: 2 });
      },
      remove: async (name) => {
        await succeed('POST', `transit/keys/${name}/config`, { deletion_allowed: true });
        await succeed('DELETE', `transit/keys/${name}`);
      },
      path: (name) => `transit/keys/${name}`,
      abuse: {
        first: async (name) => void ciphertexts.set(name, (await succeed('POST', `transit/encrypt/${name}`, { plaintext })).body.data.ciphertext),
        then: (name) => call('POST', `transit/decrypt/${name}`, { ciphertext: ciphertexts.get(name) }),
      },
    },
    'userpass user': {
      table: 'userpass_users',
      key: 'username',
      create: async (name) => void (await succeed('POST', `auth/userpass/users/${name}`, { password: `first-${name}`, token_policies: 'default' })),
      narrow: async (name) => void (await succeed('POST', `auth/userpass/users/${name}/password`, { password: `second-${name}` })),
      remove: async (name) => void (await succeed('DELETE', `auth/userpass/users/${name}`)),
      path: (name) => `auth/userpass/users/${name}`,
      abuse: {
        first: async (name) => void (await succeed('POST', `auth/userpass/login/${name}`, { password: `first-${name}` })),
        then: (name) => call('POST', `auth/userpass/login/${name}`, { password: `first-${name}` }, ''),
      },
    },
    'JWT role': {
      table: 'jwt_roles',
      key: 'name',
      create: async (name) => void (await succeed('POST', `auth/jwt/role/${name}`, { bound_audiences: ['vault'], user_claim: 'sub', token_policies: ['admin'] })),
      narrow: async (name) => void (await succeed('POST', `auth/jwt/role/${name}`, { token_policies: ['reader'] })),
      remove: async (name) => void (await succeed('DELETE', `auth/jwt/role/${name}`)),
      path: (name) => `auth/jwt/role/${name}`,
    },
    'Kubernetes role': {
      table: 'kubernetes_roles',
      key: 'name',
      create: async (name) =>
        void (await succeed('POST', `auth/kubernetes/role/${name}`, {
          bound_service_account_names: 'orders',
          bound_service_account_namespaces: 'shop',
          audience: 'vault',
          token_policies: 'admin',
        })),
      narrow: async (name) =>
        void (await succeed('POST', `auth/kubernetes/role/${name}`, {
          bound_service_account_names: 'orders',
          bound_service_account_namespaces: 'shop',
          audience: 'vault',
          token_policies: 'reader',
        })),
      remove: async (name) => void (await succeed('DELETE', `auth/kubernetes/role/${name}`)),
      path: (name) => `auth/kubernetes/role/${name}`,
    },
  };

  for (const [what, k] of Object.entries(kinds)) {
    it(`refuses a forged, a swapped and a rolled-back ${what} row, and one put back after its delete`, async () => {
      const read = (name: string) => call('GET', k.path(name));
      await k.create('a');
      await k.create('b');
      await k.abuse?.first('a');
      const first = await db.copyOf(k.table, k.key, 'a');
      await k.narrow('a');
      assert.equal((await read('a')).status, 200);
      const current = await db.copyOf(k.table, k.key, 'a');
      const other = await db.copyOf(k.table, k.key, 'b');
      const failuresBefore = await db.failures(k.table);
      const seq = await db.lastSeq();

      // A row of the writer's own making: the current row's content under a new name, a made-up MAC.
      await db.putBack(k.table, k.key, { ...current, [k.key]: 'forged', mac: madeUpMac() });
      assertRefused(await read('forged'), 'forged');
      // Another row's content and valid MAC under this row's name.
      await db.putBack(k.table, k.key, { ...other, [k.key]: 'a' });
      assertRefused(await read('a'), 'swapped');
      // The row's own earlier copy, with the vault's MAC on it, after the vault narrowed it.
      await db.putBack(k.table, k.key, first);
      assertRefused(await read('a'), 'rolled back');
      if (k.abuse) assertRefused(await k.abuse.then('a'), 'what the earlier copy granted');
      assert.ok((await db.refusedAudits(k.path('a'), seq)) >= 2, 'the refusals are audited');

      // The current row put back as it was is the vault's own.
      await db.putBack(k.table, k.key, current as Row);
      assert.equal((await read('a')).status, 200);
      // Deleted through the API, then put back by the writer (current and earlier copies).
      await k.remove('a');
      await db.putBack(k.table, k.key, current);
      assertRefused(await read('a'), 'deleted, current copy put back');
      await db.putBack(k.table, k.key, first);
      assertRefused(await read('a'), 'deleted, earlier copy put back');
      assert.ok((await db.failures(k.table)) - failuresBefore >= 5, 'each refusal is counted');

      // Written again through the API, the row goes on above every earlier seq and is served.
      await db.q(sql`delete from ${sql.raw(`vault.${k.table}`)} where ${sql.identifier(k.key)} = 'a'`);
      await k.create('a');
      assert.equal((await read('a')).status, 200);
    });
  }

  it('refuses nothing of its own: concurrent writes and reads of one row of each kind all succeed', async () => {
    for (const [what, k] of Object.entries(kinds)) {
      await k.create('busy');
      const writes = Array.from({ length: 8 }, () => (k.table === 'transit_keys' ? call('POST', 'transit/keys/busy/rotate', {}) : k.narrow('busy').then(() => ({ status: 204, body: null }))));
      const reads = Array.from({ length: 8 }, () => call('GET', k.path('busy')));
      for (const r of await Promise.all([...writes, ...reads])) assert.ok(r.status === 200 || r.status === 204, `${what}: ${JSON.stringify(r)}`);
      assert.equal((await call('GET', k.path('busy'))).status, 200, what);
    }
  });

  it('refuses a mount row put back from before a rekey, a swapped and a forged mount row', async () => {
    const reseal = async (key: string) => {
      await succeed('PUT', 'sys/seal');
      await client().unseal({ key });
    };
    const encrypt = () => call('POST', 'transit/encrypt/mount-check', { plaintext });
    assert.equal((await encrypt()).status, 200, 'the unsealer has read the transit/ mount row');
    const beforeRekey = await db.copyOf('mounts', 'path', 'transit/');

    const init = await succeed('PUT', 'sys/rekey/init', { secret_shares: 1, secret_threshold: 1 });
    const done = await succeed('PUT', 'sys/rekey/update', { key: unsealKey, nonce: init.body.nonce });
    assert.equal(done.body.complete, true);
    unsealKey = (done.body.keys as string[])[0]!;
    const current = await db.copyOf('mounts', 'path', 'transit/');
    const other = await db.copyOf('mounts', 'path', 'secret/');
    assert.ok(Number(current.seq) > Number(beforeRekey.seq), 'the rewrap took a fresh seq');
    const failuresBefore = await db.failures('mounts');
    const seq = await db.lastSeq();

    // The row as it was before the rekey: a valid MAC, a KEK wrapped under the old root key.
    await db.putBack('mounts', 'path', beforeRekey);
    await reseal(unsealKey);
    assertRefused(await encrypt(), 'rolled back');
    // Another mount's row under transit/'s name.
    await db.putBack('mounts', 'path', { ...other, path: 'transit/' });
    await reseal(unsealKey);
    assertRefused(await encrypt(), 'swapped');
    // The current row with a made-up MAC.
    await db.putBack('mounts', 'path', { ...current, mac: madeUpMac() });
    await reseal(unsealKey);
    assertRefused(await encrypt(), 'forged');
    assert.equal(await db.refusedAudits('transit/encrypt/mount-check', seq), 3);
    assert.equal((await db.failures('mounts')) - failuresBefore, 3);

    await db.putBack('mounts', 'path', current);
    await reseal(unsealKey);
    assert.equal((await encrypt()).status, 200, 'the vault\'s own row is served');
  });
});
