// ZenoVault's tables in the `vault` schema. Nothing here is usable without the root key:
// KEKs are wrapped by it, DEKs by a KEK, secret data by a DEK; tokens are stored hashed.
import { sql } from 'drizzle-orm';
import {
  bigserial,
  boolean,
  customType,
  index,
  integer,
  jsonb,
  pgSchema,
  primaryKey,
  text,
  timestamp,
} from 'drizzle-orm/pg-core';

export const vault = pgSchema('vault');

/** bytea as a Node Buffer (both postgres.js and PGlite hand back Uint8Array-compatible values). */
export const bytea = customType<{ data: Buffer; driverData: Buffer }>({
  dataType: () => 'bytea',
  fromDriver: (v) => Buffer.from(v as Uint8Array),
});

/** One row: how the vault is sealed, and the canary that proves a rebuilt root key right. */
export const sealConfig = vault.table('seal_config', {
  id: integer().primaryKey().default(1),
  /** `shamir`, or `transit` for auto-unseal through another vault. */
  type: text().notNull(),
  secretShares: integer().notNull(),
  secretThreshold: integer().notNull(),
  /** AES-256-GCM of a fixed text under the root key: a wrong root key fails to open it. */
  canary: bytea().notNull(),
  /** Auto-unseal only: the root key wrapped by the remote seal (e.g. a transit ciphertext). */
  sealWrappedRootKey: text(),
  sealSettings: jsonb().$type<Record<string, unknown>>(),
  /**
   * The keyring key, AES-256-GCM under the root key: per-purpose keys (row MACs) derive from it,
   * so a rekey rewraps it and they survive. Null in a vault initialized before it existed until
   * its first unseal creates it.
   */
  wrappedKeyringKey: bytea(),
  /**
   * Bumped by `sys/seal` before the unsealer wipes its keys and answers: every audit write of
   * the api checks it in the same statement, so no api replica answers from its key caches once
   * a seal has returned.
   */
  sealEpoch: integer().notNull().default(0),
  initializedAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
});

/** Secret engine mounts; each has its own KEK, wrapped by the root key. */
export const mounts = vault.table('mounts', {
  path: text().primaryKey(),
  type: text().notNull(),
  description: text().notNull().default(''),
  wrappedKek: bytea().notNull(),
  createdAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
});

/** KV v2 metadata per secret path. Metadata is not secret (as in Vault): keep secrets in data. */
export const kvMetadata = vault.table(
  'kv_metadata',
  {
    mount: text().notNull(),
    path: text().notNull(),
    maxVersions: integer().notNull().default(0),
    casRequired: boolean().notNull().default(false),
    deleteVersionAfterSeconds: integer().notNull().default(0),
    customMetadata: jsonb().$type<Record<string, string>>(),
    currentVersion: integer().notNull().default(0),
    oldestVersion: integer().notNull().default(0),
    createdAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.mount, t.path] }), index('kv_metadata_prefix_idx').using('btree', t.mount, sql`${t.path} text_pattern_ops`)],
);

/** One row per KV v2 version: the data sealed under its own DEK, the DEK wrapped by the KEK. */
export const kvVersions = vault.table(
  'kv_versions',
  {
    mount: text().notNull(),
    path: text().notNull(),
    version: integer().notNull(),
    /** AES-256-GCM(DEK, JSON data, aad = mount + path + version); null once destroyed. */
    ciphertext: bytea(),
    wrappedDek: bytea(),
    createdAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
    deletedAt: timestamp({ withTimezone: true }),
    destroyed: boolean().notNull().default(false),
  },
  (t) => [primaryKey({ columns: [t.mount, t.path, t.version] })],
);

/** Tokens by SHA-256 of the token; the token itself is shown once, at creation. */
export const tokens = vault.table(
  'tokens',
  {
    hash: bytea().primaryKey(),
    accessor: text().notNull().unique(),
    parentAccessor: text(),
    policies: text().array().notNull(),
    displayName: text().notNull(),
    meta: jsonb().$type<Record<string, string>>(),
    orphan: boolean().notNull().default(false),
    renewable: boolean().notNull().default(true),
    /** Seconds; 0 = no expiry (root tokens). */
    ttlSeconds: integer().notNull(),
    explicitMaxTtlSeconds: integer().notNull().default(0),
    /** 0 = unlimited. */
    numUses: integer().notNull().default(0),
    path: text().notNull(),
    entityId: text().notNull().default(''),
    createdAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
    expiresAt: timestamp({ withTimezone: true }),
  },
  (t) => [index().on(t.parentAccessor)],
);

/** ACL policies: the text as written (HCL or JSON) and its parsed rules. */
export const policies = vault.table('policies', {
  name: text().primaryKey(),
  text: text().notNull(),
  rules: jsonb().notNull().$type<{ path: string; capabilities: string[] }[]>(),
  updatedAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
});

/** The audit device: one row per request and per response; secret values HMAC'd, never in clear. */
export const auditLog = vault.table(
  'audit_log',
  {
    seq: bigserial({ mode: 'number' }).primaryKey(),
    time: timestamp({ withTimezone: true }).notNull().defaultNow(),
    type: text().notNull(),
    requestId: text().notNull(),
    operation: text().notNull(),
    path: text().notNull(),
    remoteAddress: text(),
    /** HMAC-SHA256 of the token accessor (Vault's hmac_accessor default). */
    accessor: text(),
    policies: text().array(),
    /** `allow`, `deny`, or `none` for unauthenticated paths. */
    decision: text().notNull(),
    status: integer(),
    error: text(),
    /** Request or response data with every string value replaced by `hmac-sha256:<hex>`. */
    data: jsonb(),
    /**
     * Which line key hashed this row's values: HKDF of the audit key with this id (see
     * core/audit.ts `lineKeyInfo`); null for rows hashed with the audit key itself.
     */
    keyId: text(),
  },
  (t) => [index().on(t.requestId)],
);

/** Transit keys: each version's key material wrapped by the transit mount's KEK. */
export const transitKeys = vault.table('transit_keys', {
  name: text().primaryKey(),
  type: text().notNull().default('aes256-gcm96'),
  latestVersion: integer().notNull().default(1),
  minDecryptionVersion: integer().notNull().default(1),
  deletionAllowed: boolean().notNull().default(false),
  /** `{ "1": "<base64 wrapped key>" , ... }` */
  versions: jsonb().notNull().$type<Record<string, { wrapped: string; createdAt: string }>>(),
  createdAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
});

/** Kubernetes auth: the mount config (issuer, audiences) and the roles. */
export const kubernetesConfig = vault.table('kubernetes_config', {
  id: integer().primaryKey().default(1),
  settings: jsonb().notNull().$type<Record<string, unknown>>(),
});

export const kubernetesRoles = vault.table('kubernetes_roles', {
  name: text().primaryKey(),
  settings: jsonb().notNull().$type<Record<string, unknown>>(),
});

export type KvMetadata = typeof kvMetadata.$inferSelect;
export type KvVersion = typeof kvVersions.$inferSelect;
export type Token = typeof tokens.$inferSelect;
export type Policy = typeof policies.$inferSelect;
