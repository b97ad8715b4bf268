// The products that hold no auth keys (ZenoLMS, ZenoMail) take the access tokens a real ZenoAuth
// issues: a client-credentials token of the tenant, fetched from its token endpoint, checked
// against the issuer's published JWKS over a real socket. A token of another tenant, or one
// without the scope, is refused. (Their own tests use a stand-in issuer; this one does not.)
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { SignJWT, exportJWK, generateKeyPair } from 'jose';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { catalog } from '#eventing/catalog';
import { startAuthHarness, type AuthHarness } from '#functions/auth/testing/harness';
import { basicAuth, makeClient, makeTenant } from '#functions/auth/testing/fixtures';
import lmsApi from '#functions/lms/api/function';
import mailApi from '#functions/mail/api/function';
import { loadConfig } from '#shared/config/index';
import { createEventPublisher } from '#shared/events/outbox';
import { hostFunction, type HostedFunction } from '#shared/function/host';
import { silentLogger } from '#shared/log/index';
import { createMetrics } from '#shared/metrics/index';
import { createTestDatabase, type TestDatabase } from '#tests/support/database';

describe('ZenoAuth access tokens at ZenoLMS and ZenoMail', () => {
  let tdb: TestDatabase;
  let za: AuthHarness;
  let dataDir: string;
  let lms: HostedFunction;
  let mail: HostedFunction;
  const tokens: Record<string, string> = {};

  /** A client-credentials token of `tenant`'s real token endpoint (DPoP-bound when `dpop` is a proof). */
  async function clientToken(tenant: string, clientId: string, secret: string, scope: string, dpop?: string): Promise<string> {
    const res = await fetch(`${za.baseUrl}/auth/${tenant}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basicAuth(clientId, secret), ...(dpop ? { dpop } : {}) },
      body: new URLSearchParams({ grant_type: 'client_credentials', scope }).toString(),
    });
    assert.equal(res.status, 200, await res.clone().text());
    return ((await res.json()) as { access_token: string }).access_token;
  }

  before(async () => {
    tdb = await createTestDatabase();
    za = await startAuthHarness(tdb.database, { listen: true });
    for (const slug of ['acme', 'globex']) {
      const tenant = await makeTenant(tdb.database.db, slug);
      const { secret } = await makeClient(tdb.database.db, tenant, { client_id: 'vendor', grant_types: ['client_credentials'], scope: 'lms:admin mail:admin mail:send' });
      tokens[`${slug}:lms`] = await clientToken(slug, 'vendor', secret!, 'lms:admin');
      tokens[`${slug}:mail`] = await clientToken(slug, 'vendor', secret!, 'mail:admin');
      const { privateKey, publicKey } = await generateKeyPair('ES256');
      const proof = await new SignJWT({ htm: 'POST', htu: `${za.baseUrl}/auth/${slug}/token`, jti: randomUUID() })
        .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk: await exportJWK(publicKey) })
        .setIssuedAt()
        .sign(privateKey);
      tokens[`${slug}:mail:dpop`] = await clientToken(slug, 'vendor', secret!, 'mail:admin', proof);
    }
    dataDir = await mkdtemp(join(tmpdir(), 'zk-tokens-'));
    // The products find the issuers under the platform's base URL, as on one machine.
    const config = loadConfig({ ZENO_BASE_URL: za.baseUrl, ZENO_DATA_DIR: dataDir, ZENO_LOG_LEVEL: 'error' });
    const host = (decl: typeof lmsApi, product: string, env: Record<string, string>) =>
      hostFunction(decl, {
        config,
        database: tdb.database,
        log: silentLogger,
        metrics: createMetrics({ defaults: false }),
        events: createEventPublisher({ product, source: `/${product}/api`, check: (e) => catalog.checkOutgoing(e) }),
        env,
        catalog,
      });
    lms = await host(lmsApi, 'lms', { LMS_MASTER_KEY: randomBytes(32).toString('base64') });
    mail = await host(mailApi, 'mail', { ZENO_MAIL_SERVICE_KEY: randomBytes(32).toString('base64') });
  });
  after(async () => {
    for (const h of [lms, mail]) await h?.module.shutdown?.();
    await za?.close();
    await tdb?.drop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  const call = (fn: HostedFunction, method: string, path: string, token: string, body?: unknown) =>
    fn.app.fetch(
      new Request(`${za.baseUrl}${path}`, {
        method,
        headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        body: body === undefined ? undefined : JSON.stringify(body),
      }),
      { incoming: { socket: { remoteAddress: '127.0.0.1' } } },
    );

  it("lets a tenant's lms:admin token administer that tenant's licences, and no other tenant's", async () => {
    const created = await call(lms, 'POST', '/lms/acme/v1/products', tokens['acme:lms']!, { name: 'desktop-app' });
    assert.equal(created.status, 201, await created.clone().text());
    const listed = (await (await call(lms, 'GET', '/lms/acme/v1/products', tokens['acme:lms']!)).json()) as { items: { name: string }[] };
    assert.deepEqual(listed.items.map((p) => p.name), ['desktop-app']);
    // globex's genuine token is not acme's: the issuer pins the tenant.
    const foreign = await call(lms, 'GET', '/lms/acme/v1/products', tokens['globex:lms']!);
    assert.equal(foreign.status, 401);
    // acme's token without lms:admin (a mail token): the right tenant, the wrong scope.
    const unscoped = await call(lms, 'GET', '/lms/acme/v1/products', tokens['acme:mail']!);
    assert.equal(unscoped.status, 403);
    assert.equal(((await unscoped.json()) as { code: string }).code, 'insufficient_scope');
  });

  it("lets a tenant's mail:admin token read that tenant's mail, and no other tenant's", async () => {
    const own = await call(mail, 'GET', '/mail/acme/v1/messages', tokens['acme:mail']!);
    assert.equal(own.status, 200, await own.clone().text());
    assert.equal((await call(mail, 'GET', '/mail/acme/v1/messages', tokens['globex:mail']!)).status, 401);
    assert.equal((await call(mail, 'GET', '/mail/acme/v1/messages', tokens['acme:lms']!)).status, 403);
    // A token altered by one character no longer verifies.
    const t = tokens['acme:mail']!;
    const tampered = t.slice(0, -3) + (t.at(-3) === 'A' ? 'B' : 'A') + t.slice(-2);
    assert.equal((await call(mail, 'GET', '/mail/acme/v1/messages', tampered)).status, 401);
  });

  it('refuses a DPoP-bound token presented as a Bearer token (RFC 9449 §7.2)', async () => {
    assert.equal((await call(mail, 'GET', '/mail/acme/v1/messages', tokens['acme:mail:dpop']!)).status, 401);
  });
});
