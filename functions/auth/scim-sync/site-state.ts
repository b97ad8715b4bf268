// One site's directory as the sync compares it: users and groups by sync key (externalId, or the
// id of a resource that has none), each with its time and content digest, and the tombstones.
import { eq } from 'drizzle-orm';
import type { Queryable } from '#shared/db/index';
import { directMembersOf } from '../core/membership.js';
import { groups, users } from '../core/schema.js';
import { tombstonesOf, type SyncResourceType } from '../core/tombstones.js';
import { parseScimUser, toScimUser, type UserValues } from '../scim/user-resource.js';
import { digestOf, type SiteVersion } from './versions.js';

export interface MemberKey {
  type: SyncResourceType;
  key: string;
}

export interface UserCopy {
  key: string;
  /** The id at the site that holds this copy. */
  id: string;
  at: number;
  values: UserValues;
  digest: string;
}

export interface GroupCopy {
  key: string;
  id: string;
  at: number;
  displayName: string;
  members: MemberKey[];
  digest: string;
}

export interface SiteState {
  users: Map<string, UserCopy>;
  groups: Map<string, GroupCopy>;
  /** `User:<key>` or `Group:<key>` → the delete's time (ms). */
  tombstones: Map<string, number>;
}

/** What of a user travels between sites: everything SCIM shows but its id, key, groups and meta. */
export const userDigest = (v: UserValues) =>
  digestOf({ userName: v.username.toLowerCase(), name: v.name, givenName: v.givenName, familyName: v.familyName, active: v.active, emails: v.emails, extra: v.scimExtra });

/** A group's name and its direct members by sync key (order does not matter). */
export const groupDigest = (displayName: string, members: MemberKey[]) => digestOf({ displayName, members: members.map((m) => `${m.type}:${m.key}`).sort() });

export const tombstoneKey = (type: SyncResourceType, key: string) => `${type}:${key}`;

/** The version of one resource at one site: its live copy, else its tombstone, else nothing. */
export function versionAt(site: SiteState, type: SyncResourceType, key: string): SiteVersion | undefined {
  const copy = type === 'User' ? site.users.get(key) : site.groups.get(key);
  if (copy) return { kind: 'live', at: copy.at, digest: copy.digest };
  const at = site.tombstones.get(tombstoneKey(type, key));
  return at === undefined ? undefined : { kind: 'dead', at };
}

/** Reads this site's directory of one tenant. */
export async function readLocalState(q: Queryable, tenantId: string): Promise<SiteState> {
  const userRows = await q.select().from(users).where(eq(users.tenantId, tenantId));
  const groupRows = await q.select().from(groups).where(eq(groups.tenantId, tenantId));
  const keyOf = new Map<string, MemberKey>();
  const state: SiteState = { users: new Map(), groups: new Map(), tombstones: new Map() };
  for (const u of userRows) {
    const key = u.externalId ?? u.id;
    keyOf.set(u.id, { type: 'User', key });
    // The same parse a peer's copy goes through, so equal users digest equally on both sites.
    const values = parseScimUser(toScimUser(u, [], ''));
    state.users.set(key, { key, id: u.id, at: u.updatedAt.getTime(), values, digest: userDigest(values) });
  }
  for (const g of groupRows) keyOf.set(g.id, { type: 'Group', key: g.externalId ?? g.id });
  const members = await directMembersOf(q, groupRows.map((g) => g.id));
  for (const g of groupRows) {
    const key = g.externalId ?? g.id;
    const keys = (members.get(g.id) ?? []).map((m) => keyOf.get(m.value)).filter((m): m is MemberKey => m !== undefined);
    state.groups.set(key, { key, id: g.id, at: g.updatedAt.getTime(), displayName: g.displayName, members: keys, digest: groupDigest(g.displayName, keys) });
  }
  for (const [k, at] of await tombstonesOf(q, tenantId)) state.tombstones.set(k, at.getTime());
  return state;
}
