// Compiles a parsed SCIM filter into parameterised SQL over the user or group table: attribute
// names come from a fixed map (an unknown one is a 400), values are always bound parameters.
// `userName eq` compares the stored lower-case column itself, so it uses the unique index.
import { sql, type SQL } from 'drizzle-orm';
import { groupMembers, groupNesting, groups, users } from '../core/schema.js';
import { isUuid } from '../core/groups.js';
import { effectiveMemberIdsSql } from '../core/membership.js';
import type { AttrPath, CompareOp, Filter, FilterValue } from './filter.js';
import { invalidFilter } from './scim-error.js';

type Scalar = { kind: 'string'; col: SQL; caseExact: boolean; storedLower?: boolean } | { kind: 'boolean'; col: SQL } | { kind: 'date'; col: SQL } | { kind: 'id'; col: SQL };
type Multi = { kind: 'multi'; array: SQL; subs: Record<string, 'string' | 'boolean'> };
type Special = { kind: 'groups' } | { kind: 'members' };
type Attr = Scalar | Multi | Special;

const ENTERPRISE = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:user';
const str = (col: SQL, caseExact = false): Scalar => ({ kind: 'string', col, caseExact });
const extra = (key: string) => str(sql`(${users.scimExtra}->>${key})`);
const MULTI_SUBS = { value: 'string', type: 'string', primary: 'boolean', display: 'string' } as const;

/** Attributes of a User a filter may name (lower-case `attr` or `attr.sub`). */
const USER_ATTRS: Record<string, Attr> = {
  id: { kind: 'id', col: sql`${users.id}` },
  username: { kind: 'string', col: sql`${users.username}`, caseExact: false, storedLower: true },
  externalid: str(sql`${users.externalId}`, true),
  displayname: str(sql`${users.name}`),
  'name.formatted': str(sql`${users.name}`),
  'name.givenname': str(sql`${users.givenName}`),
  'name.familyname': str(sql`${users.familyName}`),
  active: { kind: 'boolean', col: sql`${users.active}` },
  'meta.created': { kind: 'date', col: sql`${users.createdAt}` },
  'meta.lastmodified': { kind: 'date', col: sql`${users.updatedAt}` },
  emails: { kind: 'multi', array: sql`${users.emails}`, subs: MULTI_SUBS },
  phonenumbers: { kind: 'multi', array: sql`coalesce(${users.scimExtra}->'phoneNumbers', '[]'::jsonb)`, subs: MULTI_SUBS },
  title: extra('title'),
  nickname: extra('nickName'),
  usertype: extra('userType'),
  locale: extra('locale'),
  timezone: extra('timezone'),
  preferredlanguage: extra('preferredLanguage'),
  groups: { kind: 'groups' },
};
const ENTERPRISE_ATTRS: Record<string, Attr> = Object.fromEntries(
  ['employeeNumber', 'costCenter', 'organization', 'division', 'department'].map((k) => [k.toLowerCase(), str(sql`(${users.scimExtra}->'enterprise'->>${k})`)]),
);
ENTERPRISE_ATTRS['manager.value'] = str(sql`(${users.scimExtra}->'enterprise'->'manager'->>'value')`, true);

const GROUP_ATTRS: Record<string, Attr> = {
  id: { kind: 'id', col: sql`${groups.id}` },
  displayname: str(sql`${groups.displayName}`),
  externalid: str(sql`${groups.externalId}`, true),
  'meta.created': { kind: 'date', col: sql`${groups.createdAt}` },
  'meta.lastmodified': { kind: 'date', col: sql`${groups.updatedAt}` },
  members: { kind: 'members' },
};

type ResourceKind = 'User' | 'Group';

function lookup(kind: ResourceKind, path: AttrPath): { attr: Attr; sub: string | undefined } {
  const name = path.attr.toLowerCase();
  const sub = path.sub?.toLowerCase();
  if (path.schema === ENTERPRISE) {
    const a = kind === 'User' ? ENTERPRISE_ATTRS[sub ? `${name}.${sub}` : name] : undefined;
    if (!a) throw invalidFilter(`Unknown attribute "${path.attr}" of the enterprise extension.`);
    return { attr: a, sub: undefined };
  }
  if (path.schema && !path.schema.endsWith(kind.toLowerCase())) throw invalidFilter(`Attribute "${path.attr}" is of another resource type.`);
  const table = kind === 'User' ? USER_ATTRS : GROUP_ATTRS;
  const whole = sub ? table[`${name}.${sub}`] : undefined;
  if (whole) return { attr: whole, sub: undefined };
  const a = table[name];
  if (!a || (sub && a.kind !== 'multi' && a.kind !== 'groups' && a.kind !== 'members')) throw invalidFilter(`Unknown attribute "${path.sub ? `${path.attr}.${path.sub}` : path.attr}".`);
  return { attr: a, sub };
}

const escapeLike = (s: string) => s.replace(/[\\%_]/g, (c) => `\\${c}`);

function compareScalar(a: Scalar, op: CompareOp, value: FilterValue, name: string): SQL {
  if (value === null) {
    if (op === 'eq') return sql`(${a.col} is null)`;
    if (op === 'ne') return sql`(${a.col} is not null)`;
    throw invalidFilter(`"${name}" can only be compared with null by eq or ne.`);
  }
  if (a.kind === 'boolean') {
    if (typeof value !== 'boolean' || (op !== 'eq' && op !== 'ne')) throw invalidFilter(`"${name}" is a boolean: eq or ne with true or false.`);
    return op === 'eq' ? sql`(${a.col} = ${value})` : sql`(${a.col} <> ${value})`;
  }
  if (typeof value !== 'string') throw invalidFilter(`"${name}" takes a string value.`);
  if (a.kind === 'id') {
    if (op !== 'eq' && op !== 'ne') throw invalidFilter('"id" supports eq and ne.');
    const match = isUuid(value) ? sql`(${a.col} = ${value}::uuid)` : sql`false`;
    return op === 'eq' ? match : sql`(not ${match})`;
  }
  if (a.kind === 'date') {
    const t = Date.parse(value);
    if (Number.isNaN(t) || op === 'co' || op === 'sw' || op === 'ew') throw invalidFilter(`"${name}" is a dateTime: eq, ne, gt, ge, lt or le with an xsd:dateTime.`);
    return cmp(a.col, op, sql`${new Date(t).toISOString()}::timestamptz`);
  }
  const col = a.caseExact || a.storedLower ? a.col : sql`lower(${a.col})`;
  const v = a.caseExact ? value : value.toLowerCase();
  if (op === 'co') return sql`(${col} like ${`%${escapeLike(v)}%`})`;
  if (op === 'sw') return sql`(${col} like ${`${escapeLike(v)}%`})`;
  if (op === 'ew') return sql`(${col} like ${`%${escapeLike(v)}`})`;
  return cmp(col, op, sql`${v}`);
}

function cmp(col: SQL, op: CompareOp, v: SQL): SQL {
  switch (op) {
    case 'eq': return sql`(${col} = ${v})`;
    case 'ne': return sql`(${col} is distinct from ${v})`;
    case 'gt': return sql`(${col} > ${v})`;
    case 'ge': return sql`(${col} >= ${v})`;
    case 'lt': return sql`(${col} < ${v})`;
    case 'le': return sql`(${col} <= ${v})`;
    default: throw invalidFilter(`Operator ${op} does not apply here.`);
  }
}

/** A filter on one element `e` of a multi-valued attribute (inside a value path or `emails.type`). */
function elementFilter(m: Multi, f: Filter, name: string): SQL {
  switch (f.kind) {
    case 'and': return sql`(${elementFilter(m, f.left, name)} and ${elementFilter(m, f.right, name)})`;
    case 'or': return sql`(${elementFilter(m, f.left, name)} or ${elementFilter(m, f.right, name)})`;
    case 'not': return sql`(not coalesce(${elementFilter(m, f.filter, name)}, false))`;
    case 'valuePath': throw invalidFilter('A value path cannot nest another.');
    default: {
      const sub = (f.path.sub ?? f.path.attr).toLowerCase();
      const type = Object.entries(m.subs).find(([k]) => k.toLowerCase() === sub)?.[1];
      if (!type || (f.path.sub && f.path.attr.toLowerCase() !== name)) throw invalidFilter(`Unknown sub-attribute "${f.path.sub ?? f.path.attr}" of "${name}".`);
      const key = Object.keys(m.subs).find((k) => k.toLowerCase() === sub)!;
      const col = type === 'boolean' ? sql`(e->>${key})::boolean` : sql`(e->>${key})`;
      if (f.kind === 'present') return sql`(e ? ${key})`;
      return compareScalar(type === 'boolean' ? { kind: 'boolean', col } : str(col), f.op, f.value, `${name}.${key}`);
    }
  }
}

/** Compiles `f` for the User or Group table of one query (the tenant condition is the caller's). */
export function compileFilter(kind: ResourceKind, f: Filter): SQL {
  switch (f.kind) {
    case 'and': return sql`(${compileFilter(kind, f.left)} and ${compileFilter(kind, f.right)})`;
    case 'or': return sql`(${compileFilter(kind, f.left)} or ${compileFilter(kind, f.right)})`;
    case 'not': return sql`(not coalesce(${compileFilter(kind, f.filter)}, false))`;
    case 'valuePath': {
      const { attr } = lookup(kind, f.path);
      if (attr.kind !== 'multi') throw invalidFilter(`"${f.path.attr}" is not a multi-valued attribute.`);
      return sql`exists (select 1 from jsonb_array_elements(${attr.array}) e where ${elementFilter(attr, f.filter, f.path.attr.toLowerCase())})`;
    }
    default: {
      const { attr, sub } = lookup(kind, f.path);
      const name = f.path.sub ? `${f.path.attr}.${f.path.sub}` : f.path.attr;
      if (attr.kind === 'multi') {
        if (f.kind === 'present' && !sub) return sql`(jsonb_array_length(${attr.array}) > 0)`;
        const inner: Filter = { ...f, path: { schema: undefined, attr: sub ?? 'value', sub: undefined } };
        return sql`exists (select 1 from jsonb_array_elements(${attr.array}) e where ${elementFilter(attr, inner, f.path.attr.toLowerCase())})`;
      }
      if (attr.kind === 'groups' || attr.kind === 'members') return membershipFilter(attr.kind, f, sub, name);
      if (f.kind === 'present') return attr.kind === 'string' ? sql`(coalesce(${attr.col}, '') <> '')` : sql`(${attr.col} is not null)`;
      return compareScalar(attr, f.op, f.value, name);
    }
  }
}

/**
 * `groups.value eq "<id>"` on Users finds direct and indirect members (the group's effective
 * membership); `members.value eq "<id>"` on Groups finds the groups with that direct member.
 */
function membershipFilter(kind: 'groups' | 'members', f: Filter & { kind: 'compare' | 'present' }, sub: string | undefined, name: string): SQL {
  if (sub && sub !== 'value') throw invalidFilter(`Only "${kind}.value" can be filtered.`);
  if (f.kind === 'present') {
    return kind === 'groups'
      ? sql`exists (select 1 from ${groupMembers} where ${groupMembers.userId} = ${users.id})`
      : sql`(exists (select 1 from ${groupMembers} where ${groupMembers.groupId} = ${groups.id}) or exists (select 1 from ${groupNesting} where ${groupNesting.parentId} = ${groups.id}))`;
  }
  if ((f.op !== 'eq' && f.op !== 'ne') || typeof f.value !== 'string') throw invalidFilter(`"${name}" supports eq and ne with an id.`);
  let match: SQL;
  if (!isUuid(f.value)) match = sql`false`;
  else if (kind === 'groups') match = sql`(${users.id} in ${effectiveMemberIdsSql(f.value)})`;
  else match = sql`(exists (select 1 from ${groupMembers} where ${groupMembers.groupId} = ${groups.id} and ${groupMembers.userId} = ${f.value}::uuid) or exists (select 1 from ${groupNesting} where ${groupNesting.parentId} = ${groups.id} and ${groupNesting.childId} = ${f.value}::uuid))`;
  return f.op === 'eq' ? match : sql`(not ${match})`;
}
