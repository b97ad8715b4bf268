import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'drizzle-orm';
import { createTestDatabase, type TestDatabase } from '#tests/support/database';
import { startAuthHarness, type AuthHarness } from '../testing/harness.js';
import { adminCall, adminToken, spKeyPair } from '../testing/saml.js';

describe('admin API /auth/admin/tenants/{t}/saml', () => {
  let tdb: TestDatabase;
  let h: AuthHarness;
  let token: string;
  const call = (method: string, path: string, body?: unknown, type?: string) => adminCall(h, token, method, `/tenants${path}`, body, type);
  const cert = spKeyPair('admin test SP').certPem;

  before(async () => {
    tdb = await createTestDatabase();
    h = await startAuthHarness(tdb.database);
    token = await adminToken(h);
    for (const slug of ['initech', 'hooli']) assert.equal((await call('POST', '', { slug })).status, 201);
  });
  after(async () => {
    await h.close();
    await tdb.drop();
  });

  it('registers, lists, replaces and deletes an SP, auditing each change', async () => {
    const body = { entity_id: 'https://app.initech.example', acs: [{ url: 'https://app.initech.example/acs', index: 3 }], certificates: [cert], attributes: [{ name: 'mail', source: 'email' }] };
    const created = await call('POST', '/initech/saml/service-providers', body);
    assert.equal(created.status, 201);
    const sp = (await created.json()) as { id: string; certificates: string[]; name_id_format: string; sign_assertion: boolean };
    assert.equal(sp.name_id_format, 'urn:oasis:names:tc:SAML:2.0:nameid-format:persistent');
    assert.equal(sp.sign_assertion, true);
    assert.doesNotMatch(sp.certificates[0]!, /BEGIN/);
    assert.equal((await call('POST', '/initech/saml/service-providers', body)).status, 409);
    // Another tenant may register the same entity id, and sees nothing of initech's.
    assert.equal((await call('POST', '/hooli/saml/service-providers', body)).status, 201);
    assert.equal((await call('GET', `/hooli/saml/service-providers/${sp.id}`)).status, 404);
    assert.equal((await call('DELETE', `/hooli/saml/service-providers/${sp.id}`)).status, 404);
    const replaced = await call('PUT', `/initech/saml/service-providers/${sp.id}`, { ...body, name: 'Initech app', name_id_format: 'urn:oasis:names:tc:SAML:2.0:nameid-format:transient' });
    assert.equal(((await replaced.json()) as { name: string }).name, 'Initech app');
    const list = (await (await call('GET', '/initech/saml/service-providers')).json()) as { service_providers: unknown[] };
    assert.equal(list.service_providers.length, 1);
    assert.equal((await call('DELETE', `/initech/saml/service-providers/${sp.id}`)).status, 204);
    const audit = await tdb.database.query<{ action: string }>(sql`select action from auth.audit where action like 'saml.sp.%' order by id`);
    assert.deepEqual(audit.map((a) => a.action), ['saml.sp.created', 'saml.sp.created', 'saml.sp.updated', 'saml.sp.deleted']);
  });

  it('refuses invalid registrations with 422 and the reason', async () => {
    const base = { entity_id: 'https://bad.example', acs: [{ url: 'https://bad.example/acs', index: 0 }] };
    const cases: unknown[] = [
      { ...base, acs: [{ url: 'http://bad.example/acs', index: 0 }] },
      { ...base, acs: [] },
      { ...base, acs: [{ url: 'https://a.example/1', index: 0 }, { url: 'https://a.example/2', index: 0 }] },
      { ...base, certificates: ['not a certificate'] },
      { ...base, name_id_format: 'urn:example:custom' },
      { ...base, want_authn_requests_signed: true },
      { ...base, slo_url: 'https://bad.example/slo' },
      { ...base, sign_response: false, sign_assertion: false },
      { ...base, attributes: [{ name: 'x', source: 'password_hash' }] },
    ];
    for (const body of cases) {
      const res = await call('POST', '/initech/saml/service-providers', body);
      assert.equal(res.status, 422, JSON.stringify(body));
      assert.equal(((await res.json()) as { code: string }).code, 'invalid_sp_registration');
    }
    assert.equal((await call('POST', '/initech/saml/service-providers', '{"entity_id":')).status, 400);
  });

  it('imports SP metadata XML and refuses hostile or incomplete metadata', async () => {
    const der = cert.replace(/-----[A-Z ]+-----|\s/g, '');
    const metadata =
      `<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="https://meta.example/sp">` +
      `<md:SPSSODescriptor AuthnRequestsSigned="true" protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">` +
      `<md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>${der}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>` +
      `<md:SingleLogoutService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="https://meta.example/slo"/>` +
      `<md:NameIDFormat>urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress</md:NameIDFormat>` +
      `<md:AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="https://meta.example/acs" index="7" isDefault="true"/>` +
      `</md:SPSSODescriptor></md:EntityDescriptor>`;
    const res = await call('POST', '/initech/saml/service-providers', metadata, 'application/samlmetadata+xml');
    assert.equal(res.status, 201, await res.clone().text());
    const sp = (await res.json()) as Record<string, unknown>;
    assert.deepEqual(sp.acs, [{ url: 'https://meta.example/acs', index: 7, binding: 'post', is_default: true }]);
    assert.equal(sp.slo_binding, 'post');
    assert.equal(sp.want_authn_requests_signed, true);
    const xxe = `<?xml version="1.0"?><!DOCTYPE md [<!ENTITY x SYSTEM "file:///etc/passwd">]>${metadata.replace('https://meta.example/sp', '&x;')}`;
    const refused = await call('POST', '/initech/saml/service-providers', xxe, 'application/samlmetadata+xml');
    assert.equal(refused.status, 422);
    assert.match(((await refused.json()) as { detail: string }).detail, /Document type declarations/);
    assert.equal((await call('POST', '/initech/saml/service-providers', '<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="x"/>', 'text/xml')).status, 422);
  });

  it('rotates the SAML signing key and keeps the retired certificate in the metadata', async () => {
    const before = (await (await call('GET', '/initech/saml/certificates')).json()) as { certificates: string[] };
    assert.equal(before.certificates.length, 1);
    const rotated = await call('POST', '/initech/saml/keys/rotate');
    assert.equal(rotated.status, 200);
    const metadata = await (await h.fetch('/auth/initech/saml/metadata')).text();
    const published = [...metadata.matchAll(/<ds:X509Certificate>([^<]+)</g)].map((m) => m[1]);
    assert.equal(published.length, 2);
    assert.equal(before.certificates[0]!.replace(/-----[A-Z ]+-----|\s/g, ''), published[1]);
    const sealed = await tdb.database.query<{ sealed: string }>(sql`select private_key_sealed as sealed from auth.saml_keys limit 1`);
    assert.doesNotMatch(sealed[0]!.sealed, /PRIVATE KEY/);
    assert.equal((await adminCall(h, 'not-a-token', 'POST', '/tenants/initech/saml/keys/rotate')).status, 401);
  });
});
