// The peer sites of a tenant for cross-site SCIM sync: where each peer's SCIM API is and the
// bearer token that reads it (sealed at rest), and how its last round went.
import { randomUUID } from 'node:crypto';
import { and, asc, eq, sql } from 'drizzle-orm';
import type { Queryable } from '#shared/db/index';
import type { PushSealer } from './scim-push-secrets.js';
import { scimSyncPeers, type ScimSyncPeer } from './schema.js';

interface PeerInput {
  name: string;
  url: string;
  token: string;
}

const aadOf = (id: string) => `auth.scim_sync_peers:${id}`;

/** Adds a peer; undefined when the tenant already has one of that name. */
export async function createPeer(q: Queryable, sealer: PushSealer, tenantId: string, input: PeerInput): Promise<ScimSyncPeer | undefined> {
  const id = randomUUID();
  const [row] = await q
    .insert(scimSyncPeers)
    .values({ id, tenantId, name: input.name, url: input.url.replace(/\/+$/, ''), tokenSealed: sealer.seal(input.token, aadOf(id)) })
    .onConflictDoNothing()
    .returning();
  return row;
}

export const openPeerToken = (sealer: PushSealer, p: ScimSyncPeer) => sealer.open(p.tokenSealed, aadOf(p.id));

/** Every peer of every tenant: what one scheduled round visits. */
export async function listAllPeers(q: Queryable): Promise<ScimSyncPeer[]> {
  return q.select().from(scimSyncPeers).orderBy(asc(scimSyncPeers.tenantId), asc(scimSyncPeers.name));
}

/** Records how a round ended: `error` undefined for a round that completed. */
export async function markPeerRound(q: Queryable, peer: ScimSyncPeer, error: string | undefined): Promise<void> {
  await q
    .update(scimSyncPeers)
    .set(error === undefined ? { lastRoundAt: sql`now()`, lastError: null } : { lastError: error.slice(0, 500) })
    .where(and(eq(scimSyncPeers.tenantId, peer.tenantId), eq(scimSyncPeers.id, peer.id)));
}

export async function listPeers(q: Queryable, tenantId: string): Promise<ScimSyncPeer[]> {
  return q.select().from(scimSyncPeers).where(eq(scimSyncPeers.tenantId, tenantId)).orderBy(asc(scimSyncPeers.name));
}

export async function findPeer(q: Queryable, tenantId: string, id: string): Promise<ScimSyncPeer | undefined> {
  const [row] = await q.select().from(scimSyncPeers).where(and(eq(scimSyncPeers.tenantId, tenantId), eq(scimSyncPeers.id, id))).limit(1);
  return row;
}

export async function deletePeer(q: Queryable, tenantId: string, id: string): Promise<boolean> {
  return (await q.delete(scimSyncPeers).where(and(eq(scimSyncPeers.tenantId, tenantId), eq(scimSyncPeers.id, id))).returning({ id: scimSyncPeers.id })).length > 0;
}
