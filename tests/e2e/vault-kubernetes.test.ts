// Kubernetes auth end to end: a test issuer on 127.0.0.1 serves OIDC discovery and a JWKS;
// pods log in with service-account JWTs it signs, through node-vault's kubernetesLogin. The first
// suite verifies tokens locally (use_token_review: false); the second asks a faithful in-process
// fake of the Kubernetes API server (kubernetes-fake-tokenreview.ts, the one stand-in these
// tests allow) to review each token, as a real cluster would.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey } from 'jose';
import nodeVault from 'node-vault';
import { sql } from 'drizzle-orm';
import { createTestDatabase, type TestDatabase } from '#tests/support/database';
import { startFakeKubeApi, type FakeKubeApi } from './kubernetes-fake-tokenreview.js';
import { startVaultServer, statusOf as status, type VaultServer } from './vault-server.js';


// node-vault renders the login path from the call's arguments: without `mount_point` it posts to
// auth//login, so every call here names the mount.
describe('auth/kubernetes with projected service-account tokens', () => {
  let tdb: TestDatabase;
  let vs: VaultServer;
  let issuerServer: Server;
  let issuer: string;
  let signingKey: CryptoKey;
  let otherKey: CryptoKey;
  let rootToken: string;
  let jwksHits = 0;

  const saToken = (opts: { ns?: string; sa?: string; aud?: string[]; exp?: string; iss?: string; key?: CryptoKey; sub?: string } = {}) => {
    const ns = opts.ns ?? 'shop';
    const sa = opts.sa ?? 'orders';
    return new SignJWT({ 'kubernetes.io': { namespace: ns, serviceaccount: { name: sa, uid: '7c1d-uid' }, pod: { name: 'orders-1', uid: 'p-1' } } })
      .setProtectedHeader({ alg: 'RS256', kid: opts.key ? 'other' : 'k1' })
      .setIssuer(opts.iss ?? issuer)
      .setSubject(opts.sub ?? `system:serviceaccount:${ns}:${sa}`)
      .setAudience(opts.aud ?? ['vault'])
      .setIssuedAt()
      .setExpirationTime(opts.exp ?? '10m')
      .sign(opts.key ?? signingKey);
  };

  before(async () => {
    const pair = await generateKeyPair('RS256');
    signingKey = pair.privateKey;
    otherKey = (await generateKeyPair('RS256')).privateKey;
    const jwk = { ...(await exportJWK(pair.publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' };
    issuerServer = createServer((req, res) => {
      res.setHeader('content-type', 'application/json');
      if (req.url === '/.well-known/openid-configuration') {
        res.end(JSON.stringify({ issuer, jwks_uri: `${issuer}/openid/v1/jwks`, id_token_signing_alg_values_supported: ['RS256'] }));
      } else if (req.url === '/openid/v1/jwks') {
        jwksHits++;
        res.end(JSON.stringify({ keys: [jwk] }));
      } else {
        res.statusCode = 404;
        res.end('{}');
      }
    });
    await new Promise<void>((r) => issuerServer.listen(0, '127.0.0.1', r));
    issuer = `http://127.0.0.1:${(issuerServer.address() as AddressInfo).port}`;

    tdb = await createTestDatabase();
    vs = await startVaultServer(tdb.database);
    const vault = nodeVault({ apiVersion: 'v1', endpoint: vs.endpoint, noCustomHTTPVerbs: true });
    const init = await vault.init({ secret_shares: 1, secret_threshold: 1 });
    rootToken = init.root_token;
    vault.token = rootToken;
    await vault.unseal({ key: init.keys[0] });
    // As the `vault` CLI sends `use_token_review=false`: a string.
    await vault.write('auth/kubernetes/config', { kubernetes_host: issuer, use_token_review: 'false' });
    await vault.write('sys/policies/acl/orders', { policy: 'path "secret/data/shop/orders/*" { capabilities = ["read"] }' });
    await vault.write('auth/kubernetes/role/orders', {
      bound_service_account_names: ['orders'],
      bound_service_account_namespaces: ['shop'],
      audience: 'vault',
      token_policies: ['orders'],
      token_ttl: '20m',
    });
    await vault.write('secret/data/shop/orders/db', { data: { password: 'orders-db-pass' } });
  });
  after(async () => {
    await vs?.close();
    await tdb?.drop();
    await new Promise((r) => issuerServer?.close(r));
  });

  it('logs a bound service account in and gives it the role policies and TTL', async () => {
    const pod = nodeVault({ apiVersion: 'v1', endpoint: vs.endpoint, noCustomHTTPVerbs: true });
    const login = await pod.kubernetesLogin({ mount_point: 'kubernetes', role: 'orders', jwt: await saToken() });
    assert.deepEqual(login.auth.token_policies, ['orders']);
    assert.deepEqual(login.auth.policies, ['orders', 'default']);
    assert.equal(login.auth.lease_duration, 1200);
    assert.equal(login.auth.metadata.service_account_namespace, 'shop');
    assert.equal(pod.token, login.auth.client_token);
    assert.equal((await pod.read('secret/data/shop/orders/db')).data.data.password, 'orders-db-pass');
    assert.equal(await status(pod.read('secret/data/shop/other')), 403);
    const self = await pod.tokenLookupSelf();
    assert.equal(self.data.display_name, 'kubernetes-shop-orders');
    assert.equal(self.data.orphan, true);
  });

  it('logs in again cheaply: the issuer keys are fetched once and cached', async () => {
    const before = jwksHits;
    for (let i = 0; i < 5; i++) {
      const pod = nodeVault({ apiVersion: 'v1', endpoint: vs.endpoint, noCustomHTTPVerbs: true });
      await pod.kubernetesLogin({ mount_point: 'kubernetes', role: 'orders', jwt: await saToken() });
    }
    assert.equal(jwksHits, before);
  });

  it('refuses a wrong audience, namespace, service account, issuer, signer, subject or an expired token', async () => {
    const cases: [string, Promise<string>][] = [
      ['audience', saToken({ aud: ['kubernetes'] })],
      ['namespace', saToken({ ns: 'other' })],
      ['service account', saToken({ sa: 'payments' })],
      ['issuer', saToken({ iss: 'https://evil.example' })],
      ['signer', saToken({ key: otherKey })],
      ['subject', saToken({ sub: 'system:serviceaccount:shop:admin' })],
      ['expired', saToken({ exp: '-1m' })],
    ];
    for (const [what, jwt] of cases) {
      const pod = nodeVault({ apiVersion: 'v1', endpoint: vs.endpoint, noCustomHTTPVerbs: true });
      assert.equal(await status(pod.kubernetesLogin({ mount_point: 'kubernetes', role: 'orders', jwt: await jwt })), 403, what);
    }
    const unsigned = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from(JSON.stringify({ sub: 'system:serviceaccount:shop:orders', iss: issuer, aud: 'vault' })).toString('base64url')}.`;
    const pod = nodeVault({ apiVersion: 'v1', endpoint: vs.endpoint, noCustomHTTPVerbs: true });
    assert.equal(await status(pod.kubernetesLogin({ mount_point: 'kubernetes', role: 'orders', jwt: unsigned })), 403, 'alg none');
    assert.equal(await status(pod.kubernetesLogin({ mount_point: 'kubernetes', role: 'orders', jwt: 'not.a.jwt' })), 403);
    assert.equal(await status(pod.kubernetesLogin({ mount_point: 'kubernetes', role: 'nope', jwt: await saToken() })), 400);
  });

  it('lists and reads roles, and keeps role management behind the ACL', async () => {
    const res = await fetch(`${vs.baseUrl}/vault/v1/auth/kubernetes/role?list=true`, { headers: { 'x-vault-token': rootToken } });
    assert.deepEqual(((await res.json()) as { data: { keys: string[] } }).data.keys, ['orders']);
    const pod = nodeVault({ apiVersion: 'v1', endpoint: vs.endpoint, noCustomHTTPVerbs: true });
    await pod.kubernetesLogin({ mount_point: 'kubernetes', role: 'orders', jwt: await saToken() });
    assert.equal(await status(pod.write('auth/kubernetes/role/orders', { bound_service_account_names: ['*'], bound_service_account_namespaces: ['*'], token_policies: ['root'] })), 403);
    assert.equal(await status(pod.write('auth/kubernetes/config', { kubernetes_host: 'https://evil.example' })), 403);
  });

  it('refuses a role without audience (verified locally too)', async () => {
    await fetch(`${vs.baseUrl}/vault/v1/auth/kubernetes/role/no-audience`, {
      method: 'POST',
      headers: { 'x-vault-token': rootToken, 'content-type': 'application/json' },
      body: JSON.stringify({ bound_service_account_names: 'orders', bound_service_account_namespaces: 'shop', token_policies: 'orders' }),
    });
    const pod = nodeVault({ apiVersion: 'v1', endpoint: vs.endpoint, noCustomHTTPVerbs: true });
    assert.equal(await status(pod.kubernetesLogin({ mount_point: 'kubernetes', role: 'no-audience', jwt: await saToken() })), 400);
  });

  it('refuses an http issuer that is not on the loopback', async () => {
    const res = await fetch(`${vs.baseUrl}/vault/v1/auth/kubernetes/config`, {
      method: 'POST',
      headers: { 'x-vault-token': rootToken, 'content-type': 'application/json' },
      body: JSON.stringify({ kubernetes_host: 'http://kubernetes.default.svc' }),
    });
    assert.equal(res.status, 400);
  });
});

describe('auth/kubernetes with TokenReview against the API server', () => {
  let tdb: TestDatabase;
  let vs: VaultServer;
  let kube: FakeKubeApi;
  let rootToken: string;
  let reviewerJwt: string;
  const pod = () => nodeVault({ apiVersion: 'v1', endpoint: vs.endpoint, noCustomHTTPVerbs: true });
  const call = async (method: string, path: string, body?: unknown, token = rootToken) => {
    const res = await fetch(`${vs.baseUrl}/vault/v1/${path}`, {
      method,
      headers: { 'content-type': 'application/json', ...(token ? { 'x-vault-token': token } : {}) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: res.status, body: (res.status === 204 ? {} : await res.json()) as Record<string, any> };
  };
  const configure = (extra: Record<string, unknown> = {}) =>
    call('POST', 'auth/kubernetes/config', { kubernetes_host: kube.url, token_reviewer_jwt: reviewerJwt, disable_local_ca_jwt: true, ...extra });

  before(async () => {
    kube = await startFakeKubeApi();
    kube.createServiceAccount('vault', 'vault-auth');
    kube.grantTokenReview('vault', 'vault-auth');
    reviewerJwt = await kube.token('vault', 'vault-auth');
    kube.createServiceAccount('shop', 'orders');
    tdb = await createTestDatabase();
    vs = await startVaultServer(tdb.database);
    const vault = nodeVault({ apiVersion: 'v1', endpoint: vs.endpoint, noCustomHTTPVerbs: true });
    const init = await vault.init({ secret_shares: 1, secret_threshold: 1 });
    rootToken = init.root_token;
    vault.token = rootToken;
    await vault.unseal({ key: init.keys[0] });
    assert.equal((await configure()).status, 204);
    await vault.write('sys/policies/acl/orders', { policy: 'path "secret/data/shop/orders/*" { capabilities = ["read"] }' });
    await vault.write('secret/data/shop/orders/db', { data: { password: 'orders-db-pass' } });
    await vault.write('auth/kubernetes/role/orders', {
      bound_service_account_names: ['orders'],
      bound_service_account_namespaces: ['shop'],
      audience: 'vault',
      token_policies: ['orders'],
    });
  });
  after(async () => {
    await vs?.close();
    await tdb?.drop();
    await kube?.close();
  });

  it('reviews the token with the API server, with the reviewer JWT as bearer and the role audience', async () => {
    const before = kube.reviews.length;
    const p = pod();
    const login = await p.kubernetesLogin({ mount_point: 'kubernetes', role: 'orders', jwt: await kube.token('shop', 'orders', { audiences: ['vault'] }) });
    assert.deepEqual(login.auth.token_policies, ['orders']);
    assert.equal(login.auth.metadata.service_account_name, 'orders');
    assert.equal((await p.read('secret/data/shop/orders/db')).data.data.password, 'orders-db-pass');
    const review = kube.reviews[before]!;
    assert.equal(review.caller, 'system:serviceaccount:vault:vault-auth');
    assert.deepEqual((review.spec as { audiences: string[] }).audiences, ['vault']);
    assert.equal(review.authenticated, true);
  });

  it('stops a deleted service account\'s token at once, and a re-created account does not revive it', async () => {
    const jwt = await kube.token('shop', 'orders', { audiences: ['vault'] });
    assert.equal(await status(pod().kubernetesLogin({ mount_point: 'kubernetes', role: 'orders', jwt })), 200);
    kube.deleteServiceAccount('shop', 'orders');
    assert.equal(await status(pod().kubernetesLogin({ mount_point: 'kubernetes', role: 'orders', jwt })), 403);
    kube.createServiceAccount('shop', 'orders');
    assert.equal(await status(pod().kubernetesLogin({ mount_point: 'kubernetes', role: 'orders', jwt })), 403);
    // A fresh token of the new account works.
    assert.equal(await status(pod().kubernetesLogin({ mount_point: 'kubernetes', role: 'orders', jwt: await kube.token('shop', 'orders', { audiences: ['vault'] }) })), 200);
  });

  it('refuses a token for another audience or an unbound account, and what is not a JWT', async () => {
    kube.createServiceAccount('shop', 'payments');
    const cases: [string, string, number][] = [
      ['API server audience', await kube.token('shop', 'orders'), 403],
      ['other audience', await kube.token('shop', 'orders', { audiences: ['kubernetes'] }), 403],
      ['unbound service account', await kube.token('shop', 'payments', { audiences: ['vault'] }), 403],
      ['not a JWT', 'not-a-jwt', 403],
    ];
    for (const [what, jwt, code] of cases) assert.equal(await status(pod().kubernetesLogin({ mount_point: 'kubernetes', role: 'orders', jwt })), code, what);
  });

  it('refuses a role without audience unless the config sets allow_roles_without_audience', async () => {
    await call('POST', 'auth/kubernetes/role/any-audience', { bound_service_account_names: 'orders', bound_service_account_namespaces: 'shop', token_policies: 'orders' });
    const jwt = await kube.token('shop', 'orders');
    const refused = await call('POST', 'auth/kubernetes/login', { role: 'any-audience', jwt }, '');
    assert.equal(refused.status, 400);
    assert.match(refused.body.errors[0], /has no audience.*allow_roles_without_audience/);
    assert.equal((await configure({ allow_roles_without_audience: true })).status, 204);
    // The review then asks for the API server's own audiences.
    assert.equal((await call('POST', 'auth/kubernetes/login', { role: 'any-audience', jwt }, '')).status, 200);
    assert.equal((await configure()).status, 204);
    assert.equal((await call('POST', 'auth/kubernetes/login', { role: 'any-audience', jwt }, '')).status, 400);
  });

  it('answers a clear error, and issues no token, when the reviewer is refused or the API server is down', async () => {
    const db = tdb.database.db;
    const count = async () => ((await db.execute(sql`select count(*)::int as n from vault.tokens`)) as unknown as [{ n: number }])[0].n;
    const tokensBefore = await count();
    // A reviewer without system:auth-delegator.
    kube.createServiceAccount('vault', 'no-rights');
    assert.equal((await configure({ token_reviewer_jwt: await kube.token('vault', 'no-rights') })).status, 204);
    const jwt = await kube.token('shop', 'orders', { audiences: ['vault'] });
    const forbidden = await call('POST', 'auth/kubernetes/login', { role: 'orders', jwt }, '');
    assert.equal(forbidden.status, 502);
    assert.match(forbidden.body.errors[0], /TokenReview was refused with HTTP 403/);
    // No reviewer JWT and no pod token: the client's own JWT is the bearer (as Vault); it may not review.
    assert.equal((await call('POST', 'auth/kubernetes/config', { kubernetes_host: kube.url, disable_local_ca_jwt: true })).status, 204);
    assert.equal((await call('POST', 'auth/kubernetes/login', { role: 'orders', jwt }, '')).status, 502);
    // Once the pod's account may review, its own token suffices.
    kube.grantTokenReview('shop', 'orders');
    assert.equal((await call('POST', 'auth/kubernetes/login', { role: 'orders', jwt: await kube.token('shop', 'orders', { audiences: ['vault', kube.url] }) }, '')).status, 200);
    assert.equal(await count(), tokensBefore + 1);
    // The API server stops answering.
    assert.equal((await configure()).status, 204);
    const down = await startFakeKubeApi();
    const host = down.url;
    await down.close();
    assert.equal((await configure({ kubernetes_host: host })).status, 204);
    const unavailable = await call('POST', 'auth/kubernetes/login', { role: 'orders', jwt }, '');
    assert.equal(unavailable.status, 503);
    assert.match(unavailable.body.errors[0], /could not be reached/);
    assert.equal(await count(), tokensBefore + 1);
    assert.equal((await configure()).status, 204);
  });

  it('keeps the reviewer JWT out of the database in clear, and out of config reads', async () => {
    const rows = (await tdb.database.db.execute(sql`select settings::text as s from vault.kubernetes_config`)) as unknown as { s: string }[];
    assert.equal(rows.length, 1);
    assert.ok(!rows[0]!.s.includes(reviewerJwt.split('.')[1]!));
    const read = await call('GET', 'auth/kubernetes/config');
    assert.equal(read.body.data.token_reviewer_jwt_set, true);
    assert.equal(read.body.data.token_reviewer_jwt, undefined);
    assert.equal(read.body.data.use_token_review, true);
  });

  it('refuses config and role rows a database writer changed or inserted', async () => {
    const db = tdb.database.db;
    await db.execute(sql`update vault.kubernetes_roles set settings = jsonb_set(settings, '{bound_service_account_names}', '["*"]') where name = 'orders'`);
    const res = await call('POST', 'auth/kubernetes/login', { role: 'orders', jwt: await kube.token('shop', 'orders', { audiences: ['vault'] }) }, '');
    assert.deepEqual([res.status, res.body], [403, { errors: ['integrity check failed'] }]);
    await db.execute(sql`insert into vault.kubernetes_roles (name, settings) values ('planted', '{"bound_service_account_names": ["*"], "bound_service_account_namespaces": ["*"], "audience": "vault", "token_policies": ["orders"], "token_ttl": 0, "token_max_ttl": 0}')`);
    assert.equal((await call('POST', 'auth/kubernetes/login', { role: 'planted', jwt: await kube.token('shop', 'orders', { audiences: ['vault'] }) }, '')).status, 403);
    await db.execute(sql`update vault.kubernetes_config set settings = jsonb_set(settings, '{use_token_review}', 'false')`);
    assert.equal((await call('GET', 'auth/kubernetes/config')).status, 403);
  });
});
