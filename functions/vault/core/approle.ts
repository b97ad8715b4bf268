// AppRole: roles (a role id, constraints on secret ids, token settings) and their secret ids.
// A secret id is 256 random bits (or an operator's custom value) shown once; rows hold only its
// keyed hash, HMAC-SHA-256 under the row-MAC key (a database reader cannot test guesses of a
// weak custom secret id offline). Every row carries a row MAC; a use of a limited secret id
// locks its row, checks it, and rewrites count and MAC in one transaction, so N concurrent
// logins with an N-use secret id get exactly N tokens.
// @see https://developer.hashicorp.com/vault/api-docs/auth/approle
import { randomUUID } from 'node:crypto';
import { asc, eq, lt, sql } from 'drizzle-orm';
import type { Queryable } from '#shared/db/index';
import { addressAllowed, cidrsWithin, parseCidrList } from './cidr.js';
import { VaultError, invalidRequest } from './errors.js';
import { withSeq, type MacValue, type RowMac } from './integrity.js';
import { nextRowSeq, type GoneRow } from './row-seq.js';
import { approleRoles, approleSecretIds } from './schema.js';
import { countField, durationField, flagField, parseTokenSettings, storedTokenSettings, type TokenSettings } from './token-settings.js';

const ROLE_NAME = /^[A-Za-z0-9_.-]{1,128}$/;
const ROLE_ID = /^[\x21-\x7e]{1,512}$/;
const ROLES = 'approle_roles';
const SECRET_IDS = 'approle_secret_ids';

export interface AppRole extends TokenSettings {
  name: string;
  role_id: string;
  bind_secret_id: boolean;
  secret_id_bound_cidrs: string[];
  secret_id_num_uses: number;
  secret_id_ttl: number;
}

type RoleRow = typeof approleRoles.$inferSelect;
type SecretIdRow = typeof approleSecretIds.$inferSelect;

/** A role's MAC'd fields, then its seq (core/row-seq.ts: a fresh `row_seq` value at each write). */
const roleMacFields = (r: { name: string; roleId: string; settings: Record<string, unknown>; seq: number }): MacValue[] =>
  withSeq([r.name, r.roleId, r.settings], r.seq);

/** A secret id's MAC'd fields, then its seq: 1 at creation, one more at each use (its accessor is never reused). */
const secretIdMacFields = (r: Omit<SecretIdRow, 'mac'>): MacValue[] => withSeq([
  r.hash,
  r.roleName,
  r.accessor,
  r.metadata,
  r.cidrList,
  r.tokenBoundCidrs,
  r.numUses,
  r.ttlSeconds,
  r.createdAt,
  r.expiresAt,
], r.seq);

function roleFrom(row: RoleRow, mac: RowMac, since: number): AppRole {
  mac.check(ROLES, roleMacFields(row), row.mac);
  mac.observe(ROLES, row.name, row.seq, since);
  const s = row.settings;
  return {
    name: row.name,
    role_id: row.roleId,
    bind_secret_id: s.bind_secret_id !== false,
    secret_id_bound_cidrs: (s.secret_id_bound_cidrs as string[] | undefined) ?? [],
    secret_id_num_uses: Number(s.secret_id_num_uses ?? 0),
    secret_id_ttl: Number(s.secret_id_ttl ?? 0),
    ...storedTokenSettings(s),
  };
}

function settingsOf(r: AppRole): Record<string, unknown> {
  const { name: _n, role_id: _r, ...settings } = r;
  return settings;
}

/** The role, checked; `forShare` locks its row until the transaction ends (a delete waits). */
export async function readRole(db: Queryable, mac: RowMac, name: string, forShare = false): Promise<AppRole | undefined> {
  if (!ROLE_NAME.test(name)) return undefined;
  const since = mac.clock();
  const query = db.select().from(approleRoles).where(eq(approleRoles.name, name));
  const [row] = forShare ? await query.for('share') : await query;
  return row ? roleFrom(row, mac, since) : undefined;
}

export async function roleByRoleId(db: Queryable, mac: RowMac, roleId: string): Promise<AppRole | undefined> {
  if (!ROLE_ID.test(roleId)) return undefined;
  const since = mac.clock();
  const [row] = await db.select().from(approleRoles).where(eq(approleRoles.roleId, roleId));
  return row ? roleFrom(row, mac, since) : undefined;
}

export async function listRoles(db: Queryable): Promise<string[]> {
  const rows = await db.select({ name: approleRoles.name }).from(approleRoles).orderBy(asc(approleRoles.name));
  return rows.map((r) => r.name);
}

/** Creates or updates a role from a request body; fields absent keep their value. */
export async function writeRole(db: Queryable, mac: RowMac, name: string, body: Record<string, unknown>): Promise<AppRole> {
  if (!ROLE_NAME.test(name)) throw invalidRequest('invalid role name');
  const prev = await readRole(db, mac, name);
  const roleId = body.role_id === undefined ? (prev?.role_id ?? randomUUID()) : String(body.role_id);
  if (!ROLE_ID.test(roleId)) throw invalidRequest('invalid role_id');
  const role: AppRole = {
    name,
    role_id: roleId,
    bind_secret_id: flagField(body, 'bind_secret_id') ?? prev?.bind_secret_id ?? true,
    secret_id_bound_cidrs: parseCidrList(body.secret_id_bound_cidrs ?? body.bound_cidr_list, 'secret_id_bound_cidrs') ?? prev?.secret_id_bound_cidrs ?? [],
    secret_id_num_uses: countField(body, 'secret_id_num_uses') ?? prev?.secret_id_num_uses ?? 0,
    secret_id_ttl: durationField(body, 'secret_id_ttl') ?? prev?.secret_id_ttl ?? 0,
    ...parseTokenSettings(body, prev),
  };
  // Vault: a role must constrain its logins somehow.
  if (!role.bind_secret_id && role.secret_id_bound_cidrs.length === 0 && role.token_bound_cidrs.length === 0) {
    throw invalidRequest('at least one constraint should be enabled on the role');
  }
  const settings = settingsOf(role);
  const seq = await nextRowSeq(db);
  const m = mac.sign(ROLES, roleMacFields({ name, roleId, settings, seq }));
  try {
    // Of two writes racing, the one with the higher seq stays: a row's seq never goes down. The
    // seq is remembered when read back (the caller's transaction may still roll back).
    await db
      .insert(approleRoles)
      .values({ name, roleId, settings, seq, mac: m })
      .onConflictDoUpdate({ target: approleRoles.name, set: { roleId, settings, seq, mac: m }, setWhere: lt(approleRoles.seq, seq) });
  } catch (err) {
    if ((err as { code?: string }).code === '23505' || (err as { cause?: { code?: string } }).cause?.code === '23505') {
      throw invalidRequest('role_id already in use');
    }
    throw err;
  }
  return role;
}

/**
 * Deletes a role and every secret id issued under it. The role goes first: a secret id being
 * generated holds the role row FOR SHARE, so the delete waits for it to commit, and the next
 * statement (a fresh snapshot) deletes it too; no secret id outlives its role to be inherited
 * by a new role of the same name.
 */
export async function deleteRole(db: Queryable, name: string): Promise<GoneRow[]> {
  const roles = await db.delete(approleRoles).where(eq(approleRoles.name, name)).returning({ seq: approleRoles.seq });
  const ids = await db.delete(approleSecretIds).where(eq(approleSecretIds.roleName, name)).returning({ accessor: approleSecretIds.accessor });
  return [
    ...roles.map((r) => ({ table: ROLES, id: name, seq: r.seq })),
    ...ids.map((i) => ({ table: SECRET_IDS, id: i.accessor, seq: Infinity })),
  ];
}

/** The keyed hash a secret id is stored and found by: bound to its role. */
const secretIdHash = (mac: RowMac, roleName: string, secretId: string) => mac.sign('approle_secret_ids/secret_id', [roleName, secretId]);

interface SecretIdRequest {
  secretId?: string;
  metadata: Record<string, string>;
  cidrList: string[];
  tokenBoundCidrs: string[];
  numUses: number;
  ttlSeconds: number;
}

/** The secret-id fields of a generate request, bounded by the role as Vault bounds them. */
export function secretIdRequest(role: AppRole, body: Record<string, unknown>): SecretIdRequest {
  let metadata: Record<string, string> = {};
  if (body.metadata !== undefined && body.metadata !== '' && body.metadata !== null) {
    let m: unknown = body.metadata;
    if (typeof m === 'string') {
      try {
        m = JSON.parse(m);
      } catch {
        throw invalidRequest('failed to parse metadata: it must be a JSON object of strings');
      }
    }
    if (!m || typeof m !== 'object' || Array.isArray(m) || !Object.values(m).every((v) => typeof v === 'string')) {
      throw invalidRequest('metadata must be a JSON object of strings');
    }
    if (Object.keys(m).length > 64 || JSON.stringify(m).length > 16 * 1024 || JSON.stringify(m).includes('\\u0000')) throw invalidRequest('metadata too large');
    metadata = m as Record<string, string>;
  }
  const cidrList = parseCidrList(body.cidr_list, 'cidr_list') ?? [];
  if (!cidrsWithin(cidrList, role.secret_id_bound_cidrs)) {
    throw invalidRequest('failed to verify the CIDR restrictions set on the secret ID: cidr_list must be within the role\'s secret_id_bound_cidrs');
  }
  const tokenBoundCidrs = parseCidrList(body.token_bound_cidrs, 'token_bound_cidrs') ?? [];
  if (!cidrsWithin(tokenBoundCidrs, role.token_bound_cidrs)) {
    throw invalidRequest('failed to verify the CIDR restrictions set on the secret ID: token_bound_cidrs must be within the role\'s token_bound_cidrs');
  }
  const numUses = countField(body, 'num_uses') ?? role.secret_id_num_uses;
  if (role.secret_id_num_uses > 0 && (numUses === 0 || numUses > role.secret_id_num_uses)) {
    throw invalidRequest('num_uses cannot be higher than the role\'s secret_id_num_uses');
  }
  const ttl = durationField(body, 'ttl') ?? role.secret_id_ttl;
  if (role.secret_id_ttl > 0 && (ttl === 0 || ttl > role.secret_id_ttl)) throw invalidRequest('ttl cannot be longer than the role\'s secret_id_ttl');
  let secretId: string | undefined;
  if (body.secret_id !== undefined) {
    if (typeof body.secret_id !== 'string' || !/^[\x21-\x7e]{1,512}$/.test(body.secret_id)) throw invalidRequest('invalid secret_id');
    secretId = body.secret_id;
  }
  return { ...(secretId ? { secretId } : {}), metadata, cidrList, tokenBoundCidrs, numUses, ttlSeconds: ttl };
}

export interface SecretIdInfo {
  accessor: string;
  metadata: Record<string, string>;
  cidrList: string[];
  tokenBoundCidrs: string[];
  numUses: number;
  ttlSeconds: number;
  createdAt: Date;
  expiresAt: Date | null;
}

const now = () => new Date(Date.now());

/** Stores a new secret id of `role`; returns it (shown once) with its accessor and expiry. */
export async function createSecretId(db: Queryable, mac: RowMac, role: AppRole, r: SecretIdRequest): Promise<{ secretId: string; info: SecretIdInfo }> {
  const secretId = r.secretId ?? randomUUID();
  const createdAt = now();
  const row = {
    hash: secretIdHash(mac, role.name, secretId),
    roleName: role.name,
    accessor: randomUUID(),
    metadata: r.metadata,
    cidrList: r.cidrList,
    tokenBoundCidrs: r.tokenBoundCidrs,
    numUses: r.numUses,
    ttlSeconds: r.ttlSeconds,
    createdAt,
    expiresAt: r.ttlSeconds > 0 ? new Date(createdAt.getTime() + r.ttlSeconds * 1000) : null,
    seq: 1,
  };
  const inserted = await db
    .insert(approleSecretIds)
    .values({ ...row, mac: mac.sign(SECRET_IDS, secretIdMacFields(row)) })
    .onConflictDoNothing()
    .returning({ accessor: approleSecretIds.accessor });
  if (inserted.length === 0) throw invalidRequest('SecretID is already registered');
  return { secretId, info: infoOf(row) };
}

const infoOf = (r: Omit<SecretIdRow, 'mac' | 'hash' | 'roleName' | 'seq'>): SecretIdInfo => ({
  accessor: r.accessor,
  metadata: r.metadata,
  cidrList: r.cidrList,
  tokenBoundCidrs: r.tokenBoundCidrs,
  numUses: r.numUses,
  ttlSeconds: r.ttlSeconds,
  createdAt: r.createdAt,
  expiresAt: r.expiresAt,
});

const expired = (r: { expiresAt: Date | null }) => r.expiresAt !== null && r.expiresAt.getTime() <= Date.now();

/** A secret id of the role by its value or its accessor; checked; expired ones are deleted and absent. */
async function findSecretId(db: Queryable, mac: RowMac, roleName: string, by: { secretId: string } | { accessor: string }): Promise<SecretIdRow | undefined> {
  const where =
    'secretId' in by
      ? sql`${approleSecretIds.hash} = ${secretIdHash(mac, roleName, by.secretId)} and ${approleSecretIds.roleName} = ${roleName}`
      : sql`${approleSecretIds.accessor} = ${by.accessor} and ${approleSecretIds.roleName} = ${roleName}`;
  const since = mac.clock();
  const [row] = await db.select().from(approleSecretIds).where(where);
  if (!row) return undefined;
  mac.check(SECRET_IDS, secretIdMacFields(row), row.mac);
  mac.observe(SECRET_IDS, row.accessor, row.seq, since);
  if (expired(row)) {
    mac.gone(SECRET_IDS, row.accessor, Infinity);
    await db.delete(approleSecretIds).where(eq(approleSecretIds.hash, row.hash));
    return undefined;
  }
  return row;
}

export async function lookupSecretId(db: Queryable, mac: RowMac, roleName: string, by: { secretId: string } | { accessor: string }): Promise<SecretIdInfo | undefined> {
  const row = await findSecretId(db, mac, roleName, by);
  return row ? infoOf(row) : undefined;
}

/** Destroys a secret id; true when one was there. */
export async function destroySecretId(db: Queryable, mac: RowMac, roleName: string, by: { secretId: string } | { accessor: string }): Promise<boolean> {
  const where =
    'secretId' in by
      ? sql`${approleSecretIds.hash} = ${secretIdHash(mac, roleName, by.secretId)} and ${approleSecretIds.roleName} = ${roleName}`
      : sql`${approleSecretIds.accessor} = ${by.accessor} and ${approleSecretIds.roleName} = ${roleName}`;
  const gone = await db.delete(approleSecretIds).where(where).returning({ accessor: approleSecretIds.accessor });
  for (const g of gone) mac.gone(SECRET_IDS, g.accessor, Infinity);
  return gone.length > 0;
}

/** The accessors of a role's live secret ids. */
export async function listSecretIdAccessors(db: Queryable, roleName: string): Promise<string[]> {
  const rows = await db
    .select({ accessor: approleSecretIds.accessor })
    .from(approleSecretIds)
    .where(sql`${approleSecretIds.roleName} = ${roleName} and (${approleSecretIds.expiresAt} is null or ${approleSecretIds.expiresAt} > now())`)
    .orderBy(asc(approleSecretIds.accessor));
  return rows.map((r) => r.accessor);
}

/** Vault's answer to any wrong role id or secret id: the same, whichever half was wrong. */
export const invalidCredentials = () => invalidRequest('invalid role or secret ID');

const cidrDenied = (what: string) => new VaultError(403, 'permission_denied', [`source address unauthorized through CIDR restrictions on the ${what}`]);

/**
 * Spends one use of a secret id for a login from `remoteAddress`: run inside a transaction. The
 * row is locked FOR UPDATE, its MAC checked, its CIDR list matched, then its last use deletes it
 * or the count is decremented and the row re-signed. Returns what the token needs from it.
 */
export async function consumeSecretId(
  tx: Queryable, mac: RowMac, role: AppRole, secretId: string, remoteAddress: string | undefined,
): Promise<SecretIdInfo & { superseded: GoneRow }> {
  const hash = secretIdHash(mac, role.name, secretId);
  const since = mac.clock();
  const [row] = await tx
    .select()
    .from(approleSecretIds)
    .where(sql`${approleSecretIds.hash} = ${hash} and ${approleSecretIds.roleName} = ${role.name}`)
    .for('update');
  if (!row) throw invalidCredentials();
  mac.check(SECRET_IDS, secretIdMacFields(row), row.mac);
  mac.observe(SECRET_IDS, row.accessor, row.seq, since);
  if (expired(row)) {
    mac.gone(SECRET_IDS, row.accessor, Infinity);
    await tx.delete(approleSecretIds).where(eq(approleSecretIds.hash, hash));
    throw invalidCredentials();
  }
  if (!addressAllowed(remoteAddress, row.cidrList) || !addressAllowed(remoteAddress, role.secret_id_bound_cidrs)) throw cidrDenied('secret ID');
  // The row as read is superseded; the caller remembers it once the login has committed.
  const superseded: GoneRow = { table: SECRET_IDS, id: row.accessor, seq: row.numUses === 1 ? Infinity : row.seq };
  if (row.numUses === 1) {
    await tx.delete(approleSecretIds).where(eq(approleSecretIds.hash, hash));
  } else if (row.numUses > 1) {
    const next = { ...row, numUses: row.numUses - 1, seq: row.seq + 1 };
    await tx
      .update(approleSecretIds)
      .set({ numUses: next.numUses, seq: next.seq, mac: mac.sign(SECRET_IDS, secretIdMacFields(next)) })
      .where(eq(approleSecretIds.hash, hash));
  }
  return { ...infoOf(row), superseded };
}

/** The role-level CIDR checks of a login without a secret id, and of the token binding. */
export function checkRoleCidrs(role: AppRole, remoteAddress: string | undefined): void {
  if (!addressAllowed(remoteAddress, role.secret_id_bound_cidrs)) throw cidrDenied('role');
  if (!addressAllowed(remoteAddress, role.token_bound_cidrs)) throw cidrDenied('token');
}
