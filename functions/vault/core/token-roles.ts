// Token roles: named rules for `auth/token/create/:role` (allowed and disallowed policies, orphan,
// renewable, period, explicit max TTL, path suffix). Rows carry a MAC, checked on every read: a
// role a database writer forged or altered would mint tokens with policies of its choosing.
// @see https://developer.hashicorp.com/vault/api-docs/auth/token#create-update-token-role
import { asc, eq, lt } from 'drizzle-orm';
import type { Queryable } from '#shared/db/index';
import { invalidRequest } from './errors.js';
import type { RowMac } from './integrity.js';
import { nextRowSeq, seqRows } from './row-seq.js';
import { tokenRoles, type Token, type TokenRole } from './schema.js';

/** Vault's role names (framework.GenericNameRegex). */
export const ROLE_NAME = /^\w(?:[\w.-]{0,126}\w)?$/;

/** Role rows: MAC'd fields identity first, then the seq (core/row-seq.ts). */
const ROWS = seqRows<TokenRole>('token_roles', (r) => r.name, (r) => [
  r.name,
  r.allowedPolicies,
  r.disallowedPolicies,
  r.orphan,
  r.renewable,
  r.pathSuffix,
  r.tokenPeriodSeconds,
  r.tokenExplicitMaxTtlSeconds,
  r.tokenNoDefaultPolicy,
  r.tokenNumUses,
]);

export type RoleSettings = Omit<TokenRole, 'mac' | 'seq'>;

/** The role, if its row is the vault's own and no older than one this process saw (else IntegrityError). */
export async function getRole(db: Queryable, mac: RowMac, name: string): Promise<RoleSettings | undefined> {
  const since = mac.clock();
  const [row] = await db.select().from(tokenRoles).where(eq(tokenRoles.name, name));
  if (!row) return undefined;
  ROWS.verify(mac, row, since);
  const { mac: _mac, seq: _seq, ...settings } = row;
  return settings;
}

/** Writes the role under a fresh seq; of two writes racing, the higher seq stays. */
export async function putRole(db: Queryable, mac: RowMac, settings: RoleSettings): Promise<void> {
  const row: TokenRole = { ...settings, seq: await nextRowSeq(db), mac: Buffer.alloc(0) };
  row.mac = ROWS.sign(mac, row);
  const { name: _name, ...set } = row;
  const since = mac.clock();
  const written = await db
    .insert(tokenRoles)
    .values(row)
    .onConflictDoUpdate({ target: tokenRoles.name, set, setWhere: lt(tokenRoles.seq, row.seq) })
    .returning({ seq: tokenRoles.seq });
  if (written.length) ROWS.wrote(mac, row, since);
}

/** Deletes the role; this process then refuses the deleted row put back. */
export async function deleteRole(db: Queryable, mac: RowMac, name: string): Promise<void> {
  const gone = await db.delete(tokenRoles).where(eq(tokenRoles.name, name)).returning({ seq: tokenRoles.seq });
  for (const g of gone) ROWS.gone(mac, name, g.seq);
}

export async function listRoles(db: Queryable): Promise<string[]> {
  const rows = await db.select({ name: tokenRoles.name }).from(tokenRoles).orderBy(asc(tokenRoles.name));
  return rows.map((r) => r.name);
}

/** Vault's policyutil.SanitizePolicies: trimmed, lower-case, no empties, `root` alone, sorted, unique; `default` added on request. */
export function sanitizePolicies(policies: readonly string[], addDefault: boolean): string[] {
  const out = new Set<string>();
  for (const raw of policies) {
    const p = raw.trim().toLowerCase();
    if (p === '') continue;
    if (p === 'root') return ['root'];
    out.add(p);
  }
  if (addDefault) out.add('default');
  return [...out].sort();
}

const subset = (of: readonly string[], items: readonly string[]) => items.every((p) => of.includes(p));
const goList = (l: readonly string[]) => `[${l.join(' ')}]`;

/**
 * The policies of a token created under `role` (one with allowed or disallowed policies), as Vault
 * decides them: the requested ones, else the role's allowed ones, else the parent's; a subset of
 * the role's allowed policies when it has some, else of the parent's; none disallowed.
 */
export function rolePolicies(role: RoleSettings, parent: Pick<Token, 'policies'>, requested: readonly string[], noDefault: boolean): string[] {
  const addDefault = !noDefault && !role.tokenNoDefaultPolicy && !role.disallowedPolicies.includes('default');
  let final = requested.length > 0 ? sanitizePolicies(requested, addDefault) : [];
  if (role.allowedPolicies.length > 0) {
    const allowed = sanitizePolicies(role.allowedPolicies, addDefault);
    if (final.length === 0) final = allowed;
    else if (!subset(allowed, final)) {
      throw invalidRequest(`token policies (${goList(final)}) must be subset of the role's allowed policies (${goList(allowed)})`);
    }
  } else {
    const fromParent = sanitizePolicies(parent.policies, addDefault);
    if (final.length === 0) final = fromParent;
    else if (!subset(fromParent, final)) {
      throw invalidRequest('child policies must be subset of parent when role contains no allowed_policies');
    }
  }
  const disallowed = sanitizePolicies(role.disallowedPolicies, false);
  for (const p of final) if (disallowed.includes(p)) throw invalidRequest(`token policy "${p}" is disallowed by this role`);
  return noDefault || role.tokenNoDefaultPolicy ? final.filter((p) => p !== 'default') : final;
}
