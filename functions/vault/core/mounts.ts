// Mount rows: each holds its KEK wrapped by the root key, a MAC over its identity and fields, and
// a per-row seq (core/row-seq.ts), fresh at its creation and at each rewrap under a new root key:
// a mount row put back from before a rekey is refused by a process that saw the rewrap.
import type { RowMac } from './integrity.js';
import { seqRows } from './row-seq.js';
import type { mounts } from './schema.js';

type Mount = typeof mounts.$inferSelect;

/** Mount rows: MAC'd fields primary key first, then the seq. */
const MOUNTS = seqRows<Pick<Mount, 'path' | 'type' | 'description' | 'wrappedKek' | 'createdAt' | 'seq'>>('mounts', (m) => m.path, (m) => [
  m.path,
  m.type,
  m.description,
  m.wrappedKek,
  m.createdAt,
]);

/** The MAC'd fields of a mount row, its seq last. */
export const mountMacFields = MOUNTS.macFields;

/**
 * Throws IntegrityError unless the mount row is the one the vault wrote and no older than one
 * this process saw before `since` (`mac.clock()` read before the query).
 */
export function checkMount(mac: RowMac, m: Mount, since: number): void {
  MOUNTS.verify(mac, m, since);
}

/** After the commit that rewrapped `m`: this process refuses the row as it was. */
export function rememberMount(mac: RowMac, m: Pick<Mount, 'path' | 'type' | 'description' | 'wrappedKek' | 'createdAt' | 'seq'>, since: number): void {
  MOUNTS.wrote(mac, m, since);
}
