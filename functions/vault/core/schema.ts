// ZenoVault's tables in the `vault` schema. Nothing here is usable without the root key:
// KEKs are wrapped by it, DEKs by a KEK, secret data by a DEK; tokens are stored hashed.
import { sql } from 'drizzle-orm';
import {
  bigint,
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
import { inboxTable } from '#shared/events/tables';

export const vault = pgSchema('vault');

/**
 * Where the rollback bound of policies, roles, transit keys, userpass users and mounts comes
 * from: every write of such a row takes a fresh value, so a row's seq only grows, even across a delete and re-create.
 */
export const rowSeq = vault.sequence('row_seq');

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
   * Auto-unseal only: AES-256-GCM of the canary text under the recovery key, a random key of its
   * own whose shares authorise ceremonies (generate-root, rekey) and never open the root key.
   * Null in a vault initialized before recovery keys were distinct: its recovery shares are
   * shares of the root key until `sys/rekey-recovery-key` replaces them.
   */
  recoveryCanary: bytea(),
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
  /** The row's rollback bound (core/row-seq.ts): a fresh `row_seq` value at its creation and at each rewrap, bound into its MAC; 0 before seqs. */
  seq: bigint({ mode: 'number' }).notNull().default(0),
  /** Row MAC (core/integrity.ts); null only in rows written before MACs, until the upgrade signs them. */
  mac: bytea(),
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
    /** Bumped by every change to the path (its rows' rollback bound); versions carry the seq of their last change. */
    seq: bigint({ mode: 'number' }).notNull().default(0),
    /** The keyring epoch (integrity_state) when the row was last written. */
    epoch: integer().notNull().default(0),
    /** A path whose metadata was deleted keeps its row (no versions), so that its seq never goes back. */
    deleted: boolean().notNull().default(false),
    /** Row MAC (core/integrity.ts); null only in rows written before MACs, until the upgrade signs them. */
    mac: bytea(),
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
    /** The path's seq (kv_metadata.seq) when this version last changed. */
    seq: bigint({ mode: 'number' }).notNull().default(0),
    /** Row MAC (core/integrity.ts); null only in rows written before MACs, until the upgrade signs them. */
    mac: bytea(),
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
    /** Periodic tokens: each renewal resets the TTL to this many seconds; 0 = not periodic. */
    periodSeconds: integer().notNull().default(0),
    /** The token role it was created under (`auth/token/create/:role`), else ''. */
    role: text().notNull().default(''),
    /** `token_bound_cidrs` of the login that made it: the token works only from these blocks (none = anywhere). */
    boundCidrs: text().array().notNull().default(sql`'{}'::text[]`),
    /** The row's rollback bound (core/row-seq.ts): 1 at creation, one more at each change, bound into its MAC; 0 before seqs. */
    seq: bigint({ mode: 'number' }).notNull().default(0),
    /** Row MAC (core/integrity.ts); null only in rows written before MACs, until the upgrade signs them. */
    mac: bytea(),
  },
  (t) => [index().on(t.parentAccessor)],
);

/** ACL policies: the text as written (HCL or JSON) and its parsed rules. */
export const policies = vault.table('policies', {
  name: text().primaryKey(),
  text: text().notNull(),
  rules: jsonb().notNull().$type<{ path: string; capabilities: string[] }[]>(),
  updatedAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
  /** The row's rollback bound (core/row-seq.ts): a fresh `row_seq` value at each write, bound into its MAC; 0 before seqs. */
  seq: bigint({ mode: 'number' }).notNull().default(0),
  /** Row MAC (core/integrity.ts); null only in rows written before MACs, until the upgrade signs them. */
  mac: bytea(),
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
  /**
   * `{ "1": { wrapped, createdAt, publicKey?, sealed? }, ... }`: `wrapped` is the version's
   * 32-byte key material under the mount's KEK; an ECDSA version keeps its private key
   * AES-256-GCM under that material (`sealed`) and its public key in clear.
   */
  versions: jsonb().notNull().$type<Record<string, TransitKeyVersion>>(),
  createdAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
  /** Per-context keys (HKDF-SHA256 of the version's material with the request's context). */
  derived: boolean().notNull().default(false),
  minEncryptionVersion: integer().notNull().default(0),
  /** Counts the row's changes; bound into its MAC. */
  generation: integer().notNull().default(0),
  /** The row's rollback bound (core/row-seq.ts): a fresh `row_seq` value at each write, bound into its MAC; 0 before seqs. */
  seq: bigint({ mode: 'number' }).notNull().default(0),
  /** Row MAC (core/integrity.ts, `transitKeyMacFields`); a row without one is refused. */
  mac: bytea(),
});

export interface TransitKeyVersion {
  wrapped: string;
  createdAt: string;
  publicKey?: string;
  sealed?: string;
}

/** Kubernetes auth: the mount config (issuer, audiences) and the roles. */
export const kubernetesConfig = vault.table('kubernetes_config', {
  id: integer().primaryKey().default(1),
  settings: jsonb().notNull().$type<Record<string, unknown>>(),
  /** Row MAC (core/integrity.ts); null only in rows written before MACs, which are refused. */
  mac: bytea(),
});

export const kubernetesRoles = vault.table('kubernetes_roles', {
  name: text().primaryKey(),
  settings: jsonb().notNull().$type<Record<string, unknown>>(),
  /** The row's rollback bound (core/row-seq.ts): a fresh `row_seq` value at each write, bound into its MAC; 0 before seqs. */
  seq: bigint({ mode: 'number' }).notNull().default(0),
  /** Row MAC (core/integrity.ts); null only in rows written before MACs, which are refused. */
  mac: bytea(),
});

// --- auth ---

/** AppRole roles: the role id (a login's first half) and the role's settings; MAC'd. */
export const approleRoles = vault.table('approle_roles', {
  name: text().primaryKey(),
  roleId: text().notNull().unique(),
  settings: jsonb().notNull().$type<Record<string, unknown>>(),
  /** The row's rollback bound (core/row-seq.ts): a fresh `row_seq` value at each write, bound into its MAC; 0 before seqs. */
  seq: bigint({ mode: 'number' }).notNull().default(0),
  mac: bytea().notNull(),
});

/**
 * AppRole secret ids by SHA-256 of the secret id (shown once). `numUses` counts the uses left
 * (0 = unlimited); each use rewrites the row and its MAC under a row lock.
 */
export const approleSecretIds = vault.table(
  'approle_secret_ids',
  {
    hash: bytea().primaryKey(),
    roleName: text().notNull(),
    accessor: text().notNull().unique(),
    metadata: jsonb().notNull().$type<Record<string, string>>(),
    cidrList: text().array().notNull(),
    tokenBoundCidrs: text().array().notNull(),
    numUses: integer().notNull(),
    ttlSeconds: integer().notNull(),
    createdAt: timestamp({ withTimezone: true }).notNull(),
    expiresAt: timestamp({ withTimezone: true }),
    /** The row's rollback bound (core/row-seq.ts): 1 at creation, one more at each change, bound into its MAC; 0 before seqs. */
    seq: bigint({ mode: 'number' }).notNull().default(0),
    mac: bytea().notNull(),
  },
  (t) => [index().on(t.roleName)],
);

/** userpass users: the Argon2id hash (PHC string) and token settings; MAC'd. */
export const userpassUsers = vault.table('userpass_users', {
  username: text().primaryKey(),
  passwordHash: text().notNull(),
  settings: jsonb().notNull().$type<Record<string, unknown>>(),
  /** The row's rollback bound (core/row-seq.ts): a fresh `row_seq` value at each write, bound into its MAC; 0 before seqs. */
  seq: bigint({ mode: 'number' }).notNull().default(0),
  mac: bytea().notNull(),
});

/** Wrong-password backoff per user and client address (never per user alone). */
export const userpassFailures = vault.table(
  'userpass_failures',
  {
    username: text().notNull(),
    client: text().notNull(),
    failures: integer().notNull(),
    lockedUntil: timestamp({ withTimezone: true }).notNull(),
  },
  (t) => [primaryKey({ columns: [t.username, t.client] })],
);

/** JWT/OIDC auth: the mount config (one row) and the roles; MAC'd. */
export const jwtConfig = vault.table('jwt_config', {
  id: integer().primaryKey().default(1),
  settings: jsonb().notNull().$type<Record<string, unknown>>(),
  mac: bytea().notNull(),
});

export const jwtRoles = vault.table('jwt_roles', {
  name: text().primaryKey(),
  settings: jsonb().notNull().$type<Record<string, unknown>>(),
  /** The row's rollback bound (core/row-seq.ts): a fresh `row_seq` value at each write, bound into its MAC; 0 before seqs. */
  seq: bigint({ mode: 'number' }).notNull().default(0),
  mac: bytea().notNull(),
});

// --- wrapping ---

/**
 * Wrapped responses, one per response-wrapping token (by its accessor): the response JSON sealed
 * under its own DEK (minted for the `cubbyhole/` mount), never in clear; MAC'd like tokens.
 */
export const wrappedResponses = vault.table(
  'wrapped_responses',
  {
    accessor: text().primaryKey(),
    /** Random id naming the DEK's context (`wrap/<id>`), bound into the AEAD and the MAC. */
    contextId: text().notNull().unique(),
    creationPath: text().notNull(),
    creationTime: timestamp({ withTimezone: true, precision: 3 }).notNull(),
    ttlSeconds: integer().notNull(),
    expiresAt: timestamp({ withTimezone: true, precision: 3 }).notNull(),
    /** The accessor of a wrapped token (a wrapped `auth/token/create` answer), else ''. */
    wrappedAccessor: text().notNull().default(''),
    ciphertext: bytea().notNull(),
    wrappedDek: bytea().notNull(),
    mac: bytea().notNull(),
  },
  (t) => [index().on(t.expiresAt)],
);

/** Token roles (`auth/token/roles/:name`): the rules `auth/token/create/:name` applies. */
export const tokenRoles = vault.table('token_roles', {
  name: text().primaryKey(),
  allowedPolicies: text().array().notNull(),
  disallowedPolicies: text().array().notNull(),
  orphan: boolean().notNull(),
  renewable: boolean().notNull(),
  pathSuffix: text().notNull(),
  tokenPeriodSeconds: integer().notNull(),
  tokenExplicitMaxTtlSeconds: integer().notNull(),
  tokenNoDefaultPolicy: boolean().notNull(),
  tokenNumUses: integer().notNull(),
  /** The row's rollback bound (core/row-seq.ts): a fresh `row_seq` value at each write, bound into its MAC; 0 before seqs. */
  seq: bigint({ mode: 'number' }).notNull().default(0),
  mac: bytea().notNull(),
});

// --- integrity ---

/**
 * One row: the keyring epoch, advanced at every unseal and MAC'd. An unsealer remembers the
 * highest epoch it has seen and refuses a lower one (a database restored under a running vault);
 * a row written in an epoch above the stored one betrays a partial restore.
 */
export const integrityState = vault.table('integrity_state', {
  id: integer().primaryKey().default(1),
  epoch: integer().notNull(),
  mac: bytea().notNull(),
});

export type KvMetadata = typeof kvMetadata.$inferSelect;
export type KvVersion = typeof kvVersions.$inferSelect;
export type Token = typeof tokens.$inferSelect;
export type Policy = typeof policies.$inferSelect;
export type WrappedResponse = typeof wrappedResponses.$inferSelect;
export type TokenRole = typeof tokenRoles.$inferSelect;

// --- leases ---

/**
 * Leases of dynamic credentials: what was issued, until when, and what revokes it. The MAC covers
 * every column but the retry bookkeeping (attempts, next attempt, last error), which grants nothing.
 */
export const leases = vault.table(
  'leases',
  {
    /** As Vault formats it: `<mount path>/creds/<role>/<random>`. */
    leaseId: text().primaryKey(),
    /** The secrets engine that revokes it (`database`). */
    engine: text().notNull(),
    mount: text().notNull(),
    role: text().notNull(),
    issueTime: timestamp({ withTimezone: true }).notNull(),
    expireTime: timestamp({ withTimezone: true }).notNull(),
    lastRenewal: timestamp({ withTimezone: true }),
    /** The TTL last granted, seconds. */
    ttlSeconds: integer().notNull(),
    /** Seconds after issue_time no renewal may pass. */
    maxTtlSeconds: integer().notNull(),
    renewable: boolean().notNull(),
    /** What the engine needs to renew and revoke (e.g. database name, username, statements). */
    revocation: jsonb().notNull().$type<Record<string, unknown>>(),
    revokeAttempts: integer().notNull().default(0),
    nextAttemptAt: timestamp({ withTimezone: true }),
    lastError: text(),
    mac: bytea().notNull(),
  },
  (t) => [index('leases_expire_idx').on(t.expireTime), index('leases_prefix_idx').using('btree', sql`${t.leaseId} text_pattern_ops`)],
);

/** database/config/:name: a target database; the password sealed under a DEK, never returned. */
export const databaseConfigs = vault.table('database_configs', {
  name: text().primaryKey(),
  pluginName: text().notNull(),
  connectionUrl: text().notNull(),
  username: text().notNull(),
  allowedRoles: text().array().notNull(),
  verifyConnection: boolean().notNull(),
  rootRotationStatements: text().array().notNull(),
  /** AES-256-GCM of the password under a DEK (context `config/<name>`); null when none was given. */
  passwordCiphertext: bytea(),
  passwordWrappedDek: bytea(),
  /** A rotate-root in progress: the new password, until the target has accepted it. */
  pendingCiphertext: bytea(),
  pendingWrappedDek: bytea(),
  updatedAt: timestamp({ withTimezone: true }).notNull(),
  mac: bytea().notNull(),
});

/** database/roles/:name: dynamic roles, the SQL that creates and revokes their users. */
export const databaseRoles = vault.table('database_roles', {
  name: text().primaryKey(),
  dbName: text().notNull(),
  creationStatements: text().array().notNull(),
  revocationStatements: text().array().notNull(),
  rollbackStatements: text().array().notNull(),
  renewStatements: text().array().notNull(),
  defaultTtlSeconds: integer().notNull(),
  maxTtlSeconds: integer().notNull(),
  mac: bytea().notNull(),
});

/** database/static-roles/:name: an existing database user whose password the vault rotates. */
export const databaseStaticRoles = vault.table('database_static_roles', {
  name: text().primaryKey(),
  dbName: text().notNull(),
  username: text().notNull(),
  rotationPeriodSeconds: integer().notNull(),
  rotationStatements: text().array().notNull(),
  passwordCiphertext: bytea(),
  passwordWrappedDek: bytea(),
  pendingCiphertext: bytea(),
  pendingWrappedDek: bytea(),
  lastRotation: timestamp({ withTimezone: true }),
  /** Retry bookkeeping of scheduled rotations (not MAC'd: it grants nothing). */
  nextAttemptAt: timestamp({ withTimezone: true }),
  lastError: text(),
  mac: bytea().notNull(),
});

/** Ids of processed events (the lease expiry schedule), so a redelivered tick does nothing twice. */
export const inbox = inboxTable(vault);

export type Lease = typeof leases.$inferSelect;
export type DatabaseConfig = typeof databaseConfigs.$inferSelect;
export type DatabaseRole = typeof databaseRoles.$inferSelect;
export type DatabaseStaticRole = typeof databaseStaticRoles.$inferSelect;

// --- ops ---

/**
 * A key ceremony in progress (`rekey`, `rekey-recovery`, `generate-root`), one per kind, shared
 * by every unsealer replica: the key shares given so far, the requested share split and the
 * generate-root OTP live only in `sealed`, AES-256-GCM under a key derived from the keyring key
 * with the kind and nonce as associated data. A database writer can delete or replay a ceremony
 * (the next share is refused or the ceremony restarts) but cannot read a share nor change what
 * the ceremony produces.
 */
export const ceremonies = vault.table('ceremonies', {
  kind: text().primaryKey(),
  nonce: text().notNull(),
  sealed: bytea().notNull(),
  startedAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
});

