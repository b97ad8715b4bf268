// List parameters (RFC 7644 §3.4.2): filter, sortBy/sortOrder, startIndex/count, and the
// attribute projection (§3.4.2.5, `attributes` / `excludedAttributes`), from a query string or
// a POST /.search body (§3.4.3).
import { parseFilter, type Filter } from './filter.js';
import { SEARCH_SCHEMA } from './schemas.js';
import { invalidSyntax, invalidValue } from './scim-error.js';

/** RFC 7644 §3.4.2.4: "a maximum page size … the service provider's maximum". */
export const MAX_COUNT = 200;

export interface ListQuery {
  filter: Filter | undefined;
  sortBy: string | undefined;
  descending: boolean;
  startIndex: number;
  count: number;
  attributes: string[] | undefined;
  excludedAttributes: string[] | undefined;
}

const int = (v: string | undefined, name: string): number | undefined => {
  if (v === undefined || v === '') return undefined;
  if (!/^-?\d{1,9}$/.test(v)) throw invalidValue(`"${name}" must be an integer.`);
  return Number(v);
};
const list = (v: string | undefined) => (v ? v.split(',').map((s) => s.trim()).filter(Boolean) : undefined);

export function parseListQuery(get: (name: string) => string | undefined): ListQuery {
  const filter = get('filter');
  const sortOrder = get('sortOrder');
  if (sortOrder !== undefined && !/^(ascending|descending)$/i.test(sortOrder)) throw invalidValue('"sortOrder" is ascending or descending.');
  // §3.4.2.4: startIndex < 1 is read as 1; a negative count as 0.
  const start = Math.max(1, int(get('startIndex'), 'startIndex') ?? 1);
  const count = Math.min(MAX_COUNT, Math.max(0, int(get('count'), 'count') ?? MAX_COUNT));
  return {
    filter: filter === undefined ? undefined : parseFilter(filter),
    sortBy: get('sortBy') || undefined,
    descending: sortOrder?.toLowerCase() === 'descending',
    startIndex: start,
    count,
    attributes: list(get('attributes')),
    excludedAttributes: list(get('excludedAttributes')),
  };
}

/** The SearchRequest body of POST /.search as the same parameters. */
export function parseSearchBody(body: unknown): ListQuery {
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw invalidSyntax('The body must be a JSON object.');
  const b = body as Record<string, unknown>;
  if (!Array.isArray(b.schemas) || !b.schemas.includes(SEARCH_SCHEMA)) throw invalidSyntax(`"schemas" must be ["${SEARCH_SCHEMA}"].`);
  const str = (k: string): string | undefined => {
    const v = b[k];
    if (v === undefined || v === null) return undefined;
    if (typeof v === 'number' && Number.isInteger(v)) return String(v);
    if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v.join(',');
    if (typeof v !== 'string') throw invalidValue(`"${k}" has the wrong type.`);
    return v;
  };
  return parseListQuery(str);
}

/** Attributes returned whatever the projection says (RFC 7643 §7 `returned: always`). */
const ALWAYS = new Set(['id', 'schemas']);

/**
 * Applies `attributes` (only these, plus the always-returned) or `excludedAttributes`.
 * Names may carry the schema URN and one sub-attribute (`name.givenName`, `meta.lastModified`).
 */
export function project(resource: Record<string, unknown>, q: Pick<ListQuery, 'attributes' | 'excludedAttributes'>): Record<string, unknown> {
  const norm = (a: string) => a.replace(/^urn:ietf:params:scim:schemas:core:2\.0:(User|Group):/i, '').toLowerCase();
  if (q.attributes?.length) {
    const wanted = q.attributes.map(norm);
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(resource)) {
      const lk = k.toLowerCase();
      if (ALWAYS.has(lk) || wanted.includes(lk)) out[k] = v;
      else {
        const subs = wanted.filter((w) => w.startsWith(`${lk}.`) || w.startsWith(`${lk}:`)).map((w) => w.slice(lk.length + 1));
        if (subs.length && v && typeof v === 'object' && !Array.isArray(v)) {
          out[k] = Object.fromEntries(Object.entries(v).filter(([sk]) => subs.includes(sk.toLowerCase())));
        } else if (subs.length && Array.isArray(v)) {
          out[k] = v.map((e) => (e && typeof e === 'object' ? Object.fromEntries(Object.entries(e).filter(([sk]) => subs.includes(sk.toLowerCase()))) : e));
        }
      }
    }
    return out;
  }
  if (q.excludedAttributes?.length) {
    const excluded = q.excludedAttributes.map(norm);
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(resource)) {
      const lk = k.toLowerCase();
      if (!ALWAYS.has(lk) && excluded.includes(lk)) continue;
      const subs = excluded.filter((w) => w.startsWith(`${lk}.`)).map((w) => w.slice(lk.length + 1));
      out[k] = subs.length && v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).filter(([sk]) => !subs.includes(sk.toLowerCase()))) : v;
    }
    return out;
  }
  return resource;
}
