// Drift reconcile of one outbound SCIM target: lists what the target holds (paged GETs of /Users
// and /Groups, RFC 7644 §3.4.2), compares it with what the push would send, and repairs the
// difference: a missing or changed user or group (or membership) is put in line for the push,
// which sends its current state; a copy the target should not have (deleted here, out of the
// target's scope, a duplicate) is deleted at the target. Resources the target holds that are not
// ours (no link, no externalId naming one of our users or groups) are left alone.
import { and, eq, inArray } from 'drizzle-orm';
import type { AuthRuntime } from '../core/runtime.js';
import { groups, scimPushLinks, users, type ScimTarget, type User } from '../core/schema.js';
import { endReconcile, enqueuePush, idsInTargetScope, leaseReconcile, openTargetToken, targetsDueForReconcile, type PushResourceType } from '../core/scim-targets.js';
import { membersToPush, userBody } from './push.js';
import { createTargetClient, TargetError, type TargetClient } from './target-client.js';

type Json = Record<string, unknown>;

const PAGE = 200;
/** A bound on one listing, so a target that never stops paging cannot hold a round forever. */
const MAX_PAGES = 2_500;
/** A round holds its target this long at most (a killed round's lease runs out). */
const LEASE_SECONDS = 600;

interface ReconcileOptions {
  /** Repairs (queued pushes and deletes at the target) per round at most; the next round does the rest. */
  maxRepairs: number;
  fetch?: typeof fetch;
}

const RECONCILE_DEFAULTS: ReconcileOptions = { maxRepairs: 1000 };

interface ReconcileOutcome {
  ok: boolean;
  /** The target's answer (or "internal error") when the round failed; never the credential. */
  error?: string;
  /** How many users and groups the target listed. */
  listed: { users: number; groups: number };
  /** Ours, in scope, and not at the target. */
  missing: number;
  /** At the target, but not as the push would send it (attributes or members). */
  changed: number;
  /** At the target and not to be there: deleted here, out of scope, or a duplicate. */
  extra: number;
  /** Copies found by their externalId whose link was lost (the link is restored). */
  relinked: number;
  /** The target's own resources, not ours: left alone. */
  foreign: number;
  /** Repairs made this round: pushes put in line and deletes at the target. */
  queued: number;
  deleted: number;
  /** Repairs left for the next round (`maxRepairs` reached). */
  remaining: number;
}

async function listAll(client: TargetClient, path: string): Promise<Json[]> {
  const out: Json[] = [];
  const seen = new Set<string>();
  for (let page = 0, start = 1; page < MAX_PAGES; page++) {
    const body = await client.call('GET', `${path}${path.includes('?') ? '&' : '?'}startIndex=${start}&count=${PAGE}`);
    const items = Array.isArray(body?.Resources) ? (body.Resources as unknown[]) : [];
    let fresh = 0;
    for (const r of items) {
      if (!r || typeof r !== 'object' || Array.isArray(r) || typeof (r as Json).id !== 'string' || seen.has((r as Json).id as string)) continue;
      seen.add((r as Json).id as string);
      out.push(r as Json);
      fresh++;
    }
    // A target that ignores startIndex shows the same copies again: a listing that cannot be
    // trusted to be whole would make ours look missing or extra, so the round stops here.
    if (items.length && !fresh) throw new TargetError(`GET ${path}: the paging does not advance (startIndex ignored?)`);
    start += items.length;
    const total = typeof body?.totalResults === 'number' ? body.totalResults : 0;
    if (!items.length || start > total) return out;
  }
  throw new TargetError(`${path}: more than ${MAX_PAGES} pages`);
}

const str = (v: unknown) => (typeof v === 'string' && v !== '' ? v : undefined);
const sameList = (a: string[], b: string[]) => a.length === b.length && [...a].sort().every((v, i) => v === [...b].sort()[i]);

/** True when the target's copy of a user differs from what the push sends. */
function userDiffers(remote: Json, u: User): boolean {
  const want = userBody(u) as { userName: string; externalId: string; active: boolean; displayName?: string; name?: Json; emails?: { value: string }[] };
  const name = (remote.name && typeof remote.name === 'object' ? remote.name : {}) as Json;
  const wantName = want.name ?? {};
  const emails = Array.isArray(remote.emails) ? (remote.emails as Json[]).map((e) => String(e?.value ?? '')) : [];
  return (
    remote.userName !== want.userName ||
    remote.externalId !== want.externalId ||
    (remote.active ?? true) !== want.active ||
    str(remote.displayName) !== want.displayName ||
    str(name.givenName) !== str(wantName.givenName) ||
    str(name.familyName) !== str(wantName.familyName) ||
    !sameList(emails, (want.emails ?? []).map((e) => e.value))
  );
}

interface Round {
  rt: AuthRuntime;
  target: ScimTarget;
  client: TargetClient;
  opts: ReconcileOptions;
  out: ReconcileOutcome;
  /** Our id by the target's type and id (`User:<id>`), and the target's id by ours (the push links, kept current here). */
  localOf: Map<string, string>;
  remoteOf: Map<string, string>;
}

const budgetLeft = (r: Round) => r.out.queued + r.out.deleted < r.opts.maxRepairs;

async function queue(r: Round, type: PushResourceType, id: string): Promise<void> {
  if (!budgetLeft(r)) return void r.out.remaining++;
  await enqueuePush(r.rt.db, r.target.tenantId, [{ type, id }], r.target.id);
  r.out.queued++;
}

async function setLink(r: Round, type: PushResourceType, id: string, remoteId: string | undefined): Promise<void> {
  const where = and(eq(scimPushLinks.targetId, r.target.id), eq(scimPushLinks.resourceType, type), eq(scimPushLinks.resourceId, id));
  const old = r.remoteOf.get(id);
  if (old !== undefined) r.localOf.delete(`${type}:${old}`);
  if (remoteId === undefined) {
    r.remoteOf.delete(id);
    await r.rt.db.delete(scimPushLinks).where(where);
    return;
  }
  r.remoteOf.set(id, remoteId);
  r.localOf.set(`${type}:${remoteId}`, id);
  await r.rt.db
    .insert(scimPushLinks)
    .values({ targetId: r.target.id, resourceType: type, resourceId: id, remoteId })
    .onConflictDoUpdate({ target: [scimPushLinks.targetId, scimPushLinks.resourceType, scimPushLinks.resourceId], set: { remoteId } });
}

/** Deletes a copy the target should not hold, and the link that named it. */
async function deleteExtra(r: Round, type: PushResourceType, remoteId: string, localId: string | undefined): Promise<void> {
  r.out.extra++;
  if (!budgetLeft(r)) return void r.out.remaining++;
  try {
    await r.client.call('DELETE', `${type === 'User' ? '/Users' : '/Groups'}/${encodeURIComponent(remoteId)}`);
  } catch (err) {
    if (!(err instanceof TargetError) || err.status !== 404) throw err;
  }
  if (localId !== undefined && r.remoteOf.get(localId) === remoteId) await setLink(r, type, localId, undefined);
  r.out.deleted++;
}

/**
 * Sorts the target's copies of one resource type: each is ours (linked, or found by its
 * externalId, which relinks it), extra, or foreign. Returns the kept copy of each of our resources.
 */
async function match(r: Round, type: PushResourceType, remote: Json[], live: Set<string>, inScope: Set<string>): Promise<Map<string, Json>> {
  const kept = new Map<string, Json>();
  const unlinked: Json[] = [];
  for (const c of remote) {
    const id = r.localOf.get(`${type}:${c.id as string}`);
    if (id === undefined) unlinked.push(c);
    else if (inScope.has(id) && !kept.has(id)) kept.set(id, c);
    else await deleteExtra(r, type, c.id as string, id);
  }
  for (const c of unlinked) {
    const ext = str(c.externalId);
    // Not ours, or not provably: a copy of a resource deleted here whose link is lost cannot be
    // told from the target's own (a tombstone's key may be an upstream IdP's externalId, which
    // the target's own copy carries too), so it is left alone.
    if (ext === undefined || !live.has(ext)) {
      r.out.foreign++;
      continue;
    }
    if (inScope.has(ext) && !kept.has(ext)) {
      // Our copy whose link was lost (or never stored): adopt it.
      await setLink(r, type, ext, c.id as string);
      r.out.relinked++;
      kept.set(ext, c);
    } else await deleteExtra(r, type, c.id as string, undefined);
  }
  return kept;
}

/** Our resources in scope: missing at the target (the stale link goes, the push creates it) or changed. */
async function repair(r: Round, type: PushResourceType, inScope: Set<string>, kept: Map<string, Json>, differs: (id: string, copy: Json) => Promise<boolean>): Promise<void> {
  for (const id of inScope) {
    const copy = kept.get(id);
    if (!copy) {
      r.out.missing++;
      if (!budgetLeft(r)) {
        r.out.remaining++;
        continue;
      }
      if (r.remoteOf.has(id)) await setLink(r, type, id, undefined);
      await queue(r, type, id);
    } else if (await differs(id, copy)) {
      r.out.changed++;
      await queue(r, type, id);
    }
  }
}

async function runRound(r: Round): Promise<void> {
  const { rt, target } = r;
  // The target first, then our side: a change made here meanwhile then looks missing (pushed
  // again, harmless) rather than extra (deleted at the target, wrongly).
  // Users without their (computed, possibly large) groups attribute.
  const remoteUsers = await listAll(r.client, '/Users?excludedAttributes=groups');
  const remoteGroups = await listAll(r.client, '/Groups');
  r.out.listed = { users: remoteUsers.length, groups: remoteGroups.length };
  const links = await rt.db.select().from(scimPushLinks).where(eq(scimPushLinks.targetId, target.id));
  for (const l of links) {
    r.localOf.set(`${l.resourceType}:${l.remoteId}`, l.resourceId);
    r.remoteOf.set(l.resourceId, l.remoteId);
  }
  const scope = await idsInTargetScope(rt.db, target);
  const liveUsers = new Map((await rt.db.select().from(users).where(eq(users.tenantId, target.tenantId))).map((u) => [u.id, u]));
  const liveGroups = new Set((await rt.db.select({ id: groups.id }).from(groups).where(eq(groups.tenantId, target.tenantId))).map((g) => g.id));


  // Users first, so the links the group comparison maps members through are current.
  const keptUsers = await match(r, 'User', remoteUsers, new Set(liveUsers.keys()), scope.users);
  await repair(r, 'User', scope.users, keptUsers, async (id, copy) => userDiffers(copy, liveUsers.get(id)!));
  const keptGroups = await match(r, 'Group', remoteGroups, liveGroups, scope.groups);
  const names = new Map(
    scope.groups.size ? (await rt.db.select({ id: groups.id, displayName: groups.displayName }).from(groups).where(inArray(groups.id, [...scope.groups]))).map((g) => [g.id, g.displayName]) : [],
  );
  await repair(r, 'Group', scope.groups, keptGroups, async (id, copy) => {
    if (copy.displayName !== names.get(id) || copy.externalId !== id) return true;
    // Every member we push must be at the target (linked) and in the copy, and nothing else.
    const want: string[] = [];
    for (const m of await membersToPush(rt.db, target, id)) {
      const remote = r.remoteOf.get(m.value);
      if (remote === undefined || !(m.type === 'User' ? keptUsers.has(m.value) : keptGroups.has(m.value))) return true;
      want.push(remote);
    }
    const have = Array.isArray(copy.members) ? (copy.members as Json[]).map((m) => String(m?.value ?? '')) : [];
    return !sameList(have, want);
  });
}

/** One reconcile round for one target; undefined when another round holds it. */
export async function reconcileTarget(rt: AuthRuntime, tenantId: string, targetId: string, opts: ReconcileOptions = RECONCILE_DEFAULTS): Promise<ReconcileOutcome | undefined> {
  const target = await leaseReconcile(rt.db, tenantId, targetId, LEASE_SECONDS);
  if (!target) return undefined;
  const out: ReconcileOutcome = { ok: true, listed: { users: 0, groups: 0 }, missing: 0, changed: 0, extra: 0, relinked: 0, foreign: 0, queued: 0, deleted: 0, remaining: 0 };
  try {
    const client = createTargetClient(target.url, openTargetToken(rt.pushSealer, target), opts.fetch);
    await runRound({ rt, target, client, opts, out, localOf: new Map(), remoteOf: new Map() });
  } catch (err) {
    out.ok = false;
    // A target's answer is shown to the admin; anything else is ours, logged, and shown as such.
    out.error = err instanceof TargetError ? err.message.slice(0, 500) : 'internal error';
    if (!(err instanceof TargetError)) rt.log.error('scim reconcile failed', { err, target: target.id });
  } finally {
    await endReconcile(rt.db, target.id, { ...out, at: new Date().toISOString() });
  }
  return out;
}

/** Runs a round for each target whose last one is older than `minutes` (the schedule's call). */
export async function reconcileDueTargets(rt: AuthRuntime, minutes: number, opts: ReconcileOptions = RECONCILE_DEFAULTS): Promise<number> {
  let n = 0;
  for (const t of await targetsDueForReconcile(rt.db, minutes)) if (await reconcileTarget(rt, t.tenantId, t.id, opts)) n++;
  return n;
}
