// The `cubbyhole/` mount that holds wrapped responses: like every mount, its KEK is wrapped by the
// root key. A vault gets it at its first response wrapping (vaults initialized before wrapping
// existed included); replicas racing to create it keep the first row written.
// @see https://developer.hashicorp.com/vault/docs/concepts/response-wrapping
import { sql } from 'drizzle-orm';
import type { Database } from '#shared/db/index';
import type { Keyring } from './keyring.js';

export const WRAPPING_MOUNT = 'cubbyhole/';

/** Per keyring instance: the mount row is known to exist once this process has seen it. */
const ensured = new WeakSet<Keyring>();

export async function ensureWrappingMount(database: Database, keyring: Keyring): Promise<void> {
  if (ensured.has(keyring)) return;
  const [row] = await database.query<{ n: number }>(sql`select count(*)::int as n from vault.mounts where path = ${WRAPPING_MOUNT}`);
  // addMount writes the KEK only under the root key the vault still has (a rekey may race it).
  if (!row || row.n === 0) await keyring.addMount(database.db, WRAPPING_MOUNT, 'cubbyhole', 'per-token private storage of wrapped responses');
  ensured.add(keyring);
}
