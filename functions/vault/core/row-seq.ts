// The rollback bound of rows that are not KV secrets: each carries a `seq` bound into its MAC,
// and each process remembers the highest seq it saw per row (RowMac.observe). Rows that can be
// deleted and written again under the same name (policies, roles, transit keys) take their seq
// from the `vault.row_seq` sequence, so a re-created row always goes above the deleted one; rows
// whose name is random and never reused (tokens, AppRole secret ids) count up from 1.
// @see https://developer.hashicorp.com/vault/docs/internals/security
import { sql } from 'drizzle-orm';
import { rowsOf, type Queryable } from '#shared/db/index';
import type { RowMac } from './integrity.js';

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
