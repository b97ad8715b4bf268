// Per-tenant signing keys: Ed25519 (EdDSA, RFC 8037) and RS256, `kid` = RFC 7638 thumbprint,
// private JWKs sealed at rest with AES-256-GCM under the master key (AAD = tenant id + kid).
// The active private keys are imported once and cached; rotation retires them but keeps
// their public halves in the JWKS until every token they signed has expired. Keys are loaded on
// the pool, never inside a transaction: a grant resolves its tenant's Signer first, and signing
// in its transaction then needs no database (a load inside would wait for a second connection
// while holding one, and ten such grants hold a pool of ten for good).
import { createPrivateKey, type JsonWebKey, type KeyObject } from 'node:crypto';
import { and, eq, gt, isNull, or, sql } from 'drizzle-orm';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK, type CryptoKey, type JWK } from 'jose';
import type { Db, Queryable } from '#shared/db/index';
import { driverError } from '#shared/db/errors';
import { open, seal } from './crypto.js';
import { signingKeys } from './schema.js';

export type SigningAlg = 'EdDSA' | 'RS256';
const SIGNING_ALGS: readonly SigningAlg[] = ['EdDSA', 'RS256'];

/** Longest lifetime of anything we sign (access tokens are capped here too). */
export const MAX_TOKEN_LIFETIME_SECONDS = 86_400;
/** How long an instance may keep signing with a cached key after another one rotated it. */
const SIGNING_CACHE_MS = 60_000;
/** Unknown `kid`s trigger a reload at most this often per tenant (bounds forged-kid floods). */
const RELOAD_MIN_MS = 1_000;

export interface ActiveKey {
  kid: string;
  alg: SigningAlg;
  key: CryptoKey;
  /** The same private key as a node:crypto KeyObject, for the synchronous hot-path signer. */
  keyObject: KeyObject;
}

/**
 * The active private keys of one tenant as loaded: what signs a grant's tokens, resolved before its
 * transaction so that signing inside it needs no database.
 */
export interface Signer {
  readonly tenantId: string;
  /** The active key of `alg`; every algorithm of SIGNING_ALGS has one. */
  key(alg: SigningAlg): ActiveKey;
}

interface TenantKeys extends Signer {
  loadedAt: number;
  signing: Map<SigningAlg, ActiveKey>;
  verify: Map<string, { alg: SigningAlg; key: CryptoKey }>;
  jwks: JWK[];
}

export interface KeyStore {
  /**
   * The tenant's active keys, created on first use and reloaded once older than a minute. Loads
   * on the pool: call it before opening a transaction, never inside one.
   */
  signer(tenantId: string): Promise<Signer>;
  /** The same when it is already loaded and fresh, without a round through the event loop. */
  cachedSigner(tenantId: string): Signer | undefined;
  /** The public key for a `kid` of that tenant (active or still published), if any. */
  verificationKey(tenantId: string, kid: string): Promise<{ alg: SigningAlg; key: CryptoKey } | undefined>;
  /** The tenant's published public keys (RFC 7517 JWK Set). */
  jwks(tenantId: string): Promise<{ keys: JWK[] }>;
  /** Retires the active keys of the tenant and creates new ones inside `tx`; returns the new kids. */
  rotate(tx: Queryable, tenantId: string): Promise<{ created: string[]; retired: string[] }>;
  /** Drops cached keys of a tenant (after rotation or deletion). */
  forget(tenantId: string): void;
}

async function generate(alg: SigningAlg): Promise<{ kid: string; publicJwk: JWK; privateJwk: JWK }> {
  const { publicKey, privateKey } =
    alg === 'EdDSA'
      ? await generateKeyPair('EdDSA', { crv: 'Ed25519', extractable: true })
      : await generateKeyPair('RS256', { modulusLength: 2048, extractable: true });
  const pub = await exportJWK(publicKey);
  const kid = await calculateJwkThumbprint(pub, 'sha256');
  const publicJwk: JWK = { ...pub, kid, alg, use: 'sig' };
  const privateJwk: JWK = { ...(await exportJWK(privateKey)), kid, alg };
  return { kid, publicJwk, privateJwk };
}

const aadFor = (tenantId: string, kid: string) => `zeno-auth-signing-key:${tenantId}:${kid}`;

/** Creates the key store over the database and the master key. */
/** The tenant no longer exists (deleted since a cache resolved it): no key can be made for it. */
export class TenantGoneError extends Error {
  constructor(tenantId: string, cause: unknown) {
    super(`tenant ${tenantId} no longer exists`, { cause });
    this.name = 'TenantGoneError';
  }
}

export function createKeyStore(db: Db, masterKey: Buffer): KeyStore {
  const cache = new Map<string, TenantKeys>();
  const loading = new Map<string, Promise<TenantKeys>>();

  async function insertKey(q: Queryable, tenantId: string, alg: SigningAlg): Promise<string> {
    const k = await generate(alg);
    await q
      .insert(signingKeys)
      .values({
        tenantId,
        kid: k.kid,
        alg,
        publicJwk: k.publicJwk as Record<string, unknown>,
        privateJwkSealed: seal(masterKey, JSON.stringify(k.privateJwk), aadFor(tenantId, k.kid)),
        status: 'active',
      })
      // The partial unique index allows one active key per alg: a concurrent creator wins, we reload.
      .onConflictDoNothing()
      .catch((err: unknown) => {
        // foreign_key_violation: the tenant row went away after the caller resolved it.
        if ((driverError(err) as { code?: unknown }).code === '23503') throw new TenantGoneError(tenantId, err);
        throw err;
      });
    return k.kid;
  }

  async function load(tenantId: string): Promise<TenantKeys> {
    let rows = await db
      .select()
      .from(signingKeys)
      .where(and(eq(signingKeys.tenantId, tenantId), or(eq(signingKeys.status, 'active'), gt(signingKeys.publishUntil, sql`now()`))));
    const missing = SIGNING_ALGS.filter((a) => !rows.some((r) => r.alg === a && r.status === 'active'));
    if (missing.length) {
      for (const alg of missing) await insertKey(db, tenantId, alg);
      rows = await db
        .select()
        .from(signingKeys)
        .where(and(eq(signingKeys.tenantId, tenantId), or(eq(signingKeys.status, 'active'), gt(signingKeys.publishUntil, sql`now()`))));
    }
    const signing = new Map<SigningAlg, ActiveKey>();
    const entry: TenantKeys = {
      tenantId,
      loadedAt: Date.now(),
      signing,
      verify: new Map(),
      jwks: [],
      key(alg) {
        const k = signing.get(alg);
        if (!k) throw new Error(`no active ${alg} key for tenant ${tenantId}`);
        return k;
      },
    };
    for (const r of rows) {
      const alg = r.alg;
      entry.verify.set(r.kid, { alg, key: (await importJWK(r.publicJwk as JWK, alg)) as CryptoKey });
      entry.jwks.push(r.publicJwk as JWK);
      if (r.status === 'active') {
        const priv = JSON.parse(open(masterKey, r.privateJwkSealed, aadFor(tenantId, r.kid))) as JWK;
        const keyObject = createPrivateKey({ key: priv as JsonWebKey, format: 'jwk' });
        signing.set(alg, { kid: r.kid, alg, key: (await importJWK(priv, alg)) as CryptoKey, keyObject });
      }
    }
    cache.set(tenantId, entry);
    return entry;
  }

  function get(tenantId: string, fresh: boolean): Promise<TenantKeys> {
    const hit = cache.get(tenantId);
    if (hit && !fresh && Date.now() - hit.loadedAt < SIGNING_CACHE_MS) return Promise.resolve(hit);
    const pending = loading.get(tenantId);
    if (pending) return pending;
    const p = load(tenantId).finally(() => loading.delete(tenantId));
    loading.set(tenantId, p);
    return p;
  }

  return {
    signer(tenantId) {
      return get(tenantId, false);
    },
    cachedSigner(tenantId) {
      const hit = cache.get(tenantId);
      return hit && Date.now() - hit.loadedAt < SIGNING_CACHE_MS ? hit : undefined;
    },
    async verificationKey(tenantId, kid) {
      const hit = cache.get(tenantId);
      const known = hit?.verify.get(kid);
      if (known && Date.now() - hit!.loadedAt < SIGNING_CACHE_MS) return known;
      if (hit && !known && Date.now() - hit.loadedAt < RELOAD_MIN_MS) return undefined;
      return (await get(tenantId, true)).verify.get(kid);
    },
    async jwks(tenantId) {
      return { keys: (await get(tenantId, true)).jwks };
    },
    async rotate(tx, tenantId) {
      const retired = await tx
        .update(signingKeys)
        .set({
          status: 'retired',
          retiredAt: sql`now()`,
          publishUntil: sql`now() + make_interval(secs => ${MAX_TOKEN_LIFETIME_SECONDS + SIGNING_CACHE_MS / 1000})`,
        })
        .where(and(eq(signingKeys.tenantId, tenantId), eq(signingKeys.status, 'active'), isNull(signingKeys.retiredAt)))
        .returning({ kid: signingKeys.kid });
      const created: string[] = [];
      for (const alg of SIGNING_ALGS) created.push(await insertKey(tx, tenantId, alg));
      cache.delete(tenantId);
      return { created, retired: retired.map((r) => r.kid) };
    },
    forget(tenantId) {
      cache.delete(tenantId);
    },
  };
}
