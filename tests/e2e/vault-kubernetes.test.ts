// Kubernetes auth end to end: a test issuer on 127.0.0.1 serves OIDC discovery and a JWKS;
// pods log in with service-account JWTs it signs, through node-vault's kubernetesLogin.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey } from 'jose';
import nodeVault from 'node-vault';
import { createTestDatabase, type TestDatabase } from '#tests/support/database';
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
    await vault.write('auth/kubernetes/config', { kubernetes_host: issuer });
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

  it('refuses an http issuer that is not on the loopback', async () => {
    const res = await fetch(`${vs.baseUrl}/vault/v1/auth/kubernetes/config`, {
      method: 'POST',
      headers: { 'x-vault-token': rootToken, 'content-type': 'application/json' },
      body: JSON.stringify({ kubernetes_host: 'http://kubernetes.default.svc' }),
    });
    assert.equal(res.status, 400);
  });
});
