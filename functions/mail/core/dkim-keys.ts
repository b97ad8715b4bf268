// A tenant's DKIM keys (RFC 6376), one per signing domain: generated here or imported, the private
// key sealed under the config key with tenant and domain as associated data, the public key kept
// in clear for the DNS record the tenant publishes.
// @see https://www.rfc-editor.org/rfc/rfc6376#section-3.6.1 (the key record)
import { createPrivateKey, createPublicKey, generateKeyPairSync } from 'node:crypto';
import { and, eq } from 'drizzle-orm';
import type { Queryable } from '#shared/db/index';
import { aad, openText, sealText } from './cipher.js';
import { MailError } from './errors.js';
import type { MailKeys } from './keys.js';
import { dkimKeys, type DkimKeyRow } from './schema.js';

/** RFC 6376 §3.1: a selector is one or more dot-separated sub-domain labels. */
export const SELECTOR = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/;

/** A checked key pair: PKCS#8 PEM private key, base64 DER SPKI public key. */
interface KeyPair {
  privateKey: string;
  publicKey: string;
}

/**
 * Generates an RSA 2048 key, or checks an imported PEM one: RFC 8301 §3.2 has signers use RSA keys
 * of at least 1024 bits (2048 advised), and nodemailer's signer knows only rsa-sha256.
 */
export function dkimKeyPair(importedPem?: string): KeyPair {
  if (importedPem === undefined) {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    return { privateKey: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), publicKey: publicKey.export({ type: 'spki', format: 'der' }).toString('base64') };
  }
  let key;
  try {
    key = createPrivateKey(importedPem);
  } catch {
    throw new MailError('invalid_dkim_key', 'privateKey is not a PEM private key.');
  }
  if (key.asymmetricKeyType !== 'rsa' || (key.asymmetricKeyDetails?.modulusLength ?? 0) < 1024) {
    throw new MailError('invalid_dkim_key', 'privateKey must be an RSA key of at least 1024 bits (2048 advised).');
  }
  return { privateKey: key.export({ type: 'pkcs8', format: 'pem' }).toString(), publicKey: createPublicKey(key).export({ type: 'spki', format: 'der' }).toString('base64') };
}

/** The DNS TXT record to publish, and where (RFC 6376 §3.6.2.1: `<selector>._domainkey.<domain>`). */
export function dkimRecord(row: Pick<DkimKeyRow, 'domain' | 'selector' | 'publicKey'>): { name: string; type: 'TXT'; value: string } {
  return { name: `${row.selector}._domainkey.${row.domain}`, type: 'TXT', value: `v=DKIM1; k=rsa; p=${row.publicKey}` };
}

export async function saveDkimKey(db: Queryable, keys: MailKeys, tenant: string, domain: string, selector: string, pair: KeyPair): Promise<DkimKeyRow> {
  const values = { tenant, domain, selector, privateKey: sealText(keys.config, pair.privateKey, aad.dkimKey(tenant, domain)), publicKey: pair.publicKey };
  const [row] = await db
    .insert(dkimKeys)
    .values(values)
    .onConflictDoUpdate({ target: [dkimKeys.tenant, dkimKeys.domain], set: { selector, privateKey: values.privateKey, publicKey: values.publicKey, createdAt: new Date() } })
    .returning();
  return row!;
}

export async function listDkimKeys(db: Queryable, tenant: string): Promise<DkimKeyRow[]> {
  return db.select().from(dkimKeys).where(eq(dkimKeys.tenant, tenant)).orderBy(dkimKeys.domain);
}

export async function removeDkimKey(db: Queryable, tenant: string, domain: string): Promise<boolean> {
  return (await db.delete(dkimKeys).where(and(eq(dkimKeys.tenant, tenant), eq(dkimKeys.domain, domain))).returning({ domain: dkimKeys.domain })).length > 0;
}

/** The tenant's signing keys with the private keys opened, for the deliverer. */
export async function openDkimKeys(db: Queryable, keys: MailKeys, tenant: string): Promise<{ domain: string; selector: string; privateKey: string }[]> {
  return (await listDkimKeys(db, tenant)).map((r) => ({ domain: r.domain, selector: r.selector, privateKey: openText(keys.config, r.privateKey, aad.dkimKey(tenant, r.domain)) }));
}
