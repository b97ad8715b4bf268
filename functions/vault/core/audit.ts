// The audit device: one row per request and one per response, written before the request runs
// and before its answer leaves; string values are HMAC-SHA256'd with a key derived from the root
// key, so the log proves what happened without holding any secret.
// @see https://developer.hashicorp.com/vault/docs/audit#sensitive-information
import { createHmac } from 'node:crypto';
import { sql } from 'drizzle-orm';
import type { Queryable } from '#shared/db/index';
import { auditLog } from './schema.js';

/** `hmac-sha256:<hex>` of a value, as Vault's audit devices write it. */
function auditHash(key: Uint8Array, value: string): string {
  return `hmac-sha256:${createHmac('sha256', key).update(value, 'utf8').digest('hex')}`;
}

/** Copies `value` with every string (at any depth) replaced by its HMAC; keys stay readable. */
function hashStrings(key: Uint8Array, value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return auditHash(key, value);
  if (value === null || typeof value !== 'object') return value;
  if (depth > 32) return '[too deep]';
  if (Array.isArray(value)) return value.map((v) => hashStrings(key, v, depth + 1));
  const out: Record<string, unknown> = {};
  // jsonb cannot hold NUL: escape it in keys (values are hashes already).
  for (const [k, v] of Object.entries(value)) out[k.replaceAll('\u0000', '\\u0000')] = hashStrings(key, v, depth + 1);
  return out;
}

export interface AuditEntry {
  type: 'request' | 'response';
  requestId: string;
  operation: string;
  path: string;
  remoteAddress: string | undefined;
  accessor: string | undefined;
  policies: string[] | undefined;
  decision: 'allow' | 'deny' | 'none';
  status?: number;
  error?: string;
  data?: unknown;
}

const row = (key: Uint8Array, e: AuditEntry) => {
  const data = e.data === undefined ? null : JSON.stringify(hashStrings(key, e.data));
  return sql`(${e.type}, ${e.requestId}, ${e.operation}, ${e.path}, ${e.remoteAddress ?? null}, ${e.accessor ? auditHash(key, e.accessor) : null},
      ${e.policies ? sql`array(select jsonb_array_elements_text(${JSON.stringify(e.policies)}::jsonb))` : null}, ${e.decision}, ${e.status ?? null}, ${e.error ?? null}, ${data}::jsonb)`;
};

/**
 * Writes entries in order, in one plain parameterised statement (one round trip, all or none);
 * the caller lets a failure fail the request.
 */
export async function writeAudit(db: Queryable, key: Uint8Array, ...entries: [AuditEntry, ...AuditEntry[]]): Promise<void> {
  await db.execute(sql`insert into ${auditLog} (type, request_id, operation, path, remote_address, accessor, policies, decision, status, error, data)
    values ${sql.join(entries.map((e) => row(key, e)), sql`, `)}`);
}
