// Reads a peer site's directory over its SCIM API (RFC 7644 §3.4.2: paged lists of /Users,
// /Groups and our /Tombstones). The peer is another party: every resource is validated, and one
// that is malformed, or a group naming a member the listing did not show, is left out and named.
import type { SyncResourceType } from '../core/tombstones.js';
import type { TargetClient } from '../scim-push/target-client.js';
import { parseScimUser } from '../scim/user-resource.js';
import { groupDigest, tombstoneKey, userDigest, type GroupCopy, type MemberKey, type SiteState } from './site-state.js';

const PAGE = 200;
/** A bound on one listing, so a peer that never stops paging cannot hold a round forever. */
const MAX_PAGES = 5_000;

type Json = Record<string, unknown>;

interface PeerRead {
  state: SiteState;
  /** Resources left out this round, with why (reported; retried next round). */
  skipped: { type: SyncResourceType; id: string; reason: string }[];
}

async function listAll(client: TargetClient, path: string): Promise<Json[]> {
  const out: Json[] = [];
  for (let page = 0, start = 1; page < MAX_PAGES; page++) {
    const body = await client.call('GET', `${path}${path.includes('?') ? '&' : '?'}startIndex=${start}&count=${PAGE}`);
    const items = Array.isArray(body?.Resources) ? (body.Resources as unknown[]) : [];
    for (const r of items) if (r && typeof r === 'object' && !Array.isArray(r)) out.push(r as Json);
    start += items.length;
    const total = typeof body?.totalResults === 'number' ? body.totalResults : 0;
    if (!items.length || start > total) return out;
  }
  return out;
}

const timeOf = (r: Json): number | undefined => {
  const at = Date.parse(String((r.meta as Json | undefined)?.lastModified ?? ''));
  return Number.isNaN(at) ? undefined : at;
};
const keyOf = (r: Json): string | undefined => (typeof r.externalId === 'string' && r.externalId ? r.externalId : typeof r.id === 'string' && r.id ? r.id : undefined);

export async function readPeerState(client: TargetClient): Promise<PeerRead> {
  const state: SiteState = { users: new Map(), groups: new Map(), tombstones: new Map() };
  const skipped: PeerRead['skipped'] = [];
  const idToKey = new Map<string, MemberKey>();
  for (const r of await listAll(client, '/Users?excludedAttributes=groups')) {
    const id = String(r.id ?? '');
    const key = keyOf(r);
    const at = timeOf(r);
    if (!key || at === undefined) {
      skipped.push({ type: 'User', id, reason: 'no id or meta.lastModified' });
      continue;
    }
    try {
      const values = parseScimUser(r);
      state.users.set(key, { key, id, at, values, digest: userDigest(values) });
      idToKey.set(id, { type: 'User', key });
    } catch (err) {
      skipped.push({ type: 'User', id, reason: (err as Error).message });
    }
  }
  const raw = await listAll(client, '/Groups');
  for (const r of raw) {
    const key = keyOf(r);
    if (key && typeof r.id === 'string') idToKey.set(r.id, { type: 'Group', key });
  }
  for (const r of raw) {
    const id = String(r.id ?? '');
    const key = keyOf(r);
    const at = timeOf(r);
    const displayName = r.displayName;
    if (!key || at === undefined || typeof displayName !== 'string' || !displayName.trim() || displayName.length > 256) {
      skipped.push({ type: 'Group', id, reason: 'no id, displayName or meta.lastModified' });
      continue;
    }
    const members: MemberKey[] = [];
    const unknown = [];
    for (const m of Array.isArray(r.members) ? (r.members as Json[]) : []) {
      const ref = m && typeof m === 'object' ? idToKey.get(String(m.value)) : undefined;
      if (ref) members.push(ref);
      else unknown.push(String(m?.value));
    }
    if (unknown.length) {
      // A member created or deleted while the listing was read: the next round sees it whole.
      skipped.push({ type: 'Group', id, reason: `members not in the listing: ${unknown.slice(0, 3).join(', ')}` });
      continue;
    }
    const copy: GroupCopy = { key, id, at, displayName: displayName.trim(), members, digest: groupDigest(displayName.trim(), members) };
    state.groups.set(key, copy);
  }
  for (const r of await listAll(client, '/Tombstones')) {
    const at = timeOf(r);
    const type = r.resourceType === 'User' || r.resourceType === 'Group' ? r.resourceType : undefined;
    if (typeof r.externalId !== 'string' || !r.externalId || at === undefined || !type) continue;
    const k = tombstoneKey(type, r.externalId);
    state.tombstones.set(k, Math.max(at, state.tombstones.get(k) ?? 0));
  }
  return { state, skipped };
}

