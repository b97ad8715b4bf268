// Policy queries: rules by name, with Vault's built-in `default` policy when none is stored.
// Every policy row is MAC'd: a rule a database writer added or changed is refused, never applied.
import { inArray } from 'drizzle-orm';
import type { Queryable } from '#shared/db/index';
import { buildAcl, DEFAULT_POLICY_TEXT, parsePolicy, type Acl, type PolicyRule } from './acl.js';
import { withSeq, type MacValue, type RowMac, type RowMacSource } from './integrity.js';
import { policies, type Policy } from './schema.js';

const builtinDefault = parsePolicy(DEFAULT_POLICY_TEXT);

/** The MAC'd fields of a policy row, primary key first, then its seq (core/row-seq.ts). */
export function policyMacFields(p: Pick<Policy, 'name' | 'text' | 'rules' | 'updatedAt' | 'seq'>): MacValue[] {
  return withSeq([p.name, p.text, p.rules as unknown as MacValue, p.updatedAt], p.seq);
}

/**
 * Throws IntegrityError unless the policy row is the one the vault wrote, and not an older copy
 * of it than this process saw before `since` (RowMac.clock, read before the query).
 */
export function checkPolicy(mac: RowMac, p: Policy, since?: number): void {
  mac.check('policies', policyMacFields(p), p.mac);
  mac.observe('policies', p.name, p.seq, since);
}

/** Loads the rules of the named policies, checks their MACs and builds the token's ACL (one query). */
export async function aclFor(db: Queryable, mac: RowMac, names: readonly string[]): Promise<Acl> {
  const wanted = names.filter((n) => n !== 'root');
  const since = mac.clock();
  const rows = wanted.length ? await db.select().from(policies).where(inArray(policies.name, wanted)) : [];
  for (const r of rows) checkPolicy(mac, r, since);
  const byName = new Map<string, PolicyRule[]>(rows.map((r) => [r.name, r.rules as PolicyRule[]]));
  if (!byName.has('default')) byName.set('default', builtinDefault);
  return buildAcl(names, (n) => byName.get(n));
}

/**
 * ACLs by policy set, kept for `ttlMs` (default 1 s): most requests come from a few tokens with
 * the same policies. A write through this process invalidates at once; other api pods see a
 * policy change within `ttlMs`.
 */
export function createAclCache(db: Queryable, rowMac: RowMacSource, ttlMs = 1000) {
  const cache = new Map<string, { acl: Acl; until: number }>();
  return {
    async get(names: readonly string[]): Promise<Acl> {
      const key = [...names].sort().join('\n');
      const now = Date.now();
      const hit = cache.get(key);
      if (hit && hit.until > now) return hit.acl;
      const acl = await aclFor(db, await rowMac(), names);
      if (cache.size > 1000) cache.clear();
      cache.set(key, { acl, until: now + ttlMs });
      return acl;
    },
    invalidate: () => cache.clear(),
  };
}

export type AclCache = ReturnType<typeof createAclCache>;

export { DEFAULT_POLICY_TEXT };
