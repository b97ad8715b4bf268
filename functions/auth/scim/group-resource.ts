// A Group row as a SCIM resource (RFC 7643 §4.2) and a SCIM Group body as the row's new values.
// Members may be users or groups (nested groups); `type` says which.
import type { MemberRef } from '../core/groups.js';
import type { DirectMember } from '../core/membership.js';
import type { Group } from '../core/schema.js';
import { etagOf, GROUP_SCHEMA } from './schemas.js';
import { invalidSyntax, invalidValue } from './scim-error.js';
import { pick } from './user-resource.js';

type Json = Record<string, unknown>;

/** The most members one request may name: larger groups are grown by PATCH. */
const MAX_MEMBERS_PER_REQUEST = 10_000;

export function toScimGroup(g: Group, members: DirectMember[] | undefined, base: string): Json {
  const out: Json = { schemas: [GROUP_SCHEMA], id: g.id };
  if (g.externalId) out.externalId = g.externalId;
  out.displayName = g.displayName;
  if (members?.length) {
    out.members = members.map((m) => ({ value: m.value, $ref: `${base}/${m.type === 'User' ? 'Users' : 'Groups'}/${m.value}`, display: m.display, type: m.type }));
  }
  out.meta = {
    resourceType: 'Group',
    created: g.createdAt.toISOString(),
    lastModified: g.updatedAt.toISOString(),
    location: `${base}/Groups/${g.id}`,
    version: etagOf(g.version),
  };
  return out;
}

export interface GroupValues {
  displayName: string;
  externalId: string | null;
  members: MemberRef[];
}

const KNOWN = new Set(['schemas', 'id', 'meta', 'externalid', 'displayname', 'members']);

export function parseScimGroup(body: unknown): GroupValues {
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw invalidSyntax('The body must be a JSON object.');
  const b = body as Json;
  const schemas = pick(b, 'schemas');
  if (!Array.isArray(schemas) || !schemas.some((s) => typeof s === 'string' && s.toLowerCase() === GROUP_SCHEMA.toLowerCase())) {
    throw invalidSyntax(`"schemas" must include ${GROUP_SCHEMA}.`);
  }
  for (const k of Object.keys(b)) if (!KNOWN.has(k.toLowerCase())) throw invalidSyntax(`Unknown attribute "${k}".`);
  const displayName = pick(b, 'displayName');
  if (typeof displayName !== 'string' || !displayName.trim() || displayName.length > 256) throw invalidValue('"displayName" is required: a string of at most 256 characters.');
  const externalId = pick(b, 'externalId');
  if (externalId !== undefined && externalId !== null && (typeof externalId !== 'string' || externalId.length > 512)) throw invalidValue('"externalId" must be a string.');
  return { displayName: displayName.trim(), externalId: (externalId as string | undefined) ?? null, members: parseMembers(pick(b, 'members')) };
}

/** Member references `[{value, type?}]`; `type` is informative, the id decides. */
function parseMembers(v: unknown): MemberRef[] {
  if (v === undefined || v === null) return [];
  const list = Array.isArray(v) ? v : [v];
  if (list.length > MAX_MEMBERS_PER_REQUEST) throw invalidValue(`At most ${MAX_MEMBERS_PER_REQUEST} members per request.`);
  return list.map((m) => {
    if (!m || typeof m !== 'object') throw invalidValue('Each member must be an object with a "value".');
    const value = pick(m as Json, 'value');
    if (typeof value !== 'string' || !value) throw invalidValue('Each member needs a "value" (a user or group id).');
    const type = pick(m as Json, 'type');
    return { value, type: typeof type === 'string' && type.toLowerCase() === 'group' ? 'Group' : 'User' };
  });
}
