// The upgrade to row MACs: a vault whose canary is still the first version holds rows written
// before MACs existed (mac null). At its first unseal after the upgrade they are signed here, in
// batches (timestamps cut to the millisecond the MAC covers), then the canary is rewritten to the
// second version under the root key. From then on a row without a MAC is refused: a database
// writer cannot make the vault sign rows it inserted, because it cannot write a first-version
// canary under the root key (only replay one copied before the upgrade; see docs/vault-security.md).
import { and, eq, isNull } from 'drizzle-orm';
import type { Database } from '#shared/db/index';
import type { RowMac } from '#functions/vault/core/integrity';
import { kvMetadataMacFields, kvVersionMacFields } from '#functions/vault/core/kv';
import { mountMacFields } from '#functions/vault/core/mounts';
import { policyMacFields } from '#functions/vault/core/policy-store';
import { kvMetadata, kvVersions, mounts, policies, tokens } from '#functions/vault/core/schema';
import { tokenMacFields } from '#functions/vault/core/tokens';

const BATCH = 500;

/** Signs every row without a MAC; returns how many. Safe to run twice or concurrently (same MACs). */
export async function signLegacyRows(database: Database, mac: RowMac): Promise<number> {
  const db = database.db;
  let signed = 0;
  for (;;) {
    const rows = await db.select().from(tokens).where(isNull(tokens.mac)).limit(BATCH);
    for (const t of rows) {
      await db
        .update(tokens)
        .set({ createdAt: t.createdAt, expiresAt: t.expiresAt, mac: mac.sign('tokens', tokenMacFields(t)) })
        .where(and(eq(tokens.hash, t.hash), isNull(tokens.mac)));
    }
    signed += rows.length;
    if (rows.length < BATCH) break;
  }
  for (;;) {
    const rows = await db.select().from(policies).where(isNull(policies.mac)).limit(BATCH);
    for (const p of rows) {
      await db
        .update(policies)
        .set({ updatedAt: p.updatedAt, mac: mac.sign('policies', policyMacFields(p)) })
        .where(and(eq(policies.name, p.name), isNull(policies.mac)));
    }
    signed += rows.length;
    if (rows.length < BATCH) break;
  }
  for (;;) {
    const rows = await db.select().from(mounts).where(isNull(mounts.mac)).limit(BATCH);
    for (const m of rows) {
      await db
        .update(mounts)
        .set({ createdAt: m.createdAt, mac: mac.sign('mounts', mountMacFields(m)) })
        .where(and(eq(mounts.path, m.path), isNull(mounts.mac)));
    }
    signed += rows.length;
    if (rows.length < BATCH) break;
  }
  for (;;) {
    const rows = await db.select().from(kvMetadata).where(isNull(kvMetadata.mac)).limit(BATCH);
    for (const m of rows) {
      await db
        .update(kvMetadata)
        .set({ createdAt: m.createdAt, updatedAt: m.updatedAt, mac: mac.sign('kv_metadata', kvMetadataMacFields(m)) })
        .where(and(eq(kvMetadata.mount, m.mount), eq(kvMetadata.path, m.path), isNull(kvMetadata.mac)));
    }
    signed += rows.length;
    if (rows.length < BATCH) break;
  }
  for (;;) {
    const rows = await db.select().from(kvVersions).where(isNull(kvVersions.mac)).limit(BATCH);
    for (const v of rows) {
      await db
        .update(kvVersions)
        .set({ createdAt: v.createdAt, deletedAt: v.deletedAt, mac: mac.sign('kv_versions', kvVersionMacFields(v)) })
        .where(and(eq(kvVersions.mount, v.mount), eq(kvVersions.path, v.path), eq(kvVersions.version, v.version), isNull(kvVersions.mac)));
    }
    signed += rows.length;
    if (rows.length < BATCH) break;
  }
  return signed;
}
