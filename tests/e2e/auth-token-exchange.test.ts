// Token exchange (RFC 8693) over real HTTP: openid-client's generic grant for delegation,
// impersonation and the act chain; raw requests for the policy and every error of §2.2.2.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as oidc from 'openid-client';
import { decodeJwt } from 'jose';
import { createTestDatabase, type TestDatabase } from '#tests/support/database';
import { startAuthHarness, type AuthHarness } from '#functions/auth/testing/harness';
import { basicAuth, makeClient, makeTenant, makeUser } from '#functions/auth/testing/fixtures';
import { mintCode } from '#functions/auth/testing/grants';
import { TOKEN_EXCHANGE_GRANT, TOKEN_TYPE } from '#functions/auth/core/grant-types';
import { findClient } from '#functions/auth/core/clients';

const insecure = { execute: [oidc.allowInsecureRequests] };
const CALLBACK = 'https://app.example/cb';
const ORDERS = 'https://orders.example';
const BILLING = 'https://billing.example';

describe('ZenoAuth token exchange (RFC 8693)', () => {
  let tdb: TestDatabase;
  let h: AuthHarness;
  let issuer: string;
  const secrets: Record<string, string> = {};
  let user: { access_token: string; refresh_token: string; id_token: string };
  let globexToken: string;
  let aliceId: string;
  /** A fresh grant of alice to the web client (code redeemed at the real token endpoint). */
  let signIn: () => Promise<{ access_token: string; refresh_token: string; id_token: string }>;

  before(async () => {
    tdb = await createTestDatabase();
    h = await startAuthHarness(tdb.database, { listen: true });
    const db = tdb.database.db;
    const acme = await makeTenant(db, 'acme');
    const alice = await makeUser(db, acme, { username: 'alice' });
    aliceId = alice.id;
    issuer = `${h.baseUrl}/auth/acme`;
    const clients: [string, Parameters<typeof makeClient>[2]][] = [
      ['web', { redirect_uris: [CALLBACK], grant_types: ['authorization_code', 'refresh_token', TOKEN_EXCHANGE_GRANT], scope: 'openid read write', token_exchange_audiences: [ORDERS], token_exchange_impersonation: true }],
      ['gateway', { grant_types: ['client_credentials', TOKEN_EXCHANGE_GRANT], scope: 'svc', token_exchange_audiences: [ORDERS, BILLING] }],
      ['orders', { grant_types: ['client_credentials', TOKEN_EXCHANGE_GRANT], scope: 'svc', token_exchange_audiences: [BILLING] }],
      ['batch', { grant_types: [TOKEN_EXCHANGE_GRANT], scope: 'svc', token_exchange_audiences: [ORDERS], token_exchange_impersonation: true }],
      ['plain', { grant_types: ['client_credentials'], scope: 'svc' }],
    ];
    for (const [id, meta] of clients) secrets[id] = (await makeClient(db, acme, { client_id: id, ...meta })).secret!;
    await makeClient(db, acme, { client_id: 'spa', token_endpoint_auth_method: 'none', redirect_uris: [CALLBACK], grant_types: ['authorization_code', TOKEN_EXCHANGE_GRANT], scope: 'openid', token_exchange_audiences: [ORDERS], token_exchange_impersonation: true });
    signIn = async () => {
      const code = await mintCode(db, acme, (await findClient(db, acme.id, 'web'))!, alice, CALLBACK, 'openid read write');
      const res = await post('acme', { grant_type: 'authorization_code', code, redirect_uri: CALLBACK }, 'web');
      assert.equal(res.status, 200);
      return (await res.json()) as typeof user;
    };
    user = await signIn();
    const globex = await makeTenant(db, 'globex');
    const g = await makeClient(db, globex, { client_id: 'gateway', grant_types: ['client_credentials'], scope: 'svc' });
    globexToken = ((await (await post('globex', { grant_type: 'client_credentials' }, 'gateway', g.secret)).json()) as { access_token: string }).access_token;
  });
  after(async () => {
    await h.close();
    await tdb.drop();
  });

  function post(tenant: string, body: Record<string, string | string[]>, clientId?: string, secret = clientId ? secrets[clientId] : undefined): Promise<Response> {
    const p = new URLSearchParams();
    for (const [k, v] of Object.entries(body)) for (const x of Array.isArray(v) ? v : [v]) p.append(k, x);
    return fetch(`${h.baseUrl}/auth/${tenant}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...(clientId && secret ? { authorization: basicAuth(clientId, secret) } : {}) },
      body: p.toString(),
    });
  }
  const serviceToken = async (clientId: string) => ((await (await post('acme', { grant_type: 'client_credentials' }, clientId)).json()) as { access_token: string }).access_token;
  const exchange = (clientId: string, body: Record<string, string | string[]>) => post('acme', { grant_type: TOKEN_EXCHANGE_GRANT, ...body }, clientId);
  const errorOf = async (res: Response) => {
    assert.equal(res.headers.get('cache-control'), 'no-store');
    return ((await res.json()) as { error: string }).error;
  };
  const configFor = (clientId: string) => oidc.discovery(new URL(issuer), clientId, undefined, oidc.ClientSecretBasic(secrets[clientId]!), insecure);

  it('advertises the token-exchange grant type (RFC 8414 §2)', async () => {
    const config = await configFor('gateway');
    assert.ok(config.serverMetadata().grant_types_supported?.includes(TOKEN_EXCHANGE_GRANT));
  });

  it("delegates: a service trades the user's access token, with its own as actor, for a token to another audience carrying act (§2.1, §2.2.1, §4.1)", async () => {
    const config = await configFor('gateway');
    const res = await oidc.genericGrantRequest(config, TOKEN_EXCHANGE_GRANT, {
      subject_token: user.access_token,
      subject_token_type: TOKEN_TYPE.accessToken,
      actor_token: await serviceToken('gateway'),
      actor_token_type: TOKEN_TYPE.accessToken,
      audience: ORDERS,
      scope: 'read',
    });
    assert.equal(res.issued_token_type, TOKEN_TYPE.accessToken);
    assert.equal(res.token_type, 'bearer');
    assert.equal(res.refresh_token, undefined);
    const claims = decodeJwt(res.access_token);
    assert.equal(claims.sub, aliceId);
    assert.equal(claims.aud, ORDERS);
    assert.equal(claims.client_id, 'gateway');
    assert.equal(claims.scope, 'read');
    assert.deepEqual(claims.act, { sub: 'gateway', client_id: 'gateway' });
    assert.ok(claims.exp! <= decodeJwt(user.access_token).exp!);

    // §4.1: exchanged again by the next service, the chain nests the earlier actor.
    const next = await exchange('orders', { subject_token: res.access_token, subject_token_type: TOKEN_TYPE.accessToken, actor_token: await serviceToken('orders'), actor_token_type: TOKEN_TYPE.accessToken, audience: BILLING });
    assert.equal(next.status, 200);
    const chained = decodeJwt(((await next.json()) as { access_token: string }).access_token);
    assert.equal(chained.sub, aliceId);
    assert.deepEqual(chained.act, { sub: 'orders', client_id: 'orders', act: { sub: 'gateway', client_id: 'gateway' } });
  });

  it('impersonates only for a client whose policy allows it: no act, the subject as sub (§1.1)', async () => {
    const res = await exchange('batch', { subject_token: user.access_token, subject_token_type: TOKEN_TYPE.accessToken });
    assert.equal(res.status, 200);
    const claims = decodeJwt(((await res.json()) as { access_token: string }).access_token);
    assert.equal(claims.sub, aliceId);
    assert.equal(claims.aud, ORDERS);
    assert.equal(claims.act, undefined);
    const refused = await exchange('gateway', { subject_token: user.access_token, subject_token_type: TOKEN_TYPE.accessToken, audience: ORDERS });
    assert.equal(refused.status, 400);
    assert.equal(await errorOf(refused), 'invalid_request');
  });

  it("takes the client's own refresh and ID tokens and this tenant's JWTs as subject tokens, each only as what it is (§3)", async () => {
    for (const [token, type] of [[user.refresh_token, TOKEN_TYPE.refreshToken], [user.id_token, TOKEN_TYPE.idToken], [user.access_token, TOKEN_TYPE.jwt], [user.id_token, TOKEN_TYPE.jwt]] as const) {
      const res = await exchange('web', { subject_token: token, subject_token_type: type, audience: ORDERS });
      assert.equal(res.status, 200, `${type}: ${await res.clone().text()}`);
      assert.equal(decodeJwt(((await res.json()) as { access_token: string }).access_token).sub, aliceId);
    }
    // Another client's refresh or ID token is not this client's to present; a refresh token is not an access token.
    for (const [token, type] of [[user.refresh_token, TOKEN_TYPE.refreshToken], [user.id_token, TOKEN_TYPE.idToken], [user.refresh_token, TOKEN_TYPE.accessToken], [user.id_token, TOKEN_TYPE.accessToken]] as const) {
      const res = await exchange('batch', { subject_token: token, subject_token_type: type });
      assert.equal(res.status, 400, type);
      assert.equal(await errorOf(res), 'invalid_request');
    }
  });

  it("enforces the client's audience policy and never widens the scope (§2.2.2 invalid_target, invalid_scope)", async () => {
    const base = { subject_token: user.access_token, subject_token_type: TOKEN_TYPE.accessToken, actor_token: await serviceToken('gateway'), actor_token_type: TOKEN_TYPE.accessToken };
    const cases: [Record<string, string | string[]>, string][] = [
      [{ audience: 'https://admin.example' }, 'invalid_target'],
      [{ audience: [ORDERS, 'https://admin.example'] }, 'invalid_target'],
      [{ resource: 'https://admin.example/' }, 'invalid_target'],
      [{}, 'invalid_target'],
      [{ audience: ORDERS, scope: 'read admin' }, 'invalid_scope'],
    ];
    for (const [extra, error] of cases) {
      const res = await exchange('gateway', { ...base, ...extra });
      assert.equal(res.status, 400, JSON.stringify(extra));
      assert.equal(await errorOf(res), error, JSON.stringify(extra));
    }
    const both = await exchange('gateway', { ...base, audience: [ORDERS, BILLING] });
    assert.deepEqual(decodeJwt(((await both.json()) as { access_token: string }).access_token).aud, [ORDERS, BILLING]);
  });

  it('answers malformed and unacceptable exchanges with invalid_request, never a 500 (§2.2.2)', async () => {
    const actor = await serviceToken('gateway');
    const s = { subject_token: user.access_token, subject_token_type: TOKEN_TYPE.accessToken, audience: ORDERS, actor_token: actor, actor_token_type: TOKEN_TYPE.accessToken };
    const cases: [string, Record<string, string>][] = [
      ['no subject_token', { subject_token_type: TOKEN_TYPE.accessToken, audience: ORDERS }],
      ['no subject_token_type', { subject_token: user.access_token, audience: ORDERS }],
      ['an unknown subject_token_type', { ...s, subject_token_type: 'urn:ietf:params:oauth:token-type:saml2' }],
      ['actor_token without its type', { ...s, actor_token_type: '' }],
      ['actor_token_type without a token', { subject_token: user.access_token, subject_token_type: TOKEN_TYPE.accessToken, audience: ORDERS, actor_token_type: TOKEN_TYPE.accessToken }],
      ['a refresh token asked for', { ...s, requested_token_type: TOKEN_TYPE.refreshToken }],
      ["another tenant's token", { ...s, subject_token: globexToken }],
      ['garbage', { ...s, subject_token: 'a.b.c' }],
      ['an oversized token', { ...s, subject_token: 'a'.repeat(9000) }],
      ["an actor token of another client", { ...s, actor_token: await serviceToken('plain') }],
      ['a tampered token', { ...s, subject_token: user.access_token.slice(0, -4) + 'AAAA' }],
    ];
    for (const [what, body] of cases) {
      if (body.actor_token_type === '') delete body.actor_token_type;
      const res = await exchange('gateway', body);
      assert.equal(res.status, 400, what);
      assert.equal(await errorOf(res), 'invalid_request', what);
    }
    const publicClient = await post('acme', { grant_type: TOKEN_EXCHANGE_GRANT, client_id: 'spa', subject_token: user.access_token, subject_token_type: TOKEN_TYPE.accessToken });
    assert.equal(await errorOf(publicClient), 'unauthorized_client');
    const notAllowed = await post('acme', { grant_type: TOKEN_EXCHANGE_GRANT, ...s }, 'plain');
    assert.equal(await errorOf(notAllowed), 'unauthorized_client');
  });

  it("dies with the user's grant: revoking the refresh token makes the exchanged token inactive", async () => {
    const grant = await signIn();
    const res = await exchange('batch', { subject_token: grant.access_token, subject_token_type: TOKEN_TYPE.accessToken });
    const exchanged = ((await res.json()) as { access_token: string }).access_token;
    const introspect = async () => {
      const r = await fetch(`${issuer}/introspect`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basicAuth('gateway', secrets.gateway!) }, body: `token=${exchanged}` });
      return ((await r.json()) as { active: boolean; act?: unknown }).active;
    };
    assert.equal(await introspect(), true);
    const revoked = await fetch(`${issuer}/revoke`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basicAuth('web', secrets.web!) }, body: `token=${grant.refresh_token}` });
    assert.equal(revoked.status, 200);
    assert.equal(await introspect(), false);
    // The revoked grant's tokens cannot be exchanged any more either.
    const again = await exchange('batch', { subject_token: grant.access_token, subject_token_type: TOKEN_TYPE.accessToken });
    assert.equal(await errorOf(again), 'invalid_request');
  });
});
