// SAML test support: an admin token, a registered SP with its own key and certificate, the
// auto-post forms the IdP answers with, xmlsec1 for an independent signature check, and a Java
// (JCE) reader of XML Encryption 1.1 for the key transports xmlsec1 1.2 cannot read.
import { execFile } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { certificatePem, selfSignedCertificate } from '../core/saml/certificate.js';
import type { AuthHarness } from './harness.js';
import { basicAuth, form } from './fixtures.js';

export async function adminToken(h: AuthHarness): Promise<string> {
  const res = await h.fetch('/auth/system/token', { ...form({ grant_type: 'client_credentials', scope: 'zeno:admin' }), headers: { ...form({}).headers, authorization: basicAuth('zeno-admin', h.adminSecret) } });
  return ((await res.json()) as { access_token: string }).access_token;
}

export async function adminCall(h: AuthHarness, token: string, method: string, path: string, body?: unknown, contentType = 'application/json'): Promise<Response> {
  return h.fetch(`/auth/admin${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': contentType } : {}) },
    ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
  });
}

/** An SP's RSA key (PKCS#8 PEM) and its self-signed certificate (PEM and base64 DER). */
export function spKeyPair(name: string) {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const der = selfSignedCertificate(privateKey, name, new Date(Date.now() - 60_000), new Date(Date.now() + 86_400_000));
  return { privateKey, privatePem: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(), certDer: der, certPem: certificatePem(der) };
}

/** The hidden fields and action of the auto-post form a SAML endpoint answered with. */
export function postedForm(html: string): { action: string; fields: Record<string, string> } {
  const action = /<form[^>]*action="([^"]+)"/.exec(html)?.[1];
  if (!action) throw new Error(`no form in ${html.slice(0, 300)}`);
  const fields: Record<string, string> = {};
  for (const m of html.matchAll(/<input[^>]*type="hidden"[^>]*name="([^"]+)"[^>]*value="([^"]*)"/g)) fields[m[1]!] = unescape(m[2]!);
  return { action: unescape(action), fields };
}

const unescape = (s: string) => s.replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');

/**
 * Verifies the first signature of `xml` with xmlsec1 (the Debian package) against `certPem`,
 * declaring ID as the id attribute of `idAttrNode` (e.g. urn:…:protocol:Response).
 */
export async function xmlsecVerify(xml: string, certPem: string, idAttrNode: string): Promise<{ ok: boolean; output: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'zk-xmlsec-'));
  try {
    await writeFile(join(dir, 'msg.xml'), xml);
    await writeFile(join(dir, 'cert.pem'), certPem);
    const r = await promisify(execFile)('xmlsec1', ['--verify', '--pubkey-cert-pem', join(dir, 'cert.pem'), '--id-attr:ID', idAttrNode, '--enabled-reference-uris', 'same-doc', join(dir, 'msg.xml')]).then(
      (o) => ({ ok: true, output: o.stderr + o.stdout }),
      (e: { stderr?: string; stdout?: string }) => ({ ok: false, output: `${e.stderr ?? ''}${e.stdout ?? ''}` }),
    );
    return r;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Decrypts the first xenc:EncryptedData of `xml` with xmlsec1 and the RSA private key `keyPem`. */
export async function xmlsecDecrypt(xml: string, keyPem: string): Promise<{ ok: boolean; output: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'zk-xmlsec-'));
  try {
    await writeFile(join(dir, 'msg.xml'), xml);
    await writeFile(join(dir, 'key.pem'), keyPem);
    return await promisify(execFile)('xmlsec1', ['--decrypt', '--privkey-pem', join(dir, 'key.pem'), join(dir, 'msg.xml')]).then(
      (o) => ({ ok: true, output: o.stdout }),
      (e: { stderr?: string; stdout?: string }) => ({ ok: false, output: `${e.stderr ?? ''}${e.stdout ?? ''}` }),
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const JAVA_DECRYPT = join(dirname(fileURLToPath(import.meta.url)), 'xmlenc-decrypt.java');

/**
 * Decrypts the first xenc:EncryptedData of `xml` with Java's JCE and DOM parser (xmlenc-decrypt.java,
 * run as a source file), under the OAEP digest and MGF the XML states; `used` is what it read.
 */
export async function javaDecrypt(xml: string, keyPem: string): Promise<{ ok: boolean; output: string; used: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'zk-xmlenc-'));
  try {
    await writeFile(join(dir, 'msg.xml'), xml);
    await writeFile(join(dir, 'key.pem'), keyPem);
    return await promisify(execFile)('java', [JAVA_DECRYPT, join(dir, 'msg.xml'), join(dir, 'key.pem')]).then(
      (o) => ({ ok: true, output: o.stdout, used: o.stderr.trim() }),
      (e: { stderr?: string; stdout?: string }) => ({ ok: false, output: `${e.stderr ?? ''}${e.stdout ?? ''}`, used: '' }),
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
