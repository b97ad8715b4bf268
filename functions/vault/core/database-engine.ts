// The database secrets engine's operations: dynamic credentials under a lease, their renewal and
// revocation (the lease engine), static-role and root password rotation.
// @see https://developer.hashicorp.com/vault/docs/secrets/databases
import { randomBytes } from 'node:crypto';
import type { Database, Queryable } from '#shared/db/index';
import {
  configContext,
  DATABASE_MOUNT,
  deleteNamed,
  getConfig,
  getRole,
  getStaticRole,
  nowMs,
  openPassword,
  putConfig,
  putStaticRole,
  sealPassword,
  staticContext,
  newPassword,
} from './database.js';
import {
  createUser,
  DEFAULT_ROOT_ROTATION,
  DEFAULT_ROTATION,
  renewUser,
  revokeUser,
  setPassword,
  TargetError,
  type Target,
  type TargetLimits,
} from './database-plugin.js';
import { invalidRequest } from './errors.js';
import type { RowMac } from './integrity.js';
import type { DekService } from './kv.js';
import { discardLease, insertLease, newLeaseId, type LeaseEngine } from './leases.js';
import type { DatabaseConfig, DatabaseStaticRole, Lease } from './schema.js';
import { formatExpiration } from './sql-template.js';
import { DEFAULT_TOKEN_TTL } from './tokens.js';

export interface EngineDeps {
  database: Database;
  /** The row MAC, fetched per use (it dies with a seal). */
  mac: () => Promise<RowMac>;
  keys: DekService;
  limits?: TargetLimits;
}

/** Vault's mount default and maximum lease TTL (768h). */
const SYSTEM_MAX_TTL = DEFAULT_TOKEN_TTL;

/** The connection's credentials; a password left pending by a crashed rotate-root is tried and promoted. */
async function withConfig<T>(deps: EngineDeps, name: string, fn: (target: Target, config: DatabaseConfig) => Promise<T>): Promise<T> {
  const mac = await deps.mac();
  const config = await getConfig(deps.database.db, mac, name);
  if (!config) throw invalidRequest(`no connection named "${name}"`);
  const password = await openPassword(deps.keys, configContext(name), config.passwordCiphertext, config.passwordWrappedDek);
  const target = { connectionUrl: config.connectionUrl, username: config.username, password };
  try {
    return await fn(target, config);
  } catch (err) {
    if (!(err instanceof TargetError) || err.sqlState !== '28P01' || !config.pendingCiphertext) throw err;
    const pending = await openPassword(deps.keys, configContext(name), config.pendingCiphertext, config.pendingWrappedDek);
    const result = await fn({ ...target, password: pending }, config);
    await promoteRootPassword(deps, name, config.pendingCiphertext);
    return result;
  }
}

async function promoteRootPassword(deps: EngineDeps, name: string, pending: Buffer): Promise<void> {
  await deps.database.transaction(async (tx) => {
    const mac = await deps.mac();
    const c = await getConfig(tx, mac, name, true);
    if (!c?.pendingCiphertext || !c.pendingCiphertext.equals(pending)) return;
    await putConfig(tx, mac, {
      ...c,
      passwordCiphertext: c.pendingCiphertext,
      passwordWrappedDek: c.pendingWrappedDek,
      pendingCiphertext: null,
      pendingWrappedDek: null,
      updatedAt: nowMs(),
    });
  });
}

/** Vault's PostgreSQL username: v-<display name>-<role>-<random>-<unix time>, at most 63 bytes. */
function dynamicUsername(displayName: string, role: string, now = Date.now()): string {
  const clean = (s: string) => s.replace(/[^A-Za-z0-9_-]/g, '').slice(0, 8);
  const random = randomBytes(15).toString('base64url').replace(/[^A-Za-z0-9]/g, 'x').slice(0, 20);
  return `v-${clean(displayName) || 'token'}-${clean(role)}-${random}-${Math.floor(now / 1000)}`.slice(0, 63);
}

interface Credentials {
  lease: Lease;
  username: string;
  password: string;
}

/**
 * database/creds/:role: the lease is stored first, then the user is created; a failed creation
 * deletes the lease (and its transaction left no user), a crash in between leaves a lease whose
 * revocation finds no user.
 */
export async function issueCredentials(deps: EngineDeps, roleName: string, displayName: string): Promise<Credentials> {
  const mac = await deps.mac();
  const role = await getRole(deps.database.db, mac, roleName);
  if (!role) throw invalidRequest(`unknown role: ${roleName}`);
  return withConfig(deps, role.dbName, async (target, config) => {
    if (!config.allowedRoles.includes('*') && !config.allowedRoles.includes(roleName)) {
      throw invalidRequest(`"${roleName}" is not an allowed role`);
    }
    const maxTtl = Math.min(role.maxTtlSeconds || SYSTEM_MAX_TTL, SYSTEM_MAX_TTL);
    const ttl = Math.min(role.defaultTtlSeconds || SYSTEM_MAX_TTL, maxTtl);
    const username = dynamicUsername(displayName, roleName);
    const password = newPassword();
    const leaseId = newLeaseId(DATABASE_MOUNT, roleName);
    const lease = await insertLease(deps.database.db, mac, leaseId, {
      engine: 'database',
      mount: DATABASE_MOUNT,
      role: roleName,
      ttlSeconds: ttl,
      maxTtlSeconds: maxTtl,
      renewable: true,
      revocation: { db_name: role.dbName, username, revocation_statements: role.revocationStatements, renew_statements: role.renewStatements },
    });
    try {
      await createUser(target, role.creationStatements, { name: username, password, expiration: formatExpiration(lease.expireTime) }, deps.limits);
    } catch (err) {
      await discardLease(deps.database.db, leaseId);
      throw err;
    }
    return { lease, username, password };
  });
}

const stringList = (v: unknown): string[] => (Array.isArray(v) && v.every((x) => typeof x === 'string') ? (v as string[]) : []);

/** Revokes and renews the users of database leases. */
export function databaseLeaseEngine(deps: EngineDeps): LeaseEngine {
  const details = (lease: Lease) => {
    const r = lease.revocation;
    if (typeof r.db_name !== 'string' || typeof r.username !== 'string') throw invalidRequest('the lease has no revocation data');
    return { dbName: r.db_name, username: r.username, revocation: stringList(r.revocation_statements), renew: stringList(r.renew_statements) };
  };
  return {
    async revoke(lease) {
      const d = details(lease);
      await withConfig(deps, d.dbName, (target) => revokeUser(target, d.username, d.revocation, deps.limits));
    },
    async renew(lease, expireTime) {
      const d = details(lease);
      await withConfig(deps, d.dbName, (target) => renewUser(target, d.username, d.renew, formatExpiration(expireTime), deps.limits));
    },
  };
}

/**
 * Rotates a static role's password: pending first (a rotation left half-done is finished with the
 * same password), then the target, then promoted. Returns the role as stored afterwards.
 */
export async function rotateStaticRole(deps: EngineDeps, name: string): Promise<DatabaseStaticRole> {
  const { database, keys } = deps;
  const staged = await database.transaction(async (tx) => {
    const mac = await deps.mac();
    const role = await getStaticRole(tx, mac, name, true);
    if (!role) throw invalidRequest(`unknown static role: ${name}`);
    if (role.pendingCiphertext) return role;
    const sealed = await sealPassword(keys, staticContext(name), newPassword());
    const next = { ...role, pendingCiphertext: sealed.ciphertext, pendingWrappedDek: sealed.wrappedDek };
    await putStaticRole(tx, mac, next);
    return next;
  });
  const password = (await openPassword(keys, staticContext(name), staged.pendingCiphertext, staged.pendingWrappedDek))!;
  await withConfig(deps, staged.dbName, (target) => setPassword(target, staged.username, staged.rotationStatements, password, DEFAULT_ROTATION, deps.limits));
  return promoteStatic(deps, name, staged.pendingCiphertext!);
}

async function promoteStatic(deps: EngineDeps, name: string, pending: Buffer): Promise<DatabaseStaticRole> {
  return deps.database.transaction(async (tx) => {
    const mac = await deps.mac();
    const role = await getStaticRole(tx, mac, name, true);
    if (!role) throw invalidRequest(`unknown static role: ${name}`);
    // Another rotation promoted it already.
    if (!role.pendingCiphertext || !role.pendingCiphertext.equals(pending)) return role;
    const next = {
      ...role,
      passwordCiphertext: role.pendingCiphertext,
      passwordWrappedDek: role.pendingWrappedDek,
      pendingCiphertext: null,
      pendingWrappedDek: null,
      lastRotation: nowMs(),
    };
    await putStaticRole(tx, mac, next);
    return next;
  });
}

/** The static role's current password, finishing a rotation left half-done first. */
export async function staticCredentials(deps: EngineDeps, name: string): Promise<{ role: DatabaseStaticRole; password: string }> {
  const mac = await deps.mac();
  let role = await getStaticRole(deps.database.db, mac, name);
  if (!role) throw invalidRequest(`unknown static role: ${name}`);
  if (role.pendingCiphertext || !role.passwordCiphertext) role = await rotateStaticRole(deps, name);
  const password = await openPassword(deps.keys, staticContext(name), role.passwordCiphertext, role.passwordWrappedDek);
  if (password === undefined) throw invalidRequest('the static role has no password yet');
  return { role, password };
}

/** database/rotate-root: a new password for the connection's own user, known only to the vault. */
export async function rotateRoot(deps: EngineDeps, name: string): Promise<void> {
  const { database, keys } = deps;
  const password = newPassword();
  const staged = await database.transaction(async (tx) => {
    const mac = await deps.mac();
    const c = await getConfig(tx, mac, name, true);
    if (!c) throw invalidRequest(`no connection named "${name}"`);
    if (!c.passwordCiphertext) throw invalidRequest('the connection has no password to rotate');
    const sealed = await sealPassword(keys, configContext(name), password);
    const next = { ...c, pendingCiphertext: sealed.ciphertext, pendingWrappedDek: sealed.wrappedDek, updatedAt: nowMs() };
    await putConfig(tx, mac, next);
    return next;
  });
  const current = await openPassword(keys, configContext(name), staged.passwordCiphertext, staged.passwordWrappedDek);
  const target = { connectionUrl: staged.connectionUrl, username: staged.username, password: current };
  try {
    await setPassword(target, staged.username, staged.rootRotationStatements, password, DEFAULT_ROOT_ROTATION, deps.limits);
  } catch (err) {
    // The target kept its password (the statements ran in one transaction): forget the pending one.
    await database.transaction(async (tx) => {
      const mac = await deps.mac();
      const c = await getConfig(tx, mac, name, true);
      if (c?.pendingCiphertext?.equals(staged.pendingCiphertext!)) {
        await putConfig(tx, mac, { ...c, pendingCiphertext: null, pendingWrappedDek: null, updatedAt: nowMs() });
      }
    });
    throw err;
  }
  await promoteRootPassword(deps, name, staged.pendingCiphertext!);
}

/** Creates a static role: its password is rotated at once, and a failure leaves no role. */
export async function createStaticRole(deps: EngineDeps, spec: Pick<DatabaseStaticRole, 'name' | 'dbName' | 'username' | 'rotationPeriodSeconds' | 'rotationStatements'>): Promise<void> {
  const mac = await deps.mac();
  const config = await getConfig(deps.database.db, mac, spec.dbName);
  if (!config) throw invalidRequest(`no connection named "${spec.dbName}"`);
  if (!config.allowedRoles.includes('*') && !config.allowedRoles.includes(spec.name)) throw invalidRequest(`"${spec.name}" is not an allowed role`);
  const sealed = await sealPassword(deps.keys, staticContext(spec.name), newPassword());
  const inserted = await insertStaticRole(deps.database.db, mac, { ...spec, passwordCiphertext: null, passwordWrappedDek: null, pendingCiphertext: sealed.ciphertext, pendingWrappedDek: sealed.wrappedDek, lastRotation: null });
  if (!inserted) throw invalidRequest(`static role "${spec.name}" was created concurrently`);
  try {
    await rotateStaticRole(deps, spec.name);
  } catch (err) {
    await deleteNamed(deps.database.db, 'database_static_roles', spec.name);
    throw err;
  }
}

async function insertStaticRole(db: Queryable, mac: RowMac, r: Parameters<typeof putStaticRole>[2]): Promise<boolean> {
  const existing = await getStaticRole(db, mac, r.name);
  if (existing) return false;
  await putStaticRole(db, mac, r);
  return true;
}
