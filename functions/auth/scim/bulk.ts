// /Bulk (RFC 7644 §3.7): many operations in one request, each dispatched to the same routes as a
// single call (same checks, same transaction per resource, same audit and events), with bulkId
// references resolved to the ids the earlier operations created.
import type { Hono } from 'hono';
import type { AuthRuntime } from '../core/runtime.js';
import { scimJson, scimRequest } from './request.js';
import { invalidSyntax, invalidValue, SCIM_CONTENT_TYPE, ScimError } from './scim-error.js';
import { hasNul } from '../web/request.js';

const BULK_REQUEST_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:BulkRequest';
const BULK_RESPONSE_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:BulkResponse';
const ERROR_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:Error';

/** Advertised in ServiceProviderConfig (RFC 7643 §5 `bulk`) and enforced below. */
export const BULK_LIMITS = { maxOperations: 1000, maxPayloadSize: 512 * 1024 } as const;

const METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
const PATH = /^\/(Users|Groups)(\/[^/?#]+)?$/;
const BULK_REF = /^bulkId:(.+)$/;

interface BulkOperation {
  method: string;
  bulkId: string | undefined;
  version: string | undefined;
  path: string;
  data: unknown;
}

/** Sends one operation to the SCIM routes as if it were its own request. */
type BulkDispatch = (req: Request) => Promise<Response>;

function parseBulkBody(text: string): { ops: BulkOperation[]; failOnErrors: number | undefined } {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw invalidSyntax('The body is not valid JSON.');
  }
  if (hasNul(body)) throw invalidValue('A string in the body contains a NUL character.');
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw invalidSyntax('A BulkRequest is a JSON object.');
  const b = body as Record<string, unknown>;
  if (!Array.isArray(b.schemas) || !b.schemas.includes(BULK_REQUEST_SCHEMA)) throw invalidSyntax(`The schemas must include ${BULK_REQUEST_SCHEMA}.`);
  if (!Array.isArray(b.Operations)) throw invalidSyntax('Operations must be an array.');
  // RFC 7644 §3.7.4: more operations than maxOperations is a 413.
  if (b.Operations.length > BULK_LIMITS.maxOperations) {
    throw new ScimError(413, `The request has ${b.Operations.length} operations; maxOperations is ${BULK_LIMITS.maxOperations}.`);
  }
  let failOnErrors: number | undefined;
  if (b.failOnErrors !== undefined) {
    if (!Number.isInteger(b.failOnErrors) || (b.failOnErrors as number) < 1) throw invalidValue('failOnErrors must be a positive integer.');
    failOnErrors = b.failOnErrors as number;
  }
  const seen = new Set<string>();
  const ops = b.Operations.map((raw, i): BulkOperation => {
    if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw invalidSyntax(`Operation ${i + 1} is not an object.`);
    const o = raw as Record<string, unknown>;
    const method = typeof o.method === 'string' ? o.method.toUpperCase() : '';
    if (!METHODS.has(method)) throw invalidSyntax(`Operation ${i + 1}: method must be POST, PUT, PATCH or DELETE.`);
    if (typeof o.path !== 'string' || !PATH.test(o.path)) throw invalidSyntax(`Operation ${i + 1}: path must be /Users, /Groups or one resource of them.`);
    const hasId = PATH.exec(o.path)![2] !== undefined;
    if (method === 'POST' ? hasId : !hasId) throw invalidSyntax(`Operation ${i + 1}: ${method} needs ${method === 'POST' ? 'a collection' : 'a resource'} path.`);
    if (o.bulkId !== undefined && (typeof o.bulkId !== 'string' || !o.bulkId)) throw invalidSyntax(`Operation ${i + 1}: bulkId must be a non-empty string.`);
    // §3.7: bulkId is REQUIRED for POST, and identifies the new resource in later references.
    if (method === 'POST' && o.bulkId === undefined) throw invalidSyntax(`Operation ${i + 1}: a POST needs a bulkId.`);
    if (typeof o.bulkId === 'string') {
      if (seen.has(o.bulkId)) throw invalidSyntax(`Operation ${i + 1}: bulkId "${o.bulkId}" is used twice.`);
      seen.add(o.bulkId);
    }
    if (method !== 'DELETE' && (o.data === undefined || o.data === null)) throw invalidSyntax(`Operation ${i + 1}: ${method} needs data.`);
    if (o.version !== undefined && typeof o.version !== 'string') throw invalidSyntax(`Operation ${i + 1}: version must be a string.`);
    return { method, bulkId: o.bulkId as string | undefined, version: o.version as string | undefined, path: o.path, data: o.data };
  });
  return { ops, failOnErrors };
}

/** Every `bulkId:x` string in the operation's path and data (RFC 7644 §3.7.2). */
function referencesOf(op: BulkOperation): Set<string> {
  const found = new Set<string>();
  const walk = (v: unknown): void => {
    if (typeof v === 'string') {
      const m = BULK_REF.exec(v);
      if (m) found.add(m[1]!);
    } else if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === 'object') Object.values(v).forEach(walk);
  };
  walk(op.data);
  const m = /\/bulkId:([^/]+)$/.exec(op.path);
  if (m) found.add(m[1]!);
  return found;
}

function substitute(v: unknown, ids: Map<string, string>): unknown {
  if (typeof v === 'string') {
    const m = BULK_REF.exec(v);
    return m && ids.has(m[1]!) ? ids.get(m[1]!) : v;
  }
  if (Array.isArray(v)) return v.map((x) => substitute(x, ids));
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, substitute(x, ids)]));
  return v;
}

const errorResult = (op: BulkOperation, status: number, detail: string, scimType?: string) => ({
  method: op.method,
  ...(op.bulkId !== undefined ? { bulkId: op.bulkId } : {}),
  status: String(status),
  response: { schemas: [ERROR_SCHEMA], status: String(status), detail, ...(scimType ? { scimType } : {}) },
});

export function scimBulkRoutes(app: Hono, rt: AuthRuntime, dispatch: BulkDispatch): void {
  app.post('/Bulk', async (c) => {
    const s = await scimRequest(c, rt);
    const type = (c.req.header('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
    if (type !== SCIM_CONTENT_TYPE && type !== 'application/json') throw new ScimError(415, `Send the body as ${SCIM_CONTENT_TYPE}.`);
    const text = await c.req.text();
    // RFC 7644 §3.7.4: a payload over maxPayloadSize is a 413.
    if (Buffer.byteLength(text) > BULK_LIMITS.maxPayloadSize) {
      throw new ScimError(413, `The request is ${Buffer.byteLength(text)} bytes; maxPayloadSize is ${BULK_LIMITS.maxPayloadSize}.`);
    }
    const { ops, failOnErrors } = parseBulkBody(text);
    const collection = `/auth/${s.tenant.slug}/scim/v2`;
    const ids = new Map<string, string>();
    const results = new Map<number, Record<string, unknown>>();
    let errors = 0;
    // §3.7.2: an operation may refer to a resource created by a later one; run each operation as
    // soon as everything it refers to exists, in request order otherwise. What is left when no
    // operation can make progress refers to a bulkId that failed, is missing, or forms a loop.
    const pending = ops.map((op, i) => ({ op, i, refs: referencesOf(op) }));
    const known = new Set(ops.map((o) => o.bulkId).filter((x): x is string => x !== undefined));
    const failed = new Set<string>();
    run: while (pending.length) {
      const at = pending.findIndex((p) => [...p.refs].every((r) => ids.has(r)));
      if (at < 0) {
        for (const p of pending.splice(0)) {
          const missing = [...p.refs].filter((r) => !ids.has(r));
          const why = missing.map((r) => (failed.has(r) ? `bulkId "${r}" failed` : known.has(r) ? `bulkId "${r}" is part of a circular reference` : `bulkId "${r}" is not defined in this request`));
          results.set(p.i, errorResult(p.op, 409, `The operation cannot be resolved: ${why.join('; ')}.`, 'invalidValue'));
          if (p.op.bulkId) failed.add(p.op.bulkId);
          errors++;
          if (failOnErrors !== undefined && errors >= failOnErrors) break run;
        }
        break;
      }
      const { op, i } = pending.splice(at, 1)[0]!;
      const path = op.path.replace(/\/bulkId:([^/]+)$/, (_, r: string) => `/${ids.get(r)}`);
      const headers: Record<string, string> = { authorization: c.req.header('authorization') ?? '' };
      if (op.method !== 'DELETE') headers['content-type'] = SCIM_CONTENT_TYPE;
      if (op.version) headers['if-match'] = op.version;
      const res = await dispatch(
        new Request(`http://bulk${collection}${path}`, {
          method: op.method,
          headers,
          ...(op.method !== 'DELETE' ? { body: JSON.stringify(substitute(op.data, ids)) } : {}),
        }),
      );
      const body = res.status === 204 ? undefined : ((await res.json().catch(() => undefined)) as Record<string, unknown> | undefined);
      if (res.ok) {
        const id = typeof body?.id === 'string' ? body.id : undefined;
        if (op.method === 'POST' && op.bulkId && id) ids.set(op.bulkId, id);
        const location = res.headers.get('location') ?? (id ? `${s.base}${path.replace(/^(\/\w+).*/, '$1')}/${id}` : `${s.base}${path}`);
        results.set(i, {
          method: op.method,
          ...(op.bulkId !== undefined ? { bulkId: op.bulkId } : {}),
          ...(res.headers.get('etag') ? { version: res.headers.get('etag') } : {}),
          location,
          status: String(res.status),
        });
      } else {
        if (op.bulkId) failed.add(op.bulkId);
        // The single-call error already has the §3.12 shape; carry it as the operation's response.
        results.set(i, { method: op.method, ...(op.bulkId !== undefined ? { bulkId: op.bulkId } : {}), status: String(res.status), response: body ?? { schemas: [ERROR_SCHEMA], status: String(res.status) } });
        errors++;
        // §3.7.3: after failOnErrors errors the provider stops and returns what it has done.
        if (failOnErrors !== undefined && errors >= failOnErrors) break;
      }
    }
    const Operations = [...results.entries()].sort((a, b) => a[0] - b[0]).map(([, r]) => r);
    return scimJson({ schemas: [BULK_RESPONSE_SCHEMA], Operations });
  });
}
