// KV version 2 at secret/: data, metadata, delete, undelete, destroy; LIST through ?list=true.
// @see https://developer.hashicorp.com/vault/api-docs/secret/kv/kv-v2
import type { Database } from '#shared/db/index';
import { formatDuration, parseDuration } from '#functions/vault/core/duration';
import { invalidRequest, notFoundError, VaultError } from '#functions/vault/core/errors';
import {
  cleanPath,
  deleteAll,
  deleteVersions,
  destroyVersions,
  getMetadata,
  getMetadataAndVersions,
  listKeys,
  putMetadata,
  readSecret,
  undeleteVersions,
  writeSecret,
  type DekService,
  type KvIntegrity,
} from '#functions/vault/core/kv';
import { createKvRowLoader } from '#functions/vault/core/kv-read-batch';
import { createWriteQueue } from '#functions/vault/core/write-queue';
import { assertNoNul, boolField, INT32_MAX, intField } from '#functions/vault/core/wire';
import { done, ok } from './pipeline.js';
import type { VaultRequest, VaultRoute } from './route.js';

const MOUNT = 'secret/';
/** Most versions one delete, undelete or destroy may name (a path keeps far fewer). */
const MAX_VERSIONS_PER_CALL = 1000;

function versionsOf(body: Record<string, unknown>): number[] {
  const v = body.versions;
  const list = Array.isArray(v) ? v : typeof v === 'string' ? v.split(',') : typeof v === 'number' ? [v] : undefined;
  if (!list || list.length === 0) throw invalidRequest('no version number provided');
  if (list.length > MAX_VERSIONS_PER_CALL) throw invalidRequest(`at most ${MAX_VERSIONS_PER_CALL} versions may be given at once`);
  const versions = list.map((x) => {
    const n = typeof x === 'string' && /^\d+$/.test(x.trim()) ? Number(x) : x;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > INT32_MAX) throw invalidRequest('versions must be positive integers');
    return n;
  });
  return [...new Set(versions)];
}

function customMetadataOf(v: unknown): Record<string, string> | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'object' || Array.isArray(v)) throw invalidRequest('custom_metadata must be a map of strings');
  assertNoNul(v, 'custom_metadata');
  const entries = Object.entries(v as Record<string, unknown>);
  // Vault's limits: 64 keys, keys up to 128 bytes, values up to 512 bytes.
  if (entries.length > 64) throw invalidRequest('custom_metadata may hold at most 64 keys');
  for (const [k, val] of entries) {
    if (typeof val !== 'string') throw invalidRequest('custom_metadata values must be strings');
    if (k.length === 0 || k.length > 128 || val.length > 512) throw invalidRequest('custom_metadata key or value too long');
  }
  return Object.fromEntries(entries) as Record<string, string>;
}

export function kvRoutes(database: Database, keys: DekService, ig: KvIntegrity): VaultRoute[] {
  const db = database.db;
  /** Concurrent reads share one statement. */
  const loadRow = createKvRowLoader(db);
  /** The current version the capability check read, per request. */
  const seenCurrent = new WeakMap<VaultRequest, number>();
  /**
   * Writers of one path, one at a time in this process (no connection held while waiting). A
   * writer that waited starts from the version the one before it wrote (checked under the lock);
   * one with a cas reads the version afresh, so that a write of another process is not taken
   * for a cas mismatch.
   */
  const writers = createWriteQueue<Awaited<ReturnType<typeof writeSecret>>>();
  const write = (path: string, data: Record<string, unknown>, cas: number | undefined, seen: number | undefined) =>
    writers.run(`${MOUNT}${path}`, ({ waited, previous }) =>
      writeSecret(database, keys, ig, MOUNT, path, data, { cas, knownCurrent: !waited ? seen : cas === undefined ? previous?.version : undefined }),
    );

  const dataRoute: VaultRoute = {
    pattern: /^secret\/data\/(.+)$/,
    readsOnly: true,
    handlers: {
      read: async (req, m) => {
        const path = cleanPath(m[1]!);
        const version = intField(Object.fromEntries(req.query), 'version') ?? 0;
        if (version < 0) throw invalidRequest('version must be a positive integer');
        const r = await readSecret(loadRow, keys, ig, MOUNT, path, version);
        if (r.kind === 'missing') throw notFoundError();
        if (r.kind === 'gone') return { ...ok(req, { data: { data: null, metadata: r.metadata } }), status: 404 };
        return { ...ok(req, { data: { data: r.data, metadata: r.metadata } }), auditData: { data: r.data, metadata: r.metadata } };
      },
      update: async (req, m) => writeData(req, m),
      patch: async (req, m) => patchData(req, m),
      delete: async (_req, m) => {
        await deleteVersions(database, ig, MOUNT, cleanPath(m[1]!), 'current');
        return done();
      },
    },
    // Vault: writing a path that does not exist yet needs `create`, an existing one `update`.
    capability: async (req, m) => {
      if (req.operation !== 'update') return req.operation;
      const md = await getMetadata(db, ig, MOUNT, cleanPath(m[1]!));
      // The write starts from this version (it is checked again under the row lock).
      seenCurrent.set(req, md?.currentVersion ?? 0);
      return md && md.currentVersion > 0 ? 'update' : 'create';
    },
  };

  /** RFC 7386 JSON merge patch: objects merge recursively, null removes a key. */
  function mergePatch(target: unknown, patch: unknown): unknown {
    if (patch === null || typeof patch !== 'object' || Array.isArray(patch)) return patch;
    const out: Record<string, unknown> = target && typeof target === 'object' && !Array.isArray(target) ? { ...(target as Record<string, unknown>) } : {};
    for (const [k, v] of Object.entries(patch)) {
      if (v === null) delete out[k];
      else out[k] = mergePatch(out[k], v);
    }
    return out;
  }

  /** PATCH data/: a new version from the current one and a merge patch (Vault: application/merge-patch+json). */
  async function patchData(req: VaultRequest, m: RegExpExecArray) {
    if (req.contentType !== 'application/merge-patch+json') {
      throw new VaultError(415, 'unsupported_media_type', ['PATCH requires Content-Type application/merge-patch+json']);
    }
    const path = cleanPath(m[1]!);
    const patch = req.body.data;
    if (!patch || typeof patch !== 'object' || Array.isArray(patch)) throw invalidRequest('no data provided');
    const current = await readSecret(loadRow, keys, ig, MOUNT, path, 0);
    if (current.kind !== 'ok') throw notFoundError();
    const options = req.body.options as Record<string, unknown> | undefined;
    const cas = options && typeof options === 'object' ? intField(options, 'cas') : undefined;
    const merged = mergePatch(current.data, patch) as Record<string, unknown>;
    // The patch applies to the version read: without an explicit cas, pin it so a concurrent
    // writer cannot be silently overwritten.
    const metadata = await write(path, merged, cas ?? current.metadata.version, undefined);
    return ok(req, { data: metadata });
  }

  async function writeData(req: VaultRequest, m: RegExpExecArray) {
    const path = cleanPath(m[1]!);
    const data = req.body.data;
    if (data === undefined || data === null) throw invalidRequest('no data provided');
    if (typeof data !== 'object' || Array.isArray(data)) throw invalidRequest('data must be a JSON object');
    const options = req.body.options;
    if (options !== undefined && (options === null || typeof options !== 'object' || Array.isArray(options))) {
      throw invalidRequest('options must be a JSON object');
    }
    const cas = options ? intField(options as Record<string, unknown>, 'cas') : undefined;
    if (cas !== undefined && cas < 0) throw invalidRequest('cas must be a non-negative integer');
    const metadata = await write(path, data as Record<string, unknown>, cas, seenCurrent.get(req));
    return ok(req, { data: metadata });
  }

  const metadataRoute: VaultRoute = {
    pattern: /^secret\/metadata(?:\/(.*))?$/,
    readsOnly: true,
    handlers: {
      list: async (req, m) => {
        const keysList = await listKeys(db, MOUNT, cleanPath(m[1] ?? '', true));
        if (keysList.length === 0) throw notFoundError();
        return ok(req, { data: { keys: keysList } });
      },
      read: async (req, m) => {
        const path = cleanPath(m[1] ?? '');
        const found = await getMetadataAndVersions(db, ig, MOUNT, path);
        if (!found) throw notFoundError();
        const { md, versions } = found;
        return ok(req, {
          data: {
            cas_required: md.casRequired,
            created_time: md.createdAt.toISOString(),
            current_version: md.currentVersion,
            custom_metadata: md.customMetadata ?? null,
            delete_version_after: formatDuration(md.deleteVersionAfterSeconds),
            max_versions: md.maxVersions,
            oldest_version: md.oldestVersion,
            updated_time: md.updatedAt.toISOString(),
            versions: Object.fromEntries(
              versions.map((v) => [
                String(v.version),
                { created_time: v.createdAt.toISOString(), deletion_time: v.deletedAt ? v.deletedAt.toISOString() : '', destroyed: v.destroyed },
              ]),
            ),
          },
        });
      },
      update: async (_req, m) => {
        const path = cleanPath(m[1] ?? '');
        const b = _req.body;
        const maxVersions = intField(b, 'max_versions');
        if (maxVersions !== undefined && maxVersions < 0) throw invalidRequest('max_versions must be non-negative');
        const dva = b.delete_version_after;
        const deleteVersionAfterSeconds = dva === undefined ? undefined : parseDuration(dva);
        if (dva !== undefined && deleteVersionAfterSeconds === undefined) throw invalidRequest('invalid delete_version_after');
        await putMetadata(database, ig, MOUNT, path, {
          maxVersions,
          casRequired: boolField(b, 'cas_required'),
          deleteVersionAfterSeconds,
          customMetadata: customMetadataOf(b.custom_metadata),
        });
        return done();
      },
      delete: async (_req, m) => {
        await deleteAll(database, ig, MOUNT, cleanPath(m[1] ?? ''));
        return done();
      },
    },
  };

  const versionsRoute = (verb: 'delete' | 'undelete' | 'destroy'): VaultRoute => ({
    pattern: new RegExp(`^secret/${verb}/(.+)$`),
    handlers: {
      update: async (req, m) => {
        const path = cleanPath(m[1]!);
        const versions = versionsOf(req.body);
        if (verb === 'delete') await deleteVersions(database, ig, MOUNT, path, versions);
        else if (verb === 'undelete') await undeleteVersions(database, ig, MOUNT, path, versions);
        else await destroyVersions(database, ig, MOUNT, path, versions);
        return done();
      },
    },
  });

  const mountInfo: VaultRoute = {
    // What the vault CLI asks to learn that secret/ is KV version 2.
    pattern: /^sys\/internal\/ui\/mounts\/(.+)$/,
    capability: () => 'read',
    handlers: {
      read: async (req, m) => {
        if (!m[1]!.startsWith('secret')) throw new VaultError(403, 'permission_denied', ['permission denied']);
        return ok(req, { data: { path: MOUNT, type: 'kv', options: { version: '2' }, description: 'key/value secret storage' } });
      },
    },
  };

  return [dataRoute, metadataRoute, versionsRoute('delete'), versionsRoute('undelete'), versionsRoute('destroy'), mountInfo];
}
