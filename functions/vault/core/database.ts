// The database secrets engine's storage: connections (database/config), dynamic roles, static
// roles. Passwords are sealed under a DEK of the `database/` mount and never returned; every row is
// MAC'd, since its statements run on the target with the connection's (often superuser) rights.
// Password changes are two-phase: the new password is stored as pending, set on the target, then
// promoted; a crash in between is finished by the next use (the pending password is tried).
// @see https://developer.hashicorp.com/vault/api-docs/secret/databases
import { randomBytes } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { rowsOf, type Queryable } from '#shared/db/index';
import { aad, open, seal } from './envelope.js';
import { invalidRequest } from './errors.js';
import type { MacValue, RowMac } from './integrity.js';
import type { DekService } from './kv.js';
import type { DatabaseConfig, DatabaseRole, DatabaseStaticRole } from './schema.js';

export const DATABASE_MOUNT = 'database/';

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

/** Names of connections and roles: they become lease ids, DEK contexts and database user names. */
export function checkName(raw: string, what: string): string {
  if (!NAME.test(raw)) throw invalidRequest(`invalid ${what} name: use letters, digits, '.', '_' and '-' (at most 128)`);
  return raw;
}

/** A random password of 32 characters from [A-Za-z0-9_-] (192 bits). */
export const newPassword = () => `A1a-${randomBytes(24).toString('base64url')}`;

const configMacFields = (c: Omit<DatabaseConfig, 'mac'>): MacValue[] => [
  c.name, c.pluginName, c.connectionUrl, c.username, c.allowedRoles, c.verifyConnection, c.rootRotationStatements,
  c.passwordCiphertext, c.passwordWrappedDek, c.pendingCiphertext, c.pendingWrappedDek, c.updatedAt,
];

const roleMacFields = (r: Omit<DatabaseRole, 'mac'>): MacValue[] => [
  r.name, r.dbName, r.creationStatements, r.revocationStatements, r.rollbackStatements, r.renewStatements, r.defaultTtlSeconds, r.maxTtlSeconds,
];

const staticRoleMacFields = (r: Omit<DatabaseStaticRole, 'mac' | 'nextAttemptAt' | 'lastError'>): MacValue[] => [
  r.name, r.dbName, r.username, r.rotationPeriodSeconds, r.rotationStatements, r.passwordCiphertext, r.passwordWrappedDek,
  r.pendingCiphertext, r.pendingWrappedDek, r.lastRotation,
];

const toDate = (v: unknown) => (v === null || v === undefined ? null : v instanceof Date ? v : new Date(String(v)));
const buf = (v: unknown) => (v === null || v === undefined ? null : Buffer.from(v as Uint8Array));
const textArray = (v: unknown): string[] => {
  if (Array.isArray(v)) return v as string[];
  throw new TypeError('expected a text[] column as an array');
};

/** A sealed password: ciphertext and wrapped DEK, bound to its row by the DEK context. */
interface Sealed {
  ciphertext: Buffer;
  wrappedDek: Buffer;
}

export async function sealPassword(keys: DekService, context: string, password: string): Promise<Sealed> {
  const { dek, wrapped } = await keys.newDek(DATABASE_MOUNT, context);
  try {
    return { ciphertext: seal(dek, Buffer.from(password, 'utf8'), aad.data(DATABASE_MOUNT, context)), wrappedDek: wrapped };
  } finally {
    dek.fill(0);
  }
}

export async function openPassword(keys: DekService, context: string, ciphertext: Buffer | null, wrappedDek: Buffer | null): Promise<string | undefined> {
  if (!ciphertext || !wrappedDek) return undefined;
  const dek = await keys.unwrapDek(DATABASE_MOUNT, context, wrappedDek);
  try {
    const plain = open(dek, ciphertext, aad.data(DATABASE_MOUNT, context));
    const text = plain.toString('utf8');
    plain.fill(0);
    return text;
  } finally {
    dek.fill(0);
  }
}

export const configContext = (name: string) => `config/${name}`;
export const staticContext = (name: string) => `static-role/${name}`;

// --- connections ---

function configFromRaw(r: Record<string, unknown>): DatabaseConfig {
  return {
    name: String(r.name),
    pluginName: String(r.plugin_name),
    connectionUrl: String(r.connection_url),
    username: String(r.username),
    allowedRoles: textArray(r.allowed_roles),
    verifyConnection: Boolean(r.verify_connection),
    rootRotationStatements: textArray(r.root_rotation_statements),
    passwordCiphertext: buf(r.password_ciphertext),
    passwordWrappedDek: buf(r.password_wrapped_dek),
    pendingCiphertext: buf(r.pending_ciphertext),
    pendingWrappedDek: buf(r.pending_wrapped_dek),
    updatedAt: toDate(r.updated_at)!,
    mac: Buffer.from(r.mac as Uint8Array),
  };
}

export async function getConfig(db: Queryable, mac: RowMac, name: string, lock = false): Promise<DatabaseConfig | undefined> {
  const [raw] = rowsOf<Record<string, unknown>>(
    await db.execute(sql`select * from vault.database_configs where name = ${name} ${lock ? sql`for update` : sql``}`),
  );
  if (!raw) return undefined;
  const c = configFromRaw(raw);
  mac.check('database_configs', configMacFields(c), c.mac);
  return c;
}

export async function putConfig(db: Queryable, mac: RowMac, c: Omit<DatabaseConfig, 'mac'>): Promise<void> {
  const signed = mac.sign('database_configs', configMacFields(c));
  await db.execute(sql`
    insert into vault.database_configs (name, plugin_name, connection_url, username, allowed_roles, verify_connection,
      root_rotation_statements, password_ciphertext, password_wrapped_dek, pending_ciphertext, pending_wrapped_dek, updated_at, mac)
    values (${c.name}, ${c.pluginName}, ${c.connectionUrl}, ${c.username}, ${textArrayParam(c.allowedRoles)}, ${c.verifyConnection},
      ${textArrayParam(c.rootRotationStatements)}, ${c.passwordCiphertext}, ${c.passwordWrappedDek}, ${c.pendingCiphertext},
      ${c.pendingWrappedDek}, ${ts(c.updatedAt)}, ${signed})
    on conflict (name) do update set plugin_name = excluded.plugin_name, connection_url = excluded.connection_url,
      username = excluded.username, allowed_roles = excluded.allowed_roles, verify_connection = excluded.verify_connection,
      root_rotation_statements = excluded.root_rotation_statements, password_ciphertext = excluded.password_ciphertext,
      password_wrapped_dek = excluded.password_wrapped_dek, pending_ciphertext = excluded.pending_ciphertext,
      pending_wrapped_dek = excluded.pending_wrapped_dek, updated_at = excluded.updated_at, mac = excluded.mac`);
}

/** A timestamptz parameter (drivers differ on Date values): ISO text, cast. */
const ts = (d: Date | null) => sql`${d ? d.toISOString() : null}::timestamptz`;

type NamedTable = 'database_configs' | 'database_roles' | 'database_static_roles';

/** A text[] parameter (drivers differ on arrays): built server-side from JSON. */
const textArrayParam = (list: readonly string[]) => sql`array(select jsonb_array_elements_text(${JSON.stringify(list)}::jsonb))`;

export async function listNames(db: Queryable, table: NamedTable): Promise<string[]> {
  return rowsOf<{ name: string }>(await db.execute(sql`select name from ${sql.identifier('vault')}.${sql.identifier(table)} order by name`)).map((r) => r.name);
}

/** Whether a row of that name exists (create vs update capability). */
export async function existsNamed(db: Queryable, table: NamedTable, name: string): Promise<boolean> {
  return rowsOf(await db.execute(sql`select 1 from ${sql.identifier('vault')}.${sql.identifier(table)} where name = ${name}`)).length > 0;
}

export async function deleteNamed(db: Queryable, table: NamedTable, name: string): Promise<void> {
  await db.execute(sql`delete from ${sql.identifier('vault')}.${sql.identifier(table)} where name = ${name}`);
}

// --- dynamic roles ---

function roleFromRaw(r: Record<string, unknown>): DatabaseRole {
  return {
    name: String(r.name),
    dbName: String(r.db_name),
    creationStatements: textArray(r.creation_statements),
    revocationStatements: textArray(r.revocation_statements),
    rollbackStatements: textArray(r.rollback_statements),
    renewStatements: textArray(r.renew_statements),
    defaultTtlSeconds: Number(r.default_ttl_seconds),
    maxTtlSeconds: Number(r.max_ttl_seconds),
    mac: Buffer.from(r.mac as Uint8Array),
  };
}

export async function getRole(db: Queryable, mac: RowMac, name: string): Promise<DatabaseRole | undefined> {
  const [raw] = rowsOf<Record<string, unknown>>(await db.execute(sql`select * from vault.database_roles where name = ${name}`));
  if (!raw) return undefined;
  const r = roleFromRaw(raw);
  mac.check('database_roles', roleMacFields(r), r.mac);
  return r;
}

export async function putRole(db: Queryable, mac: RowMac, r: Omit<DatabaseRole, 'mac'>): Promise<void> {
  const signed = mac.sign('database_roles', roleMacFields(r));
  await db.execute(sql`
    insert into vault.database_roles (name, db_name, creation_statements, revocation_statements, rollback_statements,
      renew_statements, default_ttl_seconds, max_ttl_seconds, mac)
    values (${r.name}, ${r.dbName}, ${textArrayParam(r.creationStatements)}, ${textArrayParam(r.revocationStatements)},
      ${textArrayParam(r.rollbackStatements)}, ${textArrayParam(r.renewStatements)}, ${r.defaultTtlSeconds}::int, ${r.maxTtlSeconds}::int, ${signed})
    on conflict (name) do update set db_name = excluded.db_name, creation_statements = excluded.creation_statements,
      revocation_statements = excluded.revocation_statements, rollback_statements = excluded.rollback_statements,
      renew_statements = excluded.renew_statements, default_ttl_seconds = excluded.default_ttl_seconds,
      max_ttl_seconds = excluded.max_ttl_seconds, mac = excluded.mac`);
}

// --- static roles ---

function staticFromRaw(r: Record<string, unknown>): DatabaseStaticRole {
  return {
    name: String(r.name),
    dbName: String(r.db_name),
    username: String(r.username),
    rotationPeriodSeconds: Number(r.rotation_period_seconds),
    rotationStatements: textArray(r.rotation_statements),
    passwordCiphertext: buf(r.password_ciphertext),
    passwordWrappedDek: buf(r.password_wrapped_dek),
    pendingCiphertext: buf(r.pending_ciphertext),
    pendingWrappedDek: buf(r.pending_wrapped_dek),
    lastRotation: toDate(r.last_rotation),
    nextAttemptAt: toDate(r.next_attempt_at),
    lastError: r.last_error === null ? null : String(r.last_error),
    mac: Buffer.from(r.mac as Uint8Array),
  };
}

export async function getStaticRole(db: Queryable, mac: RowMac, name: string, lock = false): Promise<DatabaseStaticRole | undefined> {
  const [raw] = rowsOf<Record<string, unknown>>(
    await db.execute(sql`select * from vault.database_static_roles where name = ${name} ${lock ? sql`for update` : sql``}`),
  );
  if (!raw) return undefined;
  const r = staticFromRaw(raw);
  mac.check('database_static_roles', staticRoleMacFields(r), r.mac);
  return r;
}

export async function putStaticRole(db: Queryable, mac: RowMac, r: Omit<DatabaseStaticRole, 'mac' | 'nextAttemptAt' | 'lastError'>): Promise<void> {
  const signed = mac.sign('database_static_roles', staticRoleMacFields(r));
  await db.execute(sql`
    insert into vault.database_static_roles (name, db_name, username, rotation_period_seconds, rotation_statements,
      password_ciphertext, password_wrapped_dek, pending_ciphertext, pending_wrapped_dek, last_rotation, next_attempt_at, last_error, mac)
    values (${r.name}, ${r.dbName}, ${r.username}, ${r.rotationPeriodSeconds}::int, ${textArrayParam(r.rotationStatements)},
      ${r.passwordCiphertext}, ${r.passwordWrappedDek}, ${r.pendingCiphertext}, ${r.pendingWrappedDek}, ${ts(r.lastRotation)}, null, null, ${signed})
    on conflict (name) do update set db_name = excluded.db_name, username = excluded.username,
      rotation_period_seconds = excluded.rotation_period_seconds, rotation_statements = excluded.rotation_statements,
      password_ciphertext = excluded.password_ciphertext, password_wrapped_dek = excluded.password_wrapped_dek,
      pending_ciphertext = excluded.pending_ciphertext, pending_wrapped_dek = excluded.pending_wrapped_dek,
      last_rotation = excluded.last_rotation, next_attempt_at = null, last_error = null, mac = excluded.mac`);
}

/** A failed scheduled rotation: visible on the row, retried after `seconds`. */
export async function noteRotationFailure(db: Queryable, name: string, message: string, seconds: number): Promise<void> {
  await db.execute(sql`
    update vault.database_static_roles set last_error = ${message.slice(0, 1000)},
      next_attempt_at = now() + make_interval(secs => ${seconds}::int)
    where name = ${name}`);
}

/** Static roles whose rotation period has passed (or whose rotation was left half-done). */
export async function dueStaticRoles(db: Queryable, limit = 100): Promise<string[]> {
  return rowsOf<{ name: string }>(
    await db.execute(sql`
      select name from vault.database_static_roles
      where (pending_ciphertext is not null or last_rotation is null
             or last_rotation + make_interval(secs => rotation_period_seconds) <= now())
        and (next_attempt_at is null or next_attempt_at <= now())
      order by last_rotation nulls first limit ${limit}::int`),
  ).map((r) => r.name);
}

/** Timestamps the MAC covers, written from JS (millisecond precision survives the round trip). */
export const nowMs = () => new Date(Date.now());
