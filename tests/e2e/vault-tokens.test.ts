// ZenoVault token semantics with node-vault over real HTTP on real PostgreSQL: renewal bounded
// by the max TTL, children only under a live parent, trees revoked at any depth, and lookups of
// another token spending none of its uses.
// @see https://developer.hashicorp.com/vault/docs/concepts/tokens
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { eq, sql } from 'drizzle-orm';
import nodeVault from 'node-vault';
import { createTestDatabase, type TestDatabase } from '#tests/support/database';
import type { RowMac } from '#functions/vault/core/integrity';
import { tokens } from '#functions/vault/core/schema';
import { tokenMacFields } from '#functions/vault/core/tokens';
import { operatorRowMac, startVaultServer, statusOf, type VaultServer } from './vault-server.js';

type Auth = { auth: { client_token: string; accessor: string; lease_duration: number }; warnings: string[] | null };

const SYSTEM_MAX = 768 * 3600;

describe('ZenoVault tokens', () => {
  let tdb: TestDatabase;
  let vs: VaultServer;
  let rootToken: string;
  let operatorMac: RowMac;
  const client = (token?: string) => nodeVault({ apiVersion: 'v1', endpoint: vs.endpoint, token, noCustomHTTPVerbs: true });
  // node-vault adopts the token a tokenCreate returns: mint with a throw-away client.
  const mint = (opts: Record<string, unknown>, token = rootToken): Promise<Auth> => client(token).tokenCreate(opts);
  const count = async (accessors: string[]) => {
    const [row] = await tdb.database.query<{ n: number }>(
      sql`select count(*)::int as n from vault.tokens where accessor = any(array(select jsonb_array_elements_text(${JSON.stringify(accessors)}::jsonb)))`,
    );
    return row!.n;
  };

  before(async () => {
    tdb = await createTestDatabase();
    vs = await startVaultServer(tdb.database);
    const init = await client().init({ secret_shares: 1, secret_threshold: 1 });
    rootToken = init.root_token;
    await client().unseal({ key: init.keys[0] });
    operatorMac = await operatorRowMac(tdb.database, init.keys);
    await client(rootToken).write('sys/policy/creator', { rules: 'path "auth/token/create" { capabilities = ["update"] }' });
  });
  after(async () => {
    await vs?.close();
    await tdb?.drop();
  });

  describe('renewal is bounded by the max TTL', () => {
    it('caps renew-self at the explicit max TTL, with a warning', async () => {
      const created = await mint({ policies: ['default'], ttl: '1h', explicit_max_ttl: '2h' });
      const t = client(created.auth.client_token);
      const within = await t.tokenRenewSelf({ increment: '30m' });
      assert.ok(within.auth.lease_duration <= 1800 && within.auth.lease_duration >= 1790, String(within.auth.lease_duration));
      assert.equal(within.warnings, null);
      const beyond = await t.tokenRenewSelf({ increment: '10h' });
      assert.ok(beyond.auth.lease_duration <= 7200 && beyond.auth.lease_duration >= 7100, String(beyond.auth.lease_duration));
      assert.match(beyond.warnings[0], /exceeded the effective max_ttl .* capped/);
      const self = await t.tokenLookupSelf();
      assert.ok(self.data.ttl <= 7200);
    });

    it('caps a token without an explicit max at the system max (768h)', async () => {
      const created = await mint({ policies: ['default'], ttl: '1h' });
      const t = client(created.auth.client_token);
      const renewed = await t.tokenRenewSelf({ increment: '1000h' });
      assert.ok(renewed.auth.lease_duration <= SYSTEM_MAX && renewed.auth.lease_duration >= SYSTEM_MAX - 60, String(renewed.auth.lease_duration));
      assert.equal(renewed.warnings.length, 1);
    });

    it('does not extend a token near its max, by renew-self or by renew', async () => {
      const created = await mint({ policies: ['default'], ttl: '1h', explicit_max_ttl: '2h' });
      // Age the token: created 2h ago less 60 s, so 60 s are left of its max TTL (re-signed, as
      // the MAC covers created_at: an unsigned change would be refused as a forgery).
      const [aged] = await tdb.database.db.select().from(tokens).where(eq(tokens.accessor, created.auth.accessor));
      aged!.createdAt = new Date(Date.now() - 2 * 3600_000 + 60_000);
      await tdb.database.db
        .update(tokens)
        .set({ createdAt: aged!.createdAt, mac: operatorMac.sign('tokens', tokenMacFields(aged!)) })
        .where(eq(tokens.accessor, created.auth.accessor));
      const self = await client(created.auth.client_token).tokenRenewSelf({ increment: '1h' });
      assert.ok(self.auth.lease_duration <= 60, String(self.auth.lease_duration));
      assert.match(self.warnings[0], /capped/);
      const other = await client(rootToken).tokenRenew({ token: created.auth.client_token, increment: '1h' });
      assert.ok(other.auth.lease_duration <= 60, String(other.auth.lease_duration));
      assert.match(other.warnings[0], /capped/);
      const [row] = await tdb.database.query<{ late: boolean }>(
        sql`select expires_at > created_at + interval '2 hours' as late from vault.tokens where accessor = ${created.auth.accessor}`,
      );
      assert.equal(row!.late, false);
    });
  });

  describe('token trees', () => {
    it('leaves no child of a parent revoked while 100 children are being created under it', async () => {
      const parent = await mint({ policies: ['creator'] });
      const outcomes: Array<{ accessor?: string; token?: string; status?: number }> = [];
      let firstDone!: () => void;
      const first = new Promise<void>((resolve) => (firstDone = resolve));
      const creations = Array.from({ length: 100 }, () =>
        mint({ policies: ['default'] }, parent.auth.client_token).then(
          (r) => {
            outcomes.push({ accessor: r.auth.accessor, token: r.auth.client_token });
            firstDone();
          },
          (err: { response?: { statusCode: number } }) => {
            outcomes.push({ status: err.response?.statusCode ?? -1 });
            firstDone();
          },
        ),
      );
      // Revoke once the first creation has answered, while the others are in flight.
      await first;
      await client(rootToken).tokenRevoke({ token: parent.auth.client_token });
      await Promise.all(creations);
      const created = outcomes.filter((o) => o.accessor);
      assert.ok(created.length >= 1, 'at least the first child was created before the revocation');
      assert.deepEqual([...new Set(outcomes.filter((o) => !o.accessor).map((o) => o.status))].filter((s) => s !== 403), []);
      const [orphans] = await tdb.database.query<{ n: number }>(
        sql`select count(*)::int as n from vault.tokens where parent_accessor = ${parent.auth.accessor}`,
      );
      assert.equal(orphans!.n, 0);
      assert.equal(await count([parent.auth.accessor, ...created.map((o) => o.accessor!)]), 0);
      for (const o of created.slice(0, 5)) assert.equal(await statusOf(client(o.token).tokenLookupSelf()), 403);
    });

    it('revokes a chain of depth 200 whole', async () => {
      const chain: Auth[] = [await mint({ policies: ['creator'] })];
      for (let i = 1; i <= 200; i++) chain.push(await mint({}, chain[i - 1]!.auth.client_token));
      const leaf = client(chain[200]!.auth.client_token);
      assert.equal((await leaf.tokenLookupSelf()).data.orphan, false);
      await client(rootToken).tokenRevoke({ token: chain[0]!.auth.client_token });
      assert.equal(await count(chain.map((c) => c.auth.accessor)), 0);
      assert.equal(await statusOf(leaf.tokenLookupSelf()), 403);
    });
  });

  describe('looking up another token spends none of its uses', () => {
    it('keeps num_uses across lookup and lookup-accessor; only its own use counts', async () => {
      const limited = await mint({ policies: ['default'], num_uses: 2 });
      const root = client(rootToken);
      for (let i = 0; i < 3; i++) {
        assert.equal((await root.tokenLookup({ token: limited.auth.client_token })).data.num_uses, 2);
        const byAccessor = await root.tokenLookupAccessor({ accessor: limited.auth.accessor });
        assert.equal(byAccessor.data.num_uses, 2);
        assert.equal(byAccessor.data.id, '');
      }
      assert.equal((await client(limited.auth.client_token).tokenLookupSelf()).data.num_uses, 1);
      assert.equal((await root.tokenLookup({ token: limited.auth.client_token })).data.num_uses, 1);
    });

    it('revokes a token with one use left by token and by accessor', async () => {
      const byToken = await mint({ policies: ['default'], num_uses: 1 });
      const byAccessor = await mint({ policies: ['default'], num_uses: 1 });
      await client(rootToken).tokenRevoke({ token: byToken.auth.client_token });
      await client(rootToken).tokenRevokeAccessor({ accessor: byAccessor.auth.accessor });
      assert.equal(await count([byToken.auth.accessor, byAccessor.auth.accessor]), 0);
    });
  });
});
