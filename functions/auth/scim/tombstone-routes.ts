// /Tombstones: the tenant's deleted users and groups, a read-only resource type of our own
// (RFC 7643 §6 lets a service provider define one), which peer sites read to carry deletes over.
// The only filter is `meta.lastModified gt "<time>"`, what an incremental reader needs.
import type { Hono } from 'hono';
import type { AuthRuntime } from '../core/runtime.js';
import type { ScimTombstone } from '../core/schema.js';
import { listTombstones } from '../core/tombstones.js';
import { parseListQuery } from './list-query.js';
import { scimJson, scimRequest } from './request.js';
import { LIST_SCHEMA, TOMBSTONE_SCHEMA } from './schemas.js';
import { invalidFilter, ScimError } from './scim-error.js';

const SINCE = /^\s*meta\.lastModified\s+gt\s+"([^"]{1,40})"\s*$/i;

function sinceOf(filter: string | undefined): Date | undefined {
  if (filter === undefined) return undefined;
  const m = SINCE.exec(filter);
  const at = m ? new Date(m[1]!) : undefined;
  if (!at || Number.isNaN(at.getTime())) throw invalidFilter('Tombstones are filtered by meta.lastModified gt "<date-time>" only.');
  return at;
}

const toScimTombstone = (t: ScimTombstone, base: string) => ({
  schemas: [TOMBSTONE_SCHEMA],
  id: t.id,
  externalId: t.key,
  resourceType: t.resourceType,
  meta: { resourceType: 'Tombstone', lastModified: t.deletedAt.toISOString(), location: `${base}/Tombstones/${t.id}` },
});

export function scimTombstoneRoutes(app: Hono, rt: AuthRuntime): void {
  app.get('/Tombstones', async (c) => {
    const s = await scimRequest(c, rt);
    const since = sinceOf(c.req.query('filter'));
    const lq = parseListQuery((n) => (n === 'filter' ? undefined : c.req.query(n)));
    const { total, rows } = await listTombstones(rt.db, s.tenant.id, { since, startIndex: lq.startIndex, count: lq.count });
    const resources = rows.map((t) => toScimTombstone(t, s.base));
    return scimJson({ schemas: [LIST_SCHEMA], totalResults: total, startIndex: lq.startIndex, itemsPerPage: resources.length, Resources: resources });
  });
  app.all('/Tombstones', () => {
    throw new ScimError(405, 'Tombstones are read-only.');
  });
}
