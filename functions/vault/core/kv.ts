// KV version 2: versions, check-and-set, soft delete, undelete, destroy, max_versions, metadata.
// Each version's data is sealed under its own DEK; the DEK is minted and unwrapped by the unsealer.
// @see https://developer.hashicorp.com/vault/api-docs/secret/kv/kv-v2
import { and, asc, eq, inArray, sql } from 'drizzle-orm';
import { rowsOf, type Database, type Db, type Queryable, type Tx } from '#shared/db/index';
import { aad, kvContext, open, seal } from './envelope.js';
import { invalidRequest, VaultError } from './errors.js';
import { kvMetadata, kvVersions, type KvMetadata, type KvVersion } from './schema.js';

/** Vault's mount-wide default for max_versions. */
const DEFAULT_MAX_VERSIONS = 10;
/** Largest serialised secret we store (the JSON of `data`). */
const MAX_SECRET_BYTES = 512 * 1024;
const MAX_PATH = 1024;

/** What the data layer needs from the unsealer. */
export interface DekService {
  newDek(mount: string, context: string): Promise<{ dek: Buffer; wrapped: Buffer }>;
  unwrapDek(mount: string, context: string, wrapped: Buffer): Promise<Buffer>;
}

/** Normalises a secret path: no leading/trailing slash, no empty, `.` or `..` segments. */
export function cleanPath(raw: string, allowEmpty = false): string {
  const p = raw.replace(/^\/+|\/+$/g, '');
  if (p === '' && allowEmpty) return p;
  if (p === '' || p.length > MAX_PATH) throw invalidRequest('invalid secret path');
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(p)) throw invalidRequest('invalid secret path');
  if (p.split('/').some((s) => s === '' || s === '.' || s === '..')) throw invalidRequest('invalid secret path');
  return p;
}

function versionMetadata(v: Pick<KvVersion, 'createdAt' | 'deletedAt' | 'destroyed' | 'version'>, custom: KvMetadata['customMetadata']) {
  return {
    created_time: v.createdAt.toISOString(),
    custom_metadata: custom ?? null,
    deletion_time: v.deletedAt ? v.deletedAt.toISOString() : '',
    destroyed: v.destroyed,
    version: v.version,
  };
}

export async function getMetadata(db: Queryable, mount: string, path: string): Promise<KvMetadata | undefined> {
  const [row] = await db.select().from(kvMetadata).where(and(eq(kvMetadata.mount, mount), eq(kvMetadata.path, path)));
  return row;
}

export async function listVersions(db: Queryable, mount: string, path: string) {
  return db
    .select({ version: kvVersions.version, createdAt: kvVersions.createdAt, deletedAt: kvVersions.deletedAt, destroyed: kvVersions.destroyed })
    .from(kvVersions)
    .where(and(eq(kvVersions.mount, mount), eq(kvVersions.path, path)))
    .orderBy(asc(kvVersions.version));
}

type ReadResult =
  | { kind: 'missing' }
  | { kind: 'gone'; metadata: ReturnType<typeof versionMetadata> }
  | { kind: 'ok'; data: Record<string, unknown>; metadata: ReturnType<typeof versionMetadata> };

/** Reads one version (the current one when `version` is 0), decrypting through its DEK. */
export async function readSecret(db: Db, keys: DekService, mount: string, path: string, version: number): Promise<ReadResult> {
  const rows = rowsOf<{ current_version: number; custom_metadata: Record<string, string> | null; version: number | null; ciphertext: Uint8Array | null; wrapped_dek: Uint8Array | null; created_at: string | Date | null; deleted_at: string | Date | null; destroyed: boolean | null }>(
    await db.execute(sql`
      select m.current_version, m.custom_metadata, v.version, v.ciphertext, v.wrapped_dek, v.created_at, v.deleted_at, v.destroyed
      from vault.kv_metadata m
      left join vault.kv_versions v on v.mount = m.mount and v.path = m.path
        and v.version = case when ${version} = 0 then m.current_version else ${version} end
      where m.mount = ${mount} and m.path = ${path}`),
  );
  const r = rows[0];
  if (!r || r.version === null) return { kind: 'missing' };
  const metadata = versionMetadata(
    {
      version: r.version,
      createdAt: new Date(r.created_at!),
      deletedAt: r.deleted_at ? new Date(r.deleted_at) : null,
      destroyed: !!r.destroyed,
    },
    r.custom_metadata,
  );
  if (r.destroyed || (r.deleted_at && new Date(r.deleted_at).getTime() <= Date.now()) || !r.ciphertext || !r.wrapped_dek) {
    return { kind: 'gone', metadata };
  }
  const context = kvContext(path, r.version);
  const dek = await keys.unwrapDek(mount, context, Buffer.from(r.wrapped_dek));
  let plain: Buffer;
  try {
    plain = open(dek, r.ciphertext, aad.data(mount, context));
  } finally {
    dek.fill(0);
  }
  try {
    return { kind: 'ok', data: JSON.parse(plain.toString('utf8')) as Record<string, unknown>, metadata };
  } finally {
    plain.fill(0);
  }
}

interface WriteOptions {
  cas?: number | undefined;
  /** The current version as the caller just read it (saves a read on the first attempt). */
  knownCurrent?: number | undefined;
}

const RETRY = Symbol('retry');
/** Attempts on PGlite, whose one connection must not wait on the unsealer inside a transaction. */
const MAX_ATTEMPTS = 20;
/** First key of the two-key advisory locks of KV paths (the second is a hash of mount and path). */
const PATH_LOCK_NAMESPACE = 0x6b765f77; // "kv_w"

/**
 * Serialises the writers of one path until the transaction ends: a transaction-scoped advisory
 * lock on a hash of mount and path (a collision only serialises two paths needlessly). Taken
 * first, before any row is touched, so writers of a path queue here in arrival order whatever
 * rows they then lock.
 * @see https://www.postgresql.org/docs/current/explicit-locking.html#ADVISORY-LOCKS
 */
async function lockPath(tx: Tx, mount: string, path: string): Promise<void> {
  await tx.execute(sql`select pg_advisory_xact_lock(${PATH_LOCK_NAMESPACE}, hashtext(${`${mount}\n${path}`}))`);
}

/**
 * Writes a new version. The DEK for the expected next version is minted before the transaction,
 * so that no connection is held across the call to the unsealer (and PGlite's single connection
 * is never needed by both at once); callers queue the writers of a path in their process
 * (./write-queue.ts), which makes that expectation right. Inside the transaction the path's
 * advisory lock comes first, then the metadata row is created or locked in one upsert and
 * check-and-set is verified against the version really current. When a writer of another process
 * took the expected version meanwhile, the DEK for the version now next is minted under the lock
 * (on PostgreSQL; on PGlite the attempt starts over), so a write under contention waits its turn
 * and is never refused. The new version, the removal of versions beyond max_versions and the
 * metadata update are one statement. Nothing is written on failure.
 */
export async function writeSecret(database: Database, keys: DekService, mount: string, path: string, data: Record<string, unknown>, opts: WriteOptions) {
  const plain = Buffer.from(JSON.stringify(data), 'utf8');
  if (plain.length > MAX_SECRET_BYTES) {
    plain.fill(0);
    throw new VaultError(413, 'too_large', [`secret too large: the limit is ${MAX_SECRET_BYTES} bytes`]);
  }
  /** The version's ciphertext under a fresh DEK, and the DEK wrapped for storage. */
  const sealVersion = async (version: number) => {
    const context = kvContext(path, version);
    const { dek, wrapped } = await keys.newDek(mount, context);
    try {
      return { version, wrapped, ciphertext: seal(dek, plain, aad.data(mount, context)) };
    } finally {
      dek.fill(0);
    }
  };
  try {
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const current = attempt === 0 && opts.knownCurrent !== undefined ? opts.knownCurrent : ((await getMetadata(database.db, mount, path))?.currentVersion ?? 0);
      // Fail fast on a stale cas; it is checked again under the lock.
      if (opts.cas !== undefined && opts.cas !== current) throw invalidRequest('check-and-set parameter did not match the current version');
      const expected = await sealVersion(current + 1);
      const result = await database.transaction(async (tx) => {
        await lockPath(tx, mount, path);
        // Creates the row or, when it exists, locks it and returns its latest committed state.
        const [md] = await tx
          .insert(kvMetadata)
          .values({ mount, path })
          .onConflictDoUpdate({ target: [kvMetadata.mount, kvMetadata.path], set: { mount } })
          .returning();
        if (!md) throw new Error('metadata row missing inside its transaction');
        if (md.casRequired && opts.cas === undefined) throw invalidRequest('check-and-set parameter required for this call');
        if (opts.cas !== undefined && opts.cas !== md.currentVersion) {
          throw invalidRequest('check-and-set parameter did not match the current version');
        }
        let sealed = expected;
        if (md.currentVersion !== current) {
          if (database.kind === 'pglite') return RETRY;
          sealed = await sealVersion(md.currentVersion + 1);
        }
        const { version, ciphertext, wrapped } = sealed;
        const deletedAt = md.deleteVersionAfterSeconds > 0 ? sql`now() + make_interval(secs => ${md.deleteVersionAfterSeconds})` : null;
        const max = md.maxVersions > 0 ? md.maxVersions : DEFAULT_MAX_VERSIONS;
        const keepFrom = version - max + 1;
        const oldest = Math.max(md.oldestVersion || 1, keepFrom);
        // One statement: the sub-statements share a snapshot, so the delete cannot see the new row.
        const [row] = rowsOf<{ version: number; created_at: string | Date; deleted_at: string | Date | null; destroyed: boolean }>(
          await tx.execute(sql`
            with pruned as (
              delete from vault.kv_versions where mount = ${mount} and path = ${path} and version < ${keepFrom}
            ), meta as (
              update vault.kv_metadata set current_version = ${version}, oldest_version = ${oldest}, updated_at = now()
              where mount = ${mount} and path = ${path}
            )
            insert into vault.kv_versions (mount, path, version, ciphertext, wrapped_dek, deleted_at)
            values (${mount}, ${path}, ${version}, ${ciphertext}, ${wrapped}, ${deletedAt})
            returning version, created_at, deleted_at, destroyed`),
        );
        return versionMetadata(
          { version: row!.version, createdAt: new Date(row!.created_at), deletedAt: row!.deleted_at ? new Date(row!.deleted_at) : null, destroyed: row!.destroyed },
          md.customMetadata,
        );
      });
      if (result !== RETRY) return result;
    }
    throw new VaultError(503, 'contention', ['too many concurrent writers on this path; retry'], { headers: { 'retry-after': '1' } });
  } finally {
    plain.fill(0);
  }
}

/** Soft-deletes versions (0 = the current one); unknown versions are ignored, as in Vault. */
export async function deleteVersions(db: Queryable, mount: string, path: string, versions: number[] | 'current') {
  if (versions === 'current') {
    const md = await getMetadata(db, mount, path);
    if (!md || md.currentVersion === 0) return;
    versions = [md.currentVersion];
  }
  if (versions.length === 0) return;
  await db
    .update(kvVersions)
    .set({ deletedAt: sql`now()` })
    .where(and(eq(kvVersions.mount, mount), eq(kvVersions.path, path), inArray(kvVersions.version, versions), sql`${kvVersions.deletedAt} is null`, eq(kvVersions.destroyed, false)));
}

export async function undeleteVersions(db: Queryable, mount: string, path: string, versions: number[]) {
  if (versions.length === 0) return;
  await db
    .update(kvVersions)
    .set({ deletedAt: null })
    .where(and(eq(kvVersions.mount, mount), eq(kvVersions.path, path), inArray(kvVersions.version, versions), eq(kvVersions.destroyed, false)));
}

/** Destroys versions for good: ciphertext and wrapped DEK are erased from the row. */
export async function destroyVersions(db: Queryable, mount: string, path: string, versions: number[]) {
  if (versions.length === 0) return;
  await db
    .update(kvVersions)
    .set({ destroyed: true, ciphertext: null, wrappedDek: null })
    .where(and(eq(kvVersions.mount, mount), eq(kvVersions.path, path), inArray(kvVersions.version, versions)));
}

/** Deletes the metadata and every version of a path. */
export async function deleteAll(database: Database, mount: string, path: string) {
  await database.transaction(async (tx) => {
    await lockPath(tx, mount, path);
    await tx.delete(kvVersions).where(and(eq(kvVersions.mount, mount), eq(kvVersions.path, path)));
    await tx.delete(kvMetadata).where(and(eq(kvMetadata.mount, mount), eq(kvMetadata.path, path)));
  });
}

interface MetadataUpdate {
  maxVersions?: number | undefined;
  casRequired?: boolean | undefined;
  deleteVersionAfterSeconds?: number | undefined;
  customMetadata?: Record<string, string> | undefined;
}

/** Creates or updates a path's metadata (a path may have metadata before any version). */
export async function putMetadata(db: Queryable, mount: string, path: string, u: MetadataUpdate) {
  const set: Partial<typeof kvMetadata.$inferInsert> = { updatedAt: new Date() };
  if (u.maxVersions !== undefined) set.maxVersions = u.maxVersions;
  if (u.casRequired !== undefined) set.casRequired = u.casRequired;
  if (u.deleteVersionAfterSeconds !== undefined) set.deleteVersionAfterSeconds = u.deleteVersionAfterSeconds;
  if (u.customMetadata !== undefined) set.customMetadata = u.customMetadata;
  await db
    .insert(kvMetadata)
    .values({ mount, path, ...set })
    .onConflictDoUpdate({ target: [kvMetadata.mount, kvMetadata.path], set });
}

/** Direct children of a folder: names, with a trailing `/` for sub-folders. Sorted. */
export async function listKeys(db: Queryable, mount: string, folder: string): Promise<string[]> {
  const prefix = folder === '' ? '' : `${folder}/`;
  const like = prefix.replace(/[\\%_]/g, '\\$&') + '%';
  const rows = rowsOf<{ key: string }>(
    await db.execute(sql`
      select distinct case when strpos(rest, '/') > 0 then substr(rest, 1, strpos(rest, '/')) else rest end as key
      from (select substr(path, ${prefix.length + 1}) as rest from vault.kv_metadata
            where mount = ${mount} and path like ${like}) s
      order by 1`),
  );
  return rows.map((r) => r.key);
}
