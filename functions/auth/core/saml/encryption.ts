// An Assertion encrypted to the SP (SAML Core §2.3.4, §6.1): the signed Assertion becomes the
// content of an xenc:EncryptedData (XML Encryption 1.1) under a fresh AES-256-GCM key, and that key
// travels RSA-OAEP-encrypted (MGF1 and digest SHA-1, the `rsa-oaep-mgf1p` identifier every SAML
// stack reads) to the SP's encryption certificate. The cipher work is xml-encryption's, over
// node:crypto; insecure algorithms (RSA 1.5, 3DES) are refused by the library as well.
import { X509Certificate } from 'node:crypto';
import xmlenc from 'xml-encryption';
import { certificatePem } from './certificate.js';
import { NS } from './constants.js';

const ENCRYPTION = Object.freeze({
  aes256Gcm: 'http://www.w3.org/2009/xmlenc11#aes256-gcm',
  rsaOaepMgf1p: 'http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p',
});

/** `<saml:EncryptedAssertion>` around the encrypted `signedAssertion`, for the SP's certificate (base64 DER). */
export async function encryptAssertion(signedAssertion: string, certificate: string): Promise<string> {
  const pem = certificatePem(certificate);
  const publicKey = new X509Certificate(pem).publicKey;
  if (publicKey.asymmetricKeyType !== 'rsa') throw new TypeError('SAML assertion encryption needs an RSA certificate');
  const encrypted = await new Promise<string>((resolve, reject) =>
    xmlenc.encrypt(
      signedAssertion,
      {
        rsa_pub: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
        pem,
        encryptionAlgorithm: ENCRYPTION.aes256Gcm,
        keyEncryptionAlgorithm: ENCRYPTION.rsaOaepMgf1p,
        keyEncryptionDigest: 'sha1',
        disallowEncryptionWithInsecureAlgorithm: true,
      },
      (err, result) => (err ? reject(err) : resolve(result)),
    ),
  );
  return `<saml:EncryptedAssertion xmlns:saml="${NS.assertion}">${encrypted.trim()}</saml:EncryptedAssertion>`;
}
