// Which of a peer's versions win here (last-writer-wins per user and group, docs/scim-sync.md):
// a pure comparison of the two sites' states, so the rule is tested without a database.
import type { SyncResourceType } from '../core/tombstones.js';
import { versionAt, type GroupCopy, type SiteState, type UserCopy } from './site-state.js';
import { wins } from './versions.js';

export interface SyncPlan {
  /** Local copies a newer tombstone of the peer deletes. */
  deletes: { type: SyncResourceType; key: string; localId: string; at: number }[];
  /** Peer copies that create or replace the local one. */
  users: { peer: UserCopy; localId: string | undefined }[];
  groups: { peer: GroupCopy; localId: string | undefined }[];
}

function keysOf(peer: SiteState, type: SyncResourceType): Set<string> {
  const keys = new Set(type === 'User' ? peer.users.keys() : peer.groups.keys());
  const prefix = `${type}:`;
  for (const k of peer.tombstones.keys()) if (k.startsWith(prefix)) keys.add(k.slice(prefix.length));
  return keys;
}

/** What this site takes from the peer. A version equal to ours is not taken: nothing echoes back. */
export function planRound(local: SiteState, peer: SiteState): SyncPlan {
  const plan: SyncPlan = { deletes: [], users: [], groups: [] };
  for (const type of ['User', 'Group'] as const) {
    for (const key of [...keysOf(peer, type)].sort()) {
      const theirs = versionAt(peer, type, key);
      if (!theirs || !wins(theirs, versionAt(local, type, key))) continue;
      const mine = type === 'User' ? local.users.get(key) : local.groups.get(key);
      if (theirs.kind === 'dead') {
        if (mine) plan.deletes.push({ type, key, localId: mine.id, at: theirs.at });
      } else if (type === 'User') plan.users.push({ peer: peer.users.get(key)!, localId: mine?.id });
      else plan.groups.push({ peer: peer.groups.get(key)!, localId: mine?.id });
    }
  }
  return plan;
}
