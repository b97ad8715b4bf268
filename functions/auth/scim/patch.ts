// PATCH (RFC 7644 §3.5.2) applied to a resource's SCIM representation in memory: add, remove and
// replace with attribute paths, sub-attributes, extension URNs and value filters such as
// `members[value eq "…"]` and `emails[type eq "work"].value`. The caller validates and writes the
// result as a whole, so a PATCH that fails half-way changes nothing.
import { parseAttrPath, parseFilter, type AttrPath, type Filter } from './filter.js';
import { ENTERPRISE_SCHEMA, PATCH_SCHEMA } from './schemas.js';
import { invalidPath, invalidSyntax, invalidValue, noTarget, ScimError } from './scim-error.js';

type Json = Record<string, unknown>;

const MAX_OPERATIONS = 1000;

interface Operation {
  op: 'add' | 'remove' | 'replace';
  path: string | undefined;
  value: unknown;
}

export function parsePatchBody(body: unknown): Operation[] {
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw invalidSyntax('The body must be a JSON object.');
  const b = body as Json;
  if (!Array.isArray(b.schemas) || !b.schemas.includes(PATCH_SCHEMA)) throw invalidSyntax(`"schemas" must be ["${PATCH_SCHEMA}"].`);
  const ops = b.Operations ?? b.operations;
  if (!Array.isArray(ops) || ops.length === 0) throw invalidSyntax('"Operations" must be a non-empty array.');
  if (ops.length > MAX_OPERATIONS) throw invalidValue(`At most ${MAX_OPERATIONS} operations per request.`);
  return ops.map((o) => {
    if (!o || typeof o !== 'object') throw invalidSyntax('Each operation must be an object.');
    const x = o as Json;
    const op = typeof x.op === 'string' ? x.op.toLowerCase() : '';
    if (op !== 'add' && op !== 'remove' && op !== 'replace') throw invalidSyntax(`Unknown operation "${String(x.op)}".`);
    if (x.path !== undefined && typeof x.path !== 'string') throw invalidPath('"path" must be a string.');
    if (op !== 'remove' && x.value === undefined) throw invalidValue(`"${op}" needs a "value".`);
    return { op, path: x.path as string | undefined, value: x.value };
  });
}

interface ParsedPath {
  /** The key of the attribute in the resource: an attribute name or the extension URN. */
  container: string | undefined;
  attr: string;
  filter: Filter | undefined;
  sub: string | undefined;
}

/** `attr`, `attr.sub`, `attr[filter]`, `attr[filter].sub`, each optionally URN-prefixed. */
function parsePath(raw: string): ParsedPath {
  const m = /^([^[\]]+?)(?:\[(.+)\](?:\.([A-Za-z][\w$-]*))?)?$/.exec(raw.trim());
  if (!m) throw invalidPath(`Invalid path "${raw}".`);
  let p: AttrPath;
  try {
    p = parseAttrPath(m[1]!);
  } catch {
    throw invalidPath(`Invalid path "${raw}".`);
  }
  if (m[2] && p.sub) throw invalidPath(`Invalid path "${raw}".`);
  let filter: Filter | undefined;
  if (m[2]) {
    try {
      filter = parseFilter(m[2]);
    } catch (e) {
      throw invalidPath(`Invalid value filter in "${raw}": ${e instanceof ScimError ? e.detail : ''}`);
    }
  }
  const container = p.schema?.toLowerCase() === ENTERPRISE_SCHEMA.toLowerCase() ? ENTERPRISE_SCHEMA : undefined;
  return { container, attr: p.attr, filter, sub: m[3] ?? p.sub };
}

const keyOf = (obj: Json, name: string) => Object.keys(obj).find((k) => k.toLowerCase() === name.toLowerCase());

/** Evaluates a value filter on one element of a multi-valued attribute. */
function matches(el: unknown, f: Filter): boolean {
  if (!el || typeof el !== 'object') return false;
  const o = el as Json;
  switch (f.kind) {
    case 'and': return matches(el, f.left) && matches(el, f.right);
    case 'or': return matches(el, f.left) || matches(el, f.right);
    case 'not': return !matches(el, f.filter);
    case 'valuePath': throw invalidPath('A value path cannot nest another.');
    case 'present': {
      const k = keyOf(o, f.path.sub ?? f.path.attr);
      return k !== undefined && o[k] !== null && o[k] !== '';
    }
    default: {
      const k = keyOf(o, f.path.sub ?? f.path.attr);
      const actual = k === undefined ? undefined : o[k];
      const a = typeof actual === 'string' ? actual.toLowerCase() : actual;
      const v = typeof f.value === 'string' ? f.value.toLowerCase() : f.value;
      switch (f.op) {
        case 'eq': return a === v;
        case 'ne': return a !== v;
        case 'co': return typeof a === 'string' && typeof v === 'string' && a.includes(v);
        case 'sw': return typeof a === 'string' && typeof v === 'string' && a.startsWith(v);
        case 'ew': return typeof a === 'string' && typeof v === 'string' && a.endsWith(v);
        case 'gt': return a !== undefined && a !== null && v !== null && (a as string) > (v as string);
        case 'ge': return a !== undefined && a !== null && v !== null && (a as string) >= (v as string);
        case 'lt': return a !== undefined && a !== null && v !== null && (a as string) < (v as string);
        case 'le': return a !== undefined && a !== null && v !== null && (a as string) <= (v as string);
      }
    }
  }
}

/** Values of a multi-valued attribute with the same `value` are one: an add does not duplicate. */
function mergeMulti(existing: unknown[], added: unknown[]): unknown[] {
  const out = [...existing];
  for (const a of added) {
    const v = a && typeof a === 'object' ? (a as Json)[keyOf(a as Json, 'value') ?? 'value'] : undefined;
    const i = v === undefined ? -1 : out.findIndex((e) => e && typeof e === 'object' && (e as Json)[keyOf(e as Json, 'value') ?? 'value'] === v);
    if (i >= 0) out[i] = { ...(out[i] as Json), ...(a as Json) };
    else out.push(a);
  }
  return out;
}

function setAttr(target: Json, name: string, value: unknown, op: 'add' | 'replace'): void {
  const k = keyOf(target, name) ?? name;
  if (op === 'add' && Array.isArray(value)) {
    target[k] = mergeMulti(Array.isArray(target[k]) ? (target[k] as unknown[]) : [], value);
  } else if (op === 'add' && value && typeof value === 'object' && target[k] && typeof target[k] === 'object' && !Array.isArray(target[k])) {
    target[k] = { ...(target[k] as Json), ...(value as Json) };
  } else {
    target[k] = value;
  }
}

/** Applies one operation to `res` (mutated). `multi` names the multi-valued attributes. */
function applyOne(res: Json, o: Operation, multi: ReadonlySet<string>): void {
  if (o.path === undefined) {
    if (o.op === 'remove') throw noTarget('"remove" needs a "path".');
    if (!o.value || typeof o.value !== 'object' || Array.isArray(o.value)) throw invalidValue(`"${o.op}" without a path takes an object value.`);
    for (const [k, v] of Object.entries(o.value as Json)) applyOne(res, { op: o.op, path: k, value: v }, multi);
    return;
  }
  const p = parsePath(o.path);
  let target = res;
  if (p.container) {
    const ck = keyOf(res, p.container) ?? p.container;
    if (!res[ck] || typeof res[ck] !== 'object') {
      if (o.op === 'remove') return;
      res[ck] = {};
    }
    target = res[ck] as Json;
    if (o.path.trim().toLowerCase() === ENTERPRISE_SCHEMA.toLowerCase()) {
      if (o.op === 'remove') delete res[ck];
      else setAttr(res, ck, o.value, o.op);
      return;
    }
  }
  const k = keyOf(target, p.attr) ?? p.attr;
  if (p.filter) {
    if (!multi.has(p.attr.toLowerCase())) throw invalidPath(`"${p.attr}" is not multi-valued.`);
    const list = Array.isArray(target[k]) ? (target[k] as unknown[]) : [];
    const hit = list.map((e) => matches(e, p.filter!));
    if (o.op === 'remove') {
      if (p.sub) {
        list.forEach((e, i) => {
          if (hit[i]) delete (e as Json)[keyOf(e as Json, p.sub!) ?? p.sub!];
        });
      } else target[k] = list.filter((_, i) => !hit[i]);
      return;
    }
    // RFC 7644 §3.5.2.3: a replace whose filter matches nothing is a 400 noTarget (an add too).
    if (!hit.some(Boolean)) throw noTarget(`No value of "${p.attr}" matches the filter.`);
    target[k] = list.map((e, i) => {
      if (!hit[i]) return e;
      if (p.sub) return { ...(e as Json), [keyOf(e as Json, p.sub) ?? p.sub]: o.value };
      if (!o.value || typeof o.value !== 'object') throw invalidValue('The value must be an object.');
      return { ...(e as Json), ...(o.value as Json) };
    });
    return;
  }
  if (p.sub) {
    if (multi.has(p.attr.toLowerCase())) throw invalidPath(`"${p.attr}.${p.sub}" needs a value filter.`);
    if (o.op === 'remove') {
      if (target[k] && typeof target[k] === 'object') delete (target[k] as Json)[keyOf(target[k] as Json, p.sub) ?? p.sub];
      return;
    }
    const inner = target[k] && typeof target[k] === 'object' ? (target[k] as Json) : {};
    setAttr(inner, p.sub, o.value, o.op);
    target[k] = inner;
    return;
  }
  if (o.op === 'remove') {
    delete target[k];
    return;
  }
  // A single member object for a multi-valued attribute (Entra ID sends `{value}` for add).
  const value = multi.has(p.attr.toLowerCase()) && o.value && typeof o.value === 'object' && !Array.isArray(o.value) ? [o.value] : o.value;
  setAttr(target, k, value, o.op);
}

/**
 * Applies every operation in order to a copy of `resource`; any failure is thrown before the
 * caller writes, so the resource is changed by all operations or none.
 * @see https://www.rfc-editor.org/rfc/rfc7644#section-3.5.2
 */
export function applyPatch(resource: Json, ops: Operation[], multi: ReadonlySet<string>): Json {
  const res = structuredClone(resource);
  for (const o of ops) applyOne(res, o, multi);
  return res;
}
