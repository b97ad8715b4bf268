// Mutual TLS (RFC 8705) through ZenoIngress over real TLS: an HTTPS listener that asks for client
// certificates (verified against a test CA) in front of the auth functions; openid-client's
// TlsClientAuth for the PKI method, raw HTTPS for the rest, and the attacks: a forged Client-Cert
// from outside, a proof for another URL or made with another key, a certificate with the right
// name from the wrong CA, another client's certificate, and a bound token used without its
// certificate.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { connect } from 'node:http2';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as oidc from 'openid-client';
import { Agent, fetch as undiciFetch, getGlobalDispatcher, setGlobalDispatcher } from 'undici';
import { decodeJwt, exportJWK } from 'jose';
import type { Ingress, Secret } from '#functions/ingress/index';
import { compile, createIngress, parseManifests } from '#functions/ingress/index';
import { createTestDatabase, type TestDatabase } from '#tests/support/database';
import { freePort } from '#tests/support/ports';
import { SERVICE_PORT, backendYaml, gatewayYaml, httpRouteYaml, yamlStream } from '#tests/support/gateway-yaml';
import { startAuthHarness, type AuthHarness } from '#functions/auth/testing/harness';
import { basicAuth, makeClient, makeTenant, makeUser } from '#functions/auth/testing/fixtures';
import { Browser } from '#functions/auth/testing/browser';
import { DEVICE_CODE_GRANT } from '#functions/auth/core/grant-types';
import { certificateDigest, signClientCertProof } from '#shared/http/client-cert-proof';
import { checkClientMetadata, clientMetadataSchema } from '#functions/auth/core/client-metadata';

const work = mkdtempSync(join(tmpdir(), 'zeno-mtls-'));
const openssl = (...args: string[]) => execFileSync('openssl', args, { stdio: 'ignore' });
const read = (name: string) => readFileSync(join(work, name), 'utf8');
interface Pair {
  cert: string;
  key: string;
}

/** A P-256 key and a certificate: self-signed, or issued by `ca`. */
function certificate(name: string, subject: string, o: { ca?: string; san?: string; isCa?: boolean } = {}): Pair {
  const key = `${name}.key`;
  const crt = `${name}.crt`;
  openssl('ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', join(work, key));
  const ext = [o.isCa ? 'basicConstraints=critical,CA:TRUE' : 'basicConstraints=CA:FALSE', ...(o.san ? [`subjectAltName=${o.san}`] : [])];
  if (!o.ca) {
    openssl('req', '-x509', '-new', '-key', join(work, key), '-out', join(work, crt), '-days', '1', '-subj', subject, ...ext.flatMap((e) => ['-addext', e]));
  } else {
    openssl('req', '-new', '-key', join(work, key), '-out', join(work, `${name}.csr`), '-subj', subject);
    writeFileSync(join(work, `${name}.ext`), ext.join('\n') + '\n');
    openssl('x509', '-req', '-in', join(work, `${name}.csr`), '-CA', join(work, `${o.ca}.crt`), '-CAkey', join(work, `${o.ca}.key`), '-CAcreateserial', '-out', join(work, crt), '-days', '1', '-extfile', join(work, `${name}.ext`));
  }
  return { cert: read(crt), key: read(key) };
}

const der = (pem: string) => new X509Certificate(pem).raw;

describe('ZenoAuth mutual TLS through ZenoIngress (RFC 8705)', () => {
  let tdb: TestDatabase;
  let h: AuthHarness;
  let ingress: Ingress;
  let port: number;
  let issuer: string;
  let svcSecret: string;
  let boundSecret: string;
  const key = randomBytes(32);
  const ca = certificate('ca', '/O=Acme/CN=Acme Client CA', { isCa: true });
  const server = certificate('server', '/CN=localhost', { san: 'DNS:localhost' });
  const clientA = certificate('client-a', '/C=SE/O=Acme/CN=client-a', { ca: 'ca', san: 'DNS:client-a.acme.example' });
  const clientB = certificate('client-b', '/C=SE/O=Acme/CN=client-b', { ca: 'ca' });
  // The right name, the wrong issuer: what an attacker can make for himself.
  const rogue = certificate('rogue', '/C=SE/O=Acme/CN=client-a', { san: 'DNS:client-a.acme.example' });
  const selfSigned = certificate('self', '/CN=self-signed-client');

  before(async () => {
    tdb = await createTestDatabase();
    port = await freePort();
    issuer = `https://localhost:${port}/auth/acme`;
    h = await startAuthHarness(tdb.database, { listen: true, baseUrl: `https://localhost:${port}`, env: { ZENO_CLIENT_CERT_KEY: key.toString('base64') } });
    const acme = await makeTenant(tdb.database.db, 'acme');
    await makeClient(tdb.database.db, acme, { client_id: 'pki', token_endpoint_auth_method: 'tls_client_auth', tls_client_auth_subject_dn: 'CN=client-a,O=Acme,C=SE', grant_types: ['client_credentials'], scope: 'read', tls_client_certificate_bound_access_tokens: true });
    await makeClient(tdb.database.db, acme, { client_id: 'pki-san', token_endpoint_auth_method: 'tls_client_auth', tls_client_auth_san_dns: 'client-a.acme.example', grant_types: ['client_credentials'], scope: 'read' });
    const selfJwk = await exportJWK(new X509Certificate(selfSigned.cert).publicKey);
    await makeClient(tdb.database.db, acme, { client_id: 'self', token_endpoint_auth_method: 'self_signed_tls_client_auth', jwks: { keys: [{ ...selfJwk, kty: selfJwk.kty!, x5c: [der(selfSigned.cert).toString('base64')] }] }, grant_types: ['client_credentials'], scope: 'read', tls_client_certificate_bound_access_tokens: true });
    ({ secret: svcSecret } = (await makeClient(tdb.database.db, acme, { client_id: 'svc', grant_types: ['client_credentials'], scope: 'read' })) as { secret: string });
    await makeUser(tdb.database.db, acme, { username: 'alice', password: 'wonderland-42' });
    await makeClient(tdb.database.db, acme, { client_id: 'device', token_endpoint_auth_method: 'none', grant_types: [DEVICE_CODE_GRANT, 'refresh_token'], scope: 'openid offline_access', first_party: true, tls_client_certificate_bound_access_tokens: true });
    ({ secret: boundSecret } = (await makeClient(tdb.database.db, acme, { client_id: 'svc-bound', grant_types: ['client_credentials'], scope: 'read', tls_client_certificate_bound_access_tokens: true })) as { secret: string });
  });
  after(async () => {
    await ingress?.close();
    await h?.close();
    await tdb?.drop();
    rmSync(work, { recursive: true, force: true });
  });

  before(async () => {
    const set = parseManifests(
      yamlStream(
        gatewayYaml({
          name: 'edge',
          namespace: 'zeno',
          gatewayClassName: 'zenokube',
          listeners: [{ name: 'https', port: 443, protocol: 'HTTPS', tls: { certificateRefs: [{ name: 'server' }], options: { 'zenokube.io/client-certificate': 'request', 'zenokube.io/client-certificate-ca': 'client-ca' } } }],
        }),
        httpRouteYaml({ name: 'auth', namespace: 'zeno', gateway: 'edge', rules: [{ backendRefs: [{ name: 'auth', port: SERVICE_PORT }] }] }),
        backendYaml('auth', 'zeno', h.port!),
      ),
      'mtls',
    ).set;
    const secret = (name: string, data: Record<string, string>): Secret => ({ apiVersion: 'v1', kind: 'Secret', metadata: { name, namespace: 'zeno' }, stringData: data });
    set.secrets.push(secret('server', { 'tls.crt': server.cert, 'tls.key': server.key }), secret('client-ca', { 'ca.crt': ca.cert }));
    ingress = createIngress({ bind: () => [{ host: '127.0.0.1', port }], drainMs: 100, clientCertKey: key });
    await ingress.apply(compile(set));
  });

  /** One HTTPS request through the ingress, with the client certificate `as` (none when undefined). */
  function call(method: string, path: string, o: { as?: Pair; headers?: Record<string, string>; body?: string } = {}): Promise<{ status: number; json: Record<string, unknown> }> {
    return new Promise((resolve, reject) => {
      const req = request(
        { host: '127.0.0.1', port, servername: 'localhost', ca: server.cert, method, path, agent: false, headers: { host: `localhost:${port}`, ...(o.body ? { 'content-type': 'application/x-www-form-urlencoded' } : {}), ...o.headers }, ...(o.as ? { cert: o.as.cert, key: o.as.key } : {}) },
        (res) => {
          let text = '';
          res.on('data', (d: Buffer) => (text += d.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, json: text ? (JSON.parse(text) as Record<string, unknown>) : {} }));
        },
      );
      req.on('error', reject);
      req.end(o.body);
    });
  }
  const token = (clientId: string, as?: Pair, headers: Record<string, string> = {}) =>
    call('POST', '/auth/acme/token', { as, headers, body: new URLSearchParams({ grant_type: 'client_credentials', client_id: clientId }).toString() });

  it('advertises the mTLS methods, bound tokens and endpoint aliases (RFC 8705 §2.1.1, §3.3, §5)', async () => {
    const { status, json } = await call('GET', '/auth/acme/.well-known/openid-configuration');
    assert.equal(status, 200);
    assert.ok((json.token_endpoint_auth_methods_supported as string[]).includes('tls_client_auth'));
    assert.ok((json.token_endpoint_auth_methods_supported as string[]).includes('self_signed_tls_client_auth'));
    assert.equal(json.tls_client_certificate_bound_access_tokens, true);
    assert.equal((json.mtls_endpoint_aliases as Record<string, string>).token_endpoint, `${issuer}/token`);
  });

  it('authenticates a tls_client_auth client by subject DN with openid-client and binds its token (§2.1, §3.1)', async () => {
    const agent = new Agent({ connect: { ca: server.cert, cert: clientA.cert, key: clientA.key } });
    try {
      const fetchWithCert: oidc.CustomFetch = (url, options) => undiciFetch(url, { ...options, dispatcher: agent } as never) as unknown as Promise<Response>;
      const config = await oidc.discovery(new URL(issuer), 'pki', { use_mtls_endpoint_aliases: true }, oidc.TlsClientAuth(), { [oidc.customFetch]: fetchWithCert });
      config[oidc.customFetch] = fetchWithCert;
      const tokens = await oidc.clientCredentialsGrant(config, { scope: 'read' });
      assert.equal(tokens.token_type, 'bearer');
      const claims = decodeJwt(tokens.access_token);
      assert.deepEqual(claims.cnf, { 'x5t#S256': certificateDigest(der(clientA.cert)) });
    } finally {
      await agent.close();
    }
  });

  it('authenticates a tls_client_auth client by SAN dNSName (§2.1.2)', async () => {
    const { status, json } = await token('pki-san', clientA);
    assert.equal(status, 200, JSON.stringify(json));
    assert.equal(decodeJwt(json.access_token as string).cnf, undefined);
  });

  it('forwards the certificate of an HTTP/2 connection too', async () => {
    const session = connect(`https://localhost:${port}`, { ca: server.cert, cert: clientA.cert, key: clientA.key });
    try {
      const stream = session.request({ ':method': 'POST', ':path': '/auth/acme/token', 'content-type': 'application/x-www-form-urlencoded' });
      stream.end('grant_type=client_credentials&client_id=pki');
      let text = '';
      stream.on('data', (d: Buffer) => (text += d.toString()));
      const status = await new Promise<number>((resolve) => stream.once('response', (headers) => resolve(Number(headers[':status']))));
      await new Promise((resolve) => stream.once('end', resolve));
      assert.equal(status, 200, text);
      assert.deepEqual(decodeJwt((JSON.parse(text) as { access_token: string }).access_token).cnf, { 'x5t#S256': certificateDigest(der(clientA.cert)) });
    } finally {
      session.close();
    }
  });

  it('authenticates a self_signed_tls_client_auth client by its registered certificate (§2.2)', async () => {
    const { status, json } = await token('self', selfSigned);
    assert.equal(status, 200, JSON.stringify(json));
    assert.deepEqual(decodeJwt(json.access_token as string).cnf, { 'x5t#S256': certificateDigest(der(selfSigned.cert)) });
  });

  it('refuses a certificate with the registered name from an untrusted issuer', async () => {
    const { status, json } = await token('pki', rogue);
    assert.deepEqual([status, json.error], [401, 'invalid_client']);
    assert.equal((await token('pki-san', rogue)).json.error, 'invalid_client');
  });

  it("refuses another client's certificate, another certificate for a self-signed client, and no certificate", async () => {
    assert.equal((await token('pki', clientB)).json.error, 'invalid_client');
    assert.equal((await token('self', clientA)).json.error, 'invalid_client');
    assert.equal((await token('pki')).json.error, 'invalid_client');
    assert.equal((await token('self')).json.error, 'invalid_client');
  });

  it('drops a Client-Cert and proof a client writes itself (RFC 9440 §2)', async () => {
    const digest = certificateDigest(der(clientA.cert));
    // Even a proof made with the right key (as a backend that saw one could replay) goes nowhere:
    // the ingress removes both fields before forwarding.
    const forged = { 'client-cert': `:${der(clientA.cert).toString('base64')}:`, 'zeno-client-cert-proof': signClientCertProof(key, digest, true, 'POST', `localhost:${port}`, '/auth/acme/token') };
    assert.equal((await token('pki', undefined, forged)).json.error, 'invalid_client');
    assert.equal((await token('pki', selfSigned, forged)).json.error, 'invalid_client');
  });

  describe('a request that reaches the function without the ingress', () => {
    const direct = (headers: Record<string, string>) =>
      fetch(`http://127.0.0.1:${h.port}/auth/acme/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers }, body: 'grant_type=client_credentials&client_id=pki' });
    const field = () => `:${der(clientA.cert).toString('base64')}:`;
    const digest = () => certificateDigest(der(clientA.cert));

    it('is refused with a proof made with another key, for another URL, or too old', async () => {
      const cases = [
        signClientCertProof(randomBytes(32), digest(), true, 'POST', `localhost:${port}`, '/auth/acme/token'),
        signClientCertProof(key, digest(), true, 'POST', 'app.example', '/auth/acme/token'),
        signClientCertProof(key, digest(), true, 'POST', `localhost:${port}`, '/auth/other/token'),
        signClientCertProof(key, digest(), true, 'POST', `localhost:${port}`, '/auth/acme/token', Date.now() - 120_000),
        signClientCertProof(key, certificateDigest(der(clientB.cert)), true, 'POST', `localhost:${port}`, '/auth/acme/token'),
        'v1.1.1.AAAA',
      ];
      for (const proof of cases) {
        const res = await direct({ 'client-cert': field(), 'zeno-client-cert-proof': proof });
        assert.equal(res.status, 401, proof);
        assert.equal(((await res.json()) as { error: string }).error, 'invalid_client');
      }
      const garbage = await direct({ 'client-cert': ':not base64!:', 'zeno-client-cert-proof': 'x' });
      assert.equal(garbage.status, 401);
    });

    it('is accepted with a fresh proof of the shared key for this URL (the test can fail)', async () => {
      const res = await direct({ 'client-cert': field(), 'zeno-client-cert-proof': signClientCertProof(key, digest(), true, 'POST', `localhost:${port}`, '/auth/acme/token') });
      assert.equal(res.status, 200);
    });
  });

  describe('a certificate-bound access token (RFC 8705 §3)', () => {
    it('is reported with its binding by introspection (§3.2)', async () => {
      const at = (await token('pki', clientA)).json.access_token as string;
      const { json } = await call('POST', '/auth/acme/introspect', { headers: { authorization: basicAuth('svc', svcSecret) }, body: new URLSearchParams({ token: at }).toString() });
      assert.equal(json.active, true);
      assert.deepEqual(json.cnf, { 'x5t#S256': certificateDigest(der(clientA.cert)) });
    });

    it('is refused at UserInfo without its certificate or with another one, and passes the binding with it', async () => {
      const at = (await token('pki', clientA)).json.access_token as string;
      const bearer = { authorization: `Bearer ${at}` };
      const without = await call('GET', '/auth/acme/userinfo', { headers: bearer });
      assert.deepEqual([without.status, without.json.error], [401, 'invalid_token']);
      const other = await call('GET', '/auth/acme/userinfo', { headers: bearer, as: clientB });
      assert.deepEqual([other.status, other.json.error], [401, 'invalid_token']);
      // With its certificate the binding holds; a client-credentials token then lacks openid.
      const own = await call('GET', '/auth/acme/userinfo', { headers: bearer, as: clientA });
      assert.deepEqual([own.status, own.json.error], [403, 'insufficient_scope']);
    });

    it("binds a public client's refresh token to its certificate (§4)", async () => {
      // The device signs in over mTLS; the person confirms in a browser (which needs no certificate).
      const started = await call('POST', '/auth/acme/device_authorization', { as: selfSigned, body: new URLSearchParams({ client_id: 'device', scope: 'openid offline_access' }).toString() });
      assert.equal(started.status, 200, JSON.stringify(started.json));
      const trusting = new Agent({ connect: { ca: server.cert } });
      const previous = getGlobalDispatcher();
      setGlobalDispatcher(trusting);
      try {
        const browser = new Browser();
        let html = await (await browser.fetch(started.json.verification_uri_complete as string)).text();
        html = await (await browser.submit(html, { user_code: /name="user_code"[^>]*value="([^"]*)"/.exec(html)![1]! }, /\/device$/)).text();
        if (html.includes('name="password"')) html = await (await browser.submit(html, { username: 'alice', password: 'wonderland-42' }, /\/login$/)).text();
        assert.equal((await browser.submit(html, { decision: 'allow' }, /\/device\/confirm$/)).status, 200);
      } finally {
        setGlobalDispatcher(previous);
        await trusting.close();
      }
      const grant = await call('POST', '/auth/acme/token', { as: selfSigned, body: new URLSearchParams({ grant_type: DEVICE_CODE_GRANT, device_code: started.json.device_code as string, client_id: 'device' }).toString() });
      assert.equal(grant.status, 200, JSON.stringify(grant.json));
      const refresh = (as?: Pair) => call('POST', '/auth/acme/token', { as, body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: grant.json.refresh_token as string, client_id: 'device' }).toString() });
      for (const as of [undefined, clientA]) {
        const refused = await refresh(as);
        assert.deepEqual([refused.status, refused.json.error], [400, as ? 'invalid_grant' : 'invalid_request']);
      }
      const refreshed = await refresh(selfSigned);
      assert.equal(refreshed.status, 200, JSON.stringify(refreshed.json));
      assert.deepEqual(decodeJwt(refreshed.json.access_token as string).cnf, { 'x5t#S256': certificateDigest(der(selfSigned.cert)) });
    });

    it('is refused by the admin API, which takes plain bearer tokens only', async () => {
      const at = (await token('pki', clientA)).json.access_token as string;
      const res = await call('GET', '/auth/admin/tenants', { headers: { authorization: `Bearer ${at}` }, as: clientA });
      assert.equal(res.status, 401);
    });

    it('is not issued to a bound client that connects without a certificate, and is bound to the one it shows', async () => {
      const basic = { authorization: basicAuth('svc-bound', boundSecret) };
      const body = 'grant_type=client_credentials';
      const without = await call('POST', '/auth/acme/token', { headers: basic, body });
      assert.deepEqual([without.status, without.json.error], [400, 'invalid_request']);
      // §3: binding needs no chain to a CA; a secret client binds to whatever certificate it holds.
      const withCert = await call('POST', '/auth/acme/token', { headers: basic, body, as: selfSigned });
      assert.equal(withCert.status, 200);
      assert.deepEqual(decodeJwt(withCert.json.access_token as string).cnf, { 'x5t#S256': certificateDigest(der(selfSigned.cert)) });
    });
  });
});

describe('client metadata for mutual TLS (RFC 8705 §2.1.2, §2.2)', () => {
  const check = (m: Record<string, unknown>) => checkClientMetadata(clientMetadataSchema.parse({ grant_types: ['client_credentials'], ...m }));

  it('accepts tls_client_auth with exactly one subject field', () => {
    assert.equal(check({ token_endpoint_auth_method: 'tls_client_auth', tls_client_auth_subject_dn: 'CN=a,O=Acme' }), undefined);
    assert.equal(check({ token_endpoint_auth_method: 'tls_client_auth', tls_client_auth_san_ip: '2001:db8::1' }), undefined);
  });

  it('refuses tls_client_auth with none or two subject fields, or a malformed one', () => {
    assert.match(check({ token_endpoint_auth_method: 'tls_client_auth' })!, /exactly one/);
    assert.match(check({ token_endpoint_auth_method: 'tls_client_auth', tls_client_auth_san_dns: 'a.example', tls_client_auth_san_uri: 'https://a.example' })!, /exactly one/);
    assert.match(check({ token_endpoint_auth_method: 'tls_client_auth', tls_client_auth_san_ip: 'not-an-ip' })!, /IPv4 or IPv6/);
    assert.match(check({ token_endpoint_auth_method: 'tls_client_auth', tls_client_auth_subject_dn: 'no equals sign' })!, /RFC 4514/);
  });

  it('refuses the subject fields on another method, and self_signed_tls_client_auth without jwks', () => {
    assert.match(check({ token_endpoint_auth_method: 'client_secret_basic', tls_client_auth_san_dns: 'a.example' })!, /only apply/);
    assert.match(check({ token_endpoint_auth_method: 'self_signed_tls_client_auth' })!, /needs jwks/);
  });

  it('accepts certificate-bound tokens for any client', () => {
    assert.equal(check({ tls_client_certificate_bound_access_tokens: true }), undefined);
  });
});
