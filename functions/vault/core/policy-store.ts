// Policy queries: rules by name, with Vault's built-in `default` policy when none is stored.
import { inArray } from 'drizzle-orm';
import type { Queryable } from '#shared/db/index';
import { buildAcl, DEFAULT_POLICY_TEXT, parsePolicy, type Acl, type PolicyRule } from './acl.js';
import { policies } from './schema.js';

const builtinDefault = parsePolicy(DEFAULT_POLICY_TEXT);

/** Loads the rules of the named policies and builds the token's ACL (one query). */
export async function aclFor(db: Queryable, names: readonly string[]): Promise<Acl> {
  const wanted = names.filter((n) => n !== 'root');
  const rows = wanted.length
    ? await db.select({ name: policies.name, rules: policies.rules }).from(policies).where(inArray(policies.name, wanted))
    : [];
  const byName = new Map<string, PolicyRule[]>(rows.map((r) => [r.name, r.rules as PolicyRule[]]));
  if (!byName.has('default')) byName.set('default', builtinDefault);
  return buildAcl(names, (n) => byName.get(n));
}

export { DEFAULT_POLICY_TEXT };
