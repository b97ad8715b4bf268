// JWT auth end to end on real PostgreSQL. ZenoAuth itself runs over a real socket (as the
// tests/e2e/auth-*.test.ts files run it) and is configured as `oidc_discovery_url`: its access
// tokens (client credentials, EdDSA, audience = the requested resource) and ID tokens (code
// grant, RS256, audience = the client id) log in. A local issuer signed with jose (a JWKS over
// http on the loopback) plays the attacker: wrong audience, wrong issuer, alg none, HS256 with
// the public key as secret, a foreign signer, expired, and claims outside the role's bindings.
// Calls use the `vault` CLI's HTTP shapes (node-vault has no JWT login).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { sql } from 'drizzle-orm';
import { exportJWK, exportSPKI, generateKeyPair, SignJWT, type CryptoKey } from 'jose';
import nodeVault from 'node-vault';
import { createTestDatabase, type TestDatabase } from '#tests/support/database';
import { startAuthHarness, type AuthHarness } from '#functions/auth/testing/harness';
import { basicAuth, makeClient, makeTenant, makeUser } from '#functions/auth/testing/fixtures';
import { mintCode } from '#functions/auth/testing/grants';
import { startVaultServer, type VaultServer } from './vault-server.js';

const VAULT_AUDIENCE = 'https://vault.zenokube.test';
const CALLBACK = 'http://localhost:9/callback';

describe('auth/jwt', () => {
  let tdb: TestDatabase;
  let vs: VaultServer;
  let za: AuthHarness;
  let issuer: string;
  let rootToken: string;
  let accessToken: string;
  let idToken: string;
  let clientSecret: string;
  // The local issuer.
  let localServer: Server;
  let local: string;
  let localKey: CryptoKey;
  let localPublicPem: string;
  let foreignKey: CryptoKey;

  const call = async (method: string, path: string, body?: unknown, token = rootToken) => {
    const res = await fetch(`${vs.baseUrl}/vault/v1/${path}`, {
      method,
      headers: { 'content-type': 'application/json', ...(token ? { 'x-vault-token': token } : {}) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: res.status, body: (res.status === 204 ? {} : await res.json()) as Record<string, any> };
  };
  const login = (jwt: string, role?: string) => call('POST', 'auth/jwt/login', { jwt, ...(role ? { role } : {}) }, '');

  const localToken = (opts: { aud?: string | string[]; iss?: string; exp?: string | number; key?: CryptoKey; sub?: string; claims?: Record<string, unknown>; alg?: string } = {}) =>
    new SignJWT({ email: 'svc@example.com', groups: ['ops'], ...opts.claims })
      .setProtectedHeader({ alg: opts.alg ?? 'ES256', kid: 'local-1' })
      .setIssuer(opts.iss ?? local)
      .setSubject(opts.sub ?? 'svc-1')
      .setAudience(opts.aud ?? 'vault')
      .setIssuedAt()
      .setExpirationTime(opts.exp ?? '5m')
      .sign(opts.key ?? localKey);

  before(async () => {
    tdb = await createTestDatabase();
    za = await startAuthHarness(tdb.database, { listen: true });
    const tenant = await makeTenant(tdb.database.db, 'acme');
    const user = await makeUser(tdb.database.db, tenant, { username: 'alice', email: 'alice@example.com', emailVerified: true, name: 'Alice', password: 'wonderland-42' });
    const { client, secret } = await makeClient(tdb.database.db, tenant, {
      client_id: 'deployer',
      redirect_uris: [CALLBACK],
      grant_types: ['authorization_code', 'client_credentials'],
      scope: 'openid profile email deploy',
    });
    clientSecret = secret!;
    issuer = `${za.baseUrl}/auth/acme`;
    const discovery = (await (await fetch(`${issuer}/.well-known/openid-configuration`)).json()) as { token_endpoint: string };
    const cc = await fetch(discovery.token_endpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basicAuth('deployer', clientSecret) },
      body: new URLSearchParams({ grant_type: 'client_credentials', scope: 'deploy', resource: VAULT_AUDIENCE }).toString(),
    });
    assert.equal(cc.status, 200);
    accessToken = ((await cc.json()) as { access_token: string }).access_token;
    const code = await mintCode(tdb.database.db, tenant, client, user, CALLBACK, 'openid email profile');
    const ac = await fetch(discovery.token_endpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basicAuth('deployer', clientSecret) },
      body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: CALLBACK }).toString(),
    });
    assert.equal(ac.status, 200);
    idToken = ((await ac.json()) as { id_token: string }).id_token;

    const pair = await generateKeyPair('ES256', { extractable: true });
    localKey = pair.privateKey;
    localPublicPem = await exportSPKI(pair.publicKey);
    foreignKey = (await generateKeyPair('ES256')).privateKey;
    const jwk = { ...(await exportJWK(pair.publicKey)), kid: 'local-1', alg: 'ES256', use: 'sig' };
    localServer = createServer((req, res) => {
      res.setHeader('content-type', 'application/json');
      if (req.url === '/jwks') res.end(JSON.stringify({ keys: [jwk] }));
      else {
        res.statusCode = 404;
        res.end('{}');
      }
    });
    await new Promise<void>((r) => localServer.listen(0, '127.0.0.1', r));
    local = `http://127.0.0.1:${(localServer.address() as AddressInfo).port}`;

    vs = await startVaultServer(tdb.database);
    const vault = nodeVault({ apiVersion: 'v1', endpoint: vs.endpoint, noCustomHTTPVerbs: true });
    const init = await vault.init({ secret_shares: 1, secret_threshold: 1 });
    rootToken = init.root_token;
    await vault.unseal({ key: init.keys[0] });
    vault.token = rootToken;
    await vault.write('sys/policies/acl/deploy', { policy: 'path "secret/data/deploy/*" { capabilities = ["read"] }' });
    await vault.write('sys/policies/acl/people', { policy: 'path "secret/data/people/*" { capabilities = ["read"] }' });
    await vault.write('secret/data/deploy/registry', { data: { password: 'reg-pass' } });
    await vault.write('secret/data/people/wiki', { data: { password: 'wiki-pass' } });
  });
  after(async () => {
    await vs?.close();
    await za?.close();
    await tdb?.drop();
    await new Promise((r) => localServer?.close(r));
  });

  it('configures ZenoAuth by OIDC discovery and refuses a discovery URL that is not an issuer', async () => {
    assert.equal((await call('POST', 'auth/jwt/config', { oidc_discovery_url: issuer })).status, 204);
    const read = await call('GET', 'auth/jwt/config');
    assert.equal(read.body.data.oidc_discovery_url, issuer);
    assert.equal((await call('POST', 'auth/jwt/config', { oidc_discovery_url: `${za.baseUrl}/auth/nope` })).status, 400);
    assert.equal((await call('POST', 'auth/jwt/config', { oidc_discovery_url: 'http://issuer.example.com' })).status, 400);
    assert.equal((await call('POST', 'auth/jwt/config', { oidc_discovery_url: issuer, jwks_url: `${local}/jwks` })).status, 400);
    assert.equal((await call('POST', 'auth/jwt/config', {})).status, 400);
    assert.equal((await call('POST', 'auth/jwt/config', { jwks_url: `${local}/jwks`, jwt_supported_algs: ['HS256'] })).status, 400);
    // The failed writes changed nothing.
    assert.equal((await call('GET', 'auth/jwt/config')).body.data.oidc_discovery_url, issuer);
  });

  it('logs a ZenoAuth access token in (client credentials, EdDSA) with bound audience, subject and claims', async () => {
    const role = await call('POST', 'auth/jwt/role/deployer', {
      role_type: 'jwt',
      bound_audiences: [VAULT_AUDIENCE],
      bound_subject: 'deployer',
      bound_claims: { client_id: 'deployer', scope: 'deploy' },
      user_claim: 'client_id',
      claim_mappings: { scope: 'scope' },
      token_policies: ['deploy'],
      token_ttl: '10m',
    });
    assert.equal(role.status, 204);
    const res = await login(accessToken, 'deployer');
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.deepEqual(res.body.auth.token_policies, ['deploy']);
    assert.deepEqual(res.body.auth.policies, ['deploy', 'default']);
    assert.deepEqual(res.body.auth.metadata, { role: 'deployer', scope: 'deploy' });
    assert.equal(res.body.auth.lease_duration, 600);
    const read = await fetch(`${vs.baseUrl}/vault/v1/secret/data/deploy/registry`, { headers: { 'x-vault-token': res.body.auth.client_token } });
    assert.equal(((await read.json()) as any).data.data.password, 'reg-pass');
    const self = await call('GET', 'auth/token/lookup-self', undefined, res.body.auth.client_token);
    assert.equal(self.body.data.display_name, 'jwt-deployer');
    // The same token against a role bound to another subject or audience.
    await call('POST', 'auth/jwt/role/other-sub', { bound_audiences: [VAULT_AUDIENCE], bound_subject: 'someone-else', user_claim: 'sub', token_policies: ['deploy'] });
    const wrongSub = await login(accessToken, 'other-sub');
    assert.equal(wrongSub.status, 400);
    assert.match(wrongSub.body.errors[0], /sub claim does not match/);
    await call('POST', 'auth/jwt/role/other-aud', { bound_audiences: ['https://elsewhere.example'], user_claim: 'sub', token_policies: ['deploy'] });
    const wrongAud = await login(accessToken, 'other-aud');
    assert.equal(wrongAud.status, 400);
    assert.match(wrongAud.body.errors[0], /aud/);
  });

  it('logs a ZenoAuth ID token in (code grant, RS256) with glob-bound claims and a claim → policy mapping', async () => {
    // ZenoAuth's ID token: sub = the user id, aud = azp = the client id, amr = ["pwd"], acr.
    const role = await call('POST', 'auth/jwt/role/people', {
      role_type: 'jwt',
      bound_audiences: 'deployer',
      bound_claims_type: 'glob',
      bound_claims: { azp: 'deploy*', amr: ['pwd', 'otp'] },
      user_claim: 'sub',
      groups_claim: 'amr',
      group_policies: { pwd: ['people'] },
      claim_mappings: { acr: 'acr' },
      token_policies: [],
    });
    assert.equal(role.status, 204);
    const res = await login(idToken, 'people');
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.deepEqual(res.body.auth.token_policies, ['people']);
    assert.equal(res.body.auth.metadata.acr, '1');
    assert.equal(res.body.auth.metadata.role, 'people');
    const read = await fetch(`${vs.baseUrl}/vault/v1/secret/data/people/wiki`, { headers: { 'x-vault-token': res.body.auth.client_token } });
    assert.equal(read.status, 200);
    assert.equal((await fetch(`${vs.baseUrl}/vault/v1/secret/data/deploy/registry`, { headers: { 'x-vault-token': res.body.auth.client_token } })).status, 403);
    // A glob that does not match.
    await call('POST', 'auth/jwt/role/people', { bound_claims: { azp: 'other*' } });
    const refused = await login(idToken, 'people');
    assert.equal(refused.status, 400);
    assert.match(refused.body.errors[0], /claim "azp" does not match/);
    // The access token is not an ID token for this role (audience).
    assert.equal((await login(accessToken, 'people')).status, 400);
  });

  it('refuses a role without bound_audiences or user_claim, and the OIDC browser flow', async () => {
    const noAud = await call('POST', 'auth/jwt/role/open', { user_claim: 'sub', token_policies: ['deploy'] });
    assert.equal(noAud.status, 400);
    assert.match(noAud.body.errors[0], /bound_audiences is required/);
    assert.equal((await call('POST', 'auth/jwt/role/open', { bound_audiences: ['x'], token_policies: ['deploy'] })).status, 400);
    assert.equal((await call('POST', 'auth/jwt/role/open', { role_type: 'oidc', bound_audiences: ['x'], user_claim: 'sub' })).status, 400);
    assert.equal((await call('POST', 'auth/jwt/role/open', { bound_audiences: ['x'], user_claim: 'sub', token_policies: ['root'] })).status, 400);
    assert.equal((await call('GET', 'auth/jwt/role/open')).status, 404);
  });

  it('refuses the attacker\'s tokens: wrong audience, issuer, alg none, HS256 with the public key, foreign signer, expired, unsigned claims', async () => {
    assert.equal((await call('POST', 'auth/jwt/config', { jwks_url: `${local}/jwks`, bound_issuer: local })).status, 204);
    await call('POST', 'auth/jwt/role/svc', { bound_audiences: ['vault'], user_claim: 'sub', groups_claim: 'groups', group_policies: { ops: ['deploy'] } });
    const good = await login(await localToken(), 'svc');
    assert.equal(good.status, 200, JSON.stringify(good.body));
    assert.deepEqual(good.body.auth.token_policies, ['deploy']);

    const header = (h: object) => Buffer.from(JSON.stringify(h)).toString('base64url');
    const payload = Buffer.from(JSON.stringify({ iss: local, sub: 'svc-1', aud: 'vault', exp: Math.floor(Date.now() / 1000) + 300 })).toString('base64url');
    const hmacWithPublicKey = await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setIssuer(local).setSubject('svc-1').setAudience('vault').setExpirationTime('5m').sign(Buffer.from(localPublicPem));
    const cases: [string, string][] = [
      ['wrong audience', await localToken({ aud: 'kubernetes' })],
      ['wrong issuer', await localToken({ iss: 'https://evil.example' })],
      ['alg none', `${header({ alg: 'none' })}.${payload}.`],
      ['HS256 keyed with the public key', hmacWithPublicKey],
      ['foreign signer', await localToken({ key: foreignKey })],
      ['expired beyond the leeway', await localToken({ exp: Math.floor(Date.now() / 1000) - 600 })],
      ['signature of another payload', `${(await localToken()).split('.').slice(0, 1)}.${payload}.${(await localToken()).split('.')[2]}`],
      ['garbage', 'not.a.jwt'],
    ];
    for (const [what, jwt] of cases) {
      const res = await login(jwt, 'svc');
      assert.equal(res.status, 400, what);
      assert.match(res.body.errors[0], /^error validating token/, what);
    }
    // No exp at all.
    const noExp = await new SignJWT({}).setProtectedHeader({ alg: 'ES256' }).setIssuer(local).setSubject('svc-1').setAudience('vault').sign(localKey);
    assert.equal((await login(noExp, 'svc')).status, 400);
    assert.equal((await login(await localToken(), 'nope')).status, 400);
    assert.equal((await login('', 'svc')).status, 400);
    assert.equal((await login('x'.repeat(20_000), 'svc')).status, 400);
  });

  it('verifies with PEM public keys (jwt_validation_pubkeys)', async () => {
    assert.equal((await call('POST', 'auth/jwt/config', { jwt_validation_pubkeys: [localPublicPem], bound_issuer: local })).status, 204);
    assert.equal((await login(await localToken(), 'svc')).status, 200);
    assert.equal((await login(await localToken({ key: foreignKey }), 'svc')).status, 400);
    assert.equal((await call('POST', 'auth/jwt/config', { jwt_validation_pubkeys: ['not a pem'] })).status, 400);
    // An RSA key configured, an ES256 token presented.
    const rsa = await generateKeyPair('RS256', { extractable: true });
    assert.equal((await call('POST', 'auth/jwt/config', { jwt_validation_pubkeys: [await exportSPKI(rsa.publicKey)], bound_issuer: local })).status, 204);
    assert.equal((await login(await localToken(), 'svc')).status, 400);
    assert.equal((await call('POST', 'auth/jwt/config', { jwt_validation_pubkeys: [localPublicPem], bound_issuer: local })).status, 204);
  });

  it('answers 503 when the issuer keys cannot be fetched, and 400 for a role that is not a string', async () => {
    const gone = createServer();
    await new Promise<void>((r) => gone.listen(0, '127.0.0.1', r));
    const dead = `http://127.0.0.1:${(gone.address() as AddressInfo).port}`;
    await new Promise((r) => gone.close(r));
    assert.equal((await call('POST', 'auth/jwt/config', { jwks_url: `${dead}/jwks`, bound_issuer: local })).status, 204);
    const res = await login(await localToken(), 'svc');
    assert.equal(res.status, 503);
    assert.match(res.body.errors[0], /issuer keys could not be fetched/);
    assert.equal((await call('POST', 'auth/jwt/login', { jwt: await localToken(), role: { a: 1 } }, '')).status, 400);
    assert.equal((await call('POST', 'auth/jwt/config', { jwt_validation_pubkeys: [localPublicPem], bound_issuer: local })).status, 204);
  });

  it('refuses a role or config row a database writer changed', async () => {
    await tdb.database.db.execute(sql`update vault.jwt_roles set settings = jsonb_set(settings, '{bound_audiences}', '["kubernetes"]') where name = 'svc'`);
    const res = await login(await localToken({ aud: 'kubernetes' }), 'svc');
    assert.deepEqual([res.status, res.body], [403, { errors: ['integrity check failed'] }]);
    await tdb.database.db.execute(sql`update vault.jwt_config set settings = jsonb_set(settings, '{bound_issuer}', '"https://evil.example"')`);
    assert.equal((await call('GET', 'auth/jwt/config')).status, 403);
  });

  it('keeps the config and roles behind the ACL', async () => {
    await call('POST', 'auth/jwt/config', { oidc_discovery_url: issuer });
    const res = await login(accessToken, 'deployer');
    const token = res.body.auth.client_token as string;
    assert.equal((await call('POST', 'auth/jwt/config', { jwks_url: `${local}/jwks` }, token)).status, 403);
    assert.equal((await call('POST', 'auth/jwt/role/deployer', { token_policies: ['people'] }, token)).status, 403);
  });
});
