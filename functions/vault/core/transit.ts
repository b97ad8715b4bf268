// Transit: encryption as a service with named, versioned keys. Each version's key material is 32
// random bytes wrapped by the transit mount's KEK (via the unsealer); a request opens the versions
// it needs in one unsealer round trip, however many items its batch holds.
// Ciphertexts, signatures and HMACs carry Vault's `vault:v<version>:` prefix; aes256-gcm96 and
// chacha20-poly1305 ciphertexts are base64(nonce | ciphertext | tag) as Vault writes them.
// A derived key (`derived: true`) encrypts each context under HKDF-SHA256(material, info =
// context), as Vault's hkdf_sha256 KDF does. Every row carries a MAC (core/integrity.ts) checked on
// each read: a DB writer cannot lower `min_decryption_version`, allow deletion or swap material.
// @see https://developer.hashicorp.com/vault/api-docs/secret/transit
import {
  createCipheriv,
  createDecipheriv,
  createHmac,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  hkdfSync,
  randomBytes,
  sign as signData,
  timingSafeEqual,
  verify as verifyData,
  type KeyObject,
} from 'node:crypto';
import { and, asc, eq } from 'drizzle-orm';
import type { Database, Queryable } from '#shared/db/index';
import { invalidRequest, VaultError } from './errors.js';
import type { RowMac } from './integrity.js';
import type { DekService } from './kv.js';
import { nextRowSeq, seqRows } from './row-seq.js';
import { transitKeys, type TransitKeyVersion } from './schema.js';

const TRANSIT_MOUNT = 'transit/';

export const KEY_TYPES = ['aes256-gcm96', 'chacha20-poly1305', 'ed25519', 'ecdsa-p256'] as const;
export type KeyType = (typeof KEY_TYPES)[number];
/** Vault's other key types: known, refused here with their own message. */
const UNSUPPORTED_TYPES = new Set(['aes128-gcm96', 'rsa-2048', 'rsa-3072', 'rsa-4096', 'ecdsa-p384', 'ecdsa-p521', 'hmac', 'managed_key']);

const isKeyType = (t: unknown): t is KeyType => typeof t === 'string' && (KEY_TYPES as readonly string[]).includes(t);
export const canEncrypt = (t: string) => t === 'aes256-gcm96' || t === 'chacha20-poly1305';
export const canSign = (t: string) => t === 'ed25519' || t === 'ecdsa-p256';
export const canDerive = (t: string) => t !== 'ecdsa-p256';

/** The key-type parameter of a create: a clear 400 for what is unknown or not built. */
export function parseKeyType(raw: unknown): KeyType {
  const t = raw === undefined || raw === null || raw === '' ? 'aes256-gcm96' : raw;
  if (isKeyType(t)) return t;
  if (typeof t === 'string' && UNSUPPORTED_TYPES.has(t)) throw invalidRequest(`key type ${t} is not supported by this vault`);
  throw invalidRequest(`unknown key type ${typeof t === 'string' ? t : JSON.stringify(t)}`);
}

/** What the transit engine needs of the unsealer. */
export interface TransitKeyService extends DekService {
  /** Opens several wrapped keys of one mount in one round trip, in order. */
  unwrapDeks(mount: string, items: readonly { context: string; wrapped: Buffer }[]): Promise<Buffer[]>;
  rowMac(): Promise<RowMac>;
}

export type TransitKey = typeof transitKeys.$inferSelect;
type MacView = Pick<
  TransitKey,
  'name' | 'generation' | 'type' | 'derived' | 'latestVersion' | 'minDecryptionVersion' | 'minEncryptionVersion' | 'deletionAllowed' | 'versions' | 'seq'
>;

/**
 * transit_keys rows: MAC'd fields in their fixed order, identity first, then the seq (a fresh
 * `row_seq` value at each write, core/row-seq.ts): a key put back from before a rotation, a
 * raised `min_decryption_version` or its deletion is refused.
 */
const ROWS = seqRows<MacView>('transit_keys', (k) => k.name, (k) => [
  k.name,
  k.generation,
  k.type,
  k.derived,
  k.latestVersion,
  k.minDecryptionVersion,
  k.minEncryptionVersion,
  k.deletionAllowed,
  k.versions,
]);

const keyContext = (name: string, version: number) => `transit/${name.length}:${name}/v${version}`;

const MISSING_CONTEXT =
  "missing 'context' for key derivation; the key was created using a derived key, which means additional, per-request information must be included in order to perform operations with the key";
/** Node's HKDF takes at most 1024 bytes of info. */
export const MAX_CONTEXT_BYTES = 1024;

/** The key, its MAC and seq verified; undefined when there is none. */
export async function getKey(db: Queryable, mac: RowMac, name: string): Promise<TransitKey | undefined> {
  const since = mac.clock();
  const [row] = await db.select().from(transitKeys).where(eq(transitKeys.name, name));
  return row && ROWS.verify(mac, row, since);
}

/** Every key's name, each row's MAC and seq verified. */
export async function listKeys(db: Queryable, mac: RowMac): Promise<string[]> {
  const since = mac.clock();
  const rows = await db.select().from(transitKeys).orderBy(asc(transitKeys.name));
  return rows.map((r) => ROWS.verify(mac, r, since).name);
}

/** A new version's material, minted by the unsealer; an ECDSA version seals a fresh key pair under it. */
async function mintVersion(ks: TransitKeyService, name: string, type: KeyType, derived: boolean, version: number): Promise<TransitKeyVersion> {
  const { dek, wrapped } = await ks.newDek(TRANSIT_MOUNT, keyContext(name, version));
  try {
    const entry: TransitKeyVersion = { wrapped: wrapped.toString('base64'), createdAt: new Date().toISOString() };
    if (type === 'ed25519' && !derived) entry.publicKey = ed25519Public(ed25519Private(dek));
    if (type === 'ecdsa-p256') {
      const pair = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      const der = pair.privateKey.export({ type: 'pkcs8', format: 'der' });
      entry.sealed = seal(dek, der, keyContext(name, version)).toString('base64');
      der.fill(0);
      entry.publicKey = pair.publicKey.export({ type: 'spki', format: 'pem' }).toString();
    }
    return entry;
  } finally {
    dek.fill(0);
  }
}

/** Creates the key with version 1 unless it exists; returns the row (the existing one if any). */
export async function createKey(db: Queryable, ks: TransitKeyService, name: string, type: KeyType, derived: boolean): Promise<{ key: TransitKey; created: boolean }> {
  const mac = await ks.rowMac();
  const existing = await getKey(db, mac, name);
  if (existing) return { key: existing, created: false };
  const row: MacView = {
    name,
    generation: 1,
    type,
    derived,
    latestVersion: 1,
    minDecryptionVersion: 1,
    minEncryptionVersion: 0,
    deletionAllowed: false,
    versions: { '1': await mintVersion(ks, name, type, derived, 1) },
    seq: await nextRowSeq(db),
  };
  const inserted = await db
    .insert(transitKeys)
    .values({ ...row, mac: ROWS.sign(mac, row) })
    .onConflictDoNothing()
    .returning({ name: transitKeys.name });
  const key = await getKey(db, mac, name);
  if (!key) throw new VaultError(503, 'contention', ['the key was deleted while being created; retry']);
  return { key, created: inserted.length > 0 };
}

/**
 * Changes a key under a row lock: the locked row is checked, `change` returns the new fields (or
 * undefined to give up), and the row is written with its generation advanced, a fresh seq and a
 * new MAC; once committed, this process refuses the row as it was.
 * With `adopt`, a row written before rows carried MACs (no MAC, generation 0, the one type and
 * shape that existed then) is handed to `change` as legacy instead of refused: only an explicit
 * config write adopts it, and that write supplies every field that limits access.
 */
async function updateKey(
  database: Database,
  mac: RowMac,
  name: string,
  change: (row: TransitKey, legacy: boolean) => Partial<MacView> | undefined,
  adopt = false,
): Promise<TransitKey | undefined> {
  const since = mac.clock();
  const updated = await database.transaction(async (tx) => {
    const [locked] = await tx.select().from(transitKeys).where(eq(transitKeys.name, name)).for('update');
    if (!locked) throw invalidRequest('encryption key not found');
    const legacy = adopt && isLegacyRow(locked);
    const row = legacy ? locked : ROWS.verify(mac, locked, since);
    const set = change(row, legacy);
    if (!set) return undefined;
    const next: MacView = { ...row, ...set, generation: row.generation + 1, seq: await nextRowSeq(tx) };
    const [u] = await tx
      .update(transitKeys)
      .set({ ...set, generation: next.generation, seq: next.seq, mac: ROWS.sign(mac, next) })
      .where(eq(transitKeys.name, name))
      .returning();
    return u;
  });
  if (updated) ROWS.wrote(mac, updated, since);
  return updated;
}

/** The shape every row had before rows carried MACs: AES-256-GCM, not derived, no minimum encryption version. */
function isLegacyRow(row: TransitKey): boolean {
  const versions = Object.keys(row.versions).map(Number);
  return (
    row.mac === null &&
    row.generation === 0 &&
    row.type === 'aes256-gcm96' &&
    !row.derived &&
    row.minEncryptionVersion === 0 &&
    versions.length > 0 &&
    versions.every((v) => Number.isSafeInteger(v) && v >= 1) &&
    row.latestVersion === Math.max(...versions)
  );
}

/** Adds a version; the key material is minted before the transaction, a lost race retries. */
export async function rotateKey(database: Database, ks: TransitKeyService, name: string): Promise<TransitKey> {
  const mac = await ks.rowMac();
  for (let attempt = 0; attempt < 20; attempt++) {
    const current = await getKey(database.db, mac, name);
    if (!current) throw invalidRequest('encryption key not found');
    const version = current.latestVersion + 1;
    const entry = await mintVersion(ks, name, current.type as KeyType, current.derived, version);
    const updated = await updateKey(database, mac, name, (row) =>
      row.latestVersion !== current.latestVersion ? undefined : { latestVersion: version, versions: { ...row.versions, [String(version)]: entry } },
    );
    if (updated) return updated;
  }
  throw new VaultError(503, 'contention', ['too many concurrent rotations; retry']);
}

interface KeyConfig {
  minDecryptionVersion?: number;
  minEncryptionVersion?: number;
  deletionAllowed?: boolean;
}

/**
 * Vault's key config, validated against the locked row. A key from before rows carried MACs is
 * adopted (signed) only by a config write naming its `min_decryption_version`; its unsigned
 * minimums and deletion flag are not trusted (the ones not given are the defaults).
 */
export async function configureKey(database: Database, ks: TransitKeyService, name: string, cfg: KeyConfig): Promise<TransitKey> {
  const mac = await ks.rowMac();
  if ((cfg.minDecryptionVersion ?? 0) < 0 || (cfg.minEncryptionVersion ?? 0) < 0) throw invalidRequest('key versions must not be negative');
  const updated = await updateKey(
    database,
    mac,
    name,
    (row, legacy) => {
      if (legacy && cfg.minDecryptionVersion === undefined) {
        throw invalidRequest('this key was created before its row carried an integrity MAC: write its config with min_decryption_version to adopt it');
      }
      const minDec = cfg.minDecryptionVersion === undefined ? row.minDecryptionVersion : Math.max(1, cfg.minDecryptionVersion);
      const minEnc = cfg.minEncryptionVersion ?? (legacy ? 0 : row.minEncryptionVersion);
      if (minDec > row.latestVersion) throw invalidRequest('cannot set min decryption version of a key greater than the latest version');
      if (minEnc > row.latestVersion) throw invalidRequest('cannot set min encryption version of a key greater than the latest version');
      if (minEnc !== 0 && minEnc < minDec) throw invalidRequest('min encryption version should not be less than min decryption version');
      return { minDecryptionVersion: minDec, minEncryptionVersion: minEnc, deletionAllowed: cfg.deletionAllowed ?? (legacy ? false : row.deletionAllowed) };
    },
    true,
  );
  return updated!;
}

/** Deletes the key if its (verified) row allows it; a missing key is a 400, as in Vault. Once committed, the row put back is refused. */
export async function deleteKey(database: Database, ks: TransitKeyService, name: string): Promise<void> {
  const mac = await ks.rowMac();
  const since = mac.clock();
  const seq = await database.transaction(async (tx) => {
    const [locked] = await tx.select().from(transitKeys).where(eq(transitKeys.name, name)).for('update');
    if (!locked) throw invalidRequest(`error deleting policy ${name}: could not delete key; not found`);
    const row = ROWS.verify(mac, locked, since);
    if (!row.deletionAllowed) throw invalidRequest(`error deleting policy ${name}: deletion is not allowed for this key`);
    await tx.delete(transitKeys).where(and(eq(transitKeys.name, name), eq(transitKeys.generation, row.generation)));
    return row.seq;
  });
  ROWS.gone(mac, name, seq);
}

// ---------------------------------------------------------------------------------------------
// Opened key material: the versions one request needs, from one unsealer round trip.

export class OpenedKey {
  readonly key: TransitKey;
  private readonly material: Map<number, Buffer>;
  /** CSPRNG output drawn in blocks and handed out 12 bytes at a time, each slice once. */
  private nonces = Buffer.alloc(0);
  private nonceAt = 0;

  constructor(key: TransitKey, material: Map<number, Buffer>) {
    this.key = key;
    this.material = material;
  }

  /** Zeroes every opened version. */
  dispose(): void {
    for (const m of this.material.values()) m.fill(0);
    this.material.clear();
  }

  /** A fresh random 96-bit nonce (one CSPRNG call per 64 nonces rather than per item). */
  private nonce(): Buffer {
    if (this.nonceAt + 12 > this.nonces.length) {
      this.nonces = randomBytes(12 * 64);
      this.nonceAt = 0;
    }
    const n = this.nonces.subarray(this.nonceAt, this.nonceAt + 12);
    this.nonceAt += 12;
    return n;
  }

  private raw(version: number): Buffer {
    const m = this.material.get(version);
    if (!m) throw invalidRequest('invalid key version');
    return m;
  }

  /** The material of `version` for `context`: itself, or HKDF-SHA256 of it for a derived key. */
  private forContext(version: number, context: Buffer | undefined): Buffer {
    const raw = this.raw(version);
    if (!this.key.derived) return raw;
    if (!context || context.length === 0) throw invalidRequest(MISSING_CONTEXT);
    return Buffer.from(hkdfSync('sha256', raw, Buffer.alloc(0), context, 32));
  }

  /** The version an encryption or signature uses: `requested`, or the latest; Vault's checks. */
  encryptionVersion(requested: number | undefined): number {
    return encryptionVersion(this.key, requested);
  }

  encrypt(plaintext: Buffer, opts: { version: number; context?: Buffer; aad?: Buffer }): string {
    if (!canEncrypt(this.key.type)) throw invalidRequest(`key type ${this.key.type} does not support encryption`);
    const k = this.forContext(opts.version, opts.context);
    try {
      const nonce = this.nonce();
      const c = this.key.type === 'chacha20-poly1305' ? createCipheriv('chacha20-poly1305', k, nonce, { authTagLength: 16 }) : createCipheriv('aes-256-gcm', k, nonce);
      if (opts.aad) c.setAAD(opts.aad);
      const body = Buffer.concat([c.update(plaintext), c.final()]);
      return `vault:v${opts.version}:${Buffer.concat([nonce, body, c.getAuthTag()]).toString('base64')}`;
    } finally {
      if (this.key.derived) k.fill(0);
    }
  }

  decrypt(ciphertext: string, opts: { context?: Buffer; aad?: Buffer }): Buffer {
    if (!canEncrypt(this.key.type)) throw invalidRequest(`key type ${this.key.type} does not support decryption`);
    const { version, body } = parseVersioned(ciphertext, 'ciphertext');
    checkDecryptionVersion(this.key, version);
    const raw = strictBase64(body, 'ciphertext');
    if (raw.length < 28) throw invalidRequest('invalid ciphertext: too short');
    const k = this.forContext(version, opts.context);
    try {
      const nonce = raw.subarray(0, 12);
      const d = this.key.type === 'chacha20-poly1305' ? createDecipheriv('chacha20-poly1305', k, nonce, { authTagLength: 16 }) : createDecipheriv('aes-256-gcm', k, nonce);
      if (opts.aad) d.setAAD(opts.aad);
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
      if (this.key.derived) k.fill(0);
    }
  }

  /** The version a ciphertext names, refused if the key no longer decrypts it. */
  static versionOf(key: TransitKey, ciphertext: string, what = 'ciphertext'): number {
    const { version } = parseVersioned(ciphertext, what);
    checkDecryptionVersion(key, version);
    return version;
  }

  hmac(input: Buffer, algorithm: string, version: number): string {
    const k = Buffer.from(hkdfSync('sha256', this.raw(version), Buffer.alloc(0), 'zenokube/vault/transit/hmac/v1', 32));
    try {
      return `vault:v${version}:${createHmac(nodeHash(algorithm), k).update(input).digest('base64')}`;
    } finally {
      k.fill(0);
    }
  }

  verifyHmac(input: Buffer, algorithm: string, hmac: string): boolean {
    const { version } = parseVersioned(hmac, 'hmac');
    checkDecryptionVersion(this.key, version);
    const expected = Buffer.from(this.hmac(input, algorithm, version));
    const given = Buffer.from(hmac);
    return expected.length === given.length && timingSafeEqual(expected, given);
  }

  private privateKey(version: number, context: Buffer | undefined): KeyObject {
    if (this.key.type === 'ed25519') {
      const seed = this.forContext(version, context);
      try {
        return ed25519Private(seed);
      } finally {
        if (this.key.derived) seed.fill(0);
      }
    }
    const entry = this.key.versions[String(version)];
    if (!entry?.sealed) throw invalidRequest('invalid key version');
    const der = open(this.raw(version), Buffer.from(entry.sealed, 'base64'), keyContext(this.key.name, version));
    try {
      return createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
    } finally {
      der.fill(0);
    }
  }

  sign(input: Buffer, opts: SignOptions & { version: number }): { signature: string; publickey?: string } {
    if (!canSign(this.key.type)) throw invalidRequest(`key type ${this.key.type} does not support signing`);
    const priv = this.privateKey(opts.version, opts.context);
    const sig = this.key.type === 'ed25519' ? signData(null, input, priv) : signData(nodeHash(opts.hashAlgorithm), input, { key: priv, dsaEncoding: opts.marshaling === 'jws' ? 'ieee-p1363' : 'der' });
    const encoded = opts.marshaling === 'jws' ? sig.toString('base64url') : sig.toString('base64');
    const out: { signature: string; publickey?: string } = { signature: `vault:v${opts.version}:${encoded}` };
    if (this.key.derived) out.publickey = ed25519Public(priv);
    return out;
  }

  verify(input: Buffer, signature: string, opts: SignOptions): boolean {
    if (!canSign(this.key.type)) throw invalidRequest(`key type ${this.key.type} does not support verification`);
    const { version, body } = parseVersioned(signature, 'signature');
    checkDecryptionVersion(this.key, version);
    const sig = opts.marshaling === 'jws' ? Buffer.from(body, 'base64url') : strictBase64(body, 'signature');
    const pub = publicKeyOf(this.key, version) ?? createPublicKey(this.privateKey(version, opts.context));
    if (this.key.type === 'ed25519') return sig.length === 64 && verifyData(null, input, pub, sig);
    try {
      return verifyData(nodeHash(opts.hashAlgorithm), input, { key: pub, dsaEncoding: opts.marshaling === 'jws' ? 'ieee-p1363' : 'der' }, sig);
    } catch {
      return false;
    }
  }
}

interface SignOptions {
  context?: Buffer;
  hashAlgorithm: string;
  marshaling: 'asn1' | 'jws';
}

/** The stored public key of a non-derived signing key's version (no unsealer trip to verify). */
function publicKeyOf(key: TransitKey, version: number): KeyObject | undefined {
  const pub = key.versions[String(version)]?.publicKey;
  if (!pub || key.derived) return undefined;
  if (key.type === 'ecdsa-p256') return createPublicKey(pub);
  return createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(pub, 'base64').toString('base64url') }, format: 'jwk' });
}

/** Whether verifying with this key and version needs its private material. */
export function verifyNeedsMaterial(key: TransitKey, version: number): boolean {
  return publicKeyOf(key, version) === undefined;
}

/**
 * Opens `versions` of `key` in one unsealer round trip (none when the list is empty). Versions
 * the row does not hold are left out: using one answers "invalid key version".
 */
export async function openKey(ks: TransitKeyService, key: TransitKey, versions: Iterable<number>): Promise<OpenedKey> {
  const wanted = [...new Set(versions)].filter((v) => key.versions[String(v)]).sort((a, b) => a - b);
  const material = new Map<number, Buffer>();
  if (wanted.length > 0) {
    const deks = await ks.unwrapDeks(
      TRANSIT_MOUNT,
      wanted.map((v) => ({ context: keyContext(key.name, v), wrapped: Buffer.from(key.versions[String(v)]!.wrapped, 'base64') })),
    );
    wanted.forEach((v, i) => material.set(v, deks[i]!));
  }
  return new OpenedKey(key, material);
}

export function encryptionVersion(key: TransitKey, requested: number | undefined): number {
  const v = requested === undefined || requested === 0 ? key.latestVersion : requested;
  if (v < 0) throw invalidRequest('requested version for encryption is negative');
  if (v > key.latestVersion) throw invalidRequest('requested version for encryption is higher than the latest key version');
  if (key.minEncryptionVersion > 0 && v < key.minEncryptionVersion) throw invalidRequest('requested version for encryption is less than the minimum encryption key version');
  if (v < key.minDecryptionVersion) throw invalidRequest('requested version for encryption is less than the minimum decryption key version');
  return v;
}

function checkDecryptionVersion(key: TransitKey, version: number): void {
  if (version < key.minDecryptionVersion) throw invalidRequest('ciphertext or signature version is disallowed by policy (too old)');
  if (version > key.latestVersion) throw invalidRequest('invalid ciphertext: version is too new');
}

function parseVersioned(value: string, what: string): { version: number; body: string } {
  const m = /^vault:v(\d{1,9}):(.*)$/s.exec(value);
  if (!m) throw invalidRequest(`invalid ${what}: no prefix`);
  const version = Number(m[1]);
  if (version < 1) throw invalidRequest(`invalid ${what}: version number could not be decoded`);
  return { version, body: m[2]! };
}

/** Base64 as Go's StdEncoding reads it (padding required): Node's decoder skips bad characters. */
export function strictBase64(value: unknown, field: string): Buffer {
  if (typeof value !== 'string') throw invalidRequest(`${field} must be a base64-encoded string`);
  const bad = value.search(/[^A-Za-z0-9+/=]/);
  const valid = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(value);
  if (!valid) throw invalidRequest(`illegal base64 data at input byte ${bad >= 0 ? bad : Math.max(0, value.length - 1)}`);
  return Buffer.from(value, 'base64');
}

const HASHES: Record<string, string> = {
  'sha2-224': 'sha224',
  'sha2-256': 'sha256',
  'sha2-384': 'sha384',
  'sha2-512': 'sha512',
  'sha3-224': 'sha3-224',
  'sha3-256': 'sha3-256',
  'sha3-384': 'sha3-384',
  'sha3-512': 'sha3-512',
};

/** Node's name of a Vault hash algorithm; 400 for one Vault does not know. */
export function nodeHash(algorithm: string): string {
  const h = HASHES[algorithm];
  if (!h) throw invalidRequest(`unsupported hash algorithm ${algorithm}`);
  return h;
}

function ed25519Private(seed: Buffer): KeyObject {
  // PKCS#8 framing of a raw Ed25519 seed (RFC 8410).
  const der = Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), seed]);
  try {
    return createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
  } finally {
    der.fill(0);
  }
}

/** Vault shows an Ed25519 public key as base64 of its 32 raw bytes. */
function ed25519Public(priv: KeyObject): string {
  const jwk = createPublicKey(priv).export({ format: 'jwk' });
  return Buffer.from(jwk.x!, 'base64url').toString('base64');
}

function seal(key: Buffer, plaintext: Buffer, aad: string): Buffer {
  const nonce = randomBytes(12);
  const c = createCipheriv('aes-256-gcm', key, nonce);
  c.setAAD(Buffer.from(`zenokube/vault/transit/sealed/${aad}`));
  const body = Buffer.concat([c.update(plaintext), c.final()]);
  return Buffer.concat([nonce, body, c.getAuthTag()]);
}

function open(key: Buffer, sealed: Buffer, aad: string): Buffer {
  if (sealed.length < 28) throw new VaultError(500, 'integrity', ['internal error']);
  const d = createDecipheriv('aes-256-gcm', key, sealed.subarray(0, 12));
  d.setAAD(Buffer.from(`zenokube/vault/transit/sealed/${aad}`));
  d.setAuthTag(sealed.subarray(sealed.length - 16));
  return Buffer.concat([d.update(sealed.subarray(12, sealed.length - 16)), d.final()]);
}
