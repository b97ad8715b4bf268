// A User row as a SCIM resource (RFC 7643 §4.1) and a SCIM User body as the row's new values.
// Attribute names are case-insensitive (RFC 7643 §2.1); read-only ones in a request are ignored.
import type { EffectiveGroup } from '../core/membership.js';
import type { User } from '../core/schema.js';
import { ENTERPRISE_SCHEMA, ENTERPRISE_STRINGS, etagOf, USER_EXTRA_STRINGS, USER_SCHEMA } from './schemas.js';
import { invalidSyntax, invalidValue } from './scim-error.js';

type Json = Record<string, unknown>;
type MultiValue = { value: string; type?: string; primary?: boolean; display?: string };

/** The SCIM representation of a user; `groups` lists direct and indirect groups. */
export function toScimUser(u: User, groups: EffectiveGroup[], base: string): Json {
  const extra = u.scimExtra ?? {};
  const out: Json = { schemas: [USER_SCHEMA], id: u.id };
  if (u.externalId) out.externalId = u.externalId;
  out.userName = u.username;
  const name: Json = {};
  if (u.name) name.formatted = u.name;
  if (u.givenName) name.givenName = u.givenName;
  if (u.familyName) name.familyName = u.familyName;
  if (Object.keys(name).length) out.name = name;
  if (u.name) out.displayName = u.name;
  for (const k of USER_EXTRA_STRINGS) if (typeof extra[k] === 'string') out[k] = extra[k];
  out.active = u.active;
  if (u.emails.length) out.emails = u.emails;
  if (Array.isArray(extra.phoneNumbers) && extra.phoneNumbers.length) out.phoneNumbers = extra.phoneNumbers;
  if (groups.length) {
    out.groups = groups.map((g) => ({ value: g.id, $ref: `${base}/Groups/${g.id}`, display: g.displayName, type: g.direct ? 'direct' : 'indirect' }));
  }
  if (extra.enterprise && typeof extra.enterprise === 'object') {
    (out.schemas as string[]).push(ENTERPRISE_SCHEMA);
    out[ENTERPRISE_SCHEMA] = extra.enterprise;
  }
  out.meta = {
    resourceType: 'User',
    created: u.createdAt.toISOString(),
    lastModified: u.updatedAt.toISOString(),
    location: `${base}/Users/${u.id}`,
    version: etagOf(u.version),
  };
  return out;
}

/** What a SCIM User body sets: the row's columns, `scim_extra` and an optional new password. */
export interface UserValues {
  username: string;
  externalId: string | null;
  name: string | null;
  givenName: string | null;
  familyName: string | null;
  active: boolean;
  emails: MultiValue[];
  email: string | null;
  scimExtra: Json;
  password: string | undefined;
}

const READ_ONLY = new Set(['id', 'meta', 'groups', 'schemas']);
const KNOWN = new Set(['externalid', 'username', 'name', 'displayname', 'active', 'emails', 'phonenumbers', 'password', ...USER_EXTRA_STRINGS.map((k) => k.toLowerCase()), ENTERPRISE_SCHEMA.toLowerCase()]);

/** Looks up a key case-insensitively (RFC 7643 §2.1: attribute names are case-insensitive). */
export function pick(obj: Json, key: string): unknown {
  const k = Object.keys(obj).find((x) => x.toLowerCase() === key.toLowerCase());
  return k === undefined ? undefined : obj[k];
}

const optString = (v: unknown, attr: string, max = 1024): string | null => {
  if (v === undefined || v === null) return null;
  if (typeof v !== 'string' || v.length > max) throw invalidValue(`"${attr}" must be a string of at most ${max} characters.`);
  return v;
};

function multiValues(v: unknown, attr: string): MultiValue[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v) || v.length > 20) throw invalidValue(`"${attr}" must be an array of at most 20 values.`);
  return v.map((e) => {
    if (!e || typeof e !== 'object' || Array.isArray(e)) throw invalidValue(`Each of "${attr}" must be an object.`);
    const o = e as Json;
    const value = optString(pick(o, 'value'), `${attr}.value`, 320);
    if (!value) throw invalidValue(`Each of "${attr}" needs a "value".`);
    const out: MultiValue = { value };
    const type = optString(pick(o, 'type'), `${attr}.type`, 64);
    if (type) out.type = type;
    const primary = pick(o, 'primary');
    if (primary !== undefined && typeof primary !== 'boolean') throw invalidValue(`"${attr}.primary" must be a boolean.`);
    if (primary) out.primary = true;
    return out;
  });
}

/** Entra ID sends booleans as "True"/"False" in PATCH values; accept them as booleans. */
function asBoolean(v: unknown, attr: string): boolean {
  if (typeof v === 'boolean') return v;
  if (typeof v === 'string' && /^(true|false)$/i.test(v)) return v.toLowerCase() === 'true';
  throw invalidValue(`"${attr}" must be a boolean.`);
}

/** Validates a full User body (POST, PUT, or a patched resource) into the row's values. */
export function parseScimUser(body: unknown): UserValues {
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw invalidSyntax('The body must be a JSON object.');
  const b = body as Json;
  const schemas = pick(b, 'schemas');
  if (!Array.isArray(schemas) || !schemas.some((s) => typeof s === 'string' && s.toLowerCase() === USER_SCHEMA.toLowerCase())) {
    throw invalidSyntax(`"schemas" must include ${USER_SCHEMA}.`);
  }
  for (const k of Object.keys(b)) {
    if (!READ_ONLY.has(k.toLowerCase()) && !KNOWN.has(k.toLowerCase())) throw invalidSyntax(`Unknown attribute "${k}".`);
  }
  const username = optString(pick(b, 'userName'), 'userName', 256)?.trim();
  if (!username) throw invalidValue('"userName" is required.');
  const nameObj = pick(b, 'name');
  if (nameObj !== undefined && nameObj !== null && (typeof nameObj !== 'object' || Array.isArray(nameObj))) throw invalidValue('"name" must be an object.');
  const n = (nameObj ?? {}) as Json;
  const emails = multiValues(pick(b, 'emails'), 'emails');
  const scimExtra: Json = {};
  for (const k of USER_EXTRA_STRINGS) {
    const v = optString(pick(b, k), k);
    if (v !== null) scimExtra[k] = v;
  }
  const phones = multiValues(pick(b, 'phoneNumbers'), 'phoneNumbers');
  if (phones.length) scimExtra.phoneNumbers = phones;
  const ent = pick(b, ENTERPRISE_SCHEMA);
  if (ent !== undefined && ent !== null) scimExtra.enterprise = parseEnterprise(ent);
  const active = pick(b, 'active');
  const password = pick(b, 'password');
  if (password !== undefined && (typeof password !== 'string' || password.length < 8 || password.length > 1024)) {
    throw invalidValue('"password" must be a string of 8 to 1024 characters.');
  }
  const primary = emails.find((e) => e.primary) ?? emails[0];
  return {
    username,
    externalId: optString(pick(b, 'externalId'), 'externalId', 512),
    name: optString(pick(b, 'displayName'), 'displayName') ?? optString(pick(n, 'formatted'), 'name.formatted'),
    givenName: optString(pick(n, 'givenName'), 'name.givenName'),
    familyName: optString(pick(n, 'familyName'), 'name.familyName'),
    active: active === undefined || active === null ? true : asBoolean(active, 'active'),
    emails,
    email: primary?.value ?? null,
    scimExtra,
    password: password as string | undefined,
  };
}

function parseEnterprise(v: unknown): Json {
  if (typeof v !== 'object' || Array.isArray(v) || !v) throw invalidValue(`"${ENTERPRISE_SCHEMA}" must be an object.`);
  const o = v as Json;
  const out: Json = {};
  for (const k of Object.keys(o)) {
    const known = ENTERPRISE_STRINGS.find((x) => x.toLowerCase() === k.toLowerCase());
    if (known) {
      const s = optString(o[k], known);
      if (s !== null) out[known] = s;
    } else if (k.toLowerCase() === 'manager') {
      const m = o[k];
      const value = m && typeof m === 'object' ? optString(pick(m as Json, 'value'), 'manager.value') : typeof m === 'string' ? m : null;
      if (value) out.manager = { value };
    } else throw invalidSyntax(`Unknown attribute "${k}" of the enterprise extension.`);
  }
  return out;
}
