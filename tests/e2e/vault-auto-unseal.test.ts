// Auto-unseal through a second ZenoVault's transit key: init returns recovery shares of a
// recovery key distinct from the root key, a restarted unsealer unseals itself, recovery shares
// authorise generate-root and rekey (of the root key and of the recovery key) but never rebuild
// the root key, a vault from before distinct recovery keys keeps working and migrates, and the
// transit token is renewed at half its TTL.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'drizzle-orm';
import nodeVault from 'node-vault';
import { aad, open, DecryptError } from '#functions/vault/core/envelope';
import { sealSettingsFrom, sealWrapperFor } from '#functions/vault/core/seal';
import { combine } from '#functions/vault/core/shamir';
import type { Logger } from '#shared/log/index';
import { createTestDatabase, type TestDatabase } from '#tests/support/database';
import { call, startVaultServer, type Answer, type VaultServer } from './vault-server.js';


/** Runs a whole ceremony (rekey, rekey-recovery-key or generate-root) with `shares`. */
async function ceremony(vs: VaultServer, kind: 'rekey' | 'rekey-recovery-key' | 'generate-root', shares: string[], init: Record<string, unknown> = {}) {
  const start = await call(vs, 'PUT', kind === 'generate-root' ? 'sys/generate-root/attempt' : `sys/${kind}/init`, init);
  assert.equal(start.status, 200, JSON.stringify(start.body));
  let last: Answer | undefined;
  for (const key of shares) {
    last = await call(vs, 'PUT', `sys/${kind}/update`, { key, nonce: start.body.nonce });
    if (last.status !== 200) break;
  }
  return { start, last: last! };
}

function decodeRoot(encoded: string, otp: string): string {
  const bytes = Buffer.from(encoded, 'base64');
  const pad = Buffer.from(otp);
  return Buffer.from(bytes.map((b, i) => b ^ pad[i]!)).toString();
}

/** A logger that keeps what it is told. */
function capture(): Logger & { lines: { level: string; msg: string; fields?: Record<string, unknown> }[] } {
  const lines: { level: string; msg: string; fields?: Record<string, unknown> }[] = [];
  const log = {
    lines,
    debug: (msg: string, fields?: Record<string, unknown>) => void lines.push({ level: 'debug', msg, fields }),
    info: (msg: string, fields?: Record<string, unknown>) => void lines.push({ level: 'info', msg, fields }),
    warn: (msg: string, fields?: Record<string, unknown>) => void lines.push({ level: 'warn', msg, fields }),
    error: (msg: string, fields?: Record<string, unknown>) => void lines.push({ level: 'error', msg, fields }),
    child: () => log,
  };
  return log;
}

async function eventually<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('auto-unseal through another vault (transit seal)', () => {
  let dbA: TestDatabase;
  let dbB: TestDatabase;
  let a: VaultServer;
  let b: VaultServer;
  /** A second unsealer of vault B (the other pod): it follows a rekey by unwrapping the new root key. */
  let b2: VaultServer;
  let vaultA: ReturnType<typeof nodeVault>;
  let vaultB: ReturnType<typeof nodeVault>;
  let aKey: string;
  let recovery: string[];

  before(async () => {
    dbA = await createTestDatabase({ max: 4 });
    dbB = await createTestDatabase({ max: 4 });
    a = await startVaultServer(dbA.database);
    vaultA = nodeVault({ apiVersion: 'v1', endpoint: a.endpoint, noCustomHTTPVerbs: true });
    const init = await vaultA.init({ secret_shares: 1, secret_threshold: 1 });
    aKey = init.keys[0];
    vaultA.token = init.root_token;
    await vaultA.unseal({ key: aKey });
    await vaultA.write('transit/keys/autounseal', {});
    await vaultA.write('sys/policies/acl/autounseal', {
      policy: 'path "transit/encrypt/autounseal" { capabilities = ["update"] }\npath "transit/decrypt/autounseal" { capabilities = ["update"] }',
    });
    const sealToken = (await nodeVault({ apiVersion: 'v1', endpoint: a.endpoint, token: init.root_token }).tokenCreate({ policies: ['autounseal'], no_parent: true })).auth.client_token;
    b = await startVaultServer(dbB.database, {
      VAULT_SEAL_TYPE: 'transit',
      VAULT_SEAL_TRANSIT_ADDRESS: a.endpoint,
      VAULT_SEAL_TRANSIT_TOKEN: sealToken,
      VAULT_SEAL_TRANSIT_KEY: 'autounseal',
      VAULT_SEAL_RETRY_MS: '100',
    });
    vaultB = nodeVault({ apiVersion: 'v1', endpoint: b.endpoint, noCustomHTTPVerbs: true });
    b2 = await startVaultServer(dbB.database, {
      VAULT_SEAL_TYPE: 'transit',
      VAULT_SEAL_TRANSIT_ADDRESS: a.endpoint,
      VAULT_SEAL_TRANSIT_TOKEN: sealToken,
      VAULT_SEAL_TRANSIT_KEY: 'autounseal',
      VAULT_SEAL_RETRY_MS: '100',
      VAULT_ROOT_CHECK_MS: '0',
    });
  });
  after(async () => {
    await b2?.close();
    await b?.close();
    await a?.close();
    await dbB?.drop();
    await dbA?.drop();
  });

  it('initialises with recovery shares only and is unsealed at once', async () => {
    // node-vault's schema insists on secret_shares; with a seal stanza they are ignored, as in Vault.
    const init = await vaultB.init({ secret_shares: 1, secret_threshold: 1, recovery_shares: 5, recovery_threshold: 3 });
    assert.deepEqual(init.keys, []);
    assert.equal(init.recovery_keys.length, 5);
    recovery = init.recovery_keys;
    vaultB.token = init.root_token;
    const status = await vaultB.status();
    assert.equal(status.sealed, false);
    assert.equal(status.type, 'transit');
    assert.equal(status.recovery_seal, true);
    await vaultB.write('secret/data/app', { data: { password: 'behind-two-vaults' } });
    const row = await dbB.database.query<{ seal_wrapped_root_key: string }>(
      (await import('drizzle-orm')).sql`select seal_wrapped_root_key from vault.seal_config`,
    );
    assert.match(row[0]!.seal_wrapped_root_key, /^vault:v1:/, 'the root key is stored only wrapped by the remote transit key');
  });

  it('unseals itself after an unsealer restart, with no human', async () => {
    await b.restartUnsealer();
    await eventually('auto-unseal', async () => ((await vaultB.status()).sealed ? undefined : true));
    assert.equal((await vaultB.read('secret/data/app')).data.data.password, 'behind-two-vaults');
  });

  it('makes recovery shares of a key of their own: they never rebuild the root key', async () => {
    const [row] = await dbB.database.query<{ canary: Uint8Array; recovery_canary: Uint8Array | null }>(
      sql`select canary, recovery_canary from vault.seal_config`,
    );
    assert.ok(row!.recovery_canary, 'a recovery canary is stored');
    const combined = combine(recovery.slice(0, 3).map((k) => Buffer.from(k, 'hex')));
    assert.throws(() => open(combined, row!.canary, aad.canary()), DecryptError, 'the recovery key does not open the root canary');
    open(combined, row!.recovery_canary!, aad.recoveryCanary());
  });

  it('stays sealed while the remote key is unavailable: recovery shares are checked but cannot unseal without the seal', async () => {
    await vaultA.seal();
    await b.restartUnsealer();
    await new Promise((r) => setTimeout(r, 400));
    assert.equal((await vaultB.status()).sealed, true);
    const wrong = Buffer.from(recovery[0]!, 'hex');
    wrong[0]! ^= 1;
    await call(b, 'PUT', 'sys/unseal', { key: wrong.toString('hex') });
    await call(b, 'PUT', 'sys/unseal', { key: recovery[1] });
    const refused = await call(b, 'PUT', 'sys/unseal', { key: recovery[2] });
    assert.equal(refused.status, 400);
    assert.match(refused.body.errors![0]!, /canary/);
    await call(b, 'PUT', 'sys/unseal', { key: recovery[4] });
    await call(b, 'PUT', 'sys/unseal', { key: recovery[1] });
    const unreachable = await call(b, 'PUT', 'sys/unseal', { key: recovery[2] });
    assert.equal(unreachable.status, 503);
    assert.match(unreachable.body.errors![0]!, /transit seal/);
    assert.equal((await vaultB.status()).sealed, true);
  });

  it('picks the remote seal up again once the remote vault is back', async () => {
    await vaultA.unseal({ key: aKey });
    await b.restartUnsealer();
    await eventually('auto-unseal after the remote vault returns', async () => ((await vaultB.status()).sealed ? undefined : true));
  });

  it('unseals a node sealed by an operator with recovery shares, through the seal (as Vault does)', async () => {
    await vaultB.seal();
    assert.equal((await vaultB.status()).sealed, true);
    for (const k of [recovery[3], recovery[0]]) assert.equal((await call(b, 'PUT', 'sys/unseal', { key: k })).body.sealed, true);
    const done = await call(b, 'PUT', 'sys/unseal', { key: recovery[2] });
    assert.equal(done.body.sealed, false);
    assert.equal((await vaultB.read('secret/data/app')).data.data.password, 'behind-two-vaults');
  });

  it('generates a root token with recovery shares; unseal shares of no kind exist', async () => {
    const { start, last } = await ceremony(b, 'generate-root', [recovery[0]!, recovery[4]!, recovery[3]!]);
    assert.equal(start.body.required, 3);
    assert.equal(last.body.complete, true);
    const token = decodeRoot(last.body.encoded_token as string, start.body.otp as string);
    const c = nodeVault({ apiVersion: 'v1', endpoint: b.endpoint, token, noCustomHTTPVerbs: true });
    assert.deepEqual((await c.tokenLookupSelf()).data.policies, ['root']);
  });

  it('rekeys the root key with recovery shares: stored only wrapped by the seal, no shares shown', async () => {
    const split = await call(b, 'PUT', 'sys/rekey/init', { secret_shares: 3, secret_threshold: 2 });
    assert.equal(split.status, 400);
    assert.match(split.body.errors![0]!, /must be 1/);
    await eventually('the second unsealer auto-unsealed', async () => ((await call(b2, 'GET', 'sys/seal-status')).body.sealed ? undefined : true));
    const [before] = await dbB.database.query<{ canary: Uint8Array; w: string }>(sql`select canary, seal_wrapped_root_key as w from vault.seal_config`);
    const { last } = await ceremony(b, 'rekey', [recovery[1]!, recovery[2]!, recovery[3]!]);
    assert.equal(last.status, 200, JSON.stringify(last.body));
    assert.deepEqual([last.body.complete, last.body.keys, last.body.keys_base64], [true, [], []]);
    const [after] = await dbB.database.query<{ canary: Uint8Array; w: string }>(sql`select canary, seal_wrapped_root_key as w from vault.seal_config`);
    assert.notEqual(after!.w, before!.w);
    assert.match(after!.w, /^vault:v1:/);
    assert.equal(Buffer.from(after!.canary).equals(Buffer.from(before!.canary)), false);
    assert.equal((await vaultB.read('secret/data/app')).data.data.password, 'behind-two-vaults');
    // The other unsealer held the old root key: its next use finds the canary changed, and it
    // re-derives the new root key from the seal instead of going on with the stale one.
    const viaB2 = nodeVault({ apiVersion: 'v1', endpoint: b2.endpoint, token: vaultB.token, noCustomHTTPVerbs: true });
    assert.equal((await viaB2.read('secret/data/app')).data.data.password, 'behind-two-vaults');
    assert.equal((await call(b2, 'GET', 'sys/seal-status')).body.sealed, false);
    await viaB2.write('secret/data/via-b2', { data: { v: 'after-the-rekey' } });
    // A restarted unsealer unwraps the new root key from the seal.
    await b.restartUnsealer();
    await eventually('auto-unseal with the rekeyed root key', async () => ((await vaultB.status()).sealed ? undefined : true));
    assert.equal((await vaultB.read('secret/data/app')).data.data.password, 'behind-two-vaults');
  });

  it('rekeys the recovery key: new recovery shares, the old ones refused', async () => {
    const { last } = await ceremony(b, 'rekey-recovery-key', [recovery[4]!, recovery[0]!, recovery[2]!], { secret_shares: 3, secret_threshold: 2 });
    assert.equal(last.body.complete, true);
    const fresh = last.body.keys as string[];
    assert.equal(fresh.length, 3);
    assert.equal((await vaultB.status()).t, 2);
    const old = await ceremony(b, 'generate-root', [recovery[0]!, recovery[1]!]);
    assert.equal(old.last.status, 400);
    assert.match(old.last.body.errors![0]!, /canary/);
    await call(b, 'DELETE', 'sys/generate-root/attempt');
    const ok = await ceremony(b, 'generate-root', [fresh[2]!, fresh[1]!]);
    assert.equal(ok.last.body.complete, true);
    recovery = fresh;
  });

  it('has no recovery keys under Shamir: sys/rekey-recovery-key answers 400', async () => {
    const r = await call(a, 'PUT', 'sys/rekey-recovery-key/init', { secret_shares: 1, secret_threshold: 1 });
    assert.equal(r.status, 400);
    assert.match(r.body.errors![0]!, /auto-unseal/);
  });
});

describe('a transit-sealed vault from before distinct recovery keys', () => {
  let dbA: TestDatabase;
  let dbC: TestDatabase;
  let a: VaultServer;
  let c: VaultServer;
  let legacy: string[];

  before(async () => {
    dbA = await createTestDatabase({ max: 4 });
    dbC = await createTestDatabase({ max: 4 });
    a = await startVaultServer(dbA.database);
    const initA = await call(a, 'PUT', 'sys/init', { secret_shares: 1, secret_threshold: 1 });
    await call(a, 'PUT', 'sys/unseal', { key: (initA.body.keys as string[])[0] });
    const vaultA = nodeVault({ apiVersion: 'v1', endpoint: a.endpoint, token: initA.body.root_token as string, noCustomHTTPVerbs: true });
    await vaultA.write('transit/keys/autounseal', {});
    // What init with a transit seal used to store: the root key wrapped by the seal, its own
    // Shamir shares handed out as "recovery shares", no recovery canary. Built here from a
    // Shamir vault by wrapping its root key through the same transit key.
    const shamir = await startVaultServer(dbC.database);
    const initC = await call(shamir, 'PUT', 'sys/init', { secret_shares: 3, secret_threshold: 2 });
    legacy = initC.body.keys as string[];
    for (const key of legacy.slice(0, 2)) await call(shamir, 'PUT', 'sys/unseal', { key });
    const cl = nodeVault({ apiVersion: 'v1', endpoint: shamir.endpoint, token: initC.body.root_token as string, noCustomHTTPVerbs: true });
    await cl.write('secret/data/old', { data: { v: 'from-the-old-days' } });
    await shamir.close();
    const root = combine(legacy.slice(0, 2).map((k) => Buffer.from(k, 'hex')));
    const wrapped = (await vaultA.write('transit/encrypt/autounseal', { plaintext: root.toString('base64') })).data.ciphertext as string;
    root.fill(0);
    await dbC.database.query(sql`update vault.seal_config set type = 'transit', seal_wrapped_root_key = ${wrapped}, recovery_canary = null`);
    c = await startVaultServer(dbC.database, {
      VAULT_SEAL_TYPE: 'transit',
      VAULT_SEAL_TRANSIT_ADDRESS: a.endpoint,
      VAULT_SEAL_TRANSIT_TOKEN: initA.body.root_token as string,
      VAULT_SEAL_TRANSIT_KEY: 'autounseal',
      VAULT_SEAL_RETRY_MS: '100',
    });
  });
  after(async () => {
    await c?.close();
    await a?.close();
    await dbC?.drop();
    await dbA?.drop();
  });

  it('auto-unseals, and its old recovery shares still authorise ceremonies', async () => {
    await eventually('auto-unseal of the old vault', async () => ((await call(c, 'GET', 'sys/seal-status')).body.sealed ? undefined : true));
    const { last } = await ceremony(c, 'generate-root', legacy.slice(1, 3));
    assert.equal(last.body.complete, true);
  });

  it('migrates: rekey of the root key waits for distinct recovery keys, then both are rekeyed', async () => {
    const early = await call(c, 'PUT', 'sys/rekey/init', {});
    assert.equal(early.status, 400);
    assert.match(early.body.errors![0]!, /rekey them first with sys\/rekey-recovery-key/);
    const rec = await ceremony(c, 'rekey-recovery-key', legacy.slice(0, 2), { secret_shares: 3, secret_threshold: 2 });
    assert.equal(rec.last.body.complete, true);
    const fresh = rec.last.body.keys as string[];
    const root = await ceremony(c, 'rekey', fresh.slice(0, 2));
    assert.equal(root.last.body.complete, true);
    // The old shares split the old root key: they open nothing now.
    const [row] = await dbC.database.query<{ canary: Uint8Array }>(sql`select canary from vault.seal_config`);
    const old = combine(legacy.slice(0, 2).map((k) => Buffer.from(k, 'hex')));
    assert.throws(() => open(old, row!.canary, aad.canary()), DecryptError);
    const v = await fetch(`${c.baseUrl}/vault/v1/sys/generate-root/attempt`, { method: 'PUT', body: '{}' });
    const nonce = ((await v.json()) as { nonce: string }).nonce;
    await call(c, 'PUT', 'sys/generate-root/update', { key: legacy[0], nonce });
    const refused = await call(c, 'PUT', 'sys/generate-root/update', { key: legacy[1], nonce });
    assert.equal(refused.status, 400);
    await call(c, 'DELETE', 'sys/generate-root/attempt');
    await c.restartUnsealer();
    await eventually('auto-unseal after the migration', async () => ((await call(c, 'GET', 'sys/seal-status')).body.sealed ? undefined : true));
  });
});

describe('the transit seal token is kept alive', () => {
  let db: TestDatabase;
  let a: VaultServer;
  let rootToken: string;
  const minted = async (opts: Record<string, unknown>) =>
    (await nodeVault({ apiVersion: 'v1', endpoint: a.endpoint, token: rootToken, noCustomHTTPVerbs: true }).tokenCreate({ policies: ['default'], ...opts })).auth.client_token as string;
  const lookup = async (token: string) =>
    nodeVault({ apiVersion: 'v1', endpoint: a.endpoint, token, noCustomHTTPVerbs: true }).tokenLookupSelf();
  const keepAlive = (token: string, log: Logger) =>
    sealWrapperFor(sealSettingsFrom({ VAULT_SEAL_TYPE: 'transit', VAULT_SEAL_TRANSIT_ADDRESS: a.endpoint, VAULT_SEAL_TRANSIT_TOKEN: token, VAULT_SEAL_TRANSIT_KEY: 'k' }))!.keepAlive!(log, { minBackoffMs: 50 });

  before(async () => {
    db = await createTestDatabase({ max: 4 });
    a = await startVaultServer(db.database);
    const init = await call(a, 'PUT', 'sys/init', { secret_shares: 1, secret_threshold: 1 });
    rootToken = init.body.root_token as string;
    await call(a, 'PUT', 'sys/unseal', { key: (init.body.keys as string[])[0] });
  });
  after(async () => {
    await a?.close();
    await db?.drop();
  });

  it('renews a renewable token at half its TTL, so it outlives its first TTL', async () => {
    const token = await minted({ ttl: '2s', renewable: true });
    const first = (await lookup(token)).data.expire_time as string;
    const log = capture();
    const renewal = keepAlive(token, log);
    try {
      // Renewed: the expiry moved (a renewal at 1 s sets it 2 s from then).
      await eventually('a renewal', async () => ((await lookup(token)).data.expire_time !== first ? true : undefined));
      // Past the first expiry, the token still works because it keeps being renewed.
      await new Promise((r) => setTimeout(r, 2500));
      assert.ok(Date.parse((await lookup(token)).data.expire_time as string) > Date.parse(first));
    } finally {
      renewal.stop();
    }
    assert.deepEqual(log.lines.filter((l) => l.level !== 'debug' && l.level !== 'info'), []);
    for (const l of log.lines) assert.equal(JSON.stringify(l).includes(token), false, 'the token is never logged');
  });

  it('logs a non-renewable token clearly, with when it expires', async () => {
    const token = await minted({ ttl: '1h', renewable: false });
    const log = capture();
    const renewal = keepAlive(token, log);
    try {
      const line = await eventually('the warning', async () => log.lines.find((l) => l.level === 'warn'));
      assert.match(line.msg, /not renewable/);
      assert.ok(Date.parse(line.fields!.expiresAt as string) > Date.now());
    } finally {
      renewal.stop();
    }
  });

  it('warns when the max TTL caps a renewal', async () => {
    const token = await minted({ ttl: '2s', explicit_max_ttl: '3s', renewable: true });
    const log = capture();
    const renewal = keepAlive(token, log);
    try {
      const capped = await eventually('the max TTL warning', async () => log.lines.find((l) => /max TTL/.test(l.msg)));
      assert.equal(capped.level, 'warn');
      assert.ok(capped.fields!.expiresAt);
    } finally {
      renewal.stop();
    }
  });

  it('retries with backoff when the token cannot be read or renewed, never logging it', async () => {
    const token = await minted({ ttl: '1h', renewable: true });
    await nodeVault({ apiVersion: 'v1', endpoint: a.endpoint, token, noCustomHTTPVerbs: true }).tokenRevokeSelf();
    const log = capture();
    const renewal = keepAlive(token, log);
    try {
      const failures = await eventually('two failed attempts', async () => {
        const f = log.lines.filter((l) => /renewing the transit seal token failed/.test(l.msg));
        return f.length >= 2 ? f : undefined;
      });
      assert.equal(failures[0]!.level, 'warn');
      assert.ok((failures[1]!.fields!.retryInMs as number) > (failures[0]!.fields!.retryInMs as number), 'the delay grows');
      assert.equal(JSON.stringify(log.lines).includes(token), false);
    } finally {
      renewal.stop();
    }
  });
});
