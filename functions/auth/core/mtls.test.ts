// The certificate rules of RFC 8705 §2 without a network: DN and SAN matching, self-signed keys.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportJWK } from 'jose';
import { X509Certificate } from 'node:crypto';
import { matchesSelfSigned, matchesTlsClientAuth, parseDistinguishedName, presentedCertificate } from './mtls.js';
import type { Client } from './schema.js';

function selfSigned(subject: string, san?: string): Buffer {
  const dir = mkdtempSync(join(tmpdir(), 'zeno-mtls-unit-'));
  try {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', join(dir, 'k'), '-out', join(dir, 'c'), '-days', '1', '-subj', subject, ...(san ? ['-addext', `subjectAltName=${san}`] : [])], { stdio: 'ignore' });
    return new X509Certificate(readFileSync(join(dir, 'c'))).raw;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const client = (fields: Partial<Client>): Client =>
  ({
    tokenEndpointAuthMethod: 'tls_client_auth',
    tlsClientAuthSubjectDn: null,
    tlsClientAuthSanDns: null,
    tlsClientAuthSanUri: null,
    tlsClientAuthSanIp: null,
    tlsClientAuthSanEmail: null,
    jwks: null,
    ...fields,
  }) as Client;

describe('RFC 8705 §2.1.2 tls_client_auth matching', () => {
  const der = selfSigned('/C=SE/O=Acme\\, Inc./CN=Client One', 'DNS:one.acme.example,IP:2001:db8::1,URI:spiffe://acme/one,email:one@acme.example');
  const verified = presentedCertificate(der, true)!;

  it('parses RFC 4514 strings, escapes included, into certificate order', () => {
    assert.deepEqual(parseDistinguishedName('CN=Client One,O=Acme\\, Inc.,C=SE'), [['C', 'SE'], ['O', 'Acme, Inc.'], ['CN', 'Client One']]);
    assert.deepEqual(parseDistinguishedName('CN=\\41b'), [['CN', 'Ab']]);
    assert.equal(parseDistinguishedName('CN=a+OU=b'), undefined);
    assert.equal(parseDistinguishedName('nonsense'), undefined);
  });

  it('matches the subject DN attribute by attribute, values ignoring case', () => {
    assert.equal(matchesTlsClientAuth(client({ tlsClientAuthSubjectDn: 'CN=client one,O=Acme\\, Inc.,C=SE' }), verified), true);
    assert.equal(matchesTlsClientAuth(client({ tlsClientAuthSubjectDn: 'C=SE,O=Acme\\, Inc.,CN=Client One' }), verified), false);
    assert.equal(matchesTlsClientAuth(client({ tlsClientAuthSubjectDn: 'CN=Client One,O=Acme,C=SE' }), verified), false);
  });

  it('matches each SAN type, the IP address in any spelling', () => {
    assert.equal(matchesTlsClientAuth(client({ tlsClientAuthSanDns: 'ONE.acme.example' }), verified), true);
    assert.equal(matchesTlsClientAuth(client({ tlsClientAuthSanIp: '2001:0db8:0:0:0:0:0:1' }), verified), true);
    assert.equal(matchesTlsClientAuth(client({ tlsClientAuthSanUri: 'spiffe://acme/one' }), verified), true);
    assert.equal(matchesTlsClientAuth(client({ tlsClientAuthSanEmail: 'one@acme.example' }), verified), true);
    assert.equal(matchesTlsClientAuth(client({ tlsClientAuthSanDns: 'two.acme.example' }), verified), false);
  });

  it('refuses a certificate whose chain did not verify, whatever it names', () => {
    assert.equal(matchesTlsClientAuth(client({ tlsClientAuthSanDns: 'one.acme.example' }), presentedCertificate(der, false)!), false);
  });

  it('refuses bytes that are not a certificate', () => {
    assert.equal(presentedCertificate(Buffer.from('not a certificate'), true), undefined);
  });
});

describe('RFC 8705 §2.2 self_signed_tls_client_auth matching', () => {
  const der = selfSigned('/CN=device');
  const other = selfSigned('/CN=device');

  it("matches the registered key, and the x5c certificate byte for byte when given", async () => {
    const jwk = await exportJWK(new X509Certificate(der).publicKey);
    const presented = presentedCertificate(der, false)!;
    const byKey = client({ tokenEndpointAuthMethod: 'self_signed_tls_client_auth', jwks: { keys: [jwk as Record<string, unknown>] } });
    assert.equal(await matchesSelfSigned(byKey, presented), true);
    assert.equal(await matchesSelfSigned(byKey, presentedCertificate(other, false)!), false);
    const byCert = client({ tokenEndpointAuthMethod: 'self_signed_tls_client_auth', jwks: { keys: [{ ...jwk, x5c: [other.toString('base64')] }] } });
    assert.equal(await matchesSelfSigned(byCert, presented), false);
  });
});
