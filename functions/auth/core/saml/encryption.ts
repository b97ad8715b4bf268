// An Assertion encrypted to the SP (SAML Core §2.3.4, §6.1): the signed Assertion becomes the
// content of an xenc:EncryptedData (XML Encryption 1.1) under a fresh AES-256-GCM key, and that key
// travels RSA-OAEP-encrypted to the SP's encryption certificate, by one of two key transports
// (XML-Enc 1.1 §5.5.2):
//   rsa-oaep-mgf1p   `xmlenc#rsa-oaep-mgf1p`, SHA-1 digest, MGF1 with SHA-1 (fixed by the
//                    identifier); the one every SAML stack reads, and the default;
//   rsa-oaep-sha256  `xmlenc11#rsa-oaep` with `ds:DigestMethod` SHA-256 and `xenc11:MGF`
//                    mgf1sha256; sent to SPs whose metadata advertises it.
// The cipher work is xml-encryption's, over node:crypto; insecure algorithms (RSA 1.5, 3DES) are
// refused by the library as well.
import { X509Certificate } from 'node:crypto';
import xmlenc from 'xml-encryption';
import { certificatePem } from './certificate.js';
import { NS } from './constants.js';

export const KEY_TRANSPORTS = ['rsa-oaep-mgf1p', 'rsa-oaep-sha256'] as const;
export type KeyTransport = (typeof KEY_TRANSPORTS)[number];

export const XMLENC = Object.freeze({
  aes256Gcm: 'http://www.w3.org/2009/xmlenc11#aes256-gcm',
  rsaOaepMgf1p: 'http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p',
  rsaOaep: 'http://www.w3.org/2009/xmlenc11#rsa-oaep',
  sha256: 'http://www.w3.org/2001/04/xmlenc#sha256',
  mgf1Sha256: 'http://www.w3.org/2009/xmlenc11#mgf1sha256',
  xenc11: 'http://www.w3.org/2009/xmlenc11#',
});

const TRANSPORT_OPTIONS: Record<KeyTransport, { keyEncryptionAlgorithm: string; keyEncryptionDigest: 'sha1' | 'sha256'; keyEncryptionMgf?: 'sha256' }> = {
  'rsa-oaep-mgf1p': { keyEncryptionAlgorithm: XMLENC.rsaOaepMgf1p, keyEncryptionDigest: 'sha1' },
  'rsa-oaep-sha256': { keyEncryptionAlgorithm: XMLENC.rsaOaep, keyEncryptionDigest: 'sha256', keyEncryptionMgf: 'sha256' },
};

/** `<saml:EncryptedAssertion>` around the encrypted `signedAssertion`, for the SP's certificate (base64 DER). */
export async function encryptAssertion(signedAssertion: string, certificate: string, transport: KeyTransport = 'rsa-oaep-mgf1p'): Promise<string> {
  const pem = certificatePem(certificate);
  const publicKey = new X509Certificate(pem).publicKey;
  if (publicKey.asymmetricKeyType !== 'rsa') throw new TypeError('SAML assertion encryption needs an RSA certificate');
  const encrypted = await new Promise<string>((resolve, reject) =>
    xmlenc.encrypt(
      signedAssertion,
      {
        rsa_pub: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
        pem,
        encryptionAlgorithm: XMLENC.aes256Gcm,
        ...TRANSPORT_OPTIONS[transport],
        disallowEncryptionWithInsecureAlgorithm: true,
      },
      (err, result) => (err ? reject(err) : resolve(result)),
    ),
  );
  return `<saml:EncryptedAssertion xmlns:saml="${NS.assertion}">${encrypted.trim()}</saml:EncryptedAssertion>`;
}

/** One `md:EncryptionMethod` of an SP's metadata: its Algorithm and, for RSA-OAEP, the digest and MGF it names. */
interface AdvertisedMethod {
  algorithm: string;
  digest?: string | undefined;
  mgf?: string | undefined;
}

/**
 * The key transport for an SP, from the `md:EncryptionMethod`s of its encryption KeyDescriptors
 * (SAML Metadata §2.4.1.1; the Metadata Profile for Algorithm Support). The SHA-256 transport when
 * the SP lists `xmlenc11#rsa-oaep` without naming a digest or MGF other than SHA-256; otherwise the
 * SHA-1 one, when the SP lists it or lists no key transport at all (an SP that names none reads
 * `rsa-oaep-mgf1p`, the SAML default). `undefined` when the SP lists key transports and none of
 * ours, or lists content ciphers without AES-256-GCM: it could not read what we send.
 */
export function keyTransportFor(methods: readonly AdvertisedMethod[]): KeyTransport | undefined {
  const isKeyTransport = (a: string) => /#(rsa-|kw-)/.test(a);
  const content = methods.filter((m) => !isKeyTransport(m.algorithm));
  if (content.length && !content.some((m) => m.algorithm === XMLENC.aes256Gcm)) return undefined;
  const transports = methods.filter((m) => isKeyTransport(m.algorithm));
  if (!transports.length) return 'rsa-oaep-mgf1p';
  const sha256 = transports.some((m) => m.algorithm === XMLENC.rsaOaep && (m.digest ?? XMLENC.sha256) === XMLENC.sha256 && (m.mgf ?? XMLENC.mgf1Sha256) === XMLENC.mgf1Sha256);
  if (sha256) return 'rsa-oaep-sha256';
  // XML-Enc 1.1 §5.5.2: rsa-oaep-mgf1p's digest defaults to SHA-1, which is what we send with it.
  if (transports.some((m) => m.algorithm === XMLENC.rsaOaepMgf1p && (m.digest === undefined || m.digest === 'http://www.w3.org/2000/09/xmldsig#sha1'))) return 'rsa-oaep-mgf1p';
  return undefined;
}
