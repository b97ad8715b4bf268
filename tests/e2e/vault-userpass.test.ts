// userpass end to end on real PostgreSQL through node-vault (write/read/delete on
// auth/userpass/users/:name, userpassLogin): Argon2id hashes at rest, password change, token
// settings, and wrong-password throttling per user and client address: an attacker's address
// is slowed down while the user keeps logging in from another (addresses of 127.0.0.0/8, bound
// with undici's localAddress, are distinct clients of the same loopback server).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'drizzle-orm';
import nodeVault from 'node-vault';
import { Agent, fetch as undiciFetch } from 'undici';
import { createTestDatabase, type TestDatabase } from '#tests/support/database';
import { startVaultServer, statusOf as status, type VaultServer } from './vault-server.js';

describe('auth/userpass', () => {
  let tdb: TestDatabase;
  let vs: VaultServer;
  let admin: ReturnType<typeof nodeVault>;
  const agents = new Map<string, Agent>();
  const client = () => nodeVault({ apiVersion: 'v1', endpoint: vs.endpoint, noCustomHTTPVerbs: true });
  /** A login as the `vault` CLI sends it, from a chosen loopback address. */
  const loginFrom = async (from: string, user: string, password: string) => {
    let agent = agents.get(from);
    if (!agent) agents.set(from, (agent = new Agent({ localAddress: from })));
    const res = await undiciFetch(`${vs.baseUrl}/vault/v1/auth/userpass/login/${user}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ password }),
      dispatcher: agent,
    });
    return { status: res.status, retryAfter: res.headers.get('retry-after'), body: (await res.json()) as Record<string, any> };
  };

  before(async () => {
    tdb = await createTestDatabase();
    vs = await startVaultServer(tdb.database);
    admin = client();
    const init = await admin.init({ secret_shares: 1, secret_threshold: 1 });
    admin.token = init.root_token;
    await admin.unseal({ key: init.keys[0] });
    await admin.write('sys/policies/acl/ops', { policy: 'path "secret/data/ops/*" { capabilities = ["read"] }' });
    await admin.write('secret/data/ops/pager', { data: { number: '555-0100' } });
    await admin.write('auth/userpass/users/Alice', { password: 'correct horse battery', token_policies: 'ops', token_ttl: '30m' });
  });
  after(async () => {
    for (const a of agents.values()) await a.close();
    await vs?.close();
    await tdb?.drop();
  });

  it('logs a user in with node-vault; the name is case-insensitive; the token has the user\'s policies and TTL', async () => {
    const user = client();
    const login = await user.userpassLogin({ username: 'alice', password: 'correct horse battery' });
    assert.deepEqual(login.auth.token_policies, ['ops']);
    assert.deepEqual(login.auth.policies, ['ops', 'default']);
    assert.equal(login.auth.lease_duration, 1800);
    assert.deepEqual(login.auth.metadata, { username: 'alice' });
    assert.equal((await user.read('secret/data/ops/pager')).data.data.number, '555-0100');
    assert.equal((await user.tokenLookupSelf()).data.display_name, 'userpass-alice');
    const read = await admin.read('auth/userpass/users/alice');
    assert.deepEqual(read.data.token_policies, ['ops']);
    assert.equal(read.data.token_ttl, 1800);
    assert.equal(read.data.password, undefined);
  });

  it('stores an Argon2id hash, never the password, and refuses a wrong password with Vault\'s 400', async () => {
    const [row] = (await tdb.database.db.execute(sql`select * from vault.userpass_users where username = 'alice'`)) as unknown as { password_hash: string }[];
    assert.match(row!.password_hash, /^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
    assert.ok(!JSON.stringify(row).includes('correct horse'));
    const wrong = await loginFrom('127.0.0.1', 'alice', 'wrong');
    assert.deepEqual([wrong.status, wrong.body], [400, { errors: ['invalid username or password'] }]);
    const nobody = await loginFrom('127.0.0.1', 'nobody', 'whatever');
    assert.deepEqual([nobody.status, nobody.body], [400, { errors: ['invalid username or password'] }]);
    assert.equal(await status(client().userpassLogin({ username: 'alice', password: '' })), 400);
  });

  it('changes a password: the old one stops working, the new one works', async () => {
    await admin.write('auth/userpass/users/alice/password', { password: 'new-password-2' });
    assert.equal((await loginFrom('127.0.0.1', 'alice', 'correct horse battery')).status, 400);
    assert.equal((await loginFrom('127.0.0.1', 'alice', 'new-password-2')).status, 200);
    // Updating other fields keeps the password.
    await admin.write('auth/userpass/users/alice', { token_ttl: '1h' });
    const again = await loginFrom('127.0.0.1', 'alice', 'new-password-2');
    assert.equal(again.body.auth.lease_duration, 3600);
    assert.equal(await status(admin.write('auth/userpass/users/ghost/password', { password: 'x' })), 400);
  });

  it('slows down wrong passwords from one address without locking the user out from another', async () => {
    await admin.write('auth/userpass/users/bob', { password: 'bobs-password', token_policies: 'ops' });
    // 20 wrong guesses at once from the attacker's address: each attempt is counted before its
    // password check, so exactly 6 are checked (5 free, then one per wait) and the rest wait.
    const guesses = await Promise.all(Array.from({ length: 20 }, (_, i) => loginFrom('127.0.0.2', 'bob', `guess-${i}`)));
    assert.equal(guesses.filter((g) => g.status === 400).length, 6);
    const waiting = guesses.filter((g) => g.status === 429);
    assert.equal(waiting.length, 14);
    assert.match(waiting[0]!.body.errors[0], /too many failed login attempts/);
    assert.ok(Number(waiting[0]!.retryAfter) > 1 && Number(waiting[0]!.retryAfter) <= 60);
    // The right password from the attacker's address waits too...
    assert.equal((await loginFrom('127.0.0.2', 'bob', 'bobs-password')).status, 429);
    // ...while Bob logs in from his own address, and from node-vault.
    assert.equal((await loginFrom('127.0.0.3', 'bob', 'bobs-password')).status, 200);
    assert.equal((await client().userpassLogin({ username: 'bob', password: 'bobs-password' })).auth.metadata.username, 'bob');
    // Other users are not affected from the attacker's address.
    assert.equal((await loginFrom('127.0.0.2', 'alice', 'new-password-2')).status, 200);
  });

  it('clears an address\'s count on a successful login', async () => {
    await admin.write('auth/userpass/users/carol', { password: 'carols-password' });
    for (let i = 0; i < 5; i++) assert.equal((await loginFrom('127.0.0.4', 'carol', 'nope')).status, 400);
    assert.equal((await loginFrom('127.0.0.4', 'carol', 'carols-password')).status, 200);
    for (let i = 0; i < 5; i++) assert.equal((await loginFrom('127.0.0.4', 'carol', 'nope')).status, 400);
  });

  it('refuses a user row a database writer changed (a swapped hash, added policies)', async () => {
    const db = tdb.database.db;
    await admin.write('auth/userpass/users/dave', { password: 'daves-password', token_policies: 'ops' });
    await admin.write('auth/userpass/users/mallory', { password: 'mallorys-password' });
    // Mallory copies her own hash into Dave's row to log in as Dave.
    await db.execute(sql`update vault.userpass_users set password_hash = (select password_hash from vault.userpass_users where username = 'mallory') where username = 'dave'`);
    const swapped = await loginFrom('127.0.0.1', 'dave', 'mallorys-password');
    assert.deepEqual([swapped.status, swapped.body], [403, { errors: ['integrity check failed'] }]);
    await db.execute(sql`update vault.userpass_users set settings = jsonb_set(settings, '{token_policies}', '["ops","admin"]') where username = 'mallory'`);
    assert.equal((await loginFrom('127.0.0.1', 'mallory', 'mallorys-password')).status, 403);
  });

  it('deletes and lists users, keeps management behind the ACL and refuses hostile input', async () => {
    const keys = await fetch(`${vs.baseUrl}/vault/v1/auth/userpass/users?list=true`, { headers: { 'x-vault-token': admin.token! } });
    assert.ok(((await keys.json()) as { data: { keys: string[] } }).data.keys.includes('alice'));
    await admin.write('auth/userpass/users/erin', { password: 'erins-password' });
    await admin.delete('auth/userpass/users/erin');
    assert.equal((await loginFrom('127.0.0.1', 'erin', 'erins-password')).status, 400);
    assert.equal(await status(admin.read('auth/userpass/users/erin')), 404);
    const user = client();
    await user.userpassLogin({ username: 'alice', password: 'new-password-2' });
    assert.equal(await status(user.write('auth/userpass/users/alice', { token_policies: 'root' })), 403);
    assert.equal(await status(admin.write('auth/userpass/users/alice', { token_policies: 'root' })), 400);
    assert.equal(await status(admin.write('auth/userpass/users/frank', { token_policies: 'ops' })), 400);
    assert.equal(await status(admin.write('auth/userpass/users/bad%20name', { password: 'x' })), 400);
    assert.equal(await status(admin.write('auth/userpass/users/grace', { password: 'p'.repeat(2000) })), 400);
    assert.equal((await loginFrom('127.0.0.1', 'alice', 'p'.repeat(2000))).status, 400);
  });
});
