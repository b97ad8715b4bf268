// A self-signed X.509 v3 certificate (RFC 5280) around a tenant's SAML signing key: SAML metadata
// carries keys as certificates, and SPs pin them. The ASN.1 is built with @peculiar/asn1-x509;
// the signature (sha256WithRSAEncryption, RFC 4055 §5) is node:crypto's.
import { createPublicKey, randomBytes, sign, type KeyObject } from 'node:crypto';
import { AsnConvert } from '@peculiar/asn1-schema';
import {
  AlgorithmIdentifier,
  AttributeTypeAndValue,
  AttributeValue,
  Certificate,
  Name,
  RelativeDistinguishedName,
  SubjectPublicKeyInfo,
  TBSCertificate,
  Validity,
  Version,
} from '@peculiar/asn1-x509';

/** sha256WithRSAEncryption; "the parameters field MUST be NULL" (RFC 4055 §5). */
const SHA256_WITH_RSA = () => new AlgorithmIdentifier({ algorithm: '1.2.840.113549.1.1.11', parameters: new Uint8Array([0x05, 0x00]).buffer });
const COMMON_NAME = '2.5.4.3';

const nameOf = (cn: string) => new Name([new RelativeDistinguishedName([new AttributeTypeAndValue({ type: COMMON_NAME, value: new AttributeValue({ utf8String: cn }) })])]);

/** The certificate's DER, base64 without armour: the form of `ds:X509Certificate`. */
export function selfSignedCertificate(privateKey: KeyObject, commonName: string, notBefore: Date, notAfter: Date): string {
  const spki = createPublicKey(privateKey).export({ format: 'der', type: 'spki' });
  // RFC 5280 §4.1.2.2: a positive integer of at most 20 octets, in DER's minimal form. The first
  // octet is 0x40-0x7f: its top bit clear keeps the integer positive, and its next bit set keeps
  // it from being a zero that DER forbids (a leading 0x00 before an octet under 0x80 is padding
  // OpenSSL refuses: one certificate in about 256 could not be read). 126 random bits remain.
  const serial = randomBytes(16);
  serial[0] = (serial[0]! & 0x3f) | 0x40;
  const tbs = new TBSCertificate({
    version: Version.v3,
    serialNumber: new Uint8Array(serial).buffer,
    signature: SHA256_WITH_RSA(),
    issuer: nameOf(commonName),
    validity: new Validity({ notBefore, notAfter }),
    subject: nameOf(commonName),
    subjectPublicKeyInfo: AsnConvert.parse(spki, SubjectPublicKeyInfo),
  });
  const tbsDer = Buffer.from(AsnConvert.serialize(tbs));
  const signature = sign('sha256', tbsDer, privateKey);
  const cert = new Certificate({ tbsCertificate: tbs, signatureAlgorithm: SHA256_WITH_RSA(), signatureValue: new Uint8Array(signature).buffer });
  return Buffer.from(AsnConvert.serialize(cert)).toString('base64');
}

/** PEM armour of a base64 DER certificate. */
export function certificatePem(base64Der: string): string {
  return `-----BEGIN CERTIFICATE-----\n${base64Der.match(/.{1,64}/g)!.join('\n')}\n-----END CERTIFICATE-----\n`;
}
