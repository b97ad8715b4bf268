// Response wrapping: a response is sealed under a fresh DEK (of the `cubbyhole/` mount) and stored
// under a single-use wrapping token (num_uses 1, policy `response-wrapping`, orphan, TTL = the wrap
// TTL, as Vault makes it); unwrapping spends that one use, so exactly one caller gets the response.
// Row layout: wrapped_responses(accessor of the wrapping token, context id, …, ciphertext, wrapped
// DEK, MAC); the AEAD binds the context id, the MAC binds it to the accessor and every field.
// @see https://developer.hashicorp.com/vault/docs/concepts/response-wrapping
import { randomBytes } from 'node:crypto';
import { eq, sql } from 'drizzle-orm';
import { type Database, type Queryable, type Tx } from '#shared/db/index';
import { aad, open, seal } from './envelope.js';
import { invalidRequest } from './errors.js';
import type { RowMac } from './integrity.js';
import { wrappedResponses, type Token, type WrappedResponse } from './schema.js';
import { parseDuration } from './duration.js';
import { DEFAULT_TOKEN_TTL, insertToken, peekToken, useToken } from './tokens.js';

/** Vault's built-in policy of wrapping tokens; no token or stored policy may take its name. */
export const WRAPPING_POLICY = 'response-wrapping';
const MOUNT = 'cubbyhole/';
const TABLE = 'wrapped_responses';
/** Largest wrapped response we store (its JSON). */
const MAX_WRAPPED_BYTES = 1024 * 1024;
/** Bounds of a wrap TTL: at least a second, at most the system max TTL (768h). */
const MIN_WRAP_TTL = 1;
const MAX_WRAP_TTL = DEFAULT_TOKEN_TTL;

/** Vault's answer for a wrapping token that is unknown, spent, expired or not a wrapping token. */
const invalidWrappingToken = () => invalidRequest('wrapping token is not valid or does not exist');

/** What wrapping needs from the unsealer. */
interface WrapKeys {
  newWrappingDek(context: string): Promise<{ dek: Buffer; wrapped: Buffer }>;
  unwrapDek(mount: string, context: string, wrapped: Buffer): Promise<Buffer>;
}

/**
 * The wrap TTL an `X-Vault-Wrap-TTL` value asks for, in seconds; undefined when absent, empty or
 * zero (no wrapping, as Vault). Negative, malformed and out-of-bounds values are a 400.
 * @see https://developer.hashicorp.com/vault/api-docs#response-wrapping
 */
export function parseWrapTtl(header: string | null | undefined): number | undefined {
  const v = (header ?? '').trim();
  if (v === '') return undefined;
  if (v.startsWith('-')) throw invalidRequest('requested wrap ttl cannot be negative');
  const seconds = parseDuration(v);
  if (seconds === undefined) throw invalidRequest(v.length <= 64 ? `time: invalid duration ${JSON.stringify(v)}` : 'time: invalid duration');
  if (seconds === 0 && /^0+(\.0+)?[smhd]?$/.test(v)) return undefined;
  if (seconds < MIN_WRAP_TTL) throw invalidRequest(`wrapping ttl is lower than the minimum of ${MIN_WRAP_TTL}s`);
  if (seconds > MAX_WRAP_TTL) throw invalidRequest(`wrapping ttl exceeds the maximum of ${MAX_WRAP_TTL}s`);
  return seconds;
}

/** The MAC'd fields of a wrapped response row, identity first. */
function wrappedMacFields(r: WrappedResponse) {
  return [r.accessor, r.contextId, r.creationPath, r.creationTime, r.ttlSeconds, r.expiresAt, r.wrappedAccessor, r.ciphertext, r.wrappedDek] as const;
}

const contextOf = (contextId: string) => `wrap/${contextId}`;

interface Sealed {
  contextId: string;
  ciphertext: Buffer;
  wrappedDek: Buffer;
}

async function sealResponse(keys: WrapKeys, body: unknown): Promise<Sealed> {
  const plain = Buffer.from(JSON.stringify(body), 'utf8');
  try {
    if (plain.length > MAX_WRAPPED_BYTES) throw invalidRequest(`response too large to wrap: the limit is ${MAX_WRAPPED_BYTES} bytes`);
    const contextId = randomBytes(16).toString('base64url');
    const context = contextOf(contextId);
    const { dek, wrapped } = await keys.newWrappingDek(context);
    try {
      return { contextId, ciphertext: seal(dek, plain, aad.data(MOUNT, context)), wrappedDek: wrapped };
    } finally {
      dek.fill(0);
    }
  } finally {
    plain.fill(0);
  }
}

/** What a new wrapping token is, for `wrap_info`. */
interface WrapInfo {
  token: string;
  accessor: string;
  ttl: number;
  creation_time: string;
  creation_path: string;
  wrapped_accessor?: string;
}

interface WrapSpec {
  ttlSeconds: number;
  creationPath: string;
  wrappedAccessor: string;
}

/** Inserts the wrapping token and its response row; part of the caller's transaction. */
async function insertWrapped(tx: Tx, mac: RowMac, sealed: Sealed, spec: WrapSpec): Promise<WrapInfo> {
  const created = await insertToken(tx, mac, {
    policies: [WRAPPING_POLICY],
    displayName: '',
    path: spec.creationPath,
    parentAccessor: null,
    ttlSeconds: spec.ttlSeconds,
    explicitMaxTtlSeconds: spec.ttlSeconds,
    numUses: 1,
    renewable: false,
  });
  const now = Date.now();
  const row: WrappedResponse = {
    accessor: created.row.accessor,
    contextId: sealed.contextId,
    creationPath: spec.creationPath,
    creationTime: new Date(now),
    ttlSeconds: spec.ttlSeconds,
    expiresAt: new Date(now + spec.ttlSeconds * 1000),
    wrappedAccessor: spec.wrappedAccessor,
    ciphertext: sealed.ciphertext,
    wrappedDek: sealed.wrappedDek,
    mac: Buffer.alloc(0),
  };
  row.mac = mac.sign(TABLE, wrappedMacFields(row));
  await tx.insert(wrappedResponses).values(row);
  return {
    token: created.token,
    accessor: row.accessor,
    ttl: row.ttlSeconds,
    creation_time: row.creationTime.toISOString(),
    creation_path: row.creationPath,
    ...(row.wrappedAccessor ? { wrapped_accessor: row.wrappedAccessor } : {}),
  };
}

/** Forgets responses whose wrapping token has expired (a bounded batch per call). */
async function pruneExpired(db: Queryable): Promise<void> {
  await db.execute(sql`
    delete from vault.wrapped_responses where accessor in (
      select accessor from vault.wrapped_responses where expires_at < now() order by expires_at limit 100)`);
}

/** Stores `body` wrapped for `ttlSeconds`; returns Vault's `wrap_info`. */
export async function wrapResponse(database: Database, keys: WrapKeys, mac: RowMac, body: unknown, spec: WrapSpec): Promise<WrapInfo> {
  const sealed = await sealResponse(keys, body);
  const info = await database.transaction((tx) => insertWrapped(tx, mac, sealed, spec));
  await pruneExpired(database.db);
  return info;
}

const isWrappingToken = (t: Token) => t.policies.length === 1 && t.policies[0] === WRAPPING_POLICY;

/** The live wrapping token `token` and its response row (MAC checked), spending nothing. */
export async function lookupWrapped(db: Queryable, mac: RowMac, token: string): Promise<{ wrapped: WrappedResponse; tokenRow: Token }> {
  const row = await peekToken(db, mac, token);
  if (!row || !isWrappingToken(row)) throw invalidWrappingToken();
  const [wrapped] = await db.select().from(wrappedResponses).where(eq(wrappedResponses.accessor, row.accessor));
  if (!wrapped) throw invalidWrappingToken();
  mac.check(TABLE, wrappedMacFields(wrapped), wrapped.mac);
  if (wrapped.expiresAt.getTime() <= Date.now()) throw invalidWrappingToken();
  return { wrapped, tokenRow: row };
}

/** The response a wrapped row holds, decrypted (the unsealer unwraps its DEK). */
async function openWrapped(keys: WrapKeys, w: WrappedResponse): Promise<Record<string, unknown>> {
  const context = contextOf(w.contextId);
  const dek = await keys.unwrapDek(MOUNT, context, w.wrappedDek);
  let plain: Buffer;
  try {
    plain = open(dek, w.ciphertext, aad.data(MOUNT, context));
  } finally {
    dek.fill(0);
  }
  try {
    return JSON.parse(plain.toString('utf8')) as Record<string, unknown>;
  } finally {
    plain.fill(0);
  }
}

/**
 * Spends the wrapping token's one use and deletes its response row, in the caller's transaction.
 * Of concurrent callers exactly one succeeds: the token row is deleted by the first, the others'
 * delete finds nothing (useToken).
 */
async function consume(tx: Tx, mac: RowMac, token: string, accessor: string): Promise<void> {
  const used = await useToken(tx, mac, token);
  if (!used || used.accessor !== accessor) throw invalidWrappingToken();
  const gone = await tx.delete(wrappedResponses).where(eq(wrappedResponses.accessor, accessor)).returning({ accessor: wrappedResponses.accessor });
  if (gone.length === 0) throw invalidWrappingToken();
}

/**
 * Unwraps: reads and decrypts first (an unreachable unsealer spends nothing), then spends the token
 * and deletes the row in one transaction; only then is the response returned.
 */
export async function unwrapResponse(database: Database, keys: WrapKeys, mac: RowMac, token: string): Promise<{ body: Record<string, unknown>; tokenRow: Token }> {
  const { wrapped, tokenRow } = await lookupWrapped(database.db, mac, token);
  const body = await openWrapped(keys, wrapped);
  await database.transaction((tx) => consume(tx, mac, token, wrapped.accessor));
  return { body, tokenRow };
}

/**
 * Rewraps: the same response under a new wrapping token with the same TTL and creation path; the
 * old token is spent in the same transaction that stores the new one.
 */
export async function rewrapResponse(database: Database, keys: WrapKeys, mac: RowMac, token: string): Promise<WrapInfo> {
  const { wrapped } = await lookupWrapped(database.db, mac, token);
  const body = await openWrapped(keys, wrapped);
  const sealed = await sealResponse(keys, body);
  return database.transaction(async (tx) => {
    await consume(tx, mac, token, wrapped.accessor);
    return insertWrapped(tx, mac, sealed, {
      ttlSeconds: wrapped.ttlSeconds,
      creationPath: wrapped.creationPath,
      wrappedAccessor: wrapped.wrappedAccessor,
    });
  });
}

