// database/: the PostgreSQL database secrets engine. Connections (config, rotate-root), dynamic
// roles and their credentials under a lease (creds), static roles and their rotated passwords
// (static-roles, static-creds, rotate-role). The mount is created at first configuration.
// @see https://developer.hashicorp.com/vault/api-docs/secret/databases
// @see https://developer.hashicorp.com/vault/api-docs/secret/databases/postgresql
import type { Database } from '#shared/db/index';
import { parseDuration } from '#functions/vault/core/duration';
import { checkConnectionUrl, DEFAULT_ROTATION, redactUrl, verifyConnection } from '#functions/vault/core/database-plugin';
import {
  checkName,
  configContext,
  deleteNamed,
  existsNamed,
  getConfig,
  getRole,
  getStaticRole,
  listNames,
  nowMs,
  openPassword,
  putConfig,
  putRole,
  putStaticRole,
  sealPassword,
} from '#functions/vault/core/database';
import { createStaticRole, issueCredentials, rotateRoot, rotateStaticRole, staticCredentials, type EngineDeps } from '#functions/vault/core/database-engine';
import { invalidRequest, notFoundError } from '#functions/vault/core/errors';
import type { DatabaseStaticRole } from '#functions/vault/core/schema';
import { formatExpiration, renderStatement, statementsOf } from '#functions/vault/core/sql-template';
import { assertNoNul, boolField, envelope } from '#functions/vault/core/wire';
import { done, ok } from './pipeline.js';
import type { VaultRequest, VaultRoute } from './route.js';

const PLUGIN = 'postgresql-database-plugin';
/** Vault's smallest rotation period for static roles. */
const MIN_ROTATION = 5;

function stringField(body: Record<string, unknown>, key: string, max = 1024): string | undefined {
  const v = body[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string' || v.length > max) throw invalidRequest(`${key} must be a string of at most ${max} characters`);
  assertNoNul(v, key);
  return v;
}

function listField(body: Record<string, unknown>, key: string): string[] | undefined {
  const v = body[key];
  if (v === undefined || v === null) return undefined;
  const list = typeof v === 'string' ? v.split(',').map((s) => s.trim()).filter(Boolean) : v;
  if (!Array.isArray(list) || !list.every((s) => typeof s === 'string' && s.length <= 256)) throw invalidRequest(`${key} must be a list of names`);
  assertNoNul(list, key);
  return list as string[];
}

function durationField(body: Record<string, unknown>, key: string): number | undefined {
  const v = body[key];
  if (v === undefined || v === null || v === '') return undefined;
  const d = parseDuration(v);
  if (d === undefined) throw invalidRequest(`invalid ${key}`);
  return d;
}

/** Statements of a field, each checked to fill with the engine's placeholders (unknown ones: 400). */
function statementsField(body: Record<string, unknown>, key: string): string[] | undefined {
  const list = statementsOf(body[key], key);
  assertNoNul(list, key);
  for (const s of list ?? []) renderStatement(s, { name: 'n', username: 'u', password: 'p', expiration: formatExpiration(new Date()) });
  return list;
}

const rfc3339 = (d: Date | null) => (d ? d.toISOString() : null);

export function databaseRoutes(database: Database, deps: EngineDeps, ensureMount: () => Promise<void>): VaultRoute[] {
  const db = database.db;
  const mac = deps.mac;

  const exists = (table: 'database_configs' | 'database_roles' | 'database_static_roles') => async (req: VaultRequest, m: RegExpExecArray) => {
    if (req.operation !== 'update') return req.operation;
    return (await existsNamed(db, table, m[1]!)) ? 'update' : 'create';
  };

  const writeConfig = async (req: VaultRequest, m: RegExpExecArray) => {
    const name = checkName(m[1]!, 'connection');
    const b = req.body;
    const existing = await getConfig(db, await mac(), name);
    const plugin = stringField(b, 'plugin_name') ?? existing?.pluginName;
    if (plugin === undefined) throw invalidRequest('plugin_name is required');
    if (plugin !== PLUGIN) throw invalidRequest(`unsupported plugin_name "${plugin}": this vault has ${PLUGIN}`);
    const connectionUrl = stringField(b, 'connection_url', 2048) ?? existing?.connectionUrl;
    if (!connectionUrl) throw invalidRequest('connection_url is required');
    checkConnectionUrl(connectionUrl);
    const username = stringField(b, 'username', 63) ?? existing?.username ?? '';
    const password = stringField(b, 'password');
    const allowedRoles = listField(b, 'allowed_roles') ?? existing?.allowedRoles ?? [];
    const verify = boolField(b, 'verify_connection') ?? true;
    const rootRotation = statementsField(b, 'root_rotation_statements') ?? existing?.rootRotationStatements ?? [];
    if (verify) {
      const current = password ?? (existing ? await openPassword(deps.keys, configContext(name), existing.passwordCiphertext, existing.passwordWrappedDek) : undefined);
      await verifyConnection({ connectionUrl, username, password: current }, deps.limits).catch((err: Error) => {
        throw invalidRequest(`error creating database object: ${err.message}`);
      });
    }
    await ensureMount();
    const sealed = password === undefined ? undefined : await sealPassword(deps.keys, configContext(name), password);
    await putConfig(db, await mac(), {
      name,
      pluginName: plugin,
      connectionUrl,
      username,
      allowedRoles,
      verifyConnection: verify,
      rootRotationStatements: rootRotation,
      passwordCiphertext: sealed ? sealed.ciphertext : (existing?.passwordCiphertext ?? null),
      passwordWrappedDek: sealed ? sealed.wrappedDek : (existing?.passwordWrappedDek ?? null),
      pendingCiphertext: null,
      pendingWrappedDek: null,
      updatedAt: nowMs(),
    });
    return done();
  };

  const writeRole = async (req: VaultRequest, m: RegExpExecArray) => {
    const name = checkName(m[1]!, 'role');
    const b = req.body;
    const existing = await getRole(db, await mac(), name);
    const dbName = stringField(b, 'db_name', 128) ?? existing?.dbName;
    if (!dbName) throw invalidRequest('db_name is required');
    if (!(await getConfig(db, await mac(), checkName(dbName, 'connection')))) throw invalidRequest(`no connection named "${dbName}"`);
    const creation = statementsField(b, 'creation_statements') ?? existing?.creationStatements;
    if (!creation || creation.length === 0) throw invalidRequest('creation_statements are required');
    const defaultTtl = durationField(b, 'default_ttl') ?? existing?.defaultTtlSeconds ?? 0;
    const maxTtl = durationField(b, 'max_ttl') ?? existing?.maxTtlSeconds ?? 0;
    if (maxTtl > 0 && defaultTtl > maxTtl) throw invalidRequest('default_ttl cannot be greater than max_ttl');
    await putRole(db, await mac(), {
      name,
      dbName,
      creationStatements: creation,
      revocationStatements: statementsField(b, 'revocation_statements') ?? existing?.revocationStatements ?? [],
      rollbackStatements: statementsField(b, 'rollback_statements') ?? existing?.rollbackStatements ?? [],
      renewStatements: statementsField(b, 'renew_statements') ?? existing?.renewStatements ?? [],
      defaultTtlSeconds: defaultTtl,
      maxTtlSeconds: maxTtl,
    });
    return done();
  };

  const writeStaticRole = async (req: VaultRequest, m: RegExpExecArray) => {
    const name = checkName(m[1]!, 'role');
    const b = req.body;
    const existing = await getStaticRole(db, await mac(), name);
    const dbName = stringField(b, 'db_name', 128) ?? existing?.dbName;
    if (!dbName) throw invalidRequest('db_name is required');
    checkName(dbName, 'connection');
    const username = stringField(b, 'username', 63) ?? existing?.username;
    if (!username) throw invalidRequest('username is required');
    if (existing && username !== existing.username) throw invalidRequest('cannot update static account username');
    const period = durationField(b, 'rotation_period') ?? existing?.rotationPeriodSeconds;
    if (period === undefined) throw invalidRequest('rotation_period is required');
    if (period < MIN_ROTATION) throw invalidRequest(`rotation_period must be ${MIN_ROTATION} seconds or more`);
    const rotation = statementsField(b, 'rotation_statements') ?? existing?.rotationStatements ?? [];
    if (!existing) {
      await ensureMount();
      await createStaticRole(deps, { name, dbName, username, rotationPeriodSeconds: period, rotationStatements: rotation });
      return done();
    }
    await database.transaction(async (tx) => {
      const row = await getStaticRole(tx, await mac(), name, true);
      if (!row) throw invalidRequest(`unknown static role: ${name}`);
      await putStaticRole(tx, await mac(), { ...row, dbName, rotationPeriodSeconds: period, rotationStatements: rotation });
    });
    return done();
  };

  const staticData = (r: DatabaseStaticRole) => ({
    db_name: r.dbName,
    username: r.username,
    rotation_period: r.rotationPeriodSeconds,
    rotation_statements: r.rotationStatements.length ? r.rotationStatements : DEFAULT_ROTATION,
    last_vault_rotation: rfc3339(r.lastRotation),
    credential_type: 'password',
    credential_config: {},
  });

  const list = (table: 'database_configs' | 'database_roles' | 'database_static_roles') => async (req: VaultRequest) => {
    const keys = await listNames(db, table);
    if (keys.length === 0) throw notFoundError();
    return ok(req, { data: { keys } });
  };

  return [
    { pattern: /^database\/config$/, readsOnly: true, handlers: { list: list('database_configs') } },
    {
      pattern: /^database\/config\/([^/]+)$/,
      readsOnly: true,
      capability: exists('database_configs'),
      handlers: {
        read: async (req, m) => {
          const c = await getConfig(db, await mac(), checkName(m[1]!, 'connection'));
          if (!c) throw notFoundError();
          return ok(req, {
            data: {
              plugin_name: c.pluginName,
              plugin_version: '',
              connection_details: { connection_url: redactUrl(c.connectionUrl), username: c.username },
              allowed_roles: c.allowedRoles,
              root_credentials_rotate_statements: c.rootRotationStatements,
              password_policy: '',
              verify_connection: c.verifyConnection,
            },
          });
        },
        update: writeConfig,
        delete: async (_req, m) => {
          await deleteNamed(db, 'database_configs', checkName(m[1]!, 'connection'));
          return done();
        },
      },
    },
    {
      pattern: /^database\/rotate-root\/([^/]+)$/,
      handlers: {
        update: async (_req, m) => {
          await rotateRoot(deps, checkName(m[1]!, 'connection'));
          return done();
        },
      },
    },
    { pattern: /^database\/roles$/, readsOnly: true, handlers: { list: list('database_roles') } },
    {
      pattern: /^database\/roles\/([^/]+)$/,
      readsOnly: true,
      capability: exists('database_roles'),
      handlers: {
        read: async (req, m) => {
          const r = await getRole(db, await mac(), checkName(m[1]!, 'role'));
          if (!r) throw notFoundError();
          return ok(req, {
            data: {
              db_name: r.dbName,
              creation_statements: r.creationStatements,
              revocation_statements: r.revocationStatements,
              rollback_statements: r.rollbackStatements,
              renew_statements: r.renewStatements,
              default_ttl: r.defaultTtlSeconds,
              max_ttl: r.maxTtlSeconds,
              credential_type: 'password',
              credential_config: {},
            },
          });
        },
        update: writeRole,
        delete: async (_req, m) => {
          await deleteNamed(db, 'database_roles', checkName(m[1]!, 'role'));
          return done();
        },
      },
    },
    {
      pattern: /^database\/creds\/([^/]+)$/,
      handlers: {
        read: async (req, m) => {
          const { lease, username, password } = await issueCredentials(deps, checkName(m[1]!, 'role'), req.token?.displayName ?? 'token');
          const data = { username, password };
          const body = { ...envelope(req.requestId, { data }), lease_id: lease.leaseId, renewable: lease.renewable, lease_duration: lease.ttlSeconds };
          return { status: 200, body };
        },
      },
    },
    { pattern: /^database\/static-roles$/, readsOnly: true, handlers: { list: list('database_static_roles') } },
    {
      pattern: /^database\/static-roles\/([^/]+)$/,
      readsOnly: true,
      capability: exists('database_static_roles'),
      handlers: {
        read: async (req, m) => {
          const r = await getStaticRole(db, await mac(), checkName(m[1]!, 'role'));
          if (!r) throw notFoundError();
          return ok(req, { data: staticData(r) });
        },
        update: writeStaticRole,
        delete: async (_req, m) => {
          await deleteNamed(db, 'database_static_roles', checkName(m[1]!, 'role'));
          return done();
        },
      },
    },
    {
      pattern: /^database\/static-creds\/([^/]+)$/,
      handlers: {
        read: async (req, m) => {
          const { role, password } = await staticCredentials(deps, checkName(m[1]!, 'role'));
          const next = (role.lastRotation?.getTime() ?? Date.now()) + role.rotationPeriodSeconds * 1000;
          return ok(req, {
            data: {
              username: role.username,
              password,
              last_vault_rotation: rfc3339(role.lastRotation),
              rotation_period: role.rotationPeriodSeconds,
              ttl: Math.max(0, Math.floor((next - Date.now()) / 1000)),
            },
          });
        },
      },
    },
    {
      pattern: /^database\/rotate-role\/([^/]+)$/,
      handlers: {
        update: async (_req, m) => {
          await rotateStaticRole(deps, checkName(m[1]!, 'role'));
          return done();
        },
      },
    },
  ];
}
