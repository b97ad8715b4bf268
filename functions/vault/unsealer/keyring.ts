// The unsealer's memory: the root key (only here, only while unsealed), the KEKs it has
// unwrapped, and the key shares of an unseal in progress. Every buffer is zeroed on seal.
// @see https://developer.hashicorp.com/vault/docs/concepts/seal#shamir-seals
import { hkdfSync, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { and, eq, isNull } from 'drizzle-orm';
import type { Database } from '#shared/db/index';
import { aad, CANARY_TEXT, CANARY_TEXT_V2, DecryptError, open, seal } from '#functions/vault/core/envelope';
import { invalidRequest, sealedError, VaultError } from '#functions/vault/core/errors';
import { createRowMac, IntegrityError, ROW_MAC_INFO, type RowMac } from '#functions/vault/core/integrity';
import { checkMount } from '#functions/vault/core/mounts';
import { mounts, sealConfig } from '#functions/vault/core/schema';
import { combine, ShamirError } from '#functions/vault/core/shamir';
import { advanceEpoch, readEpoch, writeFirstEpoch } from './epoch.js';
import { signLegacyRows } from './upgrade.js';

export interface SealState {
  initialized: boolean;
  sealed: boolean;
  t: number;
  n: number;
  progress: number;
  nonce: string;
  type: string;
}

type Config = typeof sealConfig.$inferSelect;

/** Decodes a key share given as hex (Vault's `keys`) or base64 (`keys_base64`). */
export function decodeShare(key: string): Buffer {
  const k = key.trim();
  // Hex first, as Vault does; a base64 share that happens to be all hex digits has the wrong length as hex.
  if (/^[0-9a-fA-F]+$/.test(k) && k.length === 66) return Buffer.from(k, 'hex');
  // Standard, padded base64 (Go's base64.StdEncoding); anything else is refused, sealed or not.
  if (k.length % 4 === 0 && /^[A-Za-z0-9+/]+={0,2}$/.test(k)) return Buffer.from(k, 'base64');
  if (/^(?:[0-9a-fA-F]{2})+$/.test(k)) return Buffer.from(k, 'hex');
  throw invalidRequest("'key' must be a valid hex or base64 string");
}

interface KeyringOptions {
  /** Hears of every row refused by an integrity check (the table's name): a metric, a log line. */
  onIntegrityFailure?: (table: string) => void;
}

const rowMacKeyOf = (keyringKey: Buffer) => Buffer.from(hkdfSync('sha256', keyringKey, Buffer.alloc(0), ROW_MAC_INFO, 32));

export function createKeyring(database: Database, opts: KeyringOptions = {}) {
  let rootKey: Buffer | undefined;
  let keyringKey: Buffer | undefined;
  /** 1 while the stored canary is the first version (rows may lack MACs), 2 once every row is MAC'd. */
  let canaryVersion = 0;
  /** The integrity preparation of this unseal (upgrade, epoch advance), run once. */
  let prepared: Promise<void> | undefined;
  /** The highest keyring epoch this process has seen: kept across seals, lost with the process. */
  let highestEpoch = 0;
  const refuse = (table: string): never => {
    opts.onIntegrityFailure?.(table);
    throw new IntegrityError(table);
  };
  const keks = new Map<string, Buffer>();
  let parts: Buffer[] = [];
  let nonce = '';
  let config: Config | undefined;

  const loadConfig = async (): Promise<Config | undefined> => {
    if (config) return config;
    const [row] = await database.db.select().from(sealConfig).where(eq(sealConfig.id, 1));
    config = row;
    return row;
  };

  const clearParts = () => {
    for (const p of parts) p.fill(0);
    parts = [];
    nonce = '';
  };

  /** Zeroes every key this process holds; the vault is sealed afterwards. */
  const wipe = () => {
    rootKey?.fill(0);
    rootKey = undefined;
    keyringKey?.fill(0);
    keyringKey = undefined;
    prepared = undefined;
    for (const k of keks.values()) k.fill(0);
    keks.clear();
    clearParts();
  };

  const state = async (): Promise<SealState> => {
    const c = await loadConfig();
    return {
      initialized: !!c,
      sealed: !rootKey,
      t: c?.secretThreshold ?? 0,
      n: c?.secretShares ?? 0,
      progress: parts.length,
      nonce,
      type: c?.type ?? 'shamir',
    };
  };

  /** Accepts the root key if it opens the canary; on failure nothing is kept. */
  const adopt = (candidate: Buffer, c: Config): boolean => {
    try {
      const text = open(candidate, c.canary, aad.canary());
      canaryVersion = text.equals(CANARY_TEXT_V2) ? 2 : text.equals(CANARY_TEXT) ? 1 : 0;
      text.fill(0);
    } catch (err) {
      if (err instanceof DecryptError || err instanceof TypeError) {
        candidate.fill(0);
        return false;
      }
      throw err;
    }
    rootKey = candidate;
    return true;
  };

  /** Adds one share; at the threshold rebuilds the root key and checks it against the canary. */
  const submitShare = async (share: Buffer): Promise<SealState> => {
    const c = await loadConfig();
    if (!c) throw invalidRequest('Vault is not initialized');
    if (rootKey) return state();
    if (share.length !== 33) {
      share.fill(0);
      throw invalidRequest('invalid key share: expected 33 bytes (hex or base64)');
    }
    // Vault ignores a share it already has.
    if (parts.some((p) => p.length === share.length && timingSafeEqual(p, share))) return state();
    if (parts.length === 0) nonce = randomUUID();
    parts.push(share);
    if (parts.length < c.secretThreshold) return state();
    let candidate: Buffer;
    try {
      candidate = combine(parts);
    } catch (err) {
      clearParts();
      if (err instanceof ShamirError) throw invalidRequest(`unseal failed: ${err.message}; unseal progress was reset`);
      throw err;
    }
    clearParts();
    if (!adopt(candidate, c)) {
      throw new VaultError(400, 'unseal_failed', [
        'unseal failed: the combined key shares do not open the verification canary (a wrong or corrupted key share); unseal progress was reset',
      ]);
    }
    return state();
  };

  const requireRoot = (): Buffer => {
    if (!rootKey) throw sealedError();
    return rootKey;
  };

  /** The KEK of a mount, unwrapped once and kept while unsealed. */
  const kek = async (mount: string): Promise<Buffer> => {
    const root = requireRoot();
    const cached = keks.get(mount);
    if (cached) return cached;
    const mac = await rowMac();
    const [row] = await database.db.select().from(mounts).where(eq(mounts.path, mount));
    if (!row) throw invalidRequest(`no mount at ${mount}`);
    // A mount row the vault did not write (another KEK put in its place, a renamed mount) is refused.
    checkMount(mac, row);
    if (!rootKey) throw sealedError();
    const key = open(root, row.wrappedKek, aad.kek(mount));
    keks.set(mount, key);
    return key;
  };

  /**
   * The keyring key, opened once per unseal. A vault initialized before the keyring key existed
   * gets one at its first unseal (the first replica to store it wins; the others read it).
   */
  const openKeyringKey = async (): Promise<Buffer> => {
    const root = requireRoot();
    if (keyringKey) return keyringKey;
    let c = await loadConfig();
    if (!c) throw invalidRequest('Vault is not initialized');
    if (!c.wrappedKeyringKey) {
      // A vault past the upgrade always has its keyring key: a missing one was removed, and a new
      // one would let the upgrade sign whatever rows the remover left unsigned.
      if (canaryVersion !== 1) refuse('seal_config');
      const fresh = randomBytes(32);
      const wrapped = seal(root, fresh, aad.keyring());
      fresh.fill(0);
      await database.db
        .update(sealConfig)
        .set({ wrappedKeyringKey: wrapped })
        .where(and(eq(sealConfig.id, 1), isNull(sealConfig.wrappedKeyringKey)));
      config = undefined;
      c = await loadConfig();
      if (!c?.wrappedKeyringKey) throw new VaultError(500, 'keyring_missing', ['internal error']);
    }
    // Sealed while the database answered: the root key read above is zeroed now.
    if (!rootKey) throw sealedError();
    if (keyringKey) return keyringKey;
    keyringKey = open(root, c.wrappedKeyringKey, aad.keyring());
    return keyringKey;
  };

  /**
   * Once per unseal: a vault still on the first canary has its unsigned rows signed and its
   * first epoch stored, then its canary rewritten to the second version (compare-and-set); then
   * the epoch is checked (present, MAC'd, not below what this process saw) and advanced.
   */
  const prepare = async (mac: RowMac): Promise<void> => {
    const root = requireRoot();
    if (canaryVersion === 1) {
      await signLegacyRows(database, mac);
      await writeFirstEpoch(database.db, mac);
      const old = (await loadConfig())!.canary;
      await database.db.update(sealConfig).set({ canary: seal(root, CANARY_TEXT_V2, aad.canary()) }).where(and(eq(sealConfig.id, 1), eq(sealConfig.canary, old)));
      config = undefined;
      canaryVersion = 2;
    } else if (canaryVersion !== 2) {
      refuse('seal_config');
    }
    const epoch = await readEpoch(database.db, mac);
    if (epoch === undefined || epoch < highestEpoch) refuse('integrity_state');
    const advanced = await advanceEpoch(database.db, mac, epoch!);
    if (advanced === undefined || advanced < highestEpoch) refuse('integrity_state');
    highestEpoch = Math.max(highestEpoch, advanced!);
  };

  /**
   * The RowMac of this unseal, with the current epoch. The epoch row is read and checked at each
   * call: a database put back under a running vault shows a lower epoch and is refused.
   */
  const rowMac = async (): Promise<RowMac> => {
    const key = rowMacKeyOf(await openKeyringKey());
    try {
      const mac = createRowMac(key, opts.onIntegrityFailure);
      if (!prepared) {
        const p = prepare(mac);
        prepared = p;
        p.catch(() => {
          if (prepared === p) prepared = undefined;
        });
      }
      await prepared;
      const epoch = await readEpoch(database.db, mac);
      if (epoch === undefined || epoch < highestEpoch) refuse('integrity_state');
      highestEpoch = epoch!;
      return createRowMac(key, opts.onIntegrityFailure, epoch);
    } finally {
      key.fill(0);
    }
  };

  return {
    state,
    submitShare,
    wipe,
    adopt,
    loadConfig,
    /** Forgets the cached seal configuration (after init). */
    invalidate: () => {
      config = undefined;
    },
    resetProgress: clearParts,
    isSealed: () => !rootKey,
    /** Root key → KEK → DEK: returns only the DEK. */
    unwrapDek: async (mount: string, context: string, wrapped: Buffer): Promise<Buffer> =>
      open(await kek(mount), wrapped, aad.dek(mount, context)),
    /** A fresh DEK and its wrapping under the mount's KEK. */
    newDek: async (mount: string, context: string): Promise<{ dek: Buffer; wrapped: Buffer }> => {
      const dek = randomBytes(32);
      return { dek, wrapped: seal(await kek(mount), dek, aad.dek(mount, context)) };
    },
    /** Wraps a fresh KEK for a new mount under the root key. */
    wrapNewKek: (mount: string): Buffer => {
      const key = randomBytes(32);
      try {
        return seal(requireRoot(), key, aad.kek(mount));
      } finally {
        key.fill(0);
      }
    },
    /** The audit HMAC key, derived from the root key (HKDF-SHA256), so it too dies with a seal. */
    auditKey: (): Buffer =>
      Buffer.from(hkdfSync('sha256', requireRoot(), Buffer.alloc(0), 'zenokube/vault/audit-hmac/v1', 32)),
    /** A new keyring key wrapped under `root`, for sys/init. */
    wrapNewKeyringKey: (root: Buffer): Buffer => {
      const key = randomBytes(32);
      try {
        return seal(root, key, aad.keyring());
      } finally {
        key.fill(0);
      }
    },
    /** The row-MAC key (HKDF-SHA256 of the keyring key): lives only while unsealed. */
    rowMacKey: async (): Promise<Buffer> => rowMacKeyOf(await openKeyringKey()),
    /** The row MAC of this unseal (after the upgrade and the epoch check), and its epoch. */
    rowMac,
    /** The row MAC of a vault being initialized, from its fresh root key and wrapped keyring key. */
    initialRowMac: (root: Buffer, wrappedKeyringKey: Buffer): RowMac => {
      const kk = open(root, wrappedKeyringKey, aad.keyring());
      const key = rowMacKeyOf(kk);
      kk.fill(0);
      try {
        return createRowMac(key, opts.onIntegrityFailure, 1);
      } finally {
        key.fill(0);
      }
    },
    /** The canary for a new root key. */
    canaryFor: (root: Buffer): Buffer => seal(root, CANARY_TEXT_V2, aad.canary()),
  };
}

export type Keyring = ReturnType<typeof createKeyring>;
