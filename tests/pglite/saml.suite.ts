// ZenoAuth's SAML IdP on PGlite: one connection, so nothing a SAML request does inside a
// transaction may need the database outside it. The paths that differ from PostgreSQL are those
// that open transactions (sign-in, the SSO answer, single logout, key rotation), the signing key,
// created on first use on the pool, and the scheduled metadata refresh, whose network reads must
// hold no transaction; the protocol code above them is the same.
import assert from 'node:assert/strict';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { SAML } from '@node-saml/node-saml';
import { sql } from 'drizzle-orm';
import type { Database } from '#shared/db/index';
import type { Tenant } from '#functions/auth/core/schema';
import { Browser } from '#functions/auth/testing/browser';
import { makeTenant, makeUser } from '#functions/auth/testing/fixtures';
import { startAuthHarness, type AuthHarness } from '#functions/auth/testing/harness';
import { adminCall, adminToken, postedForm, spKeyPair } from '#functions/auth/testing/saml';

const PERSISTENT = 'urn:oasis:names:tc:SAML:2.0:nameid-format:persistent';
const ONE = { id: 'https://one.pglite.example/sp', acs: 'https://one.pglite.example/acs', slo: 'https://one.pglite.example/slo', binding: 'redirect' };
const TWO = { id: 'https://two.pglite.example/sp', acs: 'https://two.pglite.example/acs', slo: 'https://two.pglite.example/slo', binding: 'post' };
/** Browsers signing in at once: their transactions take turns on the one connection. */
const BROWSERS = 6;

export function samlSuite(get: () => Database): void {
  describe('ZenoAuth SAML IdP on PGlite', () => {
    let h: AuthHarness;
    let tenant: Tenant;
    let token: string;
    const sp = spKeyPair('PGlite SAML SP');
    const users = Array.from({ length: BROWSERS }, (_, i) => `saml-user-${i}`);

    const nodeSaml = (which: typeof ONE, idpCert: string | string[] = 'unused until a Response is read') =>
      new SAML({
        entryPoint: `${h.baseUrl}/auth/pglite-saml/saml/sso`,
        issuer: which.id,
        callbackUrl: which.acs,
        idpCert,
        audience: which.id,
        wantAssertionsSigned: true,
        wantAuthnResponseSigned: true,
        signatureAlgorithm: 'sha256',
        identifierFormat: PERSISTENT,
        privateKey: sp.privatePem,
        logoutUrl: `${h.baseUrl}/auth/pglite-saml/saml/slo`,
        logoutCallbackUrl: which.slo,
      });
    const idpCert = async () => /<ds:X509Certificate>([^<]+)</.exec(await (await h.fetch('/auth/pglite-saml/saml/metadata')).text())![1]!;

    /** SP-initiated over HTTP-Redirect; the SAMLResponse the IdP posts to the ACS. */
    async function signIn(browser: Browser, which: typeof ONE, username: string): Promise<string> {
      let html = await (await browser.fetch(await nodeSaml(which).getAuthorizeUrlAsync('r', undefined, {}))).text();
      if (html.includes('name="password"')) html = await (await browser.submit(html, { username, password: 'pglite saml password' })).text();
      return postedForm(html).fields.SAMLResponse!;
    }

    before(async () => {
      const db = get().db;
      tenant = await makeTenant(db, 'pglite-saml');
      for (const username of users) await makeUser(db, tenant, { username, password: 'pglite saml password' });
      h = await startAuthHarness(get(), { listen: true });
      token = await adminToken(h);
      for (const which of [ONE, TWO]) {
        const res = await adminCall(h, token, 'POST', '/tenants/pglite-saml/saml/service-providers', {
          entity_id: which.id,
          acs: [{ url: which.acs, index: 0 }],
          slo_url: which.slo,
          slo_binding: which.binding,
          certificates: [sp.certPem],
          name_id_format: PERSISTENT,
        });
        assert.equal(res.status, 201, await res.clone().text());
      }
    });
    after(async () => {
      await h?.close();
    });

    it(`signs in ${BROWSERS} browsers at once with the tenant's SAML key not created yet; the SP accepts every Response`, async () => {
      const responses = await Promise.all(users.map((u) => signIn(new Browser(), ONE, u)));
      const keys = await get().query<{ n: number }>(sql`select count(*)::int as n from auth.saml_keys where tenant_id = ${tenant.id}`);
      assert.equal(keys[0]!.n, 1);
      const saml = nodeSaml(ONE, await idpCert());
      for (const SAMLResponse of responses) {
        const { profile } = await saml.validatePostResponseAsync({ SAMLResponse, RelayState: 'r' });
        assert.equal(profile!.nameIDFormat, PERSISTENT);
      }
    });

    it('single logout ends the session in one transaction and posts a signed LogoutRequest to the other SP', async () => {
      const cert = await idpCert();
      const browser = new Browser();
      const first = await nodeSaml(ONE, cert).validatePostResponseAsync({ SAMLResponse: await signIn(browser, ONE, users[0]!), RelayState: 'r' });
      await nodeSaml(TWO, cert).validatePostResponseAsync({ SAMLResponse: await signIn(browser, TWO, users[0]!), RelayState: 'r' });
      const res = await browser.fetch(await nodeSaml(ONE, cert).getLogoutUrlAsync(first.profile!, 'bye', {}));
      assert.equal(res.status, 200);
      const b64 = /<form[^>]*data-slo[^>]*>[\s\S]*?name="SAMLRequest" value="([^"]+)"/.exec(await res.text())![1]!;
      const told = await nodeSaml(TWO, cert).validatePostRequestAsync({ SAMLRequest: b64 });
      assert.equal(told.loggedOut, true);
      const next = await browser.fetch(await nodeSaml(ONE, cert).getAuthorizeUrlAsync('n', undefined, {}));
      assert.match(await next.text(), /name="password"/);
    });

    it('rotates the signing key in a transaction; the metadata publishes both certificates and the next Response verifies against them', async () => {
      const before = await idpCert();
      const rotated = await adminCall(h, token, 'POST', '/tenants/pglite-saml/saml/keys/rotate');
      assert.equal(rotated.status, 200, await rotated.clone().text());
      // The SAML function may sign with its cached key for a minute more: both are published.
      const published = [...(await (await h.fetch('/auth/pglite-saml/saml/metadata')).text()).matchAll(/<ds:X509Certificate>([^<]+)</g)].map((m) => m[1]!);
      assert.equal(new Set(published).size, 2);
      assert.ok(published.includes(before));
      const SAMLResponse = await signIn(new Browser(), ONE, users[1]!);
      await nodeSaml(ONE, published).validatePostResponseAsync({ SAMLResponse, RelayState: 'r' });
    });

    it('serves the IdP while the scheduled metadata refresh waits on a slow SP metadata URL (the read holds no connection)', async () => {
      const entityId = 'https://slow.pglite.example/sp';
      const metadata = `<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="${entityId}"><md:SPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol"><md:AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="https://slow.pglite.example/acs" index="0"/></md:SPSSODescriptor></md:EntityDescriptor>`;
      let hold = false;
      let held: ((res: ServerResponse) => void) | undefined;
      const waiting: ServerResponse[] = [];
      const server = createServer((_req, res) => {
        if (!hold) return void res.writeHead(200, { 'content-type': 'application/samlmetadata+xml' }).end(metadata);
        waiting.push(res);
        held?.(res);
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      try {
        const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/sp.xml`;
        const created = await adminCall(h, token, 'POST', '/tenants/pglite-saml/saml/service-providers', { metadata_url: url });
        assert.equal(created.status, 201, await created.clone().text());
        await get().query(sql`update auth.saml_service_providers set metadata_checked_at = now() - interval '2 hours' where metadata_url = ${url}`);
        hold = true;
        const reached = new Promise<ServerResponse>((resolve) => (held = resolve));
        const tick = h.fetch('/_fn/auth-admin/_events', {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'ce-specversion': '1.0', 'ce-id': 'pglite-saml-refresh-1', 'ce-source': '/schedules/auth-saml-metadata', 'ce-type': 'io.zenokube.auth.saml-metadata.scheduled' },
          body: JSON.stringify({ schedule: 'auth-saml-metadata' }),
        });
        const slow = await reached;
        // The refresh is waiting on the SP: the IdP's own pages still reach the database.
        const during = await h.fetch('/auth/pglite-saml/saml/metadata');
        assert.equal(during.status, 200, (await during.text()).slice(0, 200));
        slow.writeHead(200, { 'content-type': 'application/samlmetadata+xml' }).end(metadata);
        assert.equal((await tick).status, 202);
        const [row] = await get().query<{ checked: boolean }>(sql`select metadata_checked_at > now() - interval '1 minute' as checked from auth.saml_service_providers where metadata_url = ${url}`);
        assert.equal(row!.checked, true);
      } finally {
        for (const res of waiting) res.destroy();
        server.close();
      }
    });
  });
}
