// How many accounts one address may create in a tenant per hour: each sign-up costs an Argon2id
// hash and a mail, so a script must not be able to make them without end. Counted from the audit
// trail (indexed by tenant, action, address and time), so replicas need no shared counter.
import { and, count, eq, gt, sql } from 'drizzle-orm';
import type { Queryable } from '#shared/db/index';
import { audit } from './schema.js';

const SIGNUPS_PER_ADDRESS_HOUR = 10;

/** True when `ip` already created the hour's allowance of accounts in the tenant. */
export async function signupsExhausted(q: Queryable, tenantId: string, ip: string | undefined): Promise<boolean> {
  if (!ip) return false;
  const [row] = await q
    .select({ n: count() })
    .from(audit)
    .where(and(eq(audit.tenantId, tenantId), eq(audit.action, 'user.signup'), eq(audit.ip, ip), eq(audit.outcome, 'success'), gt(audit.at, sql`now() - interval '1 hour'`)));
  return (row?.n ?? 0) >= SIGNUPS_PER_ADDRESS_HOUR;
}
