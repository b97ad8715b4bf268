import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'drizzle-orm';
import { createTestDatabase, type TestDatabase } from '#tests/support/database';
import { startAuthHarness, type AuthHarness } from '../testing/harness.js';
import { basicAuth, form, makeClient, makeTenant, makeUser } from '../testing/fixtures.js';
import { mintRefreshToken } from '../testing/grants.js';
import { checkClientMetadata, clientMetadataSchema } from '../core/client-metadata.js';
import type { Client, Tenant, User } from '../core/schema.js';

describe('POST /token refresh_token: reuse grace for a retried rotation (RFC 9700 §4.14.2)', () => {
  let tdb: TestDatabase;
  let h: AuthHarness;
  let tenant: Tenant;
  let user: User;
  const clients: Record<string, { client: Client; secret: string }> = {};
  before(async () => {
    tdb = await createTestDatabase();
    h = await startAuthHarness(tdb.database);
    tenant = await makeTenant(tdb.database.db, 'grace');
    user = await makeUser(tdb.database.db, tenant, { username: 'rita' });
    for (const [id, grace] of [['lenient', 30], ['strict', 0]] as const) {
      clients[id] = (await makeClient(tdb.database.db, tenant, { client_id: id, redirect_uris: ['http://localhost:9/cb'], grant_types: ['authorization_code', 'refresh_token'], scope: 'openid offline_access', refresh_token_reuse_grace: grace })) as { client: Client; secret: string };
    }
  });
  after(async () => {
    await h.close();
    await tdb.drop();
  });

  const refresh = async (id: string, token: string) => {
    const res = await h.fetch('/auth/grace/token', { ...form({ grant_type: 'refresh_token', refresh_token: token }), headers: { ...form({}).headers, authorization: basicAuth(id, clients[id]!.secret) } });
    return { status: res.status, body: (await res.json()) as { refresh_token?: string; error?: string } };
  };
  const familyRevoked = async (reason: string) =>
    (await tdb.database.query<{ n: number }>(sql`select count(*)::int as n from auth.token_families where revoked_reason = ${reason}`))[0]!.n;

  it('lets the client retry a rotation whose response was lost, within its grace, without revoking the grant', async () => {
    const first = await mintRefreshToken(tdb.database.db, tenant, clients.lenient!.client, user, 'openid offline_access');
    const lost = await refresh('lenient', first);
    assert.equal(lost.status, 200);
    const retry = await refresh('lenient', first);
    assert.equal(retry.status, 200);
    assert.notEqual(retry.body.refresh_token, lost.body.refresh_token);
    assert.equal((await refresh('lenient', retry.body.refresh_token!)).status, 200);
    assert.equal(await familyRevoked('refresh_token_reused'), 0);
    const [audited] = await tdb.database.query<{ n: number }>(sql`select count(*)::int as n from auth.audit where action = 'token.issued' and detail->>'graced' = 'true'`);
    assert.equal(audited!.n, 1);
  });

  it('treats a presentation after the grace as reuse and revokes the grant', async () => {
    const first = await mintRefreshToken(tdb.database.db, tenant, clients.lenient!.client, user, 'openid offline_access');
    const next = await refresh('lenient', first);
    assert.equal(next.status, 200);
    await tdb.database.db.execute(sql`update auth.refresh_tokens set used_at = now() - interval '31 seconds' where used_at is not null`);
    const late = await refresh('lenient', first);
    assert.equal(late.status, 400);
    assert.equal(late.body.error, 'invalid_grant');
    assert.equal((await refresh('lenient', next.body.refresh_token!)).status, 400, 'the whole grant is revoked');
  });

  it('gives no grace to a client without one: the second presentation revokes the grant', async () => {
    const first = await mintRefreshToken(tdb.database.db, tenant, clients.strict!.client, user, 'openid offline_access');
    const next = await refresh('strict', first);
    assert.equal(next.status, 200);
    assert.equal((await refresh('strict', first)).status, 400);
    assert.equal((await refresh('strict', next.body.refresh_token!)).status, 400);
  });

  it('refuses a grace for a FAPI client (PAR and private_key_jwt) and ignores it from dynamic registration', async () => {
    const fapi = clientMetadataSchema.parse({ token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [{ kty: 'OKP' }] }, require_pushed_authorization_requests: true, redirect_uris: ['https://rp.example/cb'], refresh_token_reuse_grace: 10 });
    assert.match(checkClientMetadata(fapi) ?? '', /no refresh token reuse grace/);
    const { clientValues } = await import('../core/clients.js');
    const dyn = clientValues(tenant.id, clientMetadataSchema.parse({ redirect_uris: ['https://rp.example/cb'], refresh_token_reuse_grace: 10 }), { dynamic: true });
    assert.equal(dyn.values.refreshReuseGraceSeconds, 0);
  });
});
