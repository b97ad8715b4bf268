// ZenoLMS's tables in the `lms` Postgres schema: products and their signing keys, policies,
// entitlements, licenses, machines, the audit trail, the outbox and the inbox. Every row carries
// the tenant (the ZenoAuth tenant slug) and every query filters on it.
import { sql } from 'drizzle-orm';
import { bigserial, boolean, index, integer, jsonb, pgSchema, primaryKey, text, timestamp, uniqueIndex, uuid } from 'drizzle-orm/pg-core';
import { inboxTable, outboxTable } from '#shared/events/tables';

export const lms = pgSchema('lms');

const at = () => timestamp({ withTimezone: true });
const created = () => at().notNull().defaultNow();

/** What a vendor ships; the `aud` of every token signed for it. */
export const products = lms.table(
  'products',
  {
    id: uuid().primaryKey().defaultRandom(),
    tenant: text().notNull(),
    name: text().notNull(),
    createdAt: created(),
  },
  (t) => [uniqueIndex().on(t.tenant, t.name)],
);

/**
 * Ed25519 keys per product (RFC 8037). `kid` is the RFC 7638 thumbprint; the private JWK is
 * sealed with AES-256-GCM under the master key, AAD = tenant, product and kid. A retired key
 * stays published (JWKS) so that what it signed keeps verifying.
 */
export const signingKeys = lms.table(
  'signing_keys',
  {
    tenant: text().notNull(),
    productId: uuid().notNull().references(() => products.id, { onDelete: 'cascade' }),
    kid: text().notNull(),
    publicJwk: jsonb().notNull().$type<Record<string, string>>(),
    privateJwkSealed: text().notNull(),
    status: text().notNull().$type<'active' | 'retired'>(),
    createdAt: created(),
    retiredAt: at(),
  },
  (t) => [
    primaryKey({ columns: [t.productId, t.kid] }),
    uniqueIndex('signing_keys_one_active').on(t.productId).where(sql`status = 'active'`),
  ],
);

/** The terms a license is issued under. Durations are seconds; null = none. */
export const policies = lms.table(
  'policies',
  {
    id: uuid().primaryKey().defaultRandom(),
    tenant: text().notNull(),
    productId: uuid().notNull().references(() => products.id, { onDelete: 'cascade' }),
    name: text().notNull(),
    /** The ISO 8601 duration as given (`P30D`); null = perpetual. */
    duration: text(),
    durationSeconds: integer(),
    maxMachines: integer().notNull(),
    /** false = node-locked: the license token names the machine's fingerprint. */
    floating: boolean().notNull(),
    /** strict: activations beyond the limit are refused; advisory: allowed, validation says so. */
    strict: boolean().notNull(),
    /** Machines allowed beyond `maxMachines` (strict policies only). */
    overage: integer().notNull().default(0),
    checkInIntervalSeconds: integer(),
    /** After expiry or a missed check-in, how long the license still validates. */
    graceSeconds: integer().notNull().default(0),
    createdAt: created(),
  },
  (t) => [uniqueIndex().on(t.tenant, t.productId, t.name)],
);

/** Named feature flags, with an optional numeric limit, defined beforehand or on first use. */
export const entitlements = lms.table(
  'entitlements',
  {
    id: uuid().primaryKey().defaultRandom(),
    tenant: text().notNull(),
    code: text().notNull(),
    name: text(),
    limit: integer(),
    createdAt: created(),
  },
  (t) => [uniqueIndex().on(t.tenant, t.code)],
);

export const licenses = lms.table(
  'licenses',
  {
    id: uuid().primaryKey().defaultRandom(),
    tenant: text().notNull(),
    productId: uuid().notNull().references(() => products.id, { onDelete: 'cascade' }),
    policyId: uuid().notNull().references(() => policies.id, { onDelete: 'restrict' }),
    /** HMAC of the license key (core/crypto.ts): the key itself is shown once and never stored. */
    keyHash: text().notNull().unique(),
    owner: text(),
    entitlements: jsonb().notNull().default([]).$type<string[]>(),
    metadata: jsonb().notNull().default({}).$type<Record<string, unknown>>(),
    status: text().notNull().$type<'active' | 'suspended' | 'revoked' | 'expired'>(),
    expiresAt: at(),
    lastCheckInAt: at(),
    /** Set by the sweep once it announced the missed check-in (one event per window). */
    checkInMissedAt: at(),
    revokedAt: at(),
    createdAt: created(),
  },
  (t) => [index().on(t.tenant, t.productId), index().on(t.status, t.expiresAt)],
);

/** Activations: one row per machine a license runs on. */
export const machines = lms.table(
  'machines',
  {
    id: uuid().primaryKey().defaultRandom(),
    tenant: text().notNull(),
    licenseId: uuid().notNull().references(() => licenses.id, { onDelete: 'cascade' }),
    fingerprint: text().notNull(),
    name: text(),
    platform: text(),
    lastHeartbeatAt: at(),
    createdAt: created(),
  },
  (t) => [uniqueIndex().on(t.licenseId, t.fingerprint), index().on(t.tenant, t.licenseId)],
);

/** One row per admin action (who, what, tenant, source IP, outcome, request id). */
export const audit = lms.table(
  'audit',
  {
    id: bigserial({ mode: 'number' }).primaryKey(),
    at: created(),
    tenant: text().notNull(),
    action: text().notNull(),
    outcome: text().notNull().$type<'success' | 'failure'>(),
    actor: text(),
    target: text(),
    ip: text(),
    requestId: text(),
    detail: jsonb().$type<Record<string, unknown>>(),
  },
  (t) => [index().on(t.tenant, t.at)],
);

export const outbox = outboxTable(lms);
/** Events already processed (the scheduled sweep), so a redelivery has no second effect. */
export const inbox = inboxTable(lms);

export type Product = typeof products.$inferSelect;
export type SigningKey = typeof signingKeys.$inferSelect;
export type Policy = typeof policies.$inferSelect;
export type Entitlement = typeof entitlements.$inferSelect;
export type License = typeof licenses.$inferSelect;
export type Machine = typeof machines.$inferSelect;
