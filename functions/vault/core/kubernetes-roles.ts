// Kubernetes auth role rows: the settings a role binds, MAC'd with a per-row seq (core/row-seq.ts),
// so a database writer can neither forge a role nor put back one the vault since narrowed or deleted.
// @see https://developer.hashicorp.com/vault/api-docs/auth/kubernetes#create-role
import { asc, eq, lt } from 'drizzle-orm';
import type { Queryable } from '#shared/db/index';
import type { RowMac } from './integrity.js';
import { nextRowSeq, seqRows, type GoneRow } from './row-seq.js';
import { kubernetesRoles } from './schema.js';

type RoleRow = typeof kubernetesRoles.$inferSelect;

/** Role rows: MAC'd fields identity first, then a fresh `row_seq` value per write. */
const ROLES = seqRows<Omit<RoleRow, 'mac'>>('kubernetes_roles', (r) => r.name, (r) => [r.name, r.settings]);

/** The role's settings, if its row is the vault's own and no older than one this process saw (else IntegrityError). */
export async function readKubernetesRole(db: Queryable, mac: RowMac, name: string): Promise<Record<string, unknown> | undefined> {
  const since = mac.clock();
  const [row] = await db.select().from(kubernetesRoles).where(eq(kubernetesRoles.name, name));
  return row && ROLES.verify(mac, row, since).settings;
}

/** Writes the role under a fresh seq; of two writes racing, the higher seq stays. */
export async function writeKubernetesRole(db: Queryable, mac: RowMac, name: string, settings: Record<string, unknown>): Promise<void> {
  const row = { name, settings, seq: await nextRowSeq(db) };
  const m = ROLES.sign(mac, row);
  await db
    .insert(kubernetesRoles)
    .values({ ...row, mac: m })
    .onConflictDoUpdate({ target: kubernetesRoles.name, set: { settings, seq: row.seq, mac: m }, setWhere: lt(kubernetesRoles.seq, row.seq) });
}

/** Deletes the role; remember the rows returned once committed (rememberGone). */
export async function deleteKubernetesRole(db: Queryable, name: string): Promise<GoneRow[]> {
  const gone = await db.delete(kubernetesRoles).where(eq(kubernetesRoles.name, name)).returning({ seq: kubernetesRoles.seq });
  return gone.map((g) => ({ table: ROLES.table, id: name, seq: g.seq }));
}

export async function listKubernetesRoles(db: Queryable): Promise<string[]> {
  const rows = await db.select({ name: kubernetesRoles.name }).from(kubernetesRoles).orderBy(asc(kubernetesRoles.name));
  return rows.map((r) => r.name);
}
