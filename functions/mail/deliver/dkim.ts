// DKIM signing keys (RFC 6376): the configured key signs the messages whose From domain is its
// domain or a subdomain of it. RSA-SHA256, the algorithm every verifier must support (RFC 8301
// §3.1); nodemailer's signer has no Ed25519-SHA256 (RFC 8463), and receivers that only know
// RSA would ignore it.
// @see https://www.rfc-editor.org/rfc/rfc6376#section-3.5
import { createPrivateKey } from 'node:crypto';

export interface DkimKey {
  domainName: string;
  keySelector: string;
  privateKey: string;
}

/** Resolves the key for a From domain, or undefined (the message goes unsigned). */
export type DkimKeyFor = (fromDomain: string) => DkimKey | undefined;

/** Checks the configured key at boot (a bad key fails the start, not every send). */
export function configuredDkim(domain: string | undefined, selector: string | undefined, privateKey: string | undefined): DkimKeyFor {
  if (!domain && !selector && !privateKey) return () => undefined;
  if (!domain || !selector || !privateKey) throw new TypeError('ZENO_MAIL_DKIM_DOMAIN, ZENO_MAIL_DKIM_SELECTOR and ZENO_MAIL_DKIM_PRIVATE_KEY go together');
  const key = createPrivateKey(privateKey);
  // RFC 8301 §3.2: signers MUST use RSA keys of at least 1024 bits, SHOULD use 2048.
  if (key.asymmetricKeyType !== 'rsa' || (key.asymmetricKeyDetails?.modulusLength ?? 0) < 1024) {
    throw new TypeError('ZENO_MAIL_DKIM_PRIVATE_KEY must be an RSA key of at least 1024 bits (PEM)');
  }
  const d = domain.toLowerCase();
  const signing: DkimKey = { domainName: d, keySelector: selector, privateKey };
  // §3.5 d=: the signing domain; the From domain is it or below it (relaxed alignment).
  return (fromDomain) => (fromDomain === d || fromDomain.endsWith(`.${d}`) ? signing : undefined);
}
