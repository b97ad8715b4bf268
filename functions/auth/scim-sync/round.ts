// One sync round with one peer: lease the peer, read its directory over SCIM, compare it with
// ours (last-writer-wins), take what wins: deletes, then users, then groups and their members.
// Every step is idempotent and keyed by externalId, so a round killed anywhere is simply run
// again by the next one, without duplicates (docs/scim-sync.md).
import { and, eq, isNull, lt, or, sql } from 'drizzle-orm';
import { recordAudit } from '../core/audit.js';
import type { AuthRuntime } from '../core/runtime.js';
import { scimSyncPeers, tenants, type ScimSyncPeer } from '../core/schema.js';
import { listAllPeers, markPeerRound, openPeerToken } from '../core/scim-peers.js';
import { purgeTombstones } from '../core/tombstones.js';
import { createTargetClient, TargetError } from '../scim-push/target-client.js';
import { applyGroups } from './apply-groups.js';
import { applyDeletes, applyUsers } from './apply-users.js';
import { readPeerState } from './peer-reader.js';
import { planRound } from './plan.js';
import type { RoundContext, RoundReport } from './round-context.js';
import { readLocalState } from './site-state.js';

/** How long a round holds its peer; a round killed mid-way frees it when this runs out. */
const LEASE_SECONDS = 600;
/** Tombstones older than this are dropped: a peer away longer must be resynced in full. */
const TOMBSTONE_DAYS = 90;

interface RoundOptions {
  fetch?: typeof fetch;
}

async function lease(rt: AuthRuntime, peer: ScimSyncPeer): Promise<boolean> {
  const rows = await rt.db
    .update(scimSyncPeers)
    .set({ leaseUntil: sql`now() + make_interval(secs => ${LEASE_SECONDS})` })
    .where(and(eq(scimSyncPeers.id, peer.id), or(isNull(scimSyncPeers.leaseUntil), lt(scimSyncPeers.leaseUntil, sql`now()`))))
    .returning({ id: scimSyncPeers.id });
  return rows.length > 0;
}

const release = (rt: AuthRuntime, peer: ScimSyncPeer) => rt.db.update(scimSyncPeers).set({ leaseUntil: null }).where(eq(scimSyncPeers.id, peer.id));

/** Runs one round with `peer`; undefined when another round holds it. */
export async function runSyncRound(rt: AuthRuntime, peer: ScimSyncPeer, opts: RoundOptions = {}): Promise<RoundReport | undefined> {
  if (!(await lease(rt, peer))) return undefined;
  const [tenant] = await rt.db.select({ slug: tenants.slug }).from(tenants).where(eq(tenants.id, peer.tenantId));
  const x: RoundContext = { rt, tenantId: peer.tenantId, tenantSlug: tenant?.slug ?? '', actor: `scim-sync:${peer.name}`, report: { applied: 0, deleted: 0, conflicts: [] } };
  try {
    const client = createTargetClient(peer.url, openPeerToken(rt.pushSealer, peer), opts.fetch);
    const read = await readPeerState(client);
    for (const s of read.skipped) x.report.conflicts.push({ type: s.type, key: s.id, kind: s.reason.startsWith('members') ? 'pending' : 'invalid', detail: s.reason });
    const local = await readLocalState(rt.db, peer.tenantId);
    const plan = planRound(local, read.state);
    await applyDeletes(x, plan.deletes);
    await applyUsers(x, plan.users);
    await applyGroups(x, plan.groups, local);
    const { applied, deleted, conflicts } = x.report;
    if (applied || deleted || conflicts.length) {
      await recordAudit(
        rt.db,
        { tenantId: peer.tenantId, action: 'scim.sync.round', outcome: conflicts.length ? 'failure' : 'success', actor: x.actor, detail: { applied, deleted, conflicts: conflicts.slice(0, 50) } },
        { ip: undefined, userAgent: undefined, requestId: undefined },
      );
    }
    await markPeerRound(rt.db, peer, undefined);
    return x.report;
  } catch (err) {
    // The peer's answer is shown to the admin; anything else is ours, logged, and shown as such.
    await markPeerRound(rt.db, peer, err instanceof TargetError ? err.message : 'internal error').catch(() => undefined);
    throw err;
  } finally {
    await release(rt, peer).catch(() => undefined);
  }
}

/** The scheduled work: a round with every peer of every tenant; one peer's failure does not stop the others. */
export async function runSyncRounds(rt: AuthRuntime, opts: RoundOptions = {}): Promise<void> {
  await purgeTombstones(rt.db, TOMBSTONE_DAYS);
  for (const peer of await listAllPeers(rt.db)) {
    try {
      const report = await runSyncRound(rt, peer, opts);
      if (report?.conflicts.length) rt.log.warn('scim sync conflicts', { peer: peer.id, conflicts: report.conflicts.length });
    } catch (err) {
      if (!(err instanceof TargetError)) rt.log.error('scim sync round failed', { err, peer: peer.id });
      else rt.log.warn('scim sync peer unreachable', { peer: peer.id, error: err.message });
    }
  }
}
