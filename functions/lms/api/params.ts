// Path parameters: the tenant (a ZenoAuth tenant slug) and resource ids, checked before any query.
import type { Context } from 'hono';
import { AppError } from '#shared/http/errors';

export type LmsEnv = { Variables: { clientAddress: string | undefined; requestId: string } };

const TENANT = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export const isTenant = (t: string) => TENANT.test(t);

/** The `:id` of the route; a malformed id names no resource (404). */
export function idParam(c: Context): string {
  const id = c.req.param('id') ?? '';
  if (!UUID.test(id)) throw new AppError(404, 'not_found', 'Not Found', { detail: 'No such resource.' });
  return id.toLowerCase();
}
