// The unsealer's memory: the root key (only here, only while unsealed), the KEKs it has
// unwrapped, and the key shares of an unseal in progress. Every buffer is zeroed on seal.
// @see https://developer.hashicorp.com/vault/docs/concepts/seal#shamir-seals
import { hkdfSync, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { and, eq, isNull, sql } from 'drizzle-orm';
import { rowsOf, type Database, type Queryable } from '#shared/db/index';
import { silentLogger, type Logger } from '#shared/log/index';
import { aad, CANARY_TEXT, CANARY_TEXT_V2, DecryptError, open, seal } from '#functions/vault/core/envelope';
import { invalidRequest, sealedError, VaultError } from '#functions/vault/core/errors';
import { createRowMac, createRowSeqMemory, IntegrityError, ROW_MAC_INFO, type RowMac } from '#functions/vault/core/integrity';
import { checkMount, mountMacFields, rememberMount } from '#functions/vault/core/mounts';
import { nextRowSeq } from '#functions/vault/core/row-seq';
import { mounts, sealConfig } from '#functions/vault/core/schema';
import type { SealWrapper } from '#functions/vault/core/seal';
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

/** Which canary text `key` opens: 2 (rows MAC'd), 1 (before row MACs), 0 (neither). */
function canaryText(key: Buffer, canary: Buffer): number {
  try {
    const text = open(key, canary, aad.canary());
    const v = text.equals(CANARY_TEXT_V2) ? 2 : text.equals(CANARY_TEXT) ? 1 : 0;
    text.fill(0);
    return v;
  } catch (err) {
    if (err instanceof DecryptError || err instanceof TypeError) return 0;
    throw err;
  }
}

/** Whether `key` opens `blob` (a canary) under `context`; nothing is kept. */
function opens(key: Buffer, blob: Buffer, context: string): boolean {
  try {
    open(key, blob, context).fill(0);
    return true;
  } catch (err) {
    if (err instanceof DecryptError || err instanceof TypeError) return false;
    throw err;
  }
}

/**
 * Whether a key rebuilt from shares is the one that authorises ceremonies: the root key under
 * Shamir, the recovery key under auto-unseal (or, in a vault initialized before recovery keys
 * were distinct, the root key its recovery shares split).
 */
export function authorises(candidate: Buffer, c: Config): boolean {
  if (c.type !== 'shamir' && c.recoveryCanary) return opens(candidate, c.recoveryCanary, aad.recoveryCanary());
  return opens(candidate, c.canary, aad.canary());
}

/** The canary of a recovery key. */
export const recoveryCanaryFor = (recovery: Buffer): Buffer => seal(recovery, CANARY_TEXT, aad.recoveryCanary());

/** Combines shares, mapping a malformed set to a 400. */
export function combineShares(shares: Buffer[], what: string): Buffer {
  try {
    return combine(shares);
  } catch (err) {
    if (err instanceof ShamirError) throw invalidRequest(`${what} failed: ${err.message}`);
    throw err;
  }
}

interface KeyringOptions {
  /**
   * How often (ms) a use of cached keys re-reads the stored canary to notice a rekey made by
   * another replica; 0 checks on every use. A use of the root key itself always checks.
   */
  checkMs?: number;
  /** Auto-unseal: turns recovery shares given to sys/unseal into the root key it wraps. */
  seal?: SealWrapper;
  log?: Logger;
  /** Hears of every row refused by an integrity check (the table's name): a metric, a log line. */
  onIntegrityFailure?: (table: string) => void;
}

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

const rowMacKeyOf = (keyringKey: Buffer) => Buffer.from(hkdfSync('sha256', keyringKey, Buffer.alloc(0), ROW_MAC_INFO, 32));

export function createKeyring(database: Database, opts: KeyringOptions = {}) {
  const checkMs = opts.checkMs ?? 1000;
  const log = opts.log ?? silentLogger;
  let rootKey: Buffer | undefined;
  /** The stored canary the root key in memory was verified against: a rekey elsewhere changes it. */
  let adoptedCanary: Buffer | undefined;
  let lastCheck = 0;
  let onStale: (() => Promise<void>) | undefined;
  /** A rekey this replica is committing: its own new canary is not a sign of staleness. */
  let pending: { root: Buffer; canary: Buffer; committed?: () => void } | undefined;
  let keyringKey: Buffer | undefined;
  /** 1 while the stored canary is the first version (rows may lack MACs), 2 once every row is MAC'd. */
  let canaryVersion = 0;
  /** The integrity preparation of this unseal (upgrade, epoch advance), run once. */
  let prepared: Promise<void> | undefined;
  /** The highest keyring epoch this process has seen: kept across seals, lost with the process. */
  let highestEpoch = 0;
  /** The highest seq this process saw per row (tokens, policies, …): kept across seals too. */
  const rowSeqs = createRowSeqMemory();
  const refuse = (table: string): never => {
    opts.onIntegrityFailure?.(table);
    throw new IntegrityError(table);
  };
  const keks = new Map<string, Buffer>();
  let parts: Buffer[] = [];
  let nonce = '';
  let config: Config | undefined;

  /**
   * The seal configuration. Cached only while unsealed (a rekey elsewhere is then noticed by
   * ensureCurrent); a sealed replica reads it afresh, so the shares it is given are checked
   * against the current canary and threshold, not those of before a rekey.
   */
  const loadConfig = async (): Promise<Config | undefined> => {
    if (config && rootKey) return config;
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
    adoptedCanary = undefined;
    pending?.root.fill(0);
    pending = undefined;
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
    rootKey?.fill(0);
    rootKey = candidate;
    adoptedCanary = Buffer.from(c.canary);
    lastCheck = Date.now();
    return true;
  };

  /**
   * Auto-unseal: shares given to sys/unseal are recovery shares; once they prove the recovery
   * key, the seal unwraps the root key (as Vault does for a sealed auto-unseal node). A vault
   * from before distinct recovery keys has recovery shares of the root key itself.
   */
  const unsealWithRecovery = async (candidate: Buffer, c: Config): Promise<boolean> => {
    if (!c.recoveryCanary) return adopt(candidate, c);
    const ok = authorises(candidate, c);
    candidate.fill(0);
    if (!ok) return false;
    if (!opts.seal || !c.sealWrappedRootKey) {
      throw new VaultError(503, 'seal_unavailable', ['recovery keys verified, but this unsealer has no seal to unwrap the root key']);
    }
    const root = await opts.seal.unwrap(c.sealWrappedRootKey);
    if (rootKey) {
      root.fill(0);
      return true;
    }
    if (!adopt(root, c)) throw new VaultError(500, 'seal_mismatch', ['the seal unwrapped a root key that does not open the canary']);
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
    const ok = c.type === 'shamir' ? adopt(candidate, c) : await unsealWithRecovery(candidate, c);
    if (!ok) {
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

  const adoptPending = () => {
    if (!pending) return;
    pending.committed?.();
    rootKey?.fill(0);
    rootKey = pending.root;
    adoptedCanary = pending.canary;
    pending = undefined;
    lastCheck = Date.now();
    config = undefined;
  };

  /**
   * The root key, after checking it is still the vault's: another replica may have rekeyed
   * (the stored canary changed). A stale replica seals itself, then re-derives the new root
   * key if it can (auto-unseal) through `onStale`; otherwise the caller gets 503 sealed and
   * the replica waits for the new key shares. `force` checks even within `checkMs`.
   */
  const ensureCurrent = async (force = false): Promise<Buffer> => {
    requireRoot();
    if (!force && checkMs > 0 && Date.now() - lastCheck < checkMs) return requireRoot();
    const [row] = await database.db.select({ canary: sealConfig.canary }).from(sealConfig).where(eq(sealConfig.id, 1));
    const held = adoptedCanary;
    if (!rootKey || !held) throw sealedError();
    if (row && row.canary.equals(held)) {
      lastCheck = Date.now();
      return rootKey;
    }
    if (row && pending && row.canary.equals(pending.canary)) {
      adoptPending();
      return requireRoot();
    }
    // The canary rewritten under the same root key (the row-integrity upgrade of another
    // replica): still this key, nothing to seal.
    if (row && rootKey && adoptedCanary === held && opens(rootKey, row.canary, aad.canary())) {
      adoptedCanary = Buffer.from(row.canary);
      if (canaryVersion === 1) canaryVersion = canaryText(rootKey, row.canary);
      lastCheck = Date.now();
      return rootKey;
    }
    // Only the replica that still holds the key it checked seals: a concurrent re-derive may
    // already have adopted the new one.
    if (adoptedCanary === held) {
      log.warn('the root key was rekeyed by another unsealer: sealing this one');
      wipe();
      config = undefined;
      if (onStale) {
        try {
          await onStale();
        } catch (err) {
          log.warn('re-deriving the rekeyed root key failed', { err });
        }
      }
    }
    return requireRoot();
  };

  /** The KEK of a mount, unwrapped once and kept while unsealed. */
  const kek = async (mount: string): Promise<Buffer> => {
    const cached = keks.get(mount);
    const root = await ensureCurrent(!cached);
    if (cached && keks.get(mount) === cached) return cached;
    const mac = await rowMac();
    const since = mac.clock();
    const [row] = await database.db.select().from(mounts).where(eq(mounts.path, mount));
    if (!row) throw invalidRequest(`no mount at ${mount}`);
    // A mount row the vault did not write (another KEK put in its place, a renamed mount), or one
    // from before a rewrap this process saw, is refused.
    checkMount(mac, row, since);
    if (rootKey !== root) throw sealedError();
    const key = open(root, row.wrappedKek, aad.kek(mount));
    keks.set(mount, key);
    return key;
  };

  /**
   * The keyring key, opened once per unseal. A vault initialized before the keyring key existed
   * gets one at its first unseal (the first replica to store it wins; the others read it).
   */
  const openKeyringKey = async (): Promise<Buffer> => {
    const root = await ensureCurrent(!keyringKey);
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
    // Sealed (or rekeyed) while the database answered: the root key read above is zeroed now.
    if (rootKey !== root) throw sealedError();
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
      const fresh = seal(root, CANARY_TEXT_V2, aad.canary());
      const written = await database.db
        .update(sealConfig)
        .set({ canary: fresh })
        .where(and(eq(sealConfig.id, 1), eq(sealConfig.canary, old)))
        .returning({ id: sealConfig.id });
      // This replica wrote it: its own new canary is no sign of a rekey (ensureCurrent).
      if (written.length > 0 && rootKey === root) adoptedCanary = fresh;
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
      const mac = createRowMac(key, opts.onIntegrityFailure, 0, rowSeqs);
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
      return createRowMac(key, opts.onIntegrityFailure, epoch, rowSeqs);
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
    /**
     * Wraps a fresh KEK for a new mount under the root key held now. Prefer `addMount`, which
     * also makes sure that key is still the vault's when the row is written.
     */
    wrapNewKek: (mount: string): Buffer => {
      const key = randomBytes(32);
      try {
        return seal(requireRoot(), key, aad.kek(mount));
      } finally {
        key.fill(0);
      }
    },
    /**
     * Adds a mount with a fresh KEK, unless it exists (`false` then). The insert reads the
     * seal configuration FOR SHARE and only writes while its canary is the one this replica's
     * root key opened: a rekey committing first makes it write nothing (and this replica seals
     * itself as stale); one committing after it waits for it and rewraps the new KEK too.
     */
    addMount: async (db: Queryable, mount: string, type: string, description: string): Promise<boolean> => {
      const mac = await rowMac();
      const root = await ensureCurrent(true);
      const held = adoptedCanary!;
      const key = randomBytes(32);
      const wrapped = seal(root, key, aad.kek(mount));
      key.fill(0);
      const createdAt = new Date();
      const seq = await nextRowSeq(db);
      const signed = mac.sign('mounts', mountMacFields({ path: mount, type, description, wrappedKek: wrapped, createdAt, seq }));
      const rows = rowsOf<{ path: string }>(
        await db.execute(sql`
          insert into vault.mounts (path, type, description, wrapped_kek, created_at, seq, mac)
          select ${mount}, ${type}, ${description}, ${wrapped}, ${createdAt.toISOString()}::timestamptz, ${seq}, ${signed}
          from vault.seal_config where id = 1 and canary = ${held} for share
          on conflict (path) do nothing
          returning path`),
      );
      if (rows.length > 0) return true;
      const [exists] = rowsOf<{ n: number }>(await db.execute(sql`select count(*)::int as n from vault.mounts where path = ${mount}`));
      if (exists && exists.n > 0) return false;
      // Not written and not there: the root key was rekeyed under us.
      await ensureCurrent(true);
      throw sealedError();
    },
    /**
     * The audit HMAC key, derived from the root key (HKDF-SHA256), so it too dies with a seal.
     * A rekey changes it: audit lines before and after a rekey hash a value differently.
     */
    auditKey: async (): Promise<Buffer> =>
      Buffer.from(hkdfSync('sha256', await ensureCurrent(), Buffer.alloc(0), 'zenokube/vault/audit-hmac/v1', 32)),
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
        return createRowMac(key, opts.onIntegrityFailure, 1, rowSeqs);
      } finally {
        key.fill(0);
      }
    },
    /** The canary for a new root key. */
    canaryFor: (root: Buffer): Buffer => seal(root, CANARY_TEXT_V2, aad.canary()),
    /** Checks the root key in memory is still the vault's (see ensureCurrent); never throws. */
    checkCurrent: async (): Promise<void> => {
      if (!rootKey) return;
      await ensureCurrent().catch(() => undefined);
    },
    /** What a replica does once it finds itself stale and sealed: re-derive (auto-unseal). */
    setOnStale: (fn: () => Promise<void>) => {
      onStale = fn;
    },
    /** The key that seals ceremony state in the database (HKDF-SHA256 of the keyring key). */
    ceremonyKey: async (): Promise<Buffer> =>
      Buffer.from(hkdfSync('sha256', await openKeyringKey(), Buffer.alloc(0), 'zenokube/vault/ceremony/v1', 32)),
    /**
     * Rekey, inside the caller's transaction: locks the seal configuration, checks this replica
     * holds the current root key, and rewraps the keyring key and every mount KEK under
     * `newRoot`. Returns the new canary and wrapped keyring key; the caller writes them with the
     * rest of seal_config, and only after its commit calls `rekeyed`. A failure anywhere rolls
     * everything back: the old root key stays valid and nothing is half-rewrapped.
     */
    rewrapUnder: async (tx: Queryable, newRoot: Buffer): Promise<{ canary: Buffer; wrappedKeyringKey: Buffer }> => {
      const root = requireRoot();
      const held = adoptedCanary!;
      const [row] = rowsOfSealConfig(await tx.execute(sql`select canary, wrapped_keyring_key from vault.seal_config where id = 1 for update`));
      if (!row || !Buffer.from(row.canary).equals(held)) {
        throw new VaultError(409, 'stale_root_key', ['the root key changed while this rekey ran; submit the key again']);
      }
      let keyring: Buffer;
      if (row.wrapped_keyring_key) keyring = open(root, row.wrapped_keyring_key, aad.keyring());
      else keyring = randomBytes(32);
      const wrappedKeyringKey = seal(newRoot, keyring, aad.keyring());
      // The keyring key stays: so does the row-MAC key; each rewrapped mount row is re-signed.
      const macKey = rowMacKeyOf(keyring);
      keyring.fill(0);
      const mac = createRowMac(macKey, opts.onIntegrityFailure, 0, rowSeqs);
      macKey.fill(0);
      const since = mac.clock();
      const rows = await tx.select().from(mounts).orderBy(mounts.path).for('update');
      const rewrapped: (typeof rows)[number][] = [];
      for (const m of rows) {
        checkMount(mac, m, since);
        const k = open(root, m.wrappedKek, aad.kek(m.path));
        const next = { ...m, wrappedKek: seal(newRoot, k, aad.kek(m.path)), seq: await nextRowSeq(tx) };
        k.fill(0);
        next.mac = mac.sign('mounts', mountMacFields(next));
        await tx.update(mounts).set({ wrappedKek: next.wrappedKek, seq: next.seq, mac: next.mac }).where(eq(mounts.path, m.path));
        rewrapped.push(next);
      }
      const canary = seal(newRoot, CANARY_TEXT_V2, aad.canary());
      pending?.root.fill(0);
      pending = {
        root: Buffer.from(newRoot),
        canary: Buffer.from(canary),
        committed: () => rewrapped.forEach((m) => rememberMount(mac, m, since)),
      };
      return { canary, wrappedKeyringKey };
    },
    /** After the rekey's commit: the new root key replaces the old one (KEKs are unchanged). */
    rekeyed: () => adoptPending(),
    /** After the rekey's rollback: the old root key stays. */
    rekeyAbandoned: () => {
      pending?.root.fill(0);
      pending = undefined;
    },
  };
}

export type Keyring = ReturnType<typeof createKeyring>;

const rowsOfSealConfig = (r: Parameters<typeof rowsOf>[0]) => rowsOf<{ canary: Uint8Array; wrapped_keyring_key: Uint8Array | null }>(r);

