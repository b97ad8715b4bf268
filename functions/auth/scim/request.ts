// Per-request helpers of the SCIM API: the tenant and caller, the JSON body, the audit + event
// record of a change, ETag preconditions and the SCIM response.
import type { Context } from 'hono';
import type { Queryable } from '#shared/db/index';
import type { OutgoingEvent } from '#shared/events/publisher';
import { recordAudit } from '../core/audit.js';
import type { AuthRuntime } from '../core/runtime.js';
import type { Tenant } from '../core/schema.js';
import { hasNul, requestMeta, tenantOf } from '../web/request.js';
import { authenticateScim } from './scim-auth.js';
import { etagOf } from './schemas.js';
import { invalidSyntax, invalidValue, SCIM_CONTENT_TYPE, ScimError, scimNotFound } from './scim-error.js';

export interface ScimRequest {
  tenant: Tenant;
  actor: string;
  /** `{issuer}/scim/v2`, the base of every `location` and `$ref`. */
  base: string;
  /** Writes the audit row and the event in `tx`, the transaction of the change. */
  record(tx: Queryable, action: string, detail: Record<string, unknown>, events: OutgoingEvent[]): Promise<void>;
}

export async function scimRequest(c: Context, rt: AuthRuntime): Promise<ScimRequest> {
  const tenant = await tenantOf(rt, c.req.param('tenant'), () => scimNotFound('No such tenant.'));
  const actor = await authenticateScim(rt, tenant, c.req.header('authorization'));
  const meta = requestMeta(c, rt);
  return {
    tenant,
    actor,
    base: `${rt.issuer(tenant.slug)}/scim/v2`,
    record: async (tx, action, detail, events) => {
      await recordAudit(tx, { tenantId: tenant.id, action, outcome: 'success', actor, detail }, meta);
      for (const e of events) await rt.events.emit(tx, e);
    },
  };
}

/** Reads a JSON body (application/scim+json or application/json); malformed JSON is a 400 invalidSyntax. */
export async function scimBody(c: Context): Promise<unknown> {
  const type = (c.req.header('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== SCIM_CONTENT_TYPE && type !== 'application/json') throw new ScimError(415, `Send the body as ${SCIM_CONTENT_TYPE}.`);
  let body: unknown;
  try {
    body = JSON.parse(await c.req.text());
  } catch {
    throw invalidSyntax('The body is not valid JSON.');
  }
  if (hasNul(body)) throw invalidValue('A string in the body contains a NUL character.');
  return body;
}

/** A SCIM JSON response with its ETag when the resource has a version. */
export function scimJson(body: unknown, status = 200, version?: number, headers: Record<string, string> = {}): Response {
  const h: Record<string, string> = { 'content-type': SCIM_CONTENT_TYPE, ...headers };
  if (version !== undefined) h.etag = etagOf(version);
  return new Response(JSON.stringify(body), { status, headers: h });
}

/**
 * RFC 7644 §3.14 / RFC 9110 §13.1.1: a write with If-Match whose tags do not include the current
 * version fails with 412 Precondition Failed, before anything is written.
 */
export function checkIfMatch(c: Context, version: number): void {
  const header = c.req.header('if-match');
  if (header === undefined) return;
  if (header.trim() === '*') return;
  const current = String(version);
  const tags = header.split(',').map((t) => t.trim().replace(/^W\//, '').replace(/^"|"$/g, ''));
  if (!tags.includes(current)) throw new ScimError(412, `The resource has changed: its version is ${etagOf(version)}.`);
}

/** RFC 9110 §13.1.2: a GET whose If-None-Match names the current version gets a 304. */
export function notModified(c: Context, version: number): boolean {
  const header = c.req.header('if-none-match');
  if (!header) return false;
  return header.split(',').some((t) => t.trim() === '*' || t.trim().replace(/^W\//, '').replace(/^"|"$/g, '') === String(version));
}
