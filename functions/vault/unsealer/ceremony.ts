// Key ceremonies: rekey of the root key (`sys/rekey`), rekey of the recovery key under
// auto-unseal (`sys/rekey-recovery-key`) and root token generation (`sys/generate-root`).
// A quorum of existing shares (unseal shares under Shamir, recovery shares under auto-unseal)
// authorises each; the state is shared by every unsealer replica through the database, sealed
// under a key derived from the keyring key, and every step runs in one transaction that locks
// the ceremony row, so shares given to different replicas add up and never race.
// @see https://developer.hashicorp.com/vault/api-docs/system/rekey
// @see https://developer.hashicorp.com/vault/api-docs/system/rekey-recovery-key
// @see https://developer.hashicorp.com/vault/api-docs/system/generate-root
import { createHash, randomBytes, randomInt, randomUUID, timingSafeEqual } from 'node:crypto';
import { eq, sql } from 'drizzle-orm';
import { rowsOf, type Database, type Tx } from '#shared/db/index';
import type { Logger } from '#shared/log/index';
import { newLineKey, writeAudit } from '#functions/vault/core/audit';
import { aad, DecryptError, open, seal as sealBlob } from '#functions/vault/core/envelope';
import { invalidRequest, VaultError } from '#functions/vault/core/errors';
import { sealConfig } from '#functions/vault/core/schema';
import type { SealWrapper } from '#functions/vault/core/seal';
import { split } from '#functions/vault/core/shamir';
import type { RowMac } from '#functions/vault/core/integrity';
import { insertRootToken } from '#functions/vault/core/tokens';
import { authorises, combineShares, decodeShare, recoveryCanaryFor, type Keyring } from './keyring.js';

export type CeremonyKind = 'rekey' | 'rekey-recovery' | 'generate-root';

/** What a ceremony remembers between shares: only ever stored sealed. */
interface Pending {
  shares: string[];
  /** rekey: the new split. */
  n: number;
  t: number;
  /** generate-root: the one-time pad of the encoded token. */
  otp?: string;
}

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/** Root tokens are `hvs.` and 43 base64url characters; the OTP has the token's length. */
export const OTP_LENGTH = 47;

/** A random base62 string, as Vault's OTPs are. */
function generateOtp(length: number): string {
  let s = '';
  for (let i = 0; i < length; i++) s += BASE62[randomInt(BASE62.length)];
  return s;
}

/** Vault ≥ 1.10: base64 (unpadded) of the token's bytes XOR the OTP's bytes. */
function encodeToken(token: string, otp: string): string {
  const t = Buffer.from(token, 'utf8');
  const o = Buffer.from(otp, 'utf8');
  if (t.length !== o.length) throw new TypeError('the OTP must be as long as the token');
  for (let i = 0; i < t.length; i++) t[i]! ^= o[i]!;
  return t.toString('base64').replace(/=+$/, '');
}

const label: Record<CeremonyKind, string> = {
  rekey: 'rekey',
  'rekey-recovery': 'rekey',
  'generate-root': 'root generation',
};

const auditPath: Record<CeremonyKind, string> = {
  rekey: 'sys/rekey',
  'rekey-recovery': 'sys/rekey-recovery-key',
  'generate-root': 'sys/generate-root',
};

const sameText = (a: string, b: string) =>
  timingSafeEqual(createHash('sha256').update(a).digest(), createHash('sha256').update(b).digest());

/** Validates a share split the way sys/init does. */
function checkSplit(n: number, t: number): void {
  if (!Number.isInteger(n) || n < 1 || n > 255) throw invalidRequest('secret shares must be an integer from 1 to 255');
  if (!Number.isInteger(t) || t < 1) throw invalidRequest('secret threshold must be an integer of at least 1');
  if (t > n) throw invalidRequest('secret threshold cannot be larger than secret shares');
  if (n > 1 && t === 1) throw invalidRequest('threshold must be greater than one for multiple shares');
}

type Row = { kind: string; nonce: string; sealed: Uint8Array };

export function createCeremonies(database: Database, keyring: Keyring, seal: SealWrapper | undefined, log: Logger) {
  const config = async () => {
    const c = await keyring.loadConfig();
    if (!c) throw invalidRequest('Vault is not initialized');
    return c;
  };

  const readRow = async (db: Database['db'] | Tx, kind: CeremonyKind, lock: boolean): Promise<Row | undefined> => {
    const [row] = rowsOf<Row>(
      await db.execute(sql`select kind, nonce, sealed from vault.ceremonies where kind = ${kind} ${lock ? sql`for update` : sql``}`),
    );
    return row;
  };

  const unseal = (key: Buffer, kind: CeremonyKind, row: Row): Pending => {
    try {
      const plain = open(key, row.sealed, aad.ceremony(kind, row.nonce));
      const p = JSON.parse(plain.toString('utf8')) as Pending;
      plain.fill(0);
      return p;
    } catch (err) {
      if (err instanceof DecryptError) {
        log.warn('a ceremony row does not authenticate', { kind });
        throw new VaultError(403, 'integrity_check_failed', ['integrity check failed']);
      }
      throw err;
    }
  };

  const sealPending = (key: Buffer, kind: CeremonyKind, nonce: string, p: Pending): Buffer =>
    sealBlob(key, Buffer.from(JSON.stringify(p), 'utf8'), aad.ceremony(kind, nonce));

  /** The progress of a ceremony; `undefined` when none is in progress. */
  const progress = async (kind: CeremonyKind) => {
    const key = await keyring.ceremonyKey();
    try {
      const row = await readRow(database.db, kind, false);
      if (!row) return undefined;
      return { nonce: row.nonce, pending: unseal(key, kind, row) };
    } finally {
      key.fill(0);
    }
  };

  const requireKind = async (kind: CeremonyKind) => {
    const c = await config();
    if (kind === 'rekey-recovery' && c.type === 'shamir') {
      throw invalidRequest('recovery keys exist only with an auto-unseal seal; use sys/rekey');
    }
    return c;
  };

  const audit = async (db: Database['db'] | Tx, requestId: string, kind: CeremonyKind, sub: string, operation: string, error?: string) => {
    const auditKey = await keyring.auditKey();
    const key = newLineKey(auditKey);
    auditKey.fill(0);
    try {
      await writeAudit(db, key, {
        type: 'request',
        requestId,
        operation,
        path: `${auditPath[kind]}/${sub}`,
        remoteAddress: undefined,
        accessor: undefined,
        policies: undefined,
        decision: error ? 'deny' : 'allow',
        ...(error ? { error } : {}),
      });
    } finally {
      key.key.fill(0);
    }
  };

  return {
    /** The current status: `{ config, nonce?, pending? }`. */
    async status(kind: CeremonyKind) {
      const c = await requireKind(kind);
      const p = await progress(kind);
      return { required: c.secretThreshold, nonce: p?.nonce ?? '', pending: p?.pending };
    },

    /** Starts a ceremony; only one of each kind at a time (across replicas). */
    async start(kind: CeremonyKind, requestId: string, opts: { n?: number; t?: number; otp?: string }) {
      const c = await requireKind(kind);
      let n = 0;
      let t = 0;
      let otp: string | undefined;
      if (kind === 'generate-root') {
        otp = opts.otp ?? generateOtp(OTP_LENGTH);
        if (otp.length !== OTP_LENGTH) throw invalidRequest(`OTP string is wrong length: it must be ${OTP_LENGTH} characters`);
        if (!/^[\x21-\x7e]+$/.test(otp)) throw invalidRequest('the OTP must be printable ASCII');
      } else if (kind === 'rekey' && c.type !== 'shamir') {
        // Auto-unseal: the root key is wrapped by the seal and never split.
        if ((opts.n ?? 1) !== 1 || (opts.t ?? 1) !== 1) {
          throw invalidRequest('with auto-unseal the root key is not split: secret_shares and secret_threshold must be 1 (recovery keys are rekeyed by sys/rekey-recovery-key)');
        }
        if (!c.recoveryCanary) {
          throw invalidRequest('this vault\'s recovery keys are shares of the root key: rekey them first with sys/rekey-recovery-key, then rekey the root key');
        }
        n = 1;
        t = 1;
      } else {
        if (opts.n === undefined || opts.t === undefined) throw invalidRequest('secret_shares and secret_threshold are required');
        checkSplit(opts.n, opts.t);
        n = opts.n;
        t = opts.t;
      }
      const key = await keyring.ceremonyKey();
      const nonce = randomUUID();
      try {
        const sealed = sealPending(key, kind, nonce, { shares: [], n, t, ...(otp ? { otp } : {}) });
        const inserted = await database.transaction(async (tx) => {
          const rows = rowsOf<{ kind: string }>(
            await tx.execute(sql`insert into vault.ceremonies (kind, nonce, sealed) values (${kind}, ${nonce}, ${sealed}) on conflict do nothing returning kind`),
          );
          if (rows.length > 0) await audit(tx, requestId, kind, kind === 'generate-root' ? 'attempt' : 'init', 'update');
          return rows.length > 0;
        });
        if (!inserted) throw invalidRequest(`${label[kind]} already in progress`);
        return { required: c.secretThreshold, nonce, pending: { shares: [], n, t } as Pending, otp };
      } finally {
        key.fill(0);
      }
    },

    /** Cancels a ceremony: the shares given so far are forgotten. */
    async cancel(kind: CeremonyKind, requestId: string) {
      await requireKind(kind);
      await database.transaction(async (tx) => {
        await tx.execute(sql`delete from vault.ceremonies where kind = ${kind}`);
        await audit(tx, requestId, kind, kind === 'generate-root' ? 'attempt' : 'init', 'delete');
      });
    },

    /**
     * Adds one share. Below the threshold, records it; at the threshold, checks the combined
     * key against the canary and completes the ceremony in the same transaction.
     */
    async update(kind: CeremonyKind, requestId: string, keyText: unknown, nonceText: unknown) {
      try {
        return await updateOnce(kind, requestId, keyText, nonceText);
      } catch (err) {
        // A refused share is audited too (its transaction rolled back, so outside it); while
        // sealed there is no audit key, as for every sealed answer.
        if (err instanceof VaultError && err.status >= 400 && err.status < 500 && err.code !== 'ceremony_failed' && !keyring.isSealed()) {
          await audit(database.db, requestId, kind, 'update', 'update', err.messages[0] ?? err.code);
        }
        throw err;
      }
    },
  };

  /** One share, in one transaction; see `update`. */
  async function updateOnce(kind: CeremonyKind, requestId: string, keyText: unknown, nonceText: unknown) {
    if (typeof keyText !== 'string' || keyText === '') throw invalidRequest("'key' must be specified in request body as JSON");
    if (typeof nonceText !== 'string' || nonceText === '') throw invalidRequest("'nonce' must be specified in request body as JSON");
    const share = decodeShare(keyText);
    if (share.length !== 33) {
      share.fill(0);
      throw invalidRequest('invalid key share: expected 33 bytes (hex or base64)');
    }
    await requireKind(kind);
    const ck = await keyring.ceremonyKey();
    // Before the transaction: the row MAC reads the integrity epoch on a connection of its own,
    // and its first use after an upgrade signs the rows a rekey then re-signs.
    const mac = await keyring.rowMac();
    let rekeyed = false;
    try {
      const outcome = await database.transaction(async (tx) => {
        const row = await readRow(tx, kind, true);
        if (!row) throw invalidRequest(`no ${label[kind]} in progress`);
        if (!sameText(row.nonce, nonceText)) {
          throw invalidRequest(`incorrect nonce supplied; nonce for this ${label[kind]} operation is ${row.nonce}`);
        }
        const [c] = await tx.select().from(sealConfig).where(eq(sealConfig.id, 1)).for('update');
        if (!c) throw invalidRequest('Vault is not initialized');
        const p = unseal(ck, kind, row);
        const given = p.shares.map((s) => Buffer.from(s, 'base64'));
        try {
          if (given.some((g) => g.length === share.length && timingSafeEqual(g, share))) {
            throw invalidRequest(`given key has already been provided during this ${label[kind]} operation`);
          }
          given.push(Buffer.from(share));
          if (given.length < c.secretThreshold) {
            p.shares.push(share.toString('base64'));
            await tx.execute(sql`update vault.ceremonies set sealed = ${sealPending(ck, kind, row.nonce, p)} where kind = ${kind}`);
            await audit(tx, requestId, kind, 'update', 'update');
            return { done: false as const, nonce: row.nonce, required: c.secretThreshold, pending: p };
          }
          const candidate = combineShares(given, label[kind]);
          const ok = authorises(candidate, c);
          candidate.fill(0);
          if (!ok) {
            // Vault resets the progress; the ceremony and its nonce stay.
            const reset = { ...p, shares: [] };
            await tx.execute(sql`update vault.ceremonies set sealed = ${sealPending(ck, kind, row.nonce, reset)} where kind = ${kind}`);
            const why = `${label[kind]} failed: the combined key shares do not open the verification canary (a wrong or corrupted key share); progress was reset`;
            await audit(tx, requestId, kind, 'update', 'update', why);
            return { done: false as const, failed: why, nonce: row.nonce, required: c.secretThreshold, pending: reset };
          }
          const result = await complete(tx, kind, c, p, mac);
          rekeyed = kind === 'rekey';
          await tx.execute(sql`delete from vault.ceremonies where kind = ${kind}`);
          await audit(tx, requestId, kind, 'update', 'update');
          return { done: true as const, nonce: row.nonce, required: c.secretThreshold, result };
        } finally {
          for (const g of given) g.fill(0);
        }
      });
      if (rekeyed) {
        keyring.rekeyed();
        log.info('rekeyed: the root key was replaced');
      }
      keyring.invalidate();
      if ('failed' in outcome && outcome.failed) throw new VaultError(400, 'ceremony_failed', [outcome.failed]);
      return outcome;
    } catch (err) {
      if (kind === 'rekey') keyring.rekeyAbandoned();
      throw err;
    } finally {
      share.fill(0);
      ck.fill(0);
    }
  }

  /** The work a ceremony does at its threshold, inside the transaction that records it. */
  async function complete(tx: Tx, kind: CeremonyKind, c: typeof sealConfig.$inferSelect, p: Pending, mac: RowMac) {
    if (kind === 'generate-root') {
      const { token } = await insertRootToken(tx, mac);
      return { encodedToken: encodeToken(token, p.otp!) };
    }
    if (kind === 'rekey-recovery') {
      const recovery = randomBytes(32);
      try {
        await tx.update(sealConfig).set({ recoveryCanary: recoveryCanaryFor(recovery), secretShares: p.n, secretThreshold: p.t }).where(eq(sealConfig.id, 1));
        return sharesOf(split(recovery, p.n, p.t));
      } finally {
        recovery.fill(0);
      }
    }
    const newRoot = randomBytes(32);
    try {
      const { canary, wrappedKeyringKey } = await keyring.rewrapUnder(tx, newRoot);
      if (c.type === 'shamir') {
        await tx.update(sealConfig).set({ canary, wrappedKeyringKey, secretShares: p.n, secretThreshold: p.t }).where(eq(sealConfig.id, 1));
        return sharesOf(split(newRoot, p.n, p.t));
      }
      if (!seal || seal.type !== c.type) {
        throw new VaultError(503, 'seal_unavailable', ['this unsealer has no seal to wrap the new root key']);
      }
      // Auto-unseal: the new root key is stored only wrapped by the seal; no shares are shown.
      const wrapped = await seal.wrap(newRoot);
      await tx.update(sealConfig).set({ canary, wrappedKeyringKey, sealWrappedRootKey: wrapped }).where(eq(sealConfig.id, 1));
      return { keys: [] as string[], keysBase64: [] as string[] };
    } finally {
      newRoot.fill(0);
    }
  }
}

function sharesOf(shards: Buffer[]): { keys: string[]; keysBase64: string[] } {
  const keys = shards.map((s) => s.toString('hex'));
  const keysBase64 = shards.map((s) => s.toString('base64'));
  for (const s of shards) s.fill(0);
  return { keys, keysBase64 };
}

export type Ceremonies = ReturnType<typeof createCeremonies>;
