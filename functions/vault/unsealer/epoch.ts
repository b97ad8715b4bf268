// The keyring epoch: one MAC'd row, advanced at every unseal. The unsealer remembers the highest
// epoch it has seen and refuses a lower one or a missing row (the database was restored or the
// row deleted under a running vault); the api refuses a row written in an epoch above the stored
// one (the epoch row was put back alone).
import { sql } from 'drizzle-orm';
import { rowsOf, type Queryable } from '#shared/db/index';
import type { MacValue, RowMac } from '#functions/vault/core/integrity';

const TABLE = 'integrity_state';

const fields = (epoch: number): MacValue[] => [1, epoch];

/** The stored epoch, checked; undefined when there is no row. */
export async function readEpoch(db: Queryable, mac: RowMac): Promise<number | undefined> {
  const [row] = rowsOf<{ epoch: number; mac: Uint8Array }>(await db.execute(sql`select epoch, mac from vault.integrity_state where id = 1`));
  if (!row) return undefined;
  const epoch = Number(row.epoch);
  mac.check(TABLE, fields(epoch), row.mac);
  return epoch;
}

/** Stores the first epoch (1) unless a row exists. */
export async function writeFirstEpoch(db: Queryable, mac: RowMac): Promise<void> {
  await db.execute(sql`insert into vault.integrity_state (id, epoch, mac) values (1, 1, ${mac.sign(TABLE, fields(1))}) on conflict (id) do nothing`);
}

/**
 * Advances the epoch by one from `from` (compare-and-set: when another replica advanced it
 * first, its value stands). Returns the epoch now stored, checked.
 */
export async function advanceEpoch(db: Queryable, mac: RowMac, from: number): Promise<number | undefined> {
  await db.execute(sql`update vault.integrity_state set epoch = ${from + 1}, mac = ${mac.sign(TABLE, fields(from + 1))}
    where id = 1 and epoch = ${from}`);
  return readEpoch(db, mac);
}
