// The rollback bound of rows that are not KV secrets: each carries a `seq` bound into its MAC,
// and each process remembers the highest seq it saw per row (RowMac.observe). Rows that can be
// deleted and written again under the same name (policies, roles, transit keys) take their seq
// from the `vault.row_seq` sequence, so a re-created row always goes above the deleted one; rows
// whose name is random and never reused (tokens, AppRole secret ids) count up from 1. `seqRows`
// is the whole bound for one kind of row: each kind states its table, id and fields once.
// @see https://developer.hashicorp.com/vault/docs/internals/security
import { sql } from 'drizzle-orm';
import { rowsOf, type Queryable } from '#shared/db/index';
import { withSeq, type MacValue, type RowMac } from './integrity.js';

/** A fresh value of `vault.row_seq`: above every seq any row was ever written with. */
export async function nextRowSeq(db: Queryable): Promise<number> {
  const [row] = rowsOf<{ seq: string | number }>(await db.execute(sql`select nextval('vault.row_seq') as seq`));
  return Number(row!.seq);
}

/** A row deleted in a transaction: remembered as gone once the transaction has committed. */
export interface GoneRow {
  table: string;
  id: string;
  /** Its last seq; Infinity for a row whose id is never written again. */
  seq: number;
}

/** After the commit that deleted `rows`: this process refuses any of them put back. */
export function rememberGone(mac: RowMac, rows: readonly GoneRow[]): void {
  for (const r of rows) mac.gone(r.table, r.id, r.seq);
}

/**
 * One kind of row under the rollback bound: the table its MAC names, a row's id, and its MAC'd
 * fields before the seq. Every kind signs, checks and forgets its rows through these, so the
 * bound is the same for each: the MAC covers the seq (`withSeq`), a read remembers it
 * (`RowMac.observe`), a delete remembers the row as gone (`RowMac.gone`).
 */
interface SeqRows<R extends { seq: number }> {
  readonly table: string;
  /** The MAC'd fields of `r`, its seq last. */
  macFields(r: R): MacValue[];
  sign(mac: RowMac, r: R): Buffer;
  /**
   * Returns `r` if it is the vault's own row and no older than one this process saw before
   * `since` (`mac.clock()` read before the query); otherwise counts and throws IntegrityError.
   */
  verify<T extends R & { mac: Uint8Array | null }>(mac: RowMac, r: T, since: number): T;
  /** After the commit that wrote `r` (with `since` read before the write): earlier copies are refused. */
  wrote(mac: RowMac, r: R, since: number): void;
  /** After the commit that deleted row `id` (last seq `seq`): the row put back is refused. */
  gone(mac: RowMac, id: string, seq: number): void;
}

export function seqRows<R extends { seq: number }>(table: string, idOf: (r: R) => string, fieldsOf: (r: R) => MacValue[]): SeqRows<R> {
  const macFields = (r: R) => withSeq(fieldsOf(r), r.seq);
  return {
    table,
    macFields,
    sign: (mac, r) => mac.sign(table, macFields(r)),
    verify(mac, r, since) {
      mac.check(table, macFields(r), r.mac);
      mac.observe(table, idOf(r), r.seq, since);
      return r;
    },
    wrote: (mac, r, since) => mac.observe(table, idOf(r), r.seq, since),
    gone: (mac, id, seq) => mac.gone(table, id, seq),
  };
}
