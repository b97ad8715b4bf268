// Outbound SCIM push tables: a tenant's downstream SCIM targets, the id each of our users and
// groups has at a target, and the queue of resources waiting to be pushed (with retries and the
// dead letters an admin can see and replay).
import { bigserial, boolean, index, integer, pgSchema, primaryKey, text, timestamp, uniqueIndex, uuid } from 'drizzle-orm/pg-core';
import { tenants } from './schema.js';

// schema.ts re-exports these tables, so this module is evaluated before schema.ts's body: the
// schema object is named here again (the same `auth`), and tenants is only read lazily.
const auth = pgSchema('auth');

const at = () => timestamp({ withTimezone: true });

/** A downstream SCIM service provider that receives this tenant's users and groups. */
export const scimTargets = auth.table(
  'scim_targets',
  {
    id: uuid().primaryKey().defaultRandom(),
    tenantId: uuid().notNull().references(() => tenants.id, { onDelete: 'cascade' }),
    name: text().notNull(),
    /** The target's SCIM base, e.g. `https://idp.example/scim/v2`. */
    url: text().notNull(),
    /** The bearer credential, AES-256-GCM sealed with the row id as associated data. */
    tokenSealed: text().notNull(),
    /** Ids of the groups to push (with their members); null pushes every group and user. */
    groupIds: uuid().array(),
    /** Push each group with its transitive user members and no nested groups. */
    flatten: boolean().notNull().default(false),
    createdAt: at().notNull().defaultNow(),
  },
  (t) => [uniqueIndex().on(t.tenantId, t.name)],
);

/** The id a target gave to one of our users or groups. */
export const scimPushLinks = auth.table(
  'scim_push_links',
  {
    targetId: uuid().notNull().references(() => scimTargets.id, { onDelete: 'cascade' }),
    resourceType: text().notNull().$type<'User' | 'Group'>(),
    resourceId: uuid().notNull(),
    remoteId: text().notNull(),
  },
  (t) => [primaryKey({ columns: [t.targetId, t.resourceType, t.resourceId] })],
);

/**
 * One resource to bring up to date at one target. A change coalesces with a pending row of the
 * same resource (the push sends the current state, so the last change wins); `deadAt` marks a
 * row that ran out of attempts.
 */
export const scimPushQueue = auth.table(
  'scim_push_queue',
  {
    id: bigserial({ mode: 'number' }).primaryKey(),
    tenantId: uuid().notNull().references(() => tenants.id, { onDelete: 'cascade' }),
    targetId: uuid().notNull().references(() => scimTargets.id, { onDelete: 'cascade' }),
    resourceType: text().notNull().$type<'User' | 'Group'>(),
    resourceId: uuid().notNull(),
    attempts: integer().notNull().default(0),
    nextAttemptAt: at().notNull().defaultNow(),
    lastError: text(),
    deadAt: at(),
    createdAt: at().notNull().defaultNow(),
  },
  (t) => [index().on(t.targetId, t.deadAt, t.nextAttemptAt), index().on(t.targetId, t.resourceType, t.resourceId)],
);

export type ScimTarget = typeof scimTargets.$inferSelect;
export type ScimPushItem = typeof scimPushQueue.$inferSelect;
