// Transit: encryption as a service with named, versioned AES-256-GCM keys. Key material is
// wrapped by the transit mount's KEK (via the unsealer) and unwrapped per request.
// Ciphertext format as Vault's aes256-gcm96: `vault:v<version>:` + base64(nonce | ciphertext | tag).
// @see https://developer.hashicorp.com/vault/api-docs/secret/transit
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { eq, sql } from 'drizzle-orm';
import type { Database, Db, Queryable } from '#shared/db/index';
import { invalidRequest, VaultError } from './errors.js';
import type { DekService } from './kv.js';
import { transitKeys } from './schema.js';

const TRANSIT_MOUNT = 'transit/';
const CIPHERTEXT = /^vault:v(\d{1,9}):([A-Za-z0-9+/]+={0,2})$/;

export type TransitKey = typeof transitKeys.$inferSelect;

const keyContext = (name: string, version: number) => `transit/${name.length}:${name}/v${version}`;

export async function getKey(db: Queryable, name: string): Promise<TransitKey | undefined> {
  const [row] = await db.select().from(transitKeys).where(eq(transitKeys.name, name));
  return row;
}

/** Creates the key with version 1 unless it exists; returns the row. */
export async function createKey(db: Db, keys: DekService, name: string): Promise<TransitKey> {
  const existing = await getKey(db, name);
  if (existing) return existing;
  const { dek, wrapped } = await keys.newDek(TRANSIT_MOUNT, keyContext(name, 1));
  dek.fill(0);
  await db
    .insert(transitKeys)
    .values({ name, versions: { '1': { wrapped: wrapped.toString('base64'), createdAt: new Date().toISOString() } } })
    .onConflictDoNothing();
  return (await getKey(db, name))!;
}

/** Adds a version; the key material is minted before the transaction, a lost race retries. */
export async function rotateKey(database: Database, keys: DekService, name: string): Promise<TransitKey> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const current = await getKey(database.db, name);
    if (!current) throw invalidRequest('encryption key not found');
    const version = current.latestVersion + 1;
    const { dek, wrapped } = await keys.newDek(TRANSIT_MOUNT, keyContext(name, version));
    dek.fill(0);
    const updated = await database.transaction(async (tx) => {
      const [row] = await tx.select().from(transitKeys).where(eq(transitKeys.name, name)).for('update');
      if (!row) throw invalidRequest('encryption key not found');
      if (row.latestVersion !== current.latestVersion) return undefined;
      const versions = { ...row.versions, [String(version)]: { wrapped: wrapped.toString('base64'), createdAt: new Date().toISOString() } };
      const [u] = await tx.update(transitKeys).set({ latestVersion: version, versions }).where(eq(transitKeys.name, name)).returning();
      return u;
    });
    if (updated) return updated;
  }
  throw new VaultError(503, 'contention', ['too many concurrent rotations; retry']);
}

export async function configureKey(db: Queryable, name: string, minDecryptionVersion: number | undefined, deletionAllowed: boolean | undefined) {
  const set: Partial<TransitKey> = {};
  if (minDecryptionVersion !== undefined) set.minDecryptionVersion = minDecryptionVersion;
  if (deletionAllowed !== undefined) set.deletionAllowed = deletionAllowed;
  if (Object.keys(set).length) await db.update(transitKeys).set(set).where(eq(transitKeys.name, name));
}

async function material(keys: DekService, key: TransitKey, version: number): Promise<Buffer> {
  const v = key.versions[String(version)];
  if (!v) throw invalidRequest('invalid key version');
  return keys.unwrapDek(TRANSIT_MOUNT, keyContext(key.name, version), Buffer.from(v.wrapped, 'base64'));
}

export async function encrypt(keys: DekService, key: TransitKey, plaintext: Buffer, version = 0, aad?: Buffer): Promise<string> {
  const v = version === 0 ? key.latestVersion : version;
  if (v < key.minDecryptionVersion || v > key.latestVersion) throw invalidRequest('requested version for encryption is not valid');
  const k = await material(keys, key, v);
  try {
    const nonce = randomBytes(12);
    const c = createCipheriv('aes-256-gcm', k, nonce);
    if (aad) c.setAAD(aad);
    const body = Buffer.concat([c.update(plaintext), c.final()]);
    return `vault:v${v}:${Buffer.concat([nonce, body, c.getAuthTag()]).toString('base64')}`;
  } finally {
    k.fill(0);
  }
}

export async function decrypt(keys: DekService, key: TransitKey, ciphertext: string, aad?: Buffer): Promise<Buffer> {
  const m = CIPHERTEXT.exec(ciphertext);
  if (!m) throw invalidRequest('invalid ciphertext: no prefix');
  const version = Number(m[1]);
  if (version < key.minDecryptionVersion) throw invalidRequest('ciphertext or signature version is disallowed by policy (too old)');
  if (version > key.latestVersion) throw invalidRequest('invalid ciphertext: key version does not exist');
  const raw = Buffer.from(m[2]!, 'base64');
  if (raw.length < 28) throw invalidRequest('invalid ciphertext: too short');
  const k = await material(keys, key, version);
  try {
    const d = createDecipheriv('aes-256-gcm', k, raw.subarray(0, 12));
    if (aad) d.setAAD(aad);
    d.setAuthTag(raw.subarray(raw.length - 16));
    const out = d.update(raw.subarray(12, raw.length - 16));
    try {
      d.final();
    } catch {
      out.fill(0);
      throw invalidRequest('cipher: message authentication failed');
    }
    return out;
  } finally {
    k.fill(0);
  }
}

export async function deleteKey(db: Queryable, name: string): Promise<void> {
  const key = await getKey(db, name);
  if (!key) return;
  if (!key.deletionAllowed) throw invalidRequest('deletion is not allowed for this key');
  await db.delete(transitKeys).where(sql`${transitKeys.name} = ${name} and ${transitKeys.deletionAllowed}`);
}
