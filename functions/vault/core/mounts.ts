// Mount rows: each holds its KEK wrapped by the root key, and a MAC over its identity and fields.
import type { MacValue, RowMac } from './integrity.js';
import type { mounts } from './schema.js';

type Mount = typeof mounts.$inferSelect;

/** The MAC'd fields of a mount row, primary key first. */
export function mountMacFields(m: Pick<Mount, 'path' | 'type' | 'description' | 'wrappedKek' | 'createdAt'>): MacValue[] {
  return [m.path, m.type, m.description, m.wrappedKek, m.createdAt];
}

/** Throws IntegrityError unless the mount row is the one the vault wrote. */
export function checkMount(mac: RowMac, m: Mount): void {
  mac.check('mounts', mountMacFields(m), m.mac);
}
