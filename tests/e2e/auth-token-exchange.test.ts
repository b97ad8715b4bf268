// Token exchange (RFC 8693) over real HTTP: openid-client's generic grant for delegation,
// impersonation and the act chain; raw requests for the policy and every error of §2.2.2.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as oidc from 'openid-client';
import { SignJWT, decodeJwt, exportJWK, generateKeyPair } from 'jose';
import { createTestDatabase, type TestDatabase } from '#tests/support/database';
import { startAuthHarness, type AuthHarness } from '#functions/auth/testing/harness';
import { basicAuth, makeClient, makeTenant, makeUser } from '#functions/auth/testing/fixtures';
import { mintCode } from '#functions/auth/testing/grants';
import { TOKEN_EXCHANGE_GRANT, TOKEN_TYPE } from '#functions/auth/core/grant-types';
import { findClient } from '#functions/auth/core/clients';
import { findTenantBySlug } from '#functions/auth/core/tenants';

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
  let globexSecret: string;
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
    globexSecret = g.secret!;
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

  it('accepts JWTs of a trusted issuer (another tenant, another site) and refuses untrusted, misaddressed, expired and forged ones (§2.1, §2.2.2)', async () => {
    const db = tdb.database.db;
    const acme = (await findTenantBySlug(db, 'acme'))!;
    const globexIssuer = `${h.baseUrl}/auth/globex`;
    const globexJwks = (await (await fetch(`${globexIssuer}/jwks`)).json()) as { keys: Record<string, unknown>[] };
    // Another site (air-gapped): its keys are configured by value.
    const SITE = 'https://site-b.example/auth/main';
    const site = await generateKeyPair('ES256');
    const siteJwk = { ...(await exportJWK(site.publicKey)), kid: 'site-b-1', alg: 'ES256', use: 'sig' };
    const partner = await makeClient(db, acme, {
      client_id: 'partner',
      grant_types: ['client_credentials', TOKEN_EXCHANGE_GRANT],
      scope: 'svc',
      token_exchange_audiences: [ORDERS],
      token_exchange_trusted_issuers: [
        { issuer: globexIssuer, jwks: globexJwks as never },
        { issuer: SITE, jwks: { keys: [siteJwk] } as never },
      ],
    });
    secrets.partner = partner.secret!;
    const globexFor = async (resource?: string) =>
      ((await (await post('globex', { grant_type: 'client_credentials', ...(resource ? { resource } : {}) }, 'gateway', globexSecret)).json()) as { access_token: string }).access_token;
    const siteToken = (claims: Record<string, unknown>, key = site.privateKey, typ = 'at+jwt') => {
      const now = Math.floor(Date.now() / 1000);
      return new SignJWT({ iss: SITE, sub: 'bob@site-b', aud: issuer, client_id: 'site-app', scope: 'svc admin', iat: now, exp: now + 300, ...claims })
        .setProtectedHeader({ alg: 'ES256', typ, kid: 'site-b-1' })
        .sign(key);
    };
    const ex = (subject_token: string, more: Record<string, string> = {}) =>
      exchange('partner', { subject_token, subject_token_type: TOKEN_TYPE.accessToken, audience: ORDERS, ...more });

    // A real token of the other tenant, addressed to this one (RFC 8707 resource): impersonation is off, so delegation.
    const actor = await serviceToken('partner');
    const fromGlobex = await ex(await globexFor(issuer), { actor_token: actor, actor_token_type: TOKEN_TYPE.accessToken });
    assert.equal(fromGlobex.status, 200);
    const g = decodeJwt(((await fromGlobex.json()) as { access_token: string }).access_token);
    assert.equal(g.sub, 'gateway');
    assert.equal(g.aud, ORDERS);
    assert.deepEqual(g.act, { sub: 'partner', client_id: 'partner' });

    // Another site's token with its own act chain: the chain is kept below the new actor (§4.1);
    // its scopes are cut to what this client may hold.
    const chained = await ex(await siteToken({ act: { sub: 'upstream-svc' } }), { actor_token: actor, actor_token_type: TOKEN_TYPE.accessToken });
    assert.equal(chained.status, 200);
    const c = decodeJwt(((await chained.json()) as { access_token: string; scope: string }).access_token);
    assert.equal(c.sub, 'bob@site-b');
    assert.equal(c.scope, 'svc');
    assert.deepEqual(c.act, { sub: 'partner', client_id: 'partner', act: { sub: 'upstream-svc' } });
    const jwtType = await exchange('partner', { subject_token: await siteToken({}, site.privateKey, 'JWT'), subject_token_type: TOKEN_TYPE.jwt, audience: ORDERS, actor_token: actor, actor_token_type: TOKEN_TYPE.accessToken });
    assert.equal(jwtType.status, 200);

    const stranger = await generateKeyPair('ES256');
    const refused: [string, Promise<Response>][] = [
      ["the other tenant's token for its own audience", ex(await globexFor(), { actor_token: actor, actor_token_type: TOKEN_TYPE.accessToken })],
      ['a trusted token presented by a client that does not trust its issuer', exchange('gateway', { subject_token: await globexFor(issuer), subject_token_type: TOKEN_TYPE.accessToken, audience: ORDERS, actor_token: await serviceToken('gateway'), actor_token_type: TOKEN_TYPE.accessToken })],
      ['an expired token', ex(await siteToken({ iat: Math.floor(Date.now() / 1000) - 600, exp: Math.floor(Date.now() / 1000) - 300 }), { actor_token: actor, actor_token_type: TOKEN_TYPE.accessToken })],
      ['a token without exp', ex(await siteToken({ exp: undefined }), { actor_token: actor, actor_token_type: TOKEN_TYPE.accessToken })],
      ['a token for another audience', ex(await siteToken({ aud: 'https://elsewhere.example' }), { actor_token: actor, actor_token_type: TOKEN_TYPE.accessToken })],
      ["a forged token (another key, the trusted issuer's name)", ex(await siteToken({}, stranger.privateKey), { actor_token: actor, actor_token_type: TOKEN_TYPE.accessToken })],
      ['an untrusted issuer', ex(await siteToken({ iss: 'https://site-c.example' }), { actor_token: actor, actor_token_type: TOKEN_TYPE.accessToken })],
      ['an ID-token-typed JWT as an access token', ex(await siteToken({}, site.privateKey, 'JWT'), { actor_token: actor, actor_token_type: TOKEN_TYPE.accessToken })],
      ['an unsigned token', ex(`${Buffer.from('{"alg":"none","typ":"at+jwt"}').toString('base64url')}.${Buffer.from(JSON.stringify({ iss: SITE, sub: 'x', aud: issuer, exp: 9999999999 })).toString('base64url')}.`, { actor_token: actor, actor_token_type: TOKEN_TYPE.accessToken })],
      ["a trusted issuer's token as the actor", ex(await serviceToken('partner'), { actor_token: await siteToken({}), actor_token_type: TOKEN_TYPE.accessToken })],
    ];
    for (const [what, res] of refused) {
      const r = await res;
      assert.equal(r.status, 400, what);
      assert.equal(await errorOf(r), 'invalid_request', what);
    }
  });
});
