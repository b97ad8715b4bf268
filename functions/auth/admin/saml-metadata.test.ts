import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { sql } from 'drizzle-orm';
import { SAML } from '@node-saml/node-saml';
import { createTestDatabase, type TestDatabase } from '#tests/support/database';
import { startAuthHarness, type AuthHarness } from '../testing/harness.js';
import { adminCall, adminToken, spKeyPair } from '../testing/saml.js';
import { fetchSpMetadata } from './saml-metadata-fetch.js';

const SP_ID = 'https://remote.example/sp';
const EMAIL = 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress';

function spMetadata(o: { entityId?: string; signing: string; encryption?: string; acs?: string }): string {
  const key = (use: string, der: string) => `<md:KeyDescriptor use="${use}"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>${der}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>`;
  return (
    `<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="${o.entityId ?? SP_ID}">` +
    `<md:SPSSODescriptor AuthnRequestsSigned="true" protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">` +
    key('signing', o.signing) +
    (o.encryption ? key('encryption', o.encryption) : '') +
    `<md:SingleLogoutService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://remote.example/slo"/>` +
    `<md:NameIDFormat>${EMAIL}</md:NameIDFormat>` +
    `<md:AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="${o.acs ?? 'https://remote.example/acs'}" index="4"/>` +
    `</md:SPSSODescriptor></md:EntityDescriptor>`
  );
}

describe('SAML SP registration by metadata URL, and its scheduled refresh', () => {
  let tdb: TestDatabase;
  let h: AuthHarness;
  let token: string;
  let server: Server;
  let origin: string;
  const first = spKeyPair('remote SP, first key');
  const second = spKeyPair('remote SP, second key');
  const enc = spKeyPair('remote SP, encryption');
  let served = spMetadata({ signing: first.certDer, encryption: enc.certDer });
  const call = (method: string, path: string, body?: unknown) => adminCall(h, token, method, `/tenants/umbrella/saml${path}`, body);
  const tick = (id: string) =>
    h.fetch('/_fn/auth-admin/_events', {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'ce-specversion': '1.0', 'ce-id': id, 'ce-source': '/schedules/auth-saml-metadata', 'ce-type': 'io.zenokube.auth.saml-metadata.scheduled' },
      body: JSON.stringify({ schedule: 'auth-saml-metadata' }),
    });
  const backdate = () => tdb.database.query(sql`update auth.saml_service_providers set metadata_checked_at = now() - interval '2 hours' where metadata_url is not null`);

  before(async () => {
    server = createServer((req, res) => {
      const path = req.url ?? '';
      if (path === '/sp.xml') return res.writeHead(200, { 'content-type': 'application/samlmetadata+xml' }).end(served);
      if (path === '/big.xml') {
        // No Content-Length: the cap has to stop the stream itself.
        res.writeHead(200, { 'content-type': 'application/xml' });
        const chunk = `<!--${'x'.repeat(16_000)}-->`;
        let sent = 0;
        const more = () => {
          while (sent < 40 && res.write(chunk)) sent++;
          if (sent >= 40) res.end();
          else res.once('drain', more);
        };
        res.on('error', () => undefined);
        return more();
      }
      if (path === '/xxe.xml') return res.writeHead(200).end(`<?xml version="1.0"?><!DOCTYPE md [<!ENTITY x SYSTEM "file:///etc/passwd">]>${served.replace(SP_ID, '&x;')}`);
      if (path === '/redirect') return res.writeHead(302, { location: '/sp.xml' }).end();
      if (path === '/slow') return; // never answers
      res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    tdb = await createTestDatabase();
    h = await startAuthHarness(tdb.database, { listen: true });
    token = await adminToken(h);
    assert.equal((await adminCall(h, token, 'POST', '/tenants', { slug: 'umbrella' })).status, 201);
  });
  after(async () => {
    server.closeAllConnections();
    server.close();
    await h.close();
    await tdb.drop();
  });

  it('refuses URLs that are not https (or loopback http), carry credentials, redirect, are too large or hostile', async () => {
    const cases: [string, string][] = [
      ['file:///etc/passwd', 'invalid_metadata_url'],
      ['gopher://127.0.0.1/x', 'invalid_metadata_url'],
      ['http://metadata.example/sp.xml', 'invalid_metadata_url'],
      [`http://user:pw@127.0.0.1:1/sp.xml`, 'invalid_metadata_url'],
      [`${origin}/redirect`, 'metadata_unavailable'],
      [`${origin}/missing`, 'metadata_unavailable'],
      [`${origin}/big.xml`, 'metadata_unavailable'],
      [`${origin}/xxe.xml`, 'invalid_sp_metadata'],
    ];
    for (const [url, code] of cases) {
      const res = await call('POST', '/service-providers', { metadata_url: url });
      assert.equal(res.status, 422, url);
      const problem = (await res.json()) as { code: string; detail: string };
      assert.equal(problem.code, code, `${url}: ${problem.detail}`);
    }
    assert.equal((await call('POST', '/service-providers', { metadata_url: 42 })).status, 422);
    const list = (await (await call('GET', '/service-providers')).json()) as { service_providers: unknown[] };
    assert.equal(list.service_providers.length, 0);
  });

  it('gives up on a server that does not answer within the deadline', async () => {
    await assert.rejects(fetchSpMetadata(`${origin}/slow`, { timeoutMs: 200 }), (err: { code?: string; detail?: string }) => err.code === 'metadata_unavailable' && /in time/.test(err.detail ?? ''));
  });

  it('registers an SP from its metadata URL, the JSON settings beside it overriding', async () => {
    const res = await call('POST', '/service-providers', { metadata_url: `${origin}/sp.xml`, name: 'Remote app', attributes: [{ name: 'mail', source: 'email' }] });
    assert.equal(res.status, 201, await res.clone().text());
    const sp = (await res.json()) as Record<string, unknown> & { metadata: { url: string; error: string | null; refreshed_at: string } };
    assert.equal(sp.entity_id, SP_ID);
    assert.equal(sp.name, 'Remote app');
    assert.deepEqual(sp.acs, [{ url: 'https://remote.example/acs', index: 4, binding: 'post', is_default: false }]);
    assert.equal(sp.slo_url, 'https://remote.example/slo');
    assert.deepEqual(sp.certificates, [first.certDer]);
    assert.deepEqual(sp.encryption_certificates, [enc.certDer]);
    assert.equal(sp.encrypt_assertion, true);
    assert.equal(sp.name_id_format, EMAIL);
    assert.equal(sp.want_authn_requests_signed, true);
    assert.deepEqual(sp.attributes, [{ name: 'mail', source: 'email' }]);
    assert.equal(sp.metadata.url, `${origin}/sp.xml`);
    assert.equal(sp.metadata.error, null);
    assert.ok(sp.metadata.refreshed_at);
  });

  it('picks up a certificate change on the schedule; a failed refresh keeps the last good metadata and records the error', async () => {
    const [{ id }] = ((await (await call('GET', '/service-providers')).json()) as { service_providers: { id: string }[] }).service_providers as [{ id: string }];
    const read = async () => (await (await call('GET', `/service-providers/${id}`)).json()) as { certificates: string[]; acs: { url: string }[]; name: string; attributes: unknown[]; metadata: { error: string | null; refreshed_at: string } };
    const signedRequestStatus = async (privatePem: string, acs = 'https://remote.example/acs') => {
      const saml = new SAML({ entryPoint: `${h.baseUrl}/auth/umbrella/saml/sso`, issuer: SP_ID, callbackUrl: acs, idpCert: first.certDer, privateKey: privatePem, signatureAlgorithm: 'sha256', identifierFormat: EMAIL });
      return (await h.fetch((await saml.getAuthorizeUrlAsync('r', undefined, {})).slice(h.baseUrl.length))).status;
    };
    assert.equal(await signedRequestStatus(first.privatePem), 200);
    assert.equal(await signedRequestStatus(second.privatePem), 403);

    // Not due yet: a tick right after registration reads nothing.
    served = spMetadata({ signing: second.certDer, encryption: enc.certDer, acs: 'https://remote.example/new-acs' });
    assert.equal((await tick('t-0')).status, 202);
    assert.deepEqual((await read()).certificates, [first.certDer]);

    await backdate();
    assert.equal((await tick('t-1')).status, 202);
    const refreshed = await read();
    assert.deepEqual(refreshed.certificates, [second.certDer]);
    assert.equal(refreshed.acs[0]!.url, 'https://remote.example/new-acs');
    assert.equal(refreshed.name, 'Remote app');
    assert.deepEqual(refreshed.attributes, [{ name: 'mail', source: 'email' }]);
    assert.equal(refreshed.metadata.error, null);
    // The SP's requests signed with its new key are accepted, those with the old one refused.
    assert.equal(await signedRequestStatus(second.privatePem, 'https://remote.example/new-acs'), 200);
    assert.equal(await signedRequestStatus(first.privatePem, 'https://remote.example/new-acs'), 403);

    for (const [n, broken] of [['2', '<md:EntityDescriptor'], ['3', spMetadata({ entityId: 'https://impostor.example', signing: first.certDer })], ['4', spMetadata({ signing: first.certDer })]] as const) {
      served = broken;
      await backdate();
      assert.equal((await tick(`t-${n}`)).status, 202);
      const kept = await read();
      assert.deepEqual(kept.certificates, [second.certDer], `tick ${n}`);
      assert.equal(kept.metadata.refreshed_at, refreshed.metadata.refreshed_at);
      // 4: the SP stopped publishing its encryption key while encryption is on: refused too.
      assert.match(kept.metadata.error ?? '', n === '2' ? /malformed_xml/ : n === '3' ? /another entityID/ : /encrypt_assertion needs an encryption certificate/);
    }

    // A refresh on demand answers 422 while the metadata is bad, and applies it once it is good.
    const failing = await call('POST', `/service-providers/${id}/metadata/refresh`);
    assert.equal(failing.status, 422);
    assert.equal(((await failing.json()) as { code: string }).code, 'metadata_refresh_failed');
    served = spMetadata({ signing: first.certDer, encryption: enc.certDer });
    const fixed = await call('POST', `/service-providers/${id}/metadata/refresh`);
    assert.equal(fixed.status, 200, await fixed.clone().text());
    const body = (await fixed.json()) as { changed: boolean; certificates: string[]; metadata: { error: string | null } };
    assert.deepEqual([body.changed, body.certificates, body.metadata.error], [true, [first.certDer], null]);

    const audit = await tdb.database.query<{ outcome: string; actor: string }>(sql`select outcome, actor from auth.audit where action = 'saml.sp.metadata-refreshed' order by id`);
    // One row per change, and one when the refreshes started failing (not one per failed tick).
    assert.deepEqual(audit.map((a) => a.outcome), ['success', 'failure', 'success']);
    assert.equal(audit[0]!.actor, 'schedule:auth-saml-metadata');
  });

  it('answers 409 for a refresh of an SP registered by hand, and 404 for one of another tenant', async () => {
    const res = await call('POST', '/service-providers', { entity_id: 'https://byhand.example', acs: [{ url: 'https://byhand.example/acs', index: 0 }] });
    const { id } = (await res.json()) as { id: string };
    assert.equal((await call('POST', `/service-providers/${id}/metadata/refresh`)).status, 409);
    assert.equal((await adminCall(h, token, 'POST', '/tenants', { slug: 'other' })).status, 201);
    assert.equal((await adminCall(h, token, 'POST', `/tenants/other/saml/service-providers/${id}/metadata/refresh`)).status, 404);
  });
});
