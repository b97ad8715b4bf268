// A user's passkeys (WebAuthn credentials): stored with a keyed MAC over who owns which public
// key, listed, renamed and removed per user, and their signature counter advanced atomically.
import { and, asc, count, eq, or, sql } from 'drizzle-orm';
import type { Queryable } from '#shared/db/index';
import { safeEqual } from './crypto.js';
import type { MfaSecrets } from './mfa-secrets.js';
import { webauthnCredentials, type WebauthnCredential } from './schema.js';

export const MAX_PASSKEYS_PER_USER = 20;

type NewPasskey = Omit<WebauthnCredential, 'id' | 'mac' | 'createdAt' | 'lastUsedAt'>;

const macOf = (mfa: MfaSecrets, c: Pick<WebauthnCredential, 'tenantId' | 'userId' | 'credentialId' | 'publicKey'>) => mfa.macPasskey([c.tenantId, c.userId, c.credentialId, c.publicKey]);

/** Stores a verified registration; undefined when the credential id is already registered in the tenant. */
export async function insertPasskey(q: Queryable, mfa: MfaSecrets, p: NewPasskey): Promise<WebauthnCredential | undefined> {
  const [row] = await q
    .insert(webauthnCredentials)
    .values({ ...p, name: p.name.slice(0, 64), mac: macOf(mfa, p) })
    .onConflictDoNothing()
    .returning();
  return row;
}

/** The credential of `credentialId` in the tenant, when its MAC holds (a forged or moved row is no credential). */
export async function findPasskey(q: Queryable, mfa: MfaSecrets, tenantId: string, credentialId: string): Promise<WebauthnCredential | undefined> {
  if (credentialId.length > 1400) return undefined;
  const [row] = await q
    .select()
    .from(webauthnCredentials)
    .where(and(eq(webauthnCredentials.tenantId, tenantId), eq(webauthnCredentials.credentialId, credentialId)));
  if (!row) return undefined;
  return safeEqual(row.mac, macOf(mfa, row)) ? row : undefined;
}

export async function listPasskeys(q: Queryable, tenantId: string, userId: string): Promise<WebauthnCredential[]> {
  return q
    .select()
    .from(webauthnCredentials)
    .where(and(eq(webauthnCredentials.tenantId, tenantId), eq(webauthnCredentials.userId, userId)))
    .orderBy(asc(webauthnCredentials.createdAt));
}

export async function countPasskeys(q: Queryable, tenantId: string, userId: string): Promise<number> {
  const [row] = await q.select({ n: count() }).from(webauthnCredentials).where(and(eq(webauthnCredentials.tenantId, tenantId), eq(webauthnCredentials.userId, userId)));
  return row?.n ?? 0;
}

/** Removes one of the user's passkeys; undefined when it is not theirs. */
export async function removePasskey(q: Queryable, tenantId: string, userId: string, id: string): Promise<WebauthnCredential | undefined> {
  if (!/^[0-9a-f-]{36}$/i.test(id)) return undefined;
  const [row] = await q
    .delete(webauthnCredentials)
    .where(and(eq(webauthnCredentials.id, id), eq(webauthnCredentials.tenantId, tenantId), eq(webauthnCredentials.userId, userId)))
    .returning();
  return row;
}

/**
 * Records a use. The counter must grow, or both stay 0 (authenticators without a counter):
 * @see https://www.w3.org/TR/webauthn-3/#sctn-sign-counter "this is a signal that the
 * authenticator may be cloned". Done in one UPDATE, so two concurrent uses of one value cannot both win.
 */
export async function advanceCounter(q: Queryable, c: WebauthnCredential, next: number, state: { backedUp: boolean }): Promise<boolean> {
  const [won] = await q
    .update(webauthnCredentials)
    .set({ counter: next, lastUsedAt: sql`now()`, backedUp: state.backedUp })
    .where(and(eq(webauthnCredentials.id, c.id), eq(webauthnCredentials.tenantId, c.tenantId), or(sql`${webauthnCredentials.counter} < ${next}`, and(eq(webauthnCredentials.counter, 0), sql`${next} = 0`))))
    .returning({ id: webauthnCredentials.id });
  return !!won;
}
