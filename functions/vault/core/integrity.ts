// Row integrity: every security-relevant row carries an HMAC-SHA-256 over its identity and its
// fields, under a key derived from the keyring key (which only an unsealed vault holds). The
// storage may read and write bytes; a row it forged, altered or moved does not authenticate.
// @see https://developer.hashicorp.com/vault/docs/internals/security (the storage backend is untrusted)
import { createHmac, createSecretKey, timingSafeEqual, type KeyObject } from 'node:crypto';
import { VaultError } from './errors.js';

/** HKDF info of the row-MAC key, derived from the keyring key. */
export const ROW_MAC_INFO = 'zenokube/vault/row-mac/v1';

/**
 * One field of a row as the MAC sees it. Dates are their epoch milliseconds: a MAC'd timestamp
 * must be written by the application with millisecond precision, never by `now()` (microseconds).
 * Objects (jsonb) are encoded as JSON with sorted keys, since PostgreSQL reorders jsonb keys.
 */
export type MacValue = string | number | boolean | null | undefined | Uint8Array | Date | readonly string[] | { readonly [k: string]: unknown };

/** A row that does not authenticate: forged, altered, rolled back or moved. */
export class IntegrityError extends VaultError {
  readonly table: string;
  constructor(table: string) {
    super(403, 'integrity_check_failed', ['integrity check failed']);
    this.name = 'IntegrityError';
    this.table = table;
  }
}

export interface RowMac {
  /** The MAC of a row of `table` whose identity and fields are `fields`, in a fixed order. */
  sign(table: string, fields: readonly MacValue[]): Buffer;
  /** Throws IntegrityError when `mac` is absent or not the MAC of these fields. */
  check(table: string, fields: readonly MacValue[], mac: Uint8Array | null | undefined): void;
  /** Counts and throws IntegrityError for a row found bad otherwise (a ciphertext that does not open, a rollback). */
  refuse(table: string): never;
  /**
   * The rollback bound of a row that carries a seq (tokens, policies, roles, transit keys):
   * refuses (counts, throws) row `id` of `table` when `seq` is below the highest this process
   * saw for it, or the one at which it saw the row deleted, before `since` (a `clock()` read
   * before the query: a newer seq learnt while the query ran is a concurrent write, not a
   * rollback); otherwise remembers `seq`. Call it after `check`, so only authentic seqs count.
   */
  observe(table: string, id: string, seq: number, since?: number): void;
  /** This process's observation clock: read it before a query whose rows go to `observe`. */
  clock(): number;
  /**
   * This process deleted (or saw deleted) row `id` of `table` whose last seq was `seq`: the same
   * row put back is refused. `Infinity` for a row that is never written again (a token).
   */
  gone(table: string, id: string, seq: number): void;
  /** The keyring epoch this key was handed out in (0 when unknown). */
  readonly epoch: number;
}

/**
 * The MAC'd fields of a row with its seq: a row written before seqs existed (seq 0) keeps the
 * MAC it had, any later write has a seq above 0 and covers it. A writer who zeroes the seq of a
 * newer row breaks its MAC; one who puts back a pre-seq row is refused by `observe`.
 */
export function withSeq(fields: readonly MacValue[], seq: number): MacValue[] {
  return seq > 0 ? [...fields, seq] : [...fields];
}


/** Where a caller gets the current RowMac (the api: `unsealer.rowMac`). */
export type RowMacSource = () => Promise<RowMac>;

const DOMAIN = 'zenokube/vault/row/v1';

/** Sorted-key JSON: the same text for the same value whatever order its keys came in. */
function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const entries = Object.keys(value as object)
    .filter((k) => (value as Record<string, unknown>)[k] !== undefined)
    .sort()
    .map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`);
  return `{${entries.join(',')}}`;
}

/** Tag, 4-byte length, bytes: no two different field lists encode alike. */
function frame(tag: string, body: Buffer): Buffer {
  const head = Buffer.alloc(5);
  head.write(tag, 0, 'latin1');
  head.writeUInt32BE(body.length, 1);
  return Buffer.concat([head, body]);
}

function encode(v: MacValue): Buffer {
  if (v === null || v === undefined) return frame('n', Buffer.alloc(0));
  if (typeof v === 'string') return frame('s', Buffer.from(v, 'utf8'));
  if (typeof v === 'boolean') return frame('b', Buffer.of(v ? 1 : 0));
  if (typeof v === 'number') {
    if (!Number.isSafeInteger(v)) throw new TypeError('a MAC field number must be a safe integer');
    return frame('i', Buffer.from(String(v), 'latin1'));
  }
  if (v instanceof Date) return frame('d', Buffer.from(String(v.getTime()), 'latin1'));
  if (v instanceof Uint8Array) return frame('x', Buffer.from(v.buffer, v.byteOffset, v.length));
  if (Array.isArray(v)) return frame('a', Buffer.concat((v as readonly string[]).map((s) => encode(s))));
  return frame('j', Buffer.from(canonicalJson(v), 'utf8'));
}

/** The encoding the MAC covers; exported for tests. */
export function macInput(table: string, fields: readonly MacValue[]): Buffer {
  return Buffer.concat([encode(DOMAIN), encode(table), ...fields.map(encode)]);
}

/**
 * A RowMac under `key` (32 bytes, the derived row-MAC key). `onFailure` hears of every refused
 * row (a metric, a log line naming the table, never the row's content).
 */
export function createRowMac(key: Uint8Array, onFailure?: (table: string) => void, epoch = 0, seen: RowSeqMemory = createRowSeqMemory()): RowMac {
  const k: KeyObject = createSecretKey(Buffer.from(key));
  const sign = (table: string, fields: readonly MacValue[]) => createHmac('sha256', k).update(macInput(table, fields)).digest();
  const refuse = (table: string): never => {
    onFailure?.(table);
    throw new IntegrityError(table);
  };
  return {
    sign,
    check(table, fields, mac) {
      const expected = sign(table, fields);
      const ok = !!mac && mac.length === expected.length && timingSafeEqual(Buffer.from(mac), expected);
      if (!ok) refuse(table);
    },
    refuse,
    observe(table, id, seq, since) {
      if (!seen.observe(rowKey(table, id), seq, since)) refuse(table);
    },
    clock: () => seen.clock(),
    gone(table, id, seq) {
      seen.observe(rowKey(table, id), seq === Infinity ? Number.MAX_SAFE_INTEGER : seq + 1);
    },
    epoch,
  };
}

const rowKey = (table: string, id: string) => `${table}\u0000${id}`;

/**
 * The highest seq this process has seen per key (a secret path), bounded: the least recently
 * seen keys are forgotten past `limit`. A row whose seq is below the remembered one is a rollback.
 * Memory is the only witness outside the database: a process that never saw the newer state, or
 * has forgotten it, cannot tell an older valid row from the current one.
 */
export function createSeqMemory(limit = 100_000) {
  const seen = new Map<string, number>();
  return {
    /** The highest seq this process saw for `key` so far (0 for none): read it before a query. */
    floor(key: string): number {
      return seen.get(key) ?? 0;
    },
    /** False when `seq` is below what this process saw for `key`; otherwise remembers it. */
    observe(key: string, seq: number): boolean {
      const prior = seen.get(key);
      if (prior !== undefined && seq < prior) return false;
      seen.delete(key);
      seen.set(key, prior !== undefined && prior > seq ? prior : seq);
      if (seen.size > limit) seen.delete(seen.keys().next().value as string);
      return true;
    },
    get size() {
      return seen.size;
    },
  };
}

export type SeqMemory = ReturnType<typeof createSeqMemory>;

/**
 * The highest seq this process saw per row, with when (an observation counter), bounded like
 * createSeqMemory. A seq below the remembered one is a rollback only if the remembered one was
 * learnt before the query that read the lower one began (`since`): a query racing a write may
 * read the row as it was, and that is no rollback.
 */
export function createRowSeqMemory(limit = 100_000) {
  const seen = new Map<string, { seq: number; at: number }>();
  let tick = 0;
  return {
    clock: () => tick,
    /** False when `seq` is below what this process learnt for `key` before `since` (default: ever). */
    observe(key: string, seq: number, since = Infinity): boolean {
      const prior = seen.get(key);
      if (prior !== undefined && seq < prior.seq) return prior.at > since;
      seen.delete(key);
      seen.set(key, { seq, at: ++tick });
      if (seen.size > limit) seen.delete(seen.keys().next().value as string);
      return true;
    },
    get size() {
      return seen.size;
    },
  };
}

type RowSeqMemory = ReturnType<typeof createRowSeqMemory>;
