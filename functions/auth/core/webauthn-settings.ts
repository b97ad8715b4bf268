// A tenant's WebAuthn relying party: RP ID, accepted origins, user verification and attestation.
// Without a row the RP ID is the host of the public base URL and the only origin is its origin.
import { eq, sql } from 'drizzle-orm';
import type { Queryable } from '#shared/db/index';
import { webauthnSettings } from './schema.js';

export interface RelyingParty {
  /** W3C WebAuthn §5.1.3 / §13.4.1: a registrable domain suffix of (or equal to) the origins' host. */
  rpId: string;
  rpName: string;
  origins: string[];
  userVerification: 'required' | 'preferred' | 'discouraged';
  attestation: 'none' | 'direct';
}

type Settings = Pick<RelyingParty, 'userVerification' | 'attestation'> & { rpId: string | null; origins: string[] };

export async function findWebauthnSettings(q: Queryable, tenantId: string): Promise<Settings> {
  const [row] = await q.select().from(webauthnSettings).where(eq(webauthnSettings.tenantId, tenantId));
  return row ? { rpId: row.rpId, origins: row.origins, userVerification: row.userVerification, attestation: row.attestation } : { rpId: null, origins: [], userVerification: 'preferred', attestation: 'none' };
}

export async function saveWebauthnSettings(q: Queryable, tenantId: string, s: Settings): Promise<void> {
  await q
    .insert(webauthnSettings)
    .values({ tenantId, ...s })
    .onConflictDoUpdate({ target: webauthnSettings.tenantId, set: { ...s, updatedAt: sql`now()` } });
}

/** The relying party of a tenant, its defaults taken from the public base URL. */
export async function relyingPartyOf(q: Queryable, tenant: { id: string; displayName: string }, baseUrl: string): Promise<RelyingParty> {
  const s = await findWebauthnSettings(q, tenant.id);
  const base = new URL(baseUrl);
  return {
    rpId: s.rpId ?? base.hostname,
    rpName: tenant.displayName,
    origins: s.origins.length ? s.origins : [base.origin],
    userVerification: s.userVerification,
    attestation: s.attestation,
  };
}

/**
 * Whether `rpId` may serve `origin`: §5.1.3 lets an RP ID be the origin's effective domain or a
 * registrable suffix of it, and only over https (or http on localhost, a secure context).
 */
export function rpIdFitsOrigin(rpId: string, origin: string): boolean {
  let u: URL;
  try {
    u = new URL(origin);
  } catch {
    return false;
  }
  if (u.origin !== origin) return false;
  const secure = u.protocol === 'https:' || (u.protocol === 'http:' && (u.hostname === 'localhost' || u.hostname.endsWith('.localhost')));
  if (!secure) return false;
  return u.hostname === rpId || u.hostname.endsWith(`.${rpId}`);
}
