// KV version 2: versions, check-and-set, soft delete, undelete, destroy, max_versions, metadata.
// Each version's data is sealed under its own DEK; the DEK is minted and unwrapped by the unsealer.
// Every metadata and version row is MAC'd (core/integrity.ts). The metadata row is the head of its
// path: every change bumps its `seq`, and each version carries the seq of its own last change, so
// a version newer than its metadata, a version above the current one, a row from a later keyring
// epoch or a path whose seq went down since this process saw it is a rollback, and refused.
// @see https://developer.hashicorp.com/vault/api-docs/secret/kv/kv-v2
import { sql } from 'drizzle-orm';
import { rowsOf, type Database, type Db, type Queryable, type Tx } from '#shared/db/index';
import { aad, DecryptError, kvContext, open, seal } from './envelope.js';
import { invalidRequest, VaultError } from './errors.js';
import type { MacValue, RowMac, SeqMemory } from './integrity.js';
import type { KvRowLoader } from './kv-read-batch.js';
import type { KvMetadata, KvVersion } from './schema.js';

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

/** The row MAC and this process's memory of each path's highest seq. */
export interface KvIntegrity {
  /** The current RowMac; `fresh` asks past any cache (for a row from an epoch the cached key predates). */
  rowMac: (fresh?: boolean) => Promise<RowMac>;
  seen: SeqMemory;
}

/** A row from a later epoch than the RowMac at hand knows: checked again with a fresh one. */
class LaterEpoch extends Error {}

/**
 * Runs `run` with the current RowMac; when it meets a row from a later epoch (another unsealer
 * replica unsealed since the key was cached), once more with a fresh RowMac, which must know it.
 * Nothing is kept of the first run (a transaction inside it rolls back).
 */
async function withEpoch<T>(ig: KvIntegrity, run: (mac: RowMac) => Promise<T>): Promise<T> {
  try {
    return await run(await ig.rowMac());
  } catch (err) {
    if (!(err instanceof LaterEpoch)) throw err;
  }
  const fresh = await ig.rowMac(true);
  try {
    return await run(fresh);
  } catch (err) {
    // Still later than the stored epoch: the epoch row was put back alone.
    if (err instanceof LaterEpoch) fresh.refuse('kv_metadata');
    throw err;
  }
}

/** The MAC'd fields of a metadata row, primary key first. */
export function kvMetadataMacFields(m: KvMetadata): MacValue[] {
  return [
    m.mount, m.path, m.seq, m.epoch, m.currentVersion, m.oldestVersion, m.maxVersions, m.casRequired,
    m.deleteVersionAfterSeconds, m.customMetadata, m.createdAt, m.updatedAt, m.deleted,
  ];
}

/** The MAC'd fields of a version row, primary key first. */
export function kvVersionMacFields(v: KvVersion): MacValue[] {
  return [v.mount, v.path, v.version, v.seq, v.ciphertext, v.wrappedDek, v.createdAt, v.deletedAt, v.destroyed];
}

const seenKey = (mount: string, path: string) => `${mount}\u0000${path}`;

/** Refuses a metadata row the vault did not write, from a later epoch, or older than this process saw. */
function checkMetadata(mac: RowMac, seen: SeqMemory, md: KvMetadata, floor: number): void {
  mac.check('kv_metadata', kvMetadataMacFields(md), md.mac);
  if (mac.epoch > 0 && md.epoch > mac.epoch) throw new LaterEpoch();
  // Only what this process saw before the query began bounds it: a read whose snapshot predates
  // a write this process has seen commit since is old, not rolled back.
  if (md.seq < floor) mac.refuse('kv_metadata');
  seen.observe(seenKey(md.mount, md.path), md.seq);
}

/** Refuses a version row the vault did not write, or one its (checked) metadata cannot have. */
function checkVersion(mac: RowMac, md: KvMetadata, v: KvVersion): void {
  mac.check('kv_versions', kvVersionMacFields(v), v.mac);
  // A version changed after its metadata, or above the current one: the metadata was rolled back.
  if (v.seq > md.seq || v.version > md.currentVersion) mac.refuse('kv_metadata');
}

const toDate = (v: unknown): Date => (v instanceof Date ? v : new Date(v as string));
const toBuf = (v: unknown): Buffer | null => (v === null || v === undefined ? null : Buffer.from(v as Uint8Array));

type Raw = Record<string, unknown>;

function metadataFrom(r: Raw, p = ''): KvMetadata {
  return {
    mount: r[`${p}mount`] as string,
    path: r[`${p}path`] as string,
    maxVersions: Number(r[`${p}max_versions`]),
    casRequired: r[`${p}cas_required`] as boolean,
    deleteVersionAfterSeconds: Number(r[`${p}delete_version_after_seconds`]),
    customMetadata: (r[`${p}custom_metadata`] ?? null) as Record<string, string> | null,
    currentVersion: Number(r[`${p}current_version`]),
    oldestVersion: Number(r[`${p}oldest_version`]),
    createdAt: toDate(r[`${p}created_at`]),
    updatedAt: toDate(r[`${p}updated_at`]),
    seq: Number(r[`${p}seq`]),
    epoch: Number(r[`${p}epoch`]),
    deleted: r[`${p}deleted`] === true,
    mac: toBuf(r[`${p}mac`]),
  };
}

function versionFrom(r: Raw, p = ''): KvVersion {
  return {
    mount: r[`${p}mount`] as string,
    path: r[`${p}path`] as string,
    version: Number(r[`${p}version`]),
    ciphertext: toBuf(r[`${p}ciphertext`]),
    wrappedDek: toBuf(r[`${p}wrapped_dek`]),
    createdAt: toDate(r[`${p}created_at`]),
    deletedAt: r[`${p}deleted_at`] === null ? null : toDate(r[`${p}deleted_at`]),
    destroyed: r[`${p}destroyed`] as boolean,
    seq: Number(r[`${p}seq`]),
    mac: toBuf(r[`${p}mac`]),
  };
}

const iso = (d: Date | null) => (d ? d.toISOString() : null);

/** The next seq of a path (its metadata row outlives a delete, so the seq never starts over). */
const nextSeq = (md: KvMetadata) => md.seq + 1;

/** The state of a path with no metadata: Vault's defaults. */
const emptyMetadata = (md: KvMetadata, now: Date): KvMetadata => ({
  ...md, maxVersions: 0, casRequired: false, deleteVersionAfterSeconds: 0, customMetadata: null,
  currentVersion: 0, oldestVersion: 0, createdAt: now, updatedAt: now, deleted: false,
});

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

/** A path's metadata, checked; undefined when the path has none. */
export async function getMetadata(db: Queryable, ig: KvIntegrity, mount: string, path: string): Promise<KvMetadata | undefined> {
  return withEpoch(ig, async (mac) => {
    const floor = ig.seen.floor(seenKey(mount, path));
    const [raw] = rowsOf<Raw>(await db.execute(sql`select * from vault.kv_metadata where mount = ${mount} and path = ${path}`));
    if (!raw) return undefined;
    const md = metadataFrom(raw);
    checkMetadata(mac, ig.seen, md, floor);
    return md.deleted ? undefined : md;
  });
}

/** A path's metadata and its versions, every row checked. */
export async function getMetadataAndVersions(db: Queryable, ig: KvIntegrity, mount: string, path: string) {
  const md = await getMetadata(db, ig, mount, path);
  if (!md) return undefined;
  const mac = await ig.rowMac();
  const versions = rowsOf<Raw>(
    await db.execute(sql`select * from vault.kv_versions where mount = ${mount} and path = ${path} order by version`),
  ).map((r) => versionFrom(r));
  for (const v of versions) checkVersion(mac, md, v);
  return { md, versions };
}

type ReadResult =
  | { kind: 'missing' }
  | { kind: 'gone'; metadata: ReturnType<typeof versionMetadata> }
  | { kind: 'ok'; data: Record<string, unknown>; metadata: ReturnType<typeof versionMetadata> };

/**
 * Reads one version (the current one when `version` is 0), checking both rows, decrypting through
 * its DEK. Its rows come from `load` (core/kv-read-batch.ts: one statement for concurrent reads).
 */
export async function readSecret(load: KvRowLoader, keys: DekService, ig: KvIntegrity, mount: string, path: string, version: number): Promise<ReadResult> {
  return withEpoch(ig, (mac) => readChecked(load, keys, mac, ig.seen, mount, path, version));
}

async function readChecked(load: KvRowLoader, keys: DekService, mac: RowMac, seen: SeqMemory, mount: string, path: string, version: number): Promise<ReadResult> {
  // Read before the rows are fetched: a higher seq learnt meanwhile is a concurrent write.
  const floor = seen.floor(seenKey(mount, path));
  const r = await load(mount, path, version);
  if (!r) return { kind: 'missing' };
  const md = metadataFrom(r);
  checkMetadata(mac, seen, md, floor);
  if (md.deleted) return { kind: 'missing' };
  // Any version beyond the metadata's current one, or changed after it: the metadata was rolled back.
  if (r.max_version !== null && (Number(r.max_version) > md.currentVersion || Number(r.max_seq) > md.seq)) mac.refuse('kv_metadata');
  if (r.v_version === null) return { kind: 'missing' };
  const v = versionFrom(r, 'v_');
  checkVersion(mac, md, v);
  const metadata = versionMetadata(v, md.customMetadata);
  if (v.destroyed || (v.deletedAt && v.deletedAt.getTime() <= Date.now()) || !v.ciphertext || !v.wrappedDek) {
    return { kind: 'gone', metadata };
  }
  const context = kvContext(path, v.version);
  const dek = await keys.unwrapDek(mount, context, v.wrappedDek);
  let plain: Buffer;
  try {
    plain = open(dek, v.ciphertext, aad.data(mount, context));
  } catch (err) {
    // The MAC held but the ciphertext does not open in its row: refused like any other bad row.
    if (err instanceof DecryptError) mac.refuse('kv_versions');
    throw err;
  } finally {
    dek.fill(0);
  }
  try {
    return { kind: 'ok', data: JSON.parse(plain.toString('utf8')) as Record<string, unknown>, metadata };
  } finally {
    plain.fill(0);
  }
}

/**
 * Creates the metadata row of a path or locks the existing one, inside `tx`; an existing row is
 * checked. A row this statement created carries no MAC yet: the caller signs it before commit.
 */
async function lockMetadata(tx: Queryable, mac: RowMac, seen: SeqMemory, mount: string, path: string): Promise<{ md: KvMetadata; fresh: boolean }> {
  const floor = seen.floor(seenKey(mount, path));
  const [raw] = rowsOf<Raw>(
    await tx.execute(sql`
      insert into vault.kv_metadata (mount, path) values (${mount}, ${path})
      on conflict (mount, path) do update set mount = excluded.mount
      returning *, (xmax = 0) as fresh`),
  );
  if (!raw) throw new Error('metadata row missing inside its transaction');
  const md = metadataFrom(raw);
  if (raw.fresh === true) return { md: emptyMetadata(md, new Date()), fresh: true };
  checkMetadata(mac, seen, md, floor);
  // A deleted path starts afresh, its seq going on from where it stopped.
  if (md.deleted) return { md: emptyMetadata(md, new Date()), fresh: true };
  return { md, fresh: false };
}

/** The metadata of a path that exists and is not deleted, locked FOR UPDATE and checked; else undefined. */
async function lockLiveMetadata(tx: Queryable, mac: RowMac, seen: SeqMemory, mount: string, path: string): Promise<KvMetadata | undefined> {
  const floor = seen.floor(seenKey(mount, path));
  const [raw] = rowsOf<Raw>(await tx.execute(sql`select * from vault.kv_metadata where mount = ${mount} and path = ${path} for update`));
  if (!raw) return undefined;
  const md = metadataFrom(raw);
  checkMetadata(mac, seen, md, floor);
  return md.deleted ? undefined : md;
}

/** Stores a metadata row's new state with its MAC (every MAC'd column, so a fresh row gets its ms timestamps). */
function saveMetadata(mac: RowMac, next: KvMetadata) {
  next.mac = mac.sign('kv_metadata', kvMetadataMacFields(next));
  return sql`update vault.kv_metadata set seq = ${next.seq}, epoch = ${next.epoch}, current_version = ${next.currentVersion},
      oldest_version = ${next.oldestVersion}, max_versions = ${next.maxVersions}, cas_required = ${next.casRequired},
      delete_version_after_seconds = ${next.deleteVersionAfterSeconds}, deleted = ${next.deleted},
      custom_metadata = ${next.customMetadata === null ? null : JSON.stringify(next.customMetadata)}::jsonb,
      created_at = ${iso(next.createdAt)}::timestamptz, updated_at = ${iso(next.updatedAt)}::timestamptz, mac = ${next.mac}
    where mount = ${next.mount} and path = ${next.path}`;
}

interface WriteOptions {
  cas?: number | undefined;
  /** The current version as the caller just read it (saves a read on the first attempt). */
  knownCurrent?: number | undefined;
}

const RETRY = Symbol('retry');
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
 * advisory lock comes first, then the metadata row is created or locked and checked, and
 * check-and-set is verified against the version really current. When a writer of another process
 * took the expected version meanwhile, the DEK for the version now next is minted under the lock
 * (on PostgreSQL; on PGlite the attempt starts over), so a write under contention waits its turn
 * and is never refused. The new version, the removal of versions beyond max_versions and the
 * re-signed metadata are one statement. Nothing is written on failure.
 */
export async function writeSecret(database: Database, keys: DekService, ig: KvIntegrity, mount: string, path: string, data: Record<string, unknown>, opts: WriteOptions) {
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
      const current = attempt === 0 && opts.knownCurrent !== undefined ? opts.knownCurrent : ((await getMetadata(database.db, ig, mount, path))?.currentVersion ?? 0);
      // Fail fast on a stale cas; it is checked again under the lock.
      if (opts.cas !== undefined && opts.cas !== current) throw invalidRequest('check-and-set parameter did not match the current version');
      const expected = await sealVersion(current + 1);
      const result = await withEpoch(ig, (mac) => database.transaction(async (tx) => {
        await lockPath(tx, mount, path);
        const { md } = await lockMetadata(tx, mac, ig.seen, mount, path);
        if (md.casRequired && opts.cas === undefined) throw invalidRequest('check-and-set parameter required for this call');
        if (opts.cas !== undefined && opts.cas !== md.currentVersion) {
          throw invalidRequest('check-and-set parameter did not match the current version');
        }
        // A writer of another process took the expected version: on PostgreSQL mint the DEK of the
        // version now next under the lock (the write waits its turn, never refused); PGlite has a
        // single connection, so there the attempt starts over.
        let sealed = expected;
        if (md.currentVersion !== current) {
          if (database.kind === 'pglite') return RETRY;
          sealed = await sealVersion(md.currentVersion + 1);
        }
        const { version, ciphertext, wrapped } = sealed;
        const now = Date.now();
        const max = md.maxVersions > 0 ? md.maxVersions : DEFAULT_MAX_VERSIONS;
        const keepFrom = version - max + 1;
        const seq = nextSeq(md);
        const row: KvVersion = {
          mount, path, version, seq, ciphertext, wrappedDek: wrapped, createdAt: new Date(now),
          deletedAt: md.deleteVersionAfterSeconds > 0 ? new Date(now + md.deleteVersionAfterSeconds * 1000) : null,
          destroyed: false, mac: null,
        };
        row.mac = mac.sign('kv_versions', kvVersionMacFields(row));
        const next: KvMetadata = {
          ...md, seq, epoch: mac.epoch, currentVersion: version, oldestVersion: Math.max(md.oldestVersion || 1, keepFrom), updatedAt: new Date(now),
        };
        // One statement: the sub-statements share a snapshot, so the delete cannot see the new row.
        await tx.execute(sql`
          with pruned as (
            delete from vault.kv_versions where mount = ${mount} and path = ${path} and version < ${keepFrom}
          ), meta as (${saveMetadata(mac, next)})
          insert into vault.kv_versions (mount, path, version, seq, ciphertext, wrapped_dek, created_at, deleted_at, destroyed, mac)
          values (${mount}, ${path}, ${version}, ${seq}, ${ciphertext}, ${wrapped}, ${iso(row.createdAt)}::timestamptz,
            ${iso(row.deletedAt)}::timestamptz, false, ${row.mac})`);
        return { metadata: versionMetadata(row, md.customMetadata), seq };
      }));
      if (result !== RETRY) {
        ig.seen.observe(seenKey(mount, path), result.seq);
        return result.metadata;
      }
    }
    throw new VaultError(503, 'contention', ['too many concurrent writers on this path; retry']);
  } finally {
    plain.fill(0);
  }
}

/**
 * Changes versions of a path in one transaction: the metadata row is locked and checked, each
 * named version row is checked, `change` gives its new state (or undefined to leave it), and the
 * changed rows and the metadata are re-signed under the path's next seq.
 */
async function changeVersions(database: Database, ig: KvIntegrity, mount: string, path: string, versions: number[] | 'current', change: (v: KvVersion, now: number) => Partial<KvVersion> | undefined) {
  const seq = await withEpoch(ig, (mac) => database.transaction(async (tx) => {
    const md = await lockLiveMetadata(tx, mac, ig.seen, mount, path);
    if (!md) return undefined;
    const wanted = versions === 'current' ? (md.currentVersion > 0 ? [md.currentVersion] : []) : versions;
    if (wanted.length === 0) return undefined;
    const rows = rowsOf<Raw>(
      await tx.execute(sql`select * from vault.kv_versions where mount = ${mount} and path = ${path}
        and version = any(array(select jsonb_array_elements_text(${JSON.stringify(wanted)}::jsonb)::int)) for update`),
    ).map((r) => versionFrom(r));
    const now = Date.now();
    const seqNext = nextSeq(md);
    const changed: KvVersion[] = [];
    for (const v of rows) {
      checkVersion(mac, md, v);
      const delta = change(v, now);
      if (!delta) continue;
      const next: KvVersion = { ...v, ...delta, seq: seqNext };
      next.mac = mac.sign('kv_versions', kvVersionMacFields(next));
      changed.push(next);
    }
    if (changed.length === 0) return undefined;
    const list = changed.map((v) => ({
      version: v.version, deleted_at: iso(v.deletedAt), destroyed: v.destroyed, keep: v.ciphertext !== null, mac: v.mac!.toString('hex'),
    }));
    await tx.execute(sql`
      update vault.kv_versions v set deleted_at = x.deleted_at, destroyed = x.destroyed, seq = ${seqNext},
        ciphertext = case when x.keep then v.ciphertext end, wrapped_dek = case when x.keep then v.wrapped_dek end,
        mac = decode(x.mac, 'hex')
      from jsonb_to_recordset(${JSON.stringify(list)}::jsonb) as x(version int, deleted_at timestamptz, destroyed boolean, keep boolean, mac text)
      where v.mount = ${mount} and v.path = ${path} and v.version = x.version`);
    await tx.execute(saveMetadata(mac, { ...md, seq: seqNext, epoch: mac.epoch }));
    return seqNext;
  }));
  if (seq !== undefined) ig.seen.observe(seenKey(mount, path), seq);
}

/** Soft-deletes versions (0 = the current one); unknown versions are ignored, as in Vault. */
export async function deleteVersions(database: Database, ig: KvIntegrity, mount: string, path: string, versions: number[] | 'current') {
  await changeVersions(database, ig, mount, path, versions, (v, now) => (v.deletedAt === null && !v.destroyed ? { deletedAt: new Date(now) } : undefined));
}

export async function undeleteVersions(database: Database, ig: KvIntegrity, mount: string, path: string, versions: number[]) {
  if (versions.length === 0) return;
  await changeVersions(database, ig, mount, path, versions, (v) => (v.destroyed || v.deletedAt === null ? undefined : { deletedAt: null }));
}

/** Destroys versions for good: ciphertext and wrapped DEK are erased from the row. */
export async function destroyVersions(database: Database, ig: KvIntegrity, mount: string, path: string, versions: number[]) {
  if (versions.length === 0) return;
  await changeVersions(database, ig, mount, path, versions, (v) =>
    v.destroyed && v.ciphertext === null ? undefined : { destroyed: true, ciphertext: null, wrappedDek: null },
  );
}

/**
 * Deletes the metadata and every version of a path. The metadata row stays as a signed tombstone
 * (no versions, `deleted`), so that a later write to the path goes on from its seq and a process
 * that saw the path before can still tell its old rows put back.
 */
export async function deleteAll(database: Database, ig: KvIntegrity, mount: string, path: string) {
  const seq = await withEpoch(ig, (mac) => database.transaction(async (tx) => {
    await lockPath(tx, mount, path);
    const md = await lockLiveMetadata(tx, mac, ig.seen, mount, path);
    if (!md) return undefined;
    const now = new Date();
    const next: KvMetadata = { ...emptyMetadata(md, now), seq: nextSeq(md), epoch: mac.epoch, createdAt: md.createdAt, deleted: true };
    await tx.execute(sql`delete from vault.kv_versions where mount = ${mount} and path = ${path}`);
    await tx.execute(saveMetadata(mac, next));
    return next.seq;
  }));
  if (seq !== undefined) ig.seen.observe(seenKey(mount, path), seq);
}

interface MetadataUpdate {
  maxVersions?: number | undefined;
  casRequired?: boolean | undefined;
  deleteVersionAfterSeconds?: number | undefined;
  customMetadata?: Record<string, string> | undefined;
}

/** Creates or updates a path's metadata (a path may have metadata before any version), re-signed. */
export async function putMetadata(database: Database, ig: KvIntegrity, mount: string, path: string, u: MetadataUpdate) {
  const seq = await withEpoch(ig, (mac) => database.transaction(async (tx) => {
    const { md } = await lockMetadata(tx, mac, ig.seen, mount, path);
    const next: KvMetadata = { ...md, seq: nextSeq(md), epoch: mac.epoch, updatedAt: new Date() };
    if (u.maxVersions !== undefined) next.maxVersions = u.maxVersions;
    if (u.casRequired !== undefined) next.casRequired = u.casRequired;
    if (u.deleteVersionAfterSeconds !== undefined) next.deleteVersionAfterSeconds = u.deleteVersionAfterSeconds;
    if (u.customMetadata !== undefined) next.customMetadata = u.customMetadata;
    await tx.execute(saveMetadata(mac, next));
    return next.seq;
  }));
  ig.seen.observe(seenKey(mount, path), seq);
}

/** Direct children of a folder: names, with a trailing `/` for sub-folders. Sorted. */
export async function listKeys(db: Queryable, mount: string, folder: string): Promise<string[]> {
  const prefix = folder === '' ? '' : `${folder}/`;
  const like = prefix.replace(/[\\%_]/g, '\\$&') + '%';
  const rows = rowsOf<{ key: string }>(
    await db.execute(sql`
      select distinct case when strpos(rest, '/') > 0 then substr(rest, 1, strpos(rest, '/')) else rest end as key
      from (select substr(path, ${prefix.length + 1}) as rest from vault.kv_metadata
            where mount = ${mount} and path like ${like} and not deleted) s
      order by 1`),
  );
  return rows.map((r) => r.key);
}
