// Pending authorization requests: pushed ones (PAR, RFC 9126: single use, 60 s) and ones waiting
// for the user to sign in or consent (10 minutes, bound to a browser cookie and a CSRF token).
import { and, eq, gt, isNull, sql } from 'drizzle-orm';
import type { Queryable } from '#shared/db/index';
import { randomHandle, sha256Hex } from './crypto.js';
import { interactions, type Interaction } from './schema.js';

export const PAR_TTL_SECONDS = 60;
export const INTERACTION_TTL_SECONDS = 600;
export const REQUEST_URI_PREFIX = 'urn:ietf:params:oauth:request_uri:';

/**
 * The CSRF token of an interaction, bound to the browser that started it: derived from that
 * browser's cookie, so several sign-ins can be pending in one browser (tabs) and a form posted
 * from any other browser fails.
 */
export const interactionCsrf = (browserId: string, handle: string) => sha256Hex(`interaction:${browserId}:${handle}`);

export async function createInteraction(
  q: Queryable,
  v: { tenantId: string; clientId: string; kind: 'par' | 'interaction'; params: Record<string, unknown>; browserId?: string },
): Promise<{ handle: string; csrf: string; interaction: Interaction }> {
  const handle = randomHandle(32);
  const csrf = v.browserId ? interactionCsrf(v.browserId, handle) : randomHandle(24);
  const ttl = v.kind === 'par' ? PAR_TTL_SECONDS : INTERACTION_TTL_SECONDS;
  const [interaction] = await q
    .insert(interactions)
    .values({ tenantId: v.tenantId, clientId: v.clientId, kind: v.kind, params: v.params, idHash: sha256Hex(handle), csrf, expiresAt: sql`now() + make_interval(secs => ${ttl})` })
    .returning();
  return { handle, csrf, interaction: interaction! };
}

/** A live, unconsumed interaction of the tenant. */
export async function findInteraction(q: Queryable, tenantId: string, kind: 'par' | 'interaction', handle: string): Promise<Interaction | undefined> {
  if (!handle || handle.length > 100) return undefined;
  const [row] = await q
    .select()
    .from(interactions)
    .where(and(eq(interactions.idHash, sha256Hex(handle)), eq(interactions.tenantId, tenantId), eq(interactions.kind, kind), isNull(interactions.consumedAt), gt(interactions.expiresAt, sql`now()`)));
  return row;
}

/** Consumes an interaction atomically; false when someone else consumed it first. */
export async function consumeInteraction(q: Queryable, idHash: string): Promise<boolean> {
  const rows = await q
    .update(interactions)
    .set({ consumedAt: sql`now()` })
    .where(and(eq(interactions.idHash, idHash), isNull(interactions.consumedAt), gt(interactions.expiresAt, sql`now()`)))
    .returning({ id: interactions.idHash });
  return rows.length === 1;
}

export async function attachSession(q: Queryable, idHash: string, sessionId: string): Promise<void> {
  await q.update(interactions).set({ sessionId }).where(eq(interactions.idHash, idHash));
}
