// The part of xml-encryption's API (plain JavaScript, no types of its own) the SAML IdP uses.
declare module 'xml-encryption' {
  interface EncryptOptions {
    rsa_pub: string;
    pem: string;
    encryptionAlgorithm: string;
    keyEncryptionAlgorithm: string;
    keyEncryptionDigest?: 'sha1' | 'sha256' | 'sha512';
    /** MGF1's digest, for `xmlenc11#rsa-oaep` only (an `xenc11:MGF` element is written). */
    keyEncryptionMgf?: 'sha1' | 'sha256' | 'sha512';
    disallowEncryptionWithInsecureAlgorithm?: boolean;
    warnInsecureAlgorithm?: boolean;
  }
  function encrypt(content: string, options: EncryptOptions, callback: (err: Error | null, result: string) => void): void;
  const xmlenc: { encrypt: typeof encrypt };
  export default xmlenc;
}
